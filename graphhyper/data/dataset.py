"""``load_hypergraph``: card -> verified raw files -> :class:`HypergraphDataset`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from graphhyper.data.cards import DatasetCard, get_card
from graphhyper.data.download import Opener, ensure_files
from graphhyper.data.readers import READERS, RawHypergraph
from graphhyper.data.splits import Split, fixed_split, random_split
from graphhyper.errors import DatasetError, InvalidInputError


@dataclass
class HypergraphDataset:
    """A node-classification hypergraph with features, labels and one train/val/test split.

    Attributes:
        name: dataset name (card name).
        hg: the :class:`~graphhyper.hypergraph.Hypergraph` (after the requested transforms).
        x: node features ``[V, F]`` (float32).
        y: labels ``[V]`` (int64, ``0 .. num_classes-1``).
        split: disjoint ``train`` / ``val`` / ``test`` index tensors.
        num_classes: number of classes.
        card: the :class:`~graphhyper.data.cards.DatasetCard`.
        statistics: statistics measured on the raw hypergraph (before transforms).
    """

    name: str
    hg: Any
    x: torch.Tensor
    y: torch.Tensor
    split: Split
    num_classes: int
    card: DatasetCard | None = None
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def train_idx(self) -> torch.Tensor:
        return self.split.train

    @property
    def val_idx(self) -> torch.Tensor:
        return self.split.val

    @property
    def test_idx(self) -> torch.Tensor:
        return self.split.test

    @property
    def train_mask(self) -> torch.Tensor:
        return self.split.masks(self.num_nodes)[0]

    @property
    def val_mask(self) -> torch.Tensor:
        return self.split.masks(self.num_nodes)[1]

    @property
    def test_mask(self) -> torch.Tensor:
        return self.split.masks(self.num_nodes)[2]

    def to(self, device: torch.device | str) -> HypergraphDataset:
        """A copy with hypergraph, features, labels and split indices on ``device``."""
        split = Split(*(t.to(device) for t in (self.split.train, self.split.val, self.split.test)))
        return replace(self, hg=self.hg.to(device), x=self.x.to(device), y=self.y.to(device), split=split)

    def with_split(self, split: Split) -> HypergraphDataset:
        """The same data with another split."""
        return replace(self, split=split)

    def __repr__(self) -> str:
        return (
            f"HypergraphDataset({self.name!r}, nodes={self.num_nodes}, hyperedges={self.hg.num_edges}, "
            f"features={self.num_features}, classes={self.num_classes}, train/val/test="
            f"{self.split.train.numel()}/{self.split.val.numel()}/{self.split.test.numel()})"
        )


def from_tensors(
    hg: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    name: str = "custom",
    split: Split | None = None,
    seed: int = 0,
    train_ratio: float = 0.5,
    val_ratio: float = 0.25,
) -> HypergraphDataset:
    """Wrap your own ``(hg, x [V, F], y [V])`` (e.g. from :func:`~graphhyper.hypergraph.hsbm`) as a dataset."""
    if x.shape[0] != hg.num_nodes or y.shape != (hg.num_nodes,):
        raise InvalidInputError(
            f"x has {x.shape[0]} rows and y shape {tuple(y.shape)} but the hypergraph has {hg.num_nodes} nodes."
        )
    split = split or random_split(hg.num_nodes, seed, train_ratio, val_ratio)
    y = y.long()
    return HypergraphDataset(name, hg, x.float(), y, split, int(y.max()) + 1, None, hypergraph_statistics(hg, x, y))


def hypergraph_statistics(hg: Any, x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> dict[str, int]:
    """Counts used on the cards: nodes, hyperedges, nnz, max edge size, isolated nodes, duplicate/singleton edges."""
    deg = hg.edge_degree
    stats = {
        "nodes": int(hg.num_nodes),
        "hyperedges": int(hg.num_edges),
        "nnz": int(hg.nnz),
        "max_edge_size": int(deg.max()) if deg.numel() else 0,
        "isolated_nodes": int(hg.isolated_nodes().numel()),
        "duplicate_hyperedges": int(hg.duplicate_edges().numel()),
        "singleton_hyperedges": int((deg == 1).sum()),
    }
    if x is not None:
        stats["features"] = int(x.shape[1])
    if y is not None:
        stats["classes"] = int(y.max()) + 1 if y.numel() else 0
    return stats


def read_raw(
    card: DatasetCard,
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    opener: Opener | None = None,
    **reader_kwargs: Any,
) -> RawHypergraph:
    """Verified raw content of ``card``'s dataset (downloading missing files when ``download``)."""
    folder = ensure_files(card, root, download=download, verify=verify, opener=opener)
    reader = READERS.get(card.format)
    if reader is None:
        raise DatasetError(f"dataset card '{card.name}' has unknown format '{card.format}'.")
    return reader(folder, card, **reader_kwargs)


def load_hypergraph(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str = "random",
    seed: int = 0,
    add_self_loops: bool = False,
    remove_duplicates: bool = False,
    train_ratio: float = 0.5,
    val_ratio: float = 0.25,
    val_size: int = 500,
    feature_noise: float | None = None,
    feature_dim: int | None = None,
    download: bool = True,
    verify: bool = True,
    opener: Opener | None = None,
) -> HypergraphDataset:
    """Load a benchmark hypergraph by name (see :func:`graphhyper.data.list_datasets`).

    Args:
        name: dataset name, e.g. ``"cora-ca"`` (case-insensitive).
        root: data root; default ``$GRAPHHYPER_DATA`` or ``~/.cache/graphhyper``. Files are looked up in
            ``<root>/hypergraph/<dir>/`` and downloaded there when missing and ``download`` is true.
        split: ``"random"`` (seeded ``train_ratio``/``val_ratio``/rest split, AllSet protocol 50/25/25) or
            ``"hypergcn"`` (HyperGCN's fixed split number ``seed % 10 + 1``, with ``val_size`` test ids moved
            to a validation set).
        seed: split seed (and fixed-split number for ``"hypergcn"``).
        add_self_loops: add a singleton hyperedge for every node lacking one (AllSet / ED-HNN protocol).
        remove_duplicates: drop hyperedges whose node set repeats an earlier one.
        feature_noise, feature_dim: Cornell datasets only: sigma of the Gaussian noise added to the one-hot
            label features (card default) and the padded feature width.
        download, verify: fetch missing files; check sizes and checksums against the card.
        opener: injectable ``urlopen`` replacement (tests).

    Returns:
        :class:`HypergraphDataset`. ``statistics`` holds counts on the raw hypergraph.
    """
    from graphhyper.hypergraph.structure import Hypergraph

    card = get_card(name)
    if card.format == "enc":
        raise InvalidInputError(
            f"dataset '{card.name}' labels (node, hyperedge) incidences, not nodes; load it with "
            "graphhyper.data.load_enc_dataset (edge-dependent node classification)."
        )
    kwargs: dict[str, Any] = {}
    if card.format == "cornell":
        kwargs = {
            "feature_noise": card.params.get("feature_noise", 1.0) if feature_noise is None else feature_noise,
            "feature_dim": feature_dim if feature_dim is not None else card.params.get("feature_dim"),
            "seed": card.params.get("feature_seed", 0),
        }
    elif feature_noise is not None or feature_dim is not None:
        raise InvalidInputError(f"feature_noise/feature_dim apply to Cornell datasets only, not '{card.name}'.")
    raw = read_raw(card, root, download=download, verify=verify, opener=opener, **kwargs)
    hg = Hypergraph(raw.num_nodes, raw.hyperedges, allow_empty_edges=False)
    stats = hypergraph_statistics(hg, raw.x, raw.y)
    if remove_duplicates:
        hg = hg.remove_duplicate_edges()
    if add_self_loops:
        hg = hg.add_self_loops()
    chosen = _make_split(card, raw, split, seed, train_ratio, val_ratio, val_size)
    return HypergraphDataset(card.name, hg, raw.x, raw.y, chosen, stats["classes"], card, stats)


def _make_split(
    card: DatasetCard, raw: RawHypergraph, split: str, seed: int, train_ratio: float, val_ratio: float, val_size: int
) -> Split:
    if split == "random":
        return random_split(raw.num_nodes, seed, train_ratio, val_ratio)
    if split == "hypergcn":
        if not raw.fixed_splits:
            raise InvalidInputError(f"dataset '{card.name}' ships no fixed HyperGCN splits; use split='random'.")
        fixed = raw.fixed_splits[seed % len(raw.fixed_splits)]
        return fixed_split(fixed["train"], fixed["test"], seed=seed, val_size=val_size)
    raise InvalidInputError(f"split={split!r}: use 'random' (50/25/25 by default) or 'hypergcn'.")


__all__ = ["HypergraphDataset", "from_tensors", "hypergraph_statistics", "load_hypergraph", "read_raw"]
