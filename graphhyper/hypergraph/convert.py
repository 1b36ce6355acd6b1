"""Conversions between :class:`~graphhyper.hypergraph.Hypergraph` and other libraries.

PyG (``hyperedge_index``), DHG (``dhg.Hypergraph``), DGL (heterograph with ``node``/``hyperedge`` node types),
networkx (bipartite graph), hypernetx and xgi. Optional libraries are imported lazily; a missing one raises
:class:`~graphhyper.errors.MissingDependencyError` naming the package.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TypeVar, cast

import torch

from graphhyper.errors import InvalidHypergraphError, require
from graphhyper.hypergraph import hif as _hif

if TYPE_CHECKING:
    from graphhyper.hypergraph.structure import Hypergraph

H = TypeVar("H", bound="Hypergraph")

NODE, EDGE = "node", "hyperedge"
REL_IN, REL_CONTAINS = "in", "contains"


def from_pyg(cls: type[H], hyperedge_index: torch.Tensor, num_nodes: int | None = None, **kwargs: Any) -> H:
    if num_nodes is None:
        if not isinstance(hyperedge_index, torch.Tensor) or hyperedge_index.dim() != 2:
            raise InvalidHypergraphError("hyperedge_index must be a LongTensor [2, nnz] (PyG layout).")
        num_nodes = int(hyperedge_index[0].max()) + 1 if hyperedge_index.numel() else 0
    return cls(num_nodes, hyperedge_index=hyperedge_index, **kwargs)


# ---------------------------------------------------------------------------------------------- DHG
def to_dhg(hg: Hypergraph) -> Any:
    """``dhg.Hypergraph``. DHG merges identical hyperedges and has no empty ones, so those are refused here."""
    os.environ.setdefault("DGLBACKEND", "pytorch")
    dhg = require("dhg", "dhg", "conversion to DHG")
    if hg.duplicate_edges().numel():
        raise InvalidHypergraphError(
            "DHG merges hyperedges with identical node sets; call hg.remove_duplicate_edges() before to_dhg()."
        )
    if bool((hg.edge_degree == 0).any()):
        raise InvalidHypergraphError("DHG has no empty hyperedges; call hg.drop_empty_edges() before to_dhg().")
    return dhg.Hypergraph(
        hg.num_nodes,
        hg.hyperedges(),
        e_weight=hg.hyperedge_weight.tolist(),
        v_weight=hg.node_weight.tolist(),
    )


def from_dhg(cls: type[H], dhg_hg: Any) -> H:
    e_list, e_weight = dhg_hg.e
    v_weight = getattr(dhg_hg, "v_weight", None)
    if v_weight is not None and not isinstance(v_weight, torch.Tensor):
        v_weight = torch.as_tensor(v_weight, dtype=torch.float32)
    if v_weight is not None and v_weight.numel() != dhg_hg.num_v:
        v_weight = None
    return cls(dhg_hg.num_v, [list(e) for e in e_list], hyperedge_weight=list(e_weight), node_weight=v_weight)


# ---------------------------------------------------------------------------------------------- DGL
def to_dgl(hg: Hypergraph) -> Any:
    """DGL heterograph: relation ``(node, in, hyperedge)`` and its reverse ``(hyperedge, contains, node)``.

    ``g.nodes['hyperedge'].data['weight']``, ``g.nodes['node'].data['weight']`` and (when present)
    ``g.edges['in'].data['feat']`` carry the weights and incidence features.
    """
    os.environ.setdefault("DGLBACKEND", "pytorch")
    dgl = require("dgl", "dgl", "conversion to DGL")
    v, e = hg.inc_node, hg.inc_edge
    g = dgl.heterograph(
        {(NODE, REL_IN, EDGE): (v, e), (EDGE, REL_CONTAINS, NODE): (e, v)},
        num_nodes_dict={NODE: hg.num_nodes, EDGE: hg.num_edges},
    )
    g.nodes[EDGE].data["weight"] = hg.hyperedge_weight
    g.nodes[NODE].data["weight"] = hg.node_weight
    if hg.incidence_features is not None:
        g.edges[REL_IN].data["feat"] = hg.incidence_features
    return g


def from_dgl(cls: type[H], g: Any) -> H:
    if NODE not in g.ntypes or EDGE not in g.ntypes or REL_IN not in g.etypes:
        raise InvalidHypergraphError(
            f"Expected a DGL heterograph with node types {NODE!r}/{EDGE!r} and relation {REL_IN!r} "
            f"(as made by Hypergraph.to_dgl), got node types {g.ntypes} and relations {g.etypes}."
        )
    v, e = g.edges(etype=REL_IN)
    feats = g.edges[REL_IN].data.get("feat")
    return cls(
        g.num_nodes(NODE),
        hyperedge_index=torch.stack([v.long(), e.long()]),
        num_edges=g.num_nodes(EDGE),
        hyperedge_weight=g.nodes[EDGE].data.get("weight"),
        node_weight=g.nodes[NODE].data.get("weight"),
        incidence_features=feats,
        allow_empty_edges=True,
    )


# ---------------------------------------------------------------------------------------------- networkx
def to_networkx(hg: Hypergraph) -> Any:
    """Bipartite ``networkx.Graph`` with nodes ``("v", i)`` (``bipartite=0``) and ``("e", j)`` (``bipartite=1``)."""
    nx = require("networkx", None, "conversion to networkx")
    g = nx.Graph()
    g.add_nodes_from((("v", i), {"bipartite": 0, "weight": w}) for i, w in enumerate(hg.node_weight.tolist()))
    g.add_nodes_from((("e", j), {"bipartite": 1, "weight": w}) for j, w in enumerate(hg.hyperedge_weight.tolist()))
    g.add_edges_from(zip((("v", i) for i in hg.inc_node.tolist()), (("e", j) for j in hg.inc_edge.tolist())))
    return g


def _side_ids(g: Any) -> tuple[dict[Any, int], dict[Any, int]]:
    """Map networkx nodes to node ids / hyperedge ids, from ``("v"|"e", int)`` labels or the ``bipartite`` flag."""
    labels = list(g.nodes)
    if all(isinstance(n, tuple) and len(n) == 2 and n[0] in ("v", "e") for n in labels):
        vs = {n: n[1] for n in labels if n[0] == "v"}
        es = {n: n[1] for n in labels if n[0] == "e"}
        return vs, es
    flags = dict(g.nodes(data="bipartite"))
    if any(f not in (0, 1) for f in flags.values()):
        raise InvalidHypergraphError(
            "networkx graph is not a hypergraph's bipartite form: label nodes ('v', i)/('e', j) or give every "
            "node a 'bipartite' attribute of 0 (node) or 1 (hyperedge)."
        )
    vs = {n: i for i, n in enumerate(n for n in labels if flags[n] == 0)}
    es = {n: j for j, n in enumerate(n for n in labels if flags[n] == 1)}
    return vs, es


def from_networkx(cls: type[H], g: Any) -> H:
    vs, es = _side_ids(g)
    num_nodes = max(vs.values(), default=-1) + 1
    num_edges = max(es.values(), default=-1) + 1
    pairs = []
    for a, b in g.edges():
        if a in vs and b in es:
            pairs.append((vs[a], es[b]))
        elif b in vs and a in es:
            pairs.append((vs[b], es[a]))
        else:
            raise InvalidHypergraphError(f"networkx edge {a!r}-{b!r} does not join a node to a hyperedge.")
    index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t()
    node_w = [1.0] * num_nodes
    for n, i in vs.items():
        node_w[i] = float(g.nodes[n].get("weight", 1.0))
    edge_w = [1.0] * num_edges
    for n, j in es.items():
        edge_w[j] = float(g.nodes[n].get("weight", 1.0))
    return cls(
        num_nodes,
        hyperedge_index=index,
        num_edges=num_edges,
        hyperedge_weight=edge_w,
        node_weight=node_w,
        allow_empty_edges=True,
    )


# ---------------------------------------------------------------------------------------------- hypernetx / xgi
# Both go through the HIF document of graphhyper.hypergraph.hif: one mapping of ids, weights and attributes.
def to_hypernetx(hg: Hypergraph) -> Any:
    """``hypernetx.Hypergraph``: hyperedge ``e`` has uid ``e`` and property ``weight``; node weights and incidence
    features (cell property ``features``) are carried. HyperNetX has no isolated nodes or empty hyperedges, so
    those are refused (call ``hg.remove_isolated_nodes()`` / ``hg.drop_empty_edges()`` first)."""
    hnx = require("hypernetx", None, "conversion to hypernetx")
    pd = require("pandas", None, "conversion to hypernetx")
    from graphhyper.hypergraph.directed import DirectedHypergraph

    if isinstance(hg, DirectedHypergraph):
        raise InvalidHypergraphError("to_hypernetx takes an undirected Hypergraph; use to_hif() for directed ones.")
    _refuse_isolated_and_empty(hg, "HyperNetX")
    doc = _hif.to_hif(hg)
    frames = {part: pd.DataFrame(_hnx_rows(doc[part], part)) for part in ("incidences", "nodes", "edges")}
    return hnx.Hypergraph(
        frames["incidences"],
        misc_cell_properties_col="attrs",
        edge_properties=frames["edges"],
        node_properties=frames["nodes"],
        misc_properties_col="attrs",
    )


def _refuse_isolated_and_empty(hg: Hypergraph, library: str) -> None:
    if hg.isolated_nodes().numel():
        raise InvalidHypergraphError(
            f"{library} drops isolated nodes ({hg.isolated_nodes().numel()} here); call hg.remove_isolated_nodes() "
            "first (it returns the id mapping), or use to_hif()."
        )
    if bool((hg.edge_degree == 0).any()):
        raise InvalidHypergraphError(f"{library} has no empty hyperedges; call hg.drop_empty_edges() first.")


def _hnx_rows(records: list[dict[str, Any]], part: str) -> dict[str, list[Any]]:
    """Column lists (``weight`` 1 and ``attrs`` {} where a record has none) for a HyperNetX DataFrame."""
    keys = ("edge", "node") if part == "incidences" else (part[:-1],)
    cols: dict[str, list[Any]] = {k: [r[k] for r in records] for k in keys}
    cols["weight"] = [r.get("weight", 1.0) for r in records]
    cols["attrs"] = [dict(r.get("attrs", {})) for r in records]
    return cols


def from_hypernetx(cls: type[H], h: Any, unmapped: _hif.Unmapped = "raise") -> H:
    """From a ``hypernetx.Hypergraph`` (uids, weights and properties as in its HIF export; ``unmapped`` as in
    :func:`graphhyper.hypergraph.hif.from_hif`)."""
    doc = {
        "network-type": "undirected",
        "incidences": _hnx_records(h.incidences.to_dataframe, ("edge", "node")),
        "nodes": _hnx_records(h.nodes.to_dataframe, ("node",)),
        "edges": _hnx_records(h.edges.to_dataframe, ("edge",)),
    }
    return cast(H, _hif.from_hif(doc, cls, unmapped=unmapped))


def _hnx_records(frame: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """HIF records of a HyperNetX property DataFrame: index -> ids, ``weight``, other columns -> ``attrs``."""
    out = []
    for index, row in frame.iterrows():
        ids = index if isinstance(index, tuple) else (index,)
        props = dict(row)
        attrs = dict(props.pop("misc_properties", None) or {})
        weight = props.pop("weight", 1.0)
        attrs.update(props)
        rec: dict[str, Any] = {k: _plain(i) for k, i in zip(keys, ids)}
        rec["weight"] = float(weight)
        if attrs:
            rec["attrs"] = attrs
        out.append(rec)
    return out


def _plain(value: Any) -> Any:
    """numpy scalars (pandas indexes) as Python ints / strings."""
    return value.item() if hasattr(value, "item") else value


def to_xgi(hg: Hypergraph) -> Any:
    """``xgi.Hypergraph`` (``xgi.DiHypergraph`` for a ``DirectedHypergraph``) with node ids ``0..V-1`` (isolated
    nodes included), hyperedge ids ``0..E-1`` (empty ones included) and the weights as the ``weight`` attribute
    of every hyperedge (and of every node when not all 1). XGI has no per-incidence attributes: incidence features
    are not carried (use to_hif for them)."""
    xgi = require("xgi", None, "conversion to xgi")
    return xgi.from_hif_dict(_hif.to_hif(hg, weight_attrs=True))


def from_xgi(cls: type[H], h: Any, unmapped: _hif.Unmapped = "raise") -> H:
    """From an ``xgi.Hypergraph`` / ``xgi.DiHypergraph`` via its HIF document; a ``weight`` attribute is the
    weight (``unmapped`` as in :func:`graphhyper.hypergraph.hif.from_hif`)."""
    xgi = require("xgi", None, "conversion from xgi")
    doc = json.loads(json.dumps(xgi.to_hif_dict(h)))
    return cast(H, _hif.from_hif(doc, cls, unmapped=unmapped))
