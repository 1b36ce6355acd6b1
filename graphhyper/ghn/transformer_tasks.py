"""GHN tasks on transformers (LoGAH's claim): next-byte prediction on Python's standard library, ViTs on digits
and MNIST-1D.

* ``"pytext"`` -- :class:`TextTask`: the byte corpus of :mod:`graphhyper.data.pycorpus` (cut by file),
  architectures from :mod:`graphhyper.arch.spaces.gpt`. A training batch is ``size`` windows of ``context + 1``
  bytes at uniform random offsets of the train stream: ``x = w[:, :-1]``, ``y = w[:, 1:]``; the loss is the mean
  cross-entropy per byte (nats). The ``val`` / ``test`` splits are ``eval_count`` fixed windows evenly spaced
  over the val / test streams.
* ``"digits-vit"`` / ``"mnist1d-vit"`` -- :class:`SpaceTask`: the tensors of the ``"digits"`` / ``"mnist1d"``
  tasks, architectures from :mod:`graphhyper.arch.spaces.vit`.

A task of this module carries its space (``task.space``: a module with ``sample_spec``, ``build`` and
``spec_to_graph``), its own :meth:`arch_specs` and :meth:`loss_and_accuracy`, which the trainer and
:func:`graphhyper.ghn.tasks.arch_specs` use instead of the DARTS defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from graphhyper.errors import InvalidInputError
from graphhyper.ghn.tasks import Task

__all__ = ["SpaceTask", "TextTask", "TASK_NAMES", "load_task", "load_text_task", "eval_windows", "ARCH_SPLITS"]

#: Architecture splits of the transformer spaces.
ARCH_SPLITS = ("id", "wide", "deep")
#: Seed offsets per (role, split): held-out draws never coincide with training ones.
_OFFSETS = {"train": 0, "id": 7919, "wide": 104729, "deep": 1299709}
_VAL_ARCH_OFFSET = 50_000_017


@dataclass
class SpaceTask(Task):
    """A :class:`~graphhyper.ghn.tasks.Task` whose architectures come from ``space`` (a space module)."""

    space: Any = None
    space_kwargs: dict = field(default_factory=dict)

    def arch_specs(self, split: str, n: int, seed: int = 0, role: str = "test") -> list:
        """``n`` specs of ``split`` (``"id"``, ``"wide"``, ``"deep"``); ``role="train"`` draws the training pool
        (always the ID distribution's sampler with its own seeds), ``"val"`` / ``"test"`` held-out architectures."""
        if split not in ARCH_SPLITS:
            raise InvalidInputError(f"Unknown architecture split {split!r}; choose one of {ARCH_SPLITS}.")
        if role not in ("train", "val", "test"):
            raise InvalidInputError(f"Unknown architecture role {role!r}; choose 'train', 'val' or 'test'.")
        offset = _OFFSETS["train" if role == "train" else split] + (_VAL_ARCH_OFFSET if role == "val" else 0)
        return [self.space.sample_spec(offset + seed * 100_003 + j, split, **self.space_kwargs) for j in range(n)]

    def loss_and_accuracy(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Mean cross-entropy and accuracy; ``logits [B, C]`` or ``[B, T, C]`` against ``y [B]`` or ``[B, T]``."""
        flat = logits.reshape(-1, logits.shape[-1]).float()
        target = y.reshape(-1)
        return F.cross_entropy(flat, target), float((flat.argmax(-1) == target).float().mean())


@dataclass
class TextTask(SpaceTask):
    """Next-byte prediction on a byte stream: ``x_train`` is the whole train stream (``uint8 [N]``)."""

    context: int = 64

    def batch(self, gen: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` random windows: ``x, y`` int64 ``[size, context]``, ``y`` shifted by one byte."""
        starts = torch.randint(0, self.x_train.shape[0] - self.context - 1, (size,), generator=gen)
        w = self.x_train[starts.unsqueeze(1) + torch.arange(self.context + 1)].long()
        return w[:, :-1], w[:, 1:]


def eval_windows(stream: np.ndarray, context: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` windows of ``context + 1`` bytes at evenly spaced offsets of ``stream`` (fixed, no RNG)."""
    if stream.shape[0] < context + 1:
        raise InvalidInputError(f"A corpus split of {stream.shape[0]} bytes is shorter than one window of {context}.")
    starts = np.linspace(0, stream.shape[0] - context - 1, num=count).astype(np.int64)
    w = torch.from_numpy(stream[starts[:, None] + np.arange(context + 1)].astype(np.int64))
    return w[:, :-1], w[:, 1:]


def load_text_task(context: int = 64, eval_count: int = 256, root=None, lib_dir=None) -> TextTask:
    """The ``"pytext"`` task (see the module docstring); ``root`` / ``lib_dir`` go to
    :func:`~graphhyper.data.pycorpus.load_pycorpus`."""
    from graphhyper.arch.spaces import gpt
    from graphhyper.data.pycorpus import VOCAB_SIZE, load_pycorpus

    corpus = load_pycorpus(lib_dir, root)
    x_val, y_val = eval_windows(corpus.val, context, eval_count)
    x_test, y_test = eval_windows(corpus.test, context, eval_count)
    train = torch.from_numpy(corpus.train.copy())
    return TextTask(
        "pytext",
        train,
        train[:0].long(),
        x_val,
        y_val,
        x_test,
        y_test,
        dims=1,
        image_size=context,
        num_classes=VOCAB_SIZE,
        extra={"manifest_sha256_all": corpus.manifest["sha256_all"], "python": corpus.manifest["python"]},
        space=gpt,
        space_kwargs={"vocab": VOCAB_SIZE, "context": context},
        context=context,
    )


def _vit_task(base_name: str) -> SpaceTask:
    from graphhyper.arch.spaces import vit
    from graphhyper.ghn.tasks import get_task

    base = get_task(base_name)
    values = {f.name: getattr(base, f.name) for f in fields(base)}
    values["name"] = f"{base_name}-vit"
    kw = dict(dims=base.dims, image_size=base.image_size, in_channels=base.in_channels, num_classes=base.num_classes)
    return SpaceTask(**values, space=vit, space_kwargs=kw)


TASK_NAMES = ("pytext", "digits-vit", "mnist1d-vit")


def load_task(name: str) -> Task:
    """Load the transformer task ``name`` (one of :data:`TASK_NAMES`)."""
    if name == "pytext":
        return load_text_task()
    if name in ("digits-vit", "mnist1d-vit"):
        return _vit_task(name.removesuffix("-vit"))
    raise InvalidInputError(f"Unknown transformer task {name!r}; choose one of {TASK_NAMES}.")


def space_of(task: Task) -> ModuleType | None:
    """The space module of ``task`` (``None`` for DARTS tasks)."""
    return getattr(task, "space", None)
