"""Train / validation / test splits.

* :func:`random_split`: seeded random ``train_ratio / val_ratio / rest`` split (AllSet / ED-HNN use 50/25/25).
  The three parts are disjoint and cover every labelled node: the validation set is a *real* one, never
  the test set again (DHG's bundled masks make that mistake).
* :func:`fixed_split`: one of HyperGCN's fixed splits (train ids + test ids, no validation); a validation
  set of ``val_size`` nodes is carved out of the test ids with a seeded permutation so model selection
  never sees the reported test nodes. ``val_size=0`` reproduces HyperGCN exactly (empty validation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from graphhyper.errors import InvalidInputError


@dataclass(frozen=True)
class Split:
    """Disjoint index tensors over the nodes."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor

    def masks(self, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Boolean masks ``[V]`` for train, val and test."""

        def mask(idx: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(num_nodes, dtype=torch.bool)
            out[idx] = True
            return out

        return mask(self.train), mask(self.val), mask(self.test)


def random_split(num_nodes: int, seed: int = 0, train_ratio: float = 0.5, val_ratio: float = 0.25) -> Split:
    """Seeded random split of ``range(num_nodes)`` into disjoint train / val / test index tensors."""
    if not (0 < train_ratio < 1 and 0 <= val_ratio < 1 and train_ratio + val_ratio < 1):
        raise InvalidInputError(
            f"train_ratio={train_ratio}, val_ratio={val_ratio}: need 0 < train, 0 <= val and train + val < 1."
        )
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(num_nodes, generator=gen)
    n_train = int(round(train_ratio * num_nodes))
    n_val = int(round(val_ratio * num_nodes))
    return Split(
        perm[:n_train].sort().values,
        perm[n_train : n_train + n_val].sort().values,
        perm[n_train + n_val :].sort().values,
    )


def fixed_split(train: torch.Tensor, test: torch.Tensor, *, seed: int = 0, val_size: int = 500) -> Split:
    """Turn a fixed (train, test) split into (train, val, test) by moving ``val_size`` seeded test ids to val."""
    train, test = train.long().unique(), test.long().unique()
    if torch.isin(train, test).any():
        raise InvalidInputError("the fixed split's train and test ids overlap; the split file is corrupt.")
    if not 0 <= val_size < test.numel():
        raise InvalidInputError(f"val_size={val_size} must be in [0, {test.numel()}) (the number of test ids).")
    gen = torch.Generator().manual_seed(int(seed))
    perm = test[torch.randperm(test.numel(), generator=gen)]
    return Split(train, perm[:val_size].sort().values, perm[val_size:].sort().values)


__all__ = ["Split", "random_split", "fixed_split"]
