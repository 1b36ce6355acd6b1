"""Offline GHN tasks with real data: scikit-learn digits (8x8 images) and MNIST-1D (length-40 signals).

A :class:`Task` holds the data tensors and says which DARTS-space architectures it trains on: 2-D CNNs for
digits, 1-D conv nets for MNIST-1D (``dims=1``). Both datasets are generated or shipped locally (no network):
``sklearn.datasets.load_digits`` and ``mnist1d.data.make_dataset``.

Splits of data: ``train`` (what GHN training, SGD baselines and search objectives train on), ``val`` (carved
from the original training pool, seeded; searches select on it) and ``test`` (unchanged, reported once for a final
choice). Nothing that trains draws a validation example; the bundled checkpoint
(``ghn-tiny-tiled``) predates the split and was trained on the whole pool, validation examples included (never test).

Splits of architectures (see :func:`arch_specs`), the five of DeepNets-1M scaled down: ``"id"`` (the training
distribution, made small so a GHN trains on 2 CPU cores), ``"wide"`` (wider than anything seen: 48-64 channels),
``"deep"`` (12-16 cells), ``"dense"`` (5-6 nodes per cell with 2-3 incoming edges each, against 1-4 nodes with 2
edges in ID) and ``"bn_free"`` (the ID distribution without any batch norm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from graphhyper.errors import InvalidInputError, require

#: Architecture distributions (overrides of the DARTS sampler) per split. ID is deliberately small.
SPLIT_OVERRIDES: dict[str, dict] = {
    "id": dict(cells=(3, 5), widths=(8, 12, 16), head_hiddens=(32, 64)),
    "wide": dict(cells=(3, 5), widths=(48, 64), head_hiddens=(32, 64)),
    "deep": dict(cells=(12, 16), widths=(8, 12, 16), head_hiddens=(32, 64)),
    "dense": dict(cells=(3, 5), widths=(8, 12, 16), head_hiddens=(32, 64)),
    "bn_free": dict(cells=(3, 5), widths=(8, 12, 16), head_hiddens=(32, 64)),
}
#: Architecture splits, in the order tables report them.
ARCH_SPLITS = ("id", "wide", "deep", "dense", "bn_free")
#: The DARTS split each architecture split samples from (its node / edge / norm ranges; cells, widths and head
#: sizes come from :data:`SPLIT_OVERRIDES`).
_BASE_SPLIT = {"id": "id", "wide": "id", "deep": "deep", "dense": "dense", "bn_free": "bn_free"}
#: Seed offsets so the held-out ID test architectures never coincide with training ones.
_SPLIT_SEED = {"train": 0, "id": 7919, "wide": 104729, "deep": 1299709, "dense": 15485867, "bn_free": 32452843}
#: Added to a split's seed offset for its validation architectures (far from every other draw).
_VAL_ARCH_OFFSET = 50_000_017
#: Data splits of a task, and the seed offset of the validation draw (independent of the test draw).
DATA_SPLITS = ("train", "val", "test")
_VAL_SEED = 15485863


@dataclass
class Task:
    """A classification task: train / val / test tensors plus the DARTS sampler arguments of its architectures."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    dims: int
    image_size: int
    in_channels: int = 1
    num_classes: int = 10
    extra: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one batch-of-one input, e.g. ``(1, 1, 8, 8)``."""
        return (1, self.in_channels) + (self.image_size,) * self.dims

    def darts_kwargs(self) -> dict:
        return dict(
            in_channels=self.in_channels, num_classes=self.num_classes, image_size=self.image_size, dims=self.dims
        )

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of the split ``name``: ``"train"``, ``"val"`` or ``"test"``."""
        if name not in DATA_SPLITS:
            raise InvalidInputError(f"Unknown data split {name!r}; choose one of {DATA_SPLITS}.")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def batch(self, gen: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A random training batch drawn with ``gen`` (reproducible)."""
        idx = torch.randint(0, self.x_train.shape[0], (size,), generator=gen)
        return self.x_train[idx], self.y_train[idx]


def _carve_validation(
    x: torch.Tensor, y: torch.Tensor, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_train, y_train, x_val, y_val)``: ``size`` examples of the pool ``(x, y)``, drawn with ``seed``, become
    the validation split; the rest stay for training."""
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    va, tr = perm[:size], perm[size:]
    return x[tr], y[tr], x[va], y[va]


def load_digits_task(seed: int = 0, test_size: int = 497, val_size: int = 300) -> Task:
    """scikit-learn's 1,797 handwritten digits, 8x8 grey, scaled to [0, 1]; train / val / test 1,000 / 300 / 497.

    The test split is fixed by ``seed``; ``val_size`` examples of the remaining training pool, drawn with ``seed``,
    are the validation split."""
    datasets = require("sklearn.datasets", extra="dev", purpose="the digits GHN task")
    d = datasets.load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - 0.3) / 0.4
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    te, pool = perm[:test_size], perm[test_size:]
    return Task(
        "digits", *_carve_validation(x[pool], y[pool], val_size, seed + _VAL_SEED), x[te], y[te], dims=2, image_size=8
    )


def load_mnist1d_task(seed: int = 42, val_size: int = 500) -> Task:
    """MNIST-1D made locally by the ``mnist1d`` package: length-40 signals, train / val / test 3,500 / 500 / 1,000.

    ``val_size`` of the package's 4,000 training signals become the validation split. The normalisation statistics
    are those of the whole training pool, so the test tensors are the same as before the validation split existed."""
    data = require("mnist1d.data", extra="dev", purpose="the MNIST-1D GHN task")
    args = data.get_dataset_args()
    args.seed = seed
    ds = data.make_dataset(args)
    x = torch.tensor(np.asarray(ds["x"]), dtype=torch.float32).unsqueeze(1)
    xt = torch.tensor(np.asarray(ds["x_test"]), dtype=torch.float32).unsqueeze(1)
    mu, sd = x.mean(), x.std()
    parts = _carve_validation((x - mu) / sd, torch.tensor(ds["y"], dtype=torch.long), val_size, seed + _VAL_SEED)
    return Task("mnist1d", *parts, (xt - mu) / sd, torch.tensor(ds["y_test"], dtype=torch.long), dims=1, image_size=40)


def _transformer_loader(name: str) -> Callable[[], Task]:
    def load() -> Task:
        from graphhyper.ghn.transformer_tasks import load_task

        return load_task(name)

    return load


TASKS: dict[str, Callable[[], Task]] = {"digits": load_digits_task, "mnist1d": load_mnist1d_task}
#: Transformer tasks (graphhyper.ghn.transformer_tasks): next-byte prediction with GPT-style decoders, ViTs.
TASKS.update({name: _transformer_loader(name) for name in ("pytext", "digits-vit", "mnist1d-vit")})
_CACHE: dict[str, Task] = {}


def get_task(name: str) -> Task:
    """Load (once per process) the task called ``name`` (``"digits"`` or ``"mnist1d"``)."""
    if name not in TASKS:
        raise InvalidInputError(f"Unknown GHN task {name!r}; choose one of {sorted(TASKS)}.")
    if name not in _CACHE:
        _CACHE[name] = TASKS[name]()
    return _CACHE[name]


def arch_specs(task: Task, split: str, n: int, seed: int = 0, role: str = "test") -> list:
    """``n`` DARTS specs for ``task``: ``split`` in :data:`ARCH_SPLITS`; ``role="train"`` gives training
    architectures of that distribution (disjoint seeds from the held-out ``role="test"`` ones), and ``role="val"``
    held-out architectures for choosing recipes or checkpoints (disjoint from the test ones)."""
    from graphhyper.arch.spaces import darts

    if hasattr(task, "arch_specs"):  # tasks with their own space (graphhyper.ghn.transformer_tasks)
        return task.arch_specs(split, n, seed=seed, role=role)
    if split not in SPLIT_OVERRIDES:
        raise InvalidInputError(f"Unknown architecture split {split!r}; choose one of {sorted(SPLIT_OVERRIDES)}.")
    if role not in ("train", "val", "test"):
        raise InvalidInputError(f"Unknown architecture role {role!r}; choose 'train', 'val' or 'test'.")
    base = _BASE_SPLIT[split]
    offset = _SPLIT_SEED["train" if role == "train" else split] + (_VAL_ARCH_OFFSET if role == "val" else 0)
    return [
        darts.sample_spec(offset + seed * 100_003 + j, base, **task.darts_kwargs(), **SPLIT_OVERRIDES[split])
        for j in range(n)
    ]
