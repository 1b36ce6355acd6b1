"""Conversions between :class:`~graphhyper.hypergraph.Hypergraph` and other libraries.

PyG (``hyperedge_index``), DHG (``dhg.Hypergraph``), DGL (heterograph with ``node``/``hyperedge`` node types),
networkx (bipartite graph), hypernetx and xgi. Optional libraries are imported lazily; a missing one raises
:class:`~graphhyper.errors.MissingDependencyError` naming the package.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from graphhyper.errors import InvalidHypergraphError, require

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
def to_hypernetx(hg: Hypergraph) -> Any:
    """``hypernetx.Hypergraph`` keyed by hyperedge id (weights are not carried)."""
    hnx = require("hypernetx", None, "conversion to hypernetx")
    return hnx.Hypergraph({e: members for e, members in enumerate(hg.hyperedges())})


def to_xgi(hg: Hypergraph) -> Any:
    """``xgi.Hypergraph`` with node ids ``0..V-1`` (isolated nodes included) and hyperedge ids ``0..E-1``."""
    xgi = require("xgi", None, "conversion to xgi")
    h = xgi.Hypergraph()
    h.add_nodes_from(range(hg.num_nodes))
    h.add_edges_from({e: members for e, members in enumerate(hg.hyperedges())})
    return h
