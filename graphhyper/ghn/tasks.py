"""Offline GHN tasks with real data: scikit-learn digits (8x8 images) and MNIST-1D (length-40 signals).

A :class:`Task` holds the data tensors and says which DARTS-space architectures it trains on: 2-D CNNs for
digits, 1-D conv nets for MNIST-1D (``dims=1``). Both datasets are generated or shipped locally (no network):
``sklearn.datasets.load_digits`` and ``mnist1d.data.make_dataset``.

Splits of architectures (see :func:`arch_specs`): ``"id"`` (the training distribution, made small so a GHN
trains on 2 CPU cores), ``"wide"`` (wider than anything seen: 48-64 channels), ``"deep"`` (12-18 cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from graphhyper.errors import InvalidInputError, require

#: Architecture distributions (overrides of the DARTS sampler) per split. ID is deliberately small.
SPLIT_OVERRIDES: dict[str, dict] = {
    "id": dict(cells=(3, 5), widths=(8, 12, 16), head_hiddens=(32, 64)),
    "wide": dict(cells=(3, 5), widths=(48, 64), head_hiddens=(32, 64)),
    "deep": dict(cells=(12, 16), widths=(8, 12, 16), head_hiddens=(32, 64)),
}
#: Seed offsets so the held-out ID test architectures never coincide with training ones.
_SPLIT_SEED = {"train": 0, "id": 7919, "wide": 104729, "deep": 1299709}


@dataclass
class Task:
    """A classification task: tensors plus the DARTS sampler arguments of its architectures."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
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
        return dict(in_channels=self.in_channels, num_classes=self.num_classes, image_size=self.image_size,
                    dims=self.dims)

    def batch(self, gen: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A random training batch drawn with ``gen`` (reproducible)."""
        idx = torch.randint(0, self.x_train.shape[0], (size,), generator=gen)
        return self.x_train[idx], self.y_train[idx]


def load_digits_task(seed: int = 0, test_size: int = 497) -> Task:
    """scikit-learn's 1,797 handwritten digits, 8x8 grey, scaled to [0, 1]; fixed train/test split by ``seed``."""
    datasets = require("sklearn.datasets", extra="dev", purpose="the digits GHN task")
    d = datasets.load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - 0.3) / 0.4
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    te, tr = perm[:test_size], perm[test_size:]
    return Task("digits", x[tr], y[tr], x[te], y[te], dims=2, image_size=8)


def load_mnist1d_task(seed: int = 42) -> Task:
    """MNIST-1D generated locally by the ``mnist1d`` package (4,000 train / 1,000 test signals of length 40)."""
    data = require("mnist1d.data", extra="dev", purpose="the MNIST-1D GHN task")
    args = data.get_dataset_args()
    args.seed = seed
    ds = data.make_dataset(args)
    x = torch.tensor(np.asarray(ds["x"]), dtype=torch.float32).unsqueeze(1)
    xt = torch.tensor(np.asarray(ds["x_test"]), dtype=torch.float32).unsqueeze(1)
    mu, sd = x.mean(), x.std()
    return Task("mnist1d", (x - mu) / sd, torch.tensor(ds["y"], dtype=torch.long), (xt - mu) / sd,
                torch.tensor(ds["y_test"], dtype=torch.long), dims=1, image_size=40)


TASKS = {"digits": load_digits_task, "mnist1d": load_mnist1d_task}
_CACHE: dict[str, Task] = {}


def get_task(name: str) -> Task:
    """Load (once per process) the task called ``name`` (``"digits"`` or ``"mnist1d"``)."""
    if name not in TASKS:
        raise InvalidInputError(f"Unknown GHN task {name!r}; choose one of {sorted(TASKS)}.")
    if name not in _CACHE:
        _CACHE[name] = TASKS[name]()
    return _CACHE[name]


def arch_specs(task: Task, split: str, n: int, seed: int = 0, role: str = "test") -> list:
    """``n`` DARTS specs for ``task``: ``split`` in ``{"id", "wide", "deep"}``; ``role="train"`` gives the
    training pool of the ID distribution (disjoint seeds from the held-out ``role="test"`` ID split)."""
    from graphhyper.arch.spaces import darts

    if split not in SPLIT_OVERRIDES:
        raise InvalidInputError(f"Unknown architecture split {split!r}; choose one of {sorted(SPLIT_OVERRIDES)}.")
    base = "deep" if split == "deep" else "id"
    offset = _SPLIT_SEED["train" if role == "train" else split]
    return [darts.sample_spec(offset + seed * 100_003 + j, base, **task.darts_kwargs(), **SPLIT_OVERRIDES[split])
            for j in range(n)]
