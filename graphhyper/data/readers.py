"""Readers for the three raw formats: HyperGCN pickles, ``.content``/``.edges`` text, Cornell text.

Each reader returns a :class:`RawHypergraph`: hyperedges as lists of node ids, features ``[V, F]``,
labels ``[V]`` (0-based) and, where the source ships them, fixed train/test splits. No transform
(self-loops, deduplication) is applied here; :func:`graphhyper.data.load_hypergraph` does that.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from graphhyper.data.cards import DatasetCard
from graphhyper.data.safe_pickle import safe_load
from graphhyper.errors import DatasetError, InvalidInputError


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


#: dense features may take this many times the size of the files they come from, plus DENSE_BASE bytes.
DENSE_FACTOR = 256
DENSE_BASE = 64 << 20


def _check_dense(paths: list[Path], rows: int, cols: int, what: str) -> None:
    """Refuse a dense ``rows x cols`` float32 matrix far larger than the files that describe it."""
    size = sum(p.stat().st_size for p in paths)
    limit = DENSE_FACTOR * size + DENSE_BASE
    if rows * cols * 4 > limit:
        raise DatasetError(
            f"{paths[0]}: {what} would be a dense {rows} x {cols} float32 matrix ({rows * cols * 4 / 2**30:.1f} GiB), "
            f"far more than files of {size} bytes can describe (limit {limit} bytes). The file is corrupt or "
            "crafted; delete it and load the dataset again to re-download."
        )


def _ids(path: Path, obj: object, limit: int, what: str) -> np.ndarray:
    """``obj`` as a 1-D int64 array of values in ``[0, limit)``, or a :class:`DatasetError` naming ``path``."""
    try:
        arr = np.asarray(obj)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _bad(path, f"expected a list of {what} ({exc})") from exc
    if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" and arr.dtype != object)):
        raise _bad(path, f"expected a flat list of integer {what}, got an array of shape {arr.shape} ({arr.dtype})")
    values = arr.tolist()
    if arr.dtype == object and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise _bad(path, f"expected integer {what}, found {sorted({type(v).__name__ for v in values})}")
    values = [int(v) for v in values]
    if values and (min(values) < 0 or max(values) >= limit):
        raise _bad(path, f"{what} must lie in [0, {limit}), found {min(values)} .. {max(values)}")
    return np.asarray(values, dtype=np.int64)


# ---------------------------------------------------------------- HyperGCN pickles
def read_hypergcn(folder: Path, card: DatasetCard) -> RawHypergraph:
    """Read ``features.pickle`` (CSR), ``hypergraph.pickle`` (dict key -> node ids), ``labels.pickle``, ``splits/``."""
    x = _hypergcn_features(folder / "features.pickle")
    num_nodes = int(x.shape[0])
    y = torch.from_numpy(_ids(folder / "labels.pickle", safe_load(folder / "labels.pickle"), num_nodes, "labels"))
    if y.numel() != num_nodes:
        raise _bad(folder / "labels.pickle", f"{y.numel()} labels for {num_nodes} feature rows")
    hyperedges = _hypergcn_edges(folder / "hypergraph.pickle", num_nodes)
    splits = []
    for k in range(1, 11):
        path = folder / "splits" / f"{k}.pickle"
        if path.exists():
            raw = safe_load(path)
            if not isinstance(raw, dict) or "train" not in raw or "test" not in raw:
                raise _bad(path, "expected a dict with 'train' and 'test'")
            splits.append(
                {key: torch.from_numpy(_ids(path, raw[key], num_nodes, f"{key} node ids")) for key in ("train", "test")}
            )
    return RawHypergraph(num_nodes, hyperedges, x, y, splits)


def _hypergcn_features(path: Path) -> torch.Tensor:
    import scipy.sparse as sp

    feats = safe_load(path)
    if not isinstance(feats, sp.csr_matrix):
        raise _bad(path, f"expected a scipy CSR matrix, got {type(feats).__name__}")
    rows, cols = feats.shape
    _check_dense([path], rows, cols, "the features")
    if feats.data.dtype.kind not in "biuf" or not np.isfinite(feats.data).all():
        raise _bad(path, f"the features must be finite real numbers ({feats.data.dtype}, NaN or inf found)")
    return torch.from_numpy(feats.toarray().astype(np.float32, copy=False))


def _hypergcn_edges(path: Path, num_nodes: int) -> list[list[int]]:
    mapping = safe_load(path)
    if not isinstance(mapping, dict):
        raise _bad(path, "expected a dict of hyperedges")
    hyperedges = []
    for key, members in mapping.items():
        if not isinstance(members, (list, tuple, set, frozenset)):
            raise _bad(path, f"hyperedge {key!r:.40} is a {type(members).__name__}, not a collection of node ids")
        hyperedges.append(sorted(set(_ids(path, list(members), num_nodes, "node ids").tolist())))
    return hyperedges


# ---------------------------------------------------------------- .content / .edges (LEGCN / AllSet)
def read_content_edges(folder: Path, card: DatasetCard) -> RawHypergraph:
    """Read ``<stem>.content`` (``id f_1..f_d label`` rows) and ``<stem>.edges`` (``node_id edge_id`` rows)."""
    stem = card.params["stem"]
    content_path, edges_path = folder / f"{stem}.content", folder / f"{stem}.edges"
    content = _loadtxt(content_path, np.float64)
    if content.ndim != 2 or content.shape[1] < 3 or content.shape[0] == 0:
        raise _bad(content_path, "expected rows of 'id features... label'")
    if not np.isfinite(content).all():
        raise _bad(content_path, "NaN or inf among the ids, features or labels")
    ids, raw_labels = content[:, 0], content[:, -1]
    for name, col in (("node ids in the first column", ids), ("labels in the last column", raw_labels)):
        if not np.all(col == np.round(col)) or np.abs(col).max() >= 2**53:
            raise _bad(content_path, f"{name} are not integers")
    x = torch.from_numpy(content[:, 1:-1].astype(np.float32))
    if not torch.isfinite(x).all():
        raise _bad(content_path, "features overflow float32")
    labels = raw_labels.astype(np.int64)
    labels = labels - labels.min()
    if int(labels.max()) >= len(ids):
        raise _bad(content_path, f"labels span {int(labels.max()) + 1} classes for only {len(ids)} nodes")
    y = torch.from_numpy(labels)
    index_of = {int(i): k for k, i in enumerate(ids.astype(np.int64))}
    if len(index_of) != len(ids):
        raise _bad(content_path, "node ids are repeated")
    pairs = _loadtxt(edges_path, np.int64)
    if pairs.size % 2:
        raise _bad(edges_path, "expected rows of 'node_id edge_id'")
    hyperedges: dict[int, set[int]] = {}
    for node, edge in pairs.reshape(-1, 2).tolist():
        if node not in index_of:
            raise _bad(edges_path, f"node id {node} is not in {content_path.name}")
        hyperedges.setdefault(edge, set()).add(index_of[node])
    ordered = [sorted(hyperedges[e]) for e in sorted(hyperedges)]
    return RawHypergraph(len(ids), ordered, x, y)


def _loadtxt(path: Path, dtype) -> np.ndarray:
    try:
        with warnings.catch_warnings():  # an empty file is reported by the caller's shape check
            warnings.filterwarnings("ignore", "loadtxt: input contained no data", UserWarning)
            return np.loadtxt(path, dtype=dtype, ndmin=2)
    except (ValueError, OverflowError) as exc:
        raise _bad(path, f"could not parse ({str(exc)[:200]})") from exc


# ---------------------------------------------------------------- Cornell (hyperedges-*.txt, node-labels-*.txt)
def read_cornell(
    folder: Path,
    card: DatasetCard,
    *,
    feature_noise: float = 1.0,
    feature_dim: int | None = None,
    seed: int = 0,
) -> RawHypergraph:
    """Read a Cornell hypergraph and make AllSet's synthetic features ``one_hot(label) + N(0, sigma^2)``.

    Node ids in ``hyperedges-<name>.txt`` and labels in ``node-labels-<name>.txt`` are 1-based.
    ``feature_dim`` pads the one-hot part with zero columns (AllSet's ``-100`` variants use 100).
    """
    stem = card.params["stem"]
    labels_path, edges_path = folder / f"node-labels-{stem}.txt", folder / f"hyperedges-{stem}.txt"
    labels = _loadtxt(labels_path, np.int64)
    if labels.size == 0 or labels.min() < 1 or labels.shape[1] != 1:
        raise _bad(labels_path, "labels must be 1-based integers, one per line")
    labels = labels.reshape(-1)
    num_nodes, num_classes = int(labels.size), int(labels.max())
    if num_classes > num_nodes:
        raise _bad(labels_path, f"label {num_classes} is larger than the number of nodes ({num_nodes})")
    y = torch.from_numpy(labels - 1)
    hyperedges = _cornell_edges(edges_path, num_nodes)
    _check_dense([labels_path, edges_path], num_nodes, num_classes, "the one-hot labels")
    return RawHypergraph(num_nodes, hyperedges, _cornell_features(y, num_classes, feature_noise, feature_dim, seed), y)


def _cornell_features(
    y: torch.Tensor, num_classes: int, noise: float, feature_dim: int | None, seed: int
) -> torch.Tensor:
    """``one_hot(y)`` padded to ``feature_dim`` columns, plus seeded Gaussian noise of scale ``noise``."""
    num_nodes, dim = y.numel(), max(num_classes, feature_dim or 0)
    gen = torch.Generator().manual_seed(seed)
    try:
        x = torch.zeros(num_nodes, dim)
        x[torch.arange(num_nodes), y] = 1.0
        return x + noise * torch.randn(num_nodes, dim, generator=gen)
    except (RuntimeError, MemoryError) as exc:
        raise InvalidInputError(
            f"feature_dim={feature_dim}: the {num_nodes} x {dim} features cannot be allocated ({str(exc)[:120]}); "
            "pass a smaller feature_dim."
        ) from None


def _cornell_edges(path: Path, num_nodes: int) -> list[list[int]]:
    hyperedges = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("ascii").strip()
                if not line:
                    continue
                members = sorted({int(tok) - 1 for tok in line.split(",")})
            except ValueError as exc:
                raise _bad(path, f"line {lineno} is not comma-separated integers") from exc
            if members[0] < 0 or members[-1] >= num_nodes:
                raise _bad(path, f"line {lineno} has a node id outside 1..{num_nodes}")
            hyperedges.append(members)
    return hyperedges


READERS = {"hypergcn": read_hypergcn, "content-edges": read_content_edges, "cornell": read_cornell}

__all__ = ["RawHypergraph", "read_hypergcn", "read_content_edges", "read_cornell", "READERS"]
