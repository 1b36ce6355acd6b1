"""Readers for the three raw formats: HyperGCN pickles, ``.content``/``.edges`` text, Cornell text.

Each reader returns a :class:`RawHypergraph`: hyperedges as lists of node ids, features ``[V, F]``,
labels ``[V]`` (0-based) and, where the source ships them, fixed train/test splits. No transform
(self-loops, deduplication) is applied here; :func:`graphhyper.data.load_hypergraph` does that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from graphhyper.data.cards import DatasetCard
from graphhyper.data.safe_pickle import safe_load
from graphhyper.errors import DatasetError


@dataclass
class RawHypergraph:
    """Raw content of a dataset before any transform."""

    num_nodes: int
    hyperedges: list[list[int]]
    x: torch.Tensor
    y: torch.Tensor
    fixed_splits: list[dict[str, torch.Tensor]] = field(default_factory=list)


def _bad(path: Path, what: str) -> DatasetError:
    return DatasetError(f"{path}: {what}. The file is malformed; delete it and load the dataset again to re-download.")


# ---------------------------------------------------------------- HyperGCN pickles
def read_hypergcn(folder: Path, card: DatasetCard) -> RawHypergraph:
    """Read ``features.pickle`` (CSR), ``hypergraph.pickle`` (dict key -> node ids), ``labels.pickle``, ``splits/``."""
    feats = safe_load(folder / "features.pickle")
    if not hasattr(feats, "toarray") or len(getattr(feats, "shape", ())) != 2:
        raise _bad(folder / "features.pickle", "expected a scipy CSR matrix")
    feats.check_format(full_check=True)
    x = torch.from_numpy(np.asarray(feats.toarray(), dtype=np.float32))
    labels = safe_load(folder / "labels.pickle")
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if y.ndim != 1 or y.numel() != x.shape[0]:
        raise _bad(folder / "labels.pickle", f"{y.numel()} labels for {x.shape[0]} feature rows")
    mapping = safe_load(folder / "hypergraph.pickle")
    if not isinstance(mapping, dict):
        raise _bad(folder / "hypergraph.pickle", "expected a dict of hyperedges")
    hyperedges = [sorted({int(v) for v in members}) for members in mapping.values()]
    splits = []
    for k in range(1, 11):
        path = folder / "splits" / f"{k}.pickle"
        if path.exists():
            raw = safe_load(path)
            if not isinstance(raw, dict) or "train" not in raw or "test" not in raw:
                raise _bad(path, "expected a dict with 'train' and 'test'")
            splits.append({key: torch.as_tensor(np.asarray(raw[key], dtype=np.int64)) for key in ("train", "test")})
    return RawHypergraph(int(x.shape[0]), hyperedges, x, y, splits)


# ---------------------------------------------------------------- .content / .edges (LEGCN / AllSet)
def read_content_edges(folder: Path, card: DatasetCard) -> RawHypergraph:
    """Read ``<stem>.content`` (``id f_1..f_d label`` rows) and ``<stem>.edges`` (``node_id edge_id`` rows)."""
    stem = card.params["stem"]
    content_path, edges_path = folder / f"{stem}.content", folder / f"{stem}.edges"
    content = _loadtxt(content_path, np.float64)
    if content.ndim != 2 or content.shape[1] < 3:
        raise _bad(content_path, "expected rows of 'id features... label'")
    ids = content[:, 0].astype(np.int64)
    x = torch.from_numpy(content[:, 1:-1].astype(np.float32))
    raw_labels = content[:, -1]
    if not np.all(raw_labels == np.round(raw_labels)):
        raise _bad(content_path, "labels in the last column are not integers")
    labels = raw_labels.astype(np.int64)
    y = torch.from_numpy(labels - labels.min())
    index_of = {int(i): k for k, i in enumerate(ids)}
    if len(index_of) != len(ids):
        raise _bad(content_path, "node ids are repeated")
    pairs = _loadtxt(edges_path, np.int64).reshape(-1, 2)
    hyperedges: dict[int, set[int]] = {}
    for node, edge in pairs.tolist():
        if node not in index_of:
            raise _bad(edges_path, f"node id {node} is not in {content_path.name}")
        hyperedges.setdefault(edge, set()).add(index_of[node])
    ordered = [sorted(hyperedges[e]) for e in sorted(hyperedges)]
    return RawHypergraph(len(ids), ordered, x, y)


def _loadtxt(path: Path, dtype) -> np.ndarray:
    try:
        return np.loadtxt(path, dtype=dtype, ndmin=2)
    except ValueError as exc:
        raise _bad(path, f"could not parse ({exc})") from exc


# ---------------------------------------------------------------- Cornell (hyperedges-*.txt, node-labels-*.txt)
def read_cornell(
    folder: Path, card: DatasetCard, *, feature_noise: float = 1.0, feature_dim: int | None = None, seed: int = 0,
) -> RawHypergraph:
    """Read a Cornell hypergraph and make AllSet's synthetic features ``one_hot(label) + N(0, sigma^2)``.

    Node ids in ``hyperedges-<name>.txt`` and labels in ``node-labels-<name>.txt`` are 1-based.
    ``feature_dim`` pads the one-hot part with zero columns (AllSet's ``-100`` variants use 100).
    """
    stem = card.params["stem"]
    labels_path, edges_path = folder / f"node-labels-{stem}.txt", folder / f"hyperedges-{stem}.txt"
    labels = _loadtxt(labels_path, np.int64).reshape(-1)
    if labels.size == 0 or labels.min() < 1:
        raise _bad(labels_path, "labels must be 1-based integers, one per line")
    y = torch.from_numpy(labels - 1)
    num_nodes, num_classes = int(labels.size), int(labels.max())
    hyperedges = []
    with open(edges_path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                members = sorted({int(tok) - 1 for tok in line.split(",")})
            except ValueError as exc:
                raise _bad(edges_path, f"line {lineno} is not comma-separated integers") from exc
            if members[0] < 0 or members[-1] >= num_nodes:
                raise _bad(edges_path, f"line {lineno} has a node id outside 1..{num_nodes}")
            hyperedges.append(members)
    dim = max(num_classes, feature_dim or 0)
    gen = torch.Generator().manual_seed(seed)
    x = torch.zeros(num_nodes, dim)
    x[torch.arange(num_nodes), y] = 1.0
    x = x + feature_noise * torch.randn(num_nodes, dim, generator=gen)
    return RawHypergraph(num_nodes, hyperedges, x, y)


READERS = {"hypergcn": read_hypergcn, "content-edges": read_content_edges, "cornell": read_cornell}

__all__ = ["RawHypergraph", "read_hypergcn", "read_content_edges", "read_cornell", "READERS"]
