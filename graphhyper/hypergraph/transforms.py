"""Explicit transforms and expansions of a :class:`~graphhyper.hypergraph.Hypergraph` (all vectorised).

Every transform returns a new hypergraph; per-incidence, per-node and per-hyperedge fields (weights, features,
types, head/tail roles) are carried along through the hooks ``_incidence_fields``/``_node_fields``/``_edge_fields``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, TypeVar

import torch

if TYPE_CHECKING:
    from graphhyper.hypergraph.structure import Hypergraph

H = TypeVar("H", bound="Hypergraph")


def duplicate_edges(hg: Hypergraph) -> torch.Tensor:
    """Hyperedges whose node set equals the one of an earlier hyperedge."""
    nodes = hg.inc_node.cpu().numpy()
    ptr = hg.edge_ptr.cpu().numpy()
    seen: set[bytes] = set()
    dup = []
    for e in range(hg.num_edges):
        key = nodes[ptr[e] : ptr[e + 1]].tobytes()
        if key in seen:
            dup.append(e)
        else:
            seen.add(key)
    return torch.tensor(dup, dtype=torch.long, device=hg.device)


def _subset(fields: Mapping[str, torch.Tensor | None], mask: torch.Tensor) -> dict[str, torch.Tensor | None]:
    return {k: (None if v is None else v[mask]) for k, v in fields.items()}


def remove_edges(hg: H, edge_ids: torch.Tensor) -> H:
    """Drop the given hyperedges and renumber the rest (order kept)."""
    if edge_ids.numel() == 0:
        return hg._replace()
    keep_edge = torch.ones(hg.num_edges, dtype=torch.bool, device=hg.device)
    keep_edge[edge_ids.to(hg.device)] = False
    new_id = torch.cumsum(keep_edge.long(), 0) - 1
    keep_inc = keep_edge[hg.inc_edge]
    fields = _subset(hg._incidence_fields(), keep_inc)
    fields.update(_subset(hg._edge_fields(), keep_edge))
    return hg._replace(
        inc_node=hg.inc_node[keep_inc],
        inc_edge=new_id[hg.inc_edge[keep_inc]],
        num_edges=int(keep_edge.sum()),
        **fields,
    )


def remove_isolated_nodes(hg: H) -> tuple[H, torch.Tensor]:
    """Drop nodes of degree 0; returns ``(hg, mapping)`` with ``mapping[new] = old``."""
    keep = hg.node_degree > 0
    mapping = torch.nonzero(keep).flatten()
    new_id = torch.cumsum(keep.long(), 0) - 1
    fields = _subset(hg._node_fields(), keep)
    new = hg._replace(inc_node=new_id[hg.inc_node], num_nodes=int(mapping.numel()), **fields)
    return new, mapping


def add_self_loops(hg: H) -> H:
    """Append a singleton hyperedge ``{v}`` for each node without one."""
    single = hg.edge_degree[hg.inc_edge] == 1
    has_loop = torch.zeros(hg.num_nodes, dtype=torch.bool, device=hg.device)
    has_loop[hg.inc_node[single]] = True
    loops = torch.nonzero(~has_loop).flatten()
    k = loops.numel()
    if k == 0:
        return hg._replace()
    new_edges = torch.arange(hg.num_edges, hg.num_edges + k, device=hg.device)
    fields: dict[str, torch.Tensor | None] = {}
    for name, value in hg._incidence_fields().items():
        fields[name] = None if value is None else torch.cat([value, value.new_zeros((k, *value.shape[1:]))])
    for name, value in hg._edge_fields().items():
        fill = value.new_ones(k) if name == "hyperedge_weight" else value.new_zeros((k, *value.shape[1:]))
        fields[name] = torch.cat([value, fill])
    return hg._replace(
        inc_node=torch.cat([hg.inc_node, loops]),
        inc_edge=torch.cat([hg.inc_edge, new_edges]),
        num_edges=hg.num_edges + k,
        **fields,
    )


def _incidence_matrix(hg: Hypergraph, values: torch.Tensor) -> torch.Tensor:
    """Sparse COO ``[V, E]`` with the given per-incidence values."""
    return torch.sparse_coo_tensor(
        hg.hyperedge_index, values, (hg.num_nodes, hg.num_edges), check_invariants=False
    ).coalesce()


def _offdiag(mat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mat = mat.coalesce()
    idx, val = mat.indices(), mat.values()
    keep = idx[0] != idx[1]
    return idx[:, keep], val[keep]


def clique_expansion(hg: Hypergraph, normalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    w = hg.hyperedge_weight.double()
    if normalize:
        w = w / (hg.edge_degree.double() - 1).clamp(min=1)
    left = _incidence_matrix(hg, w[hg.inc_edge])
    right = _incidence_matrix(hg, torch.ones(hg.nnz, dtype=torch.float64, device=hg.device)).t()
    idx, val = _offdiag(torch.sparse.mm(left, right))
    return idx, val.to(hg.hyperedge_weight.dtype)


def star_expansion(hg: Hypergraph) -> torch.Tensor:
    v, e = hg.inc_node, hg.inc_edge + hg.num_nodes
    return torch.stack([torch.cat([v, e]), torch.cat([e, v])])


def line_graph(hg: Hypergraph) -> tuple[torch.Tensor, torch.Tensor]:
    ones = torch.ones(hg.nnz, dtype=torch.float64, device=hg.device)
    h = _incidence_matrix(hg, ones)
    idx, val = _offdiag(torch.sparse.mm(h.t(), h))
    return idx, val.to(torch.float32)
