"""Edge-dependent node classification (ENC) datasets: one label per (node, hyperedge) incidence.

The files are WHATsNet's (Choe et al., KDD 2023; github.com/young917/EdgeDependentNodeLabel, folder ``dataset/``):

* ``hypergraph.txt``: line ``i`` lists the nodes of hyperedge ``i`` (tab-separated; with ``named_hyperedges``
  the line starts with the hyperedge's quoted name, e.g. a DBLP paper key);
* ``hypergraph_pos.txt``: line ``i`` lists the label of each of those nodes, in the same order;
* ``valid_hindex_0.txt`` / ``test_hindex_0.txt``: the validation / test hyperedges (names, or line numbers);
  every other hyperedge is a training hyperedge.

Node ids are renumbered ``0 .. V-1`` in order of first appearance, hyperedge ids are line numbers. A few
hyperedges list a node twice with two labels (Stack-Biology: a user with two roles in one question). The
:class:`~graphhyper.hypergraph.Hypergraph` holds each (node, hyperedge) pair once; the dataset keeps every
*listed* incidence with its own label and the pair it belongs to (``incidence``), so a model scores the pair once
and both labels count in the loss and the metrics, as in the published code (whose models give two copies of a
pair the same inputs, hence the same prediction).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from graphhyper.data.cards import DatasetCard, get_card
from graphhyper.data.download import Opener, ensure_files
from graphhyper.data.splits import Split
from graphhyper.errors import DatasetError, InvalidInputError

FILES = ("hypergraph.txt", "hypergraph_pos.txt", "valid_hindex_0.txt", "test_hindex_0.txt")


@dataclass
class EncDataset:
    """An edge-dependent node classification dataset.

    Attributes:
        name: dataset name (card name).
        hg: the :class:`~graphhyper.hypergraph.Hypergraph` (each (node, hyperedge) pair once, CSR order).
        y: ``[M]`` labels of the ``M`` listed incidences (file order), ``0 .. num_classes-1``.
        incidence: ``[M]`` the CSR incidence id in ``hg`` of each listed incidence (``M >= hg.nnz``).
        listed_edge: ``[M]`` the hyperedge of each listed incidence.
        edge_split: disjoint train / val / test *hyperedge* ids (the given split).
        num_classes: number of label classes.
        node_names, edge_names: the ids in the files of node ``v`` / hyperedge ``e``.
        card: the :class:`~graphhyper.data.cards.DatasetCard` (``None`` for a dataset built in memory).
        statistics: counts measured on the raw files (:func:`enc_statistics`).
    """

    name: str
    hg: Any
    y: torch.Tensor
    incidence: torch.Tensor
    listed_edge: torch.Tensor
    edge_split: Split
    num_classes: int
    node_names: list[str] = field(default_factory=list, repr=False)
    edge_names: list[str] = field(default_factory=list, repr=False)
    card: DatasetCard | None = field(default=None, repr=False)
    statistics: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def num_listed(self) -> int:
        """Number ``M`` of listed incidences (targets)."""
        return int(self.y.numel())

    def incidence_split(self) -> Split:
        """Indices into the ``M`` listed incidences whose hyperedge is a train / val / test hyperedge."""
        part = torch.full((self.hg.num_edges,), -1, dtype=torch.long)
        for k, ids in enumerate((self.edge_split.train, self.edge_split.val, self.edge_split.test)):
            part[ids] = k
        which = part[self.listed_edge]
        return Split(*(torch.nonzero(which == k).flatten() for k in range(3)))

    def __repr__(self) -> str:
        s = self.edge_split
        return (
            f"EncDataset({self.name!r}, nodes={self.hg.num_nodes}, hyperedges={self.hg.num_edges}, "
            f"incidences={self.num_listed}, classes={self.num_classes}, train/val/test hyperedges="
            f"{s.train.numel()}/{s.val.numel()}/{s.test.numel()})"
        )


def _bad(path: Path, what: str) -> DatasetError:
    return DatasetError(f"{path}: {what}. The file is malformed; delete it and load the dataset again to re-download.")


def _read_lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(path, f"not UTF-8 text ({exc.reason})") from exc
    return [line.rstrip("\r\n").split("\t") for line in text.splitlines() if line.strip()]


def _split_names(rows: list[list[str]], named: bool, path: Path) -> tuple[list[str], list[list[str]]]:
    if not named:
        return [str(i) for i in range(len(rows))], rows
    names = []
    for i, row in enumerate(rows):
        key = row[0].strip()
        if len(row) < 2 or len(key) < 2 or key[0] != "'" or key[-1] != "'":
            raise _bad(path, f"line {i + 1} does not start with a quoted hyperedge name and its nodes")
        names.append(key[1:-1].strip())
    return names, [row[1:] for row in rows]


def _labels(rows: list[list[str]], sizes: list[int], path: Path) -> list[int]:
    if len(rows) != len(sizes):
        raise _bad(path, f"{len(rows)} label lines for {len(sizes)} hyperedges")
    out: list[int] = []
    for i, (row, size) in enumerate(zip(rows, sizes)):
        if len(row) != size:
            raise _bad(path, f"line {i + 1} has {len(row)} labels for a hyperedge of {size} nodes")
        try:
            out.extend(int(tok) for tok in row)
        except ValueError as exc:
            raise _bad(path, f"line {i + 1} holds a label that is not an integer") from exc
    if out and min(out) < 0:
        raise _bad(path, "labels must be non-negative integers")
    return out


def _split_ids(path: Path, index: dict[str, int]) -> torch.Tensor:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    missing = [n for n in names if n not in index]
    if missing:
        raise _bad(path, f"{len(missing)} hyperedge ids are not in hypergraph.txt (first: {missing[0]!r:.60})")
    ids = torch.tensor([index[n] for n in names], dtype=torch.long)
    if ids.unique().numel() != ids.numel():
        raise _bad(path, "a hyperedge id is listed twice")
    return ids


def read_enc(folder: Path, card: DatasetCard) -> EncDataset:
    """Read the four ENC files of ``card`` from ``folder`` (already verified) into an :class:`EncDataset`."""
    named = bool(card.params.get("named_hyperedges", False))
    edge_path, pos_path = folder / FILES[0], folder / FILES[1]
    edge_names, members = _split_names(_read_lines(edge_path), named, edge_path)
    pos_names, pos_rows = _split_names(_read_lines(pos_path), named, pos_path)
    if named and pos_names != edge_names:
        raise _bad(pos_path, "the hyperedge names differ from those of hypergraph.txt (line order must match)")
    labels = _labels(pos_rows, [len(m) for m in members], pos_path)
    node_index: dict[str, int] = {}
    nodes = [node_index.setdefault(tok.strip(), len(node_index)) for row in members for tok in row]
    edges = [e for e, row in enumerate(members) for _ in row]
    edge_index = {n: e for e, n in enumerate(edge_names)}
    if len(edge_index) != len(edge_names):
        raise _bad(edge_path, "a hyperedge name repeats")
    val, test = (_split_ids(folder / f, edge_index) for f in FILES[2:])
    if torch.isin(val, test).any():
        raise _bad(folder / FILES[3], "validation and test hyperedges overlap")
    return from_listed(
        card.name,
        len(node_index),
        torch.tensor(nodes, dtype=torch.long),
        torch.tensor(edges, dtype=torch.long),
        torch.tensor(labels, dtype=torch.long),
        val,
        test,
        num_edges=len(members),
        node_names=list(node_index),
        edge_names=edge_names,
        card=card,
    )


def from_listed(
    name: str,
    num_nodes: int,
    nodes: torch.Tensor,
    edges: torch.Tensor,
    labels: torch.Tensor,
    val_edges: torch.Tensor,
    test_edges: torch.Tensor,
    *,
    num_edges: int | None = None,
    node_names: list[str] | None = None,
    edge_names: list[str] | None = None,
    card: DatasetCard | None = None,
) -> EncDataset:
    """An :class:`EncDataset` from listed incidences ``(nodes[i], edges[i])`` with label ``labels[i]`` and the
    validation / test hyperedge ids (every other hyperedge trains). Repeated pairs become one incidence of the
    hypergraph and keep their own labels (see the module docstring)."""
    from graphhyper.hypergraph.structure import Hypergraph

    if not (nodes.shape == edges.shape == labels.shape) or nodes.dim() != 1 or nodes.numel() == 0:
        raise InvalidInputError(
            f"nodes, edges and labels must be non-empty 1-D tensors of one length, got shapes "
            f"{tuple(nodes.shape)}, {tuple(edges.shape)}, {tuple(labels.shape)}."
        )
    num_edges = int(edges.max()) + 1 if num_edges is None else num_edges
    keys, incidence = torch.unique(edges * num_nodes + nodes, return_inverse=True)  # sorted = CSR order
    hg = Hypergraph(num_nodes, hyperedge_index=torch.stack([keys % num_nodes, keys // num_nodes]), num_edges=num_edges)
    is_eval = torch.zeros(num_edges, dtype=torch.bool)
    is_eval[val_edges] = True
    is_eval[test_edges] = True
    split = Split(torch.nonzero(~is_eval).flatten(), val_edges.sort().values, test_edges.sort().values)
    ds = EncDataset(
        name, hg, labels, incidence, edges, split, int(labels.max()) + 1, node_names or [], edge_names or [], card
    )
    ds.statistics = enc_statistics(ds)
    return ds


def enc_statistics(ds: EncDataset) -> dict[str, int]:
    """Counts on the cards: nodes, hyperedges, listed incidences, distinct (node, hyperedge) pairs, repeated
    listings, max hyperedge size, singleton hyperedges, classes, and train / val / test hyperedges."""
    hg, s = ds.hg, ds.edge_split
    deg = torch.bincount(ds.listed_edge, minlength=hg.num_edges)
    return {
        "nodes": int(hg.num_nodes),
        "hyperedges": int(hg.num_edges),
        "incidences": ds.num_listed,
        "nnz": int(hg.nnz),
        "repeated_incidences": ds.num_listed - int(hg.nnz),
        "max_edge_size": int(deg.max()),
        "singleton_hyperedges": int((deg == 1).sum()),
        "classes": ds.num_classes,
        "train_hyperedges": int(s.train.numel()),
        "val_hyperedges": int(s.val.numel()),
        "test_hyperedges": int(s.test.numel()),
    }


def load_enc_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    opener: Opener | None = None,
) -> EncDataset:
    """Load an edge-dependent node classification dataset by name (``"coauth-dblp"``, ``"stack-biology"``).

    Files are looked up in ``<root>/hypergraph/enc/<name>/`` (root: argument, ``$GRAPHHYPER_DATA`` or
    ``~/.cache/graphhyper``), downloaded from the card's URLs when missing and ``download``, and checked against
    the card's sizes and sha256 when ``verify``. The split is the one given with the data (``*_hindex_0``).
    """
    card = get_card(name)
    if card.format != "enc":
        raise InvalidInputError(
            f"dataset '{card.name}' labels nodes, not incidences; load it with graphhyper.data.load_hypergraph."
        )
    folder = ensure_files(card, root, download=download, verify=verify, opener=opener)
    return read_enc(folder, card)


__all__ = ["EncDataset", "enc_statistics", "from_listed", "load_enc_dataset", "read_enc"]
