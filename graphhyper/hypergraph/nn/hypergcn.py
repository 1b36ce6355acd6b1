"""HyperGCN (Yadati et al., "HyperGCN: A New Method of Training Graph Convolutional Networks on Hypergraphs",
NeurIPS 2019), with mediators and the FastHyperGCN variant."""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import Tensor, nn

from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn.base import HypergraphLayer, reset_linear
from graphhyper.hypergraph.structure import Hypergraph


def _extreme_positions(p: Tensor, hg: Hypergraph) -> tuple[Tensor, Tensor]:
    """Per hyperedge, the incidence position of the first maximum and of the last minimum of ``p [V]``."""
    P = ops.gather_nodes(p[:, None].double(), hg)  # [nnz, 1]
    pos = torch.arange(hg.nnz, device=p.device, dtype=torch.float64)[:, None]
    low = torch.full_like(pos, -float(hg.nnz + 1))  # finite sentinel below every candidate key
    is_max = P == ops.gather_edges(ops.reduce_to_edges(P, hg, aggr="max"), hg)
    is_min = P == ops.gather_edges(-ops.reduce_to_edges(-P, hg, aggr="max"), hg)
    first_max = -ops.reduce_to_edges(torch.where(is_max, -pos, low), hg, aggr="max")[:, 0]
    last_min = ops.reduce_to_edges(torch.where(is_min, pos, low), hg, aggr="max")[:, 0]
    return first_max, last_min


def hypergcn_graph(
    x: Tensor, hg: Hypergraph, use_mediator: bool = True, generator: torch.Generator | None = None
) -> Hypergraph:
    r"""The weighted graph HyperGCN puts in place of each hyperedge, as a ``Hypergraph`` of 2-node hyperedges.

    Features are projected on a random direction :math:`p = \mathbf{X} \mathbf{r}`; in each hyperedge ``e``
    (``|e| >= 2``) the nodes :math:`i_e = \arg\max_{v \in e} p_v` and :math:`j_e = \arg\min_{v \in e} p_v` are
    joined. With mediators every other node ``u`` of ``e`` is joined to both, and all these pairs get weight
    :math:`w_e / (2|e| - 3)`; without mediators the single pair gets :math:`w_e / |e|`. Computed without
    gradient. Returns a hypergraph on the same nodes whose hyperedges are the pairs (weights = pair weights).
    """
    with torch.no_grad():
        x = x.detach()
        r = torch.rand(x.size(1), generator=generator, dtype=torch.float64).to(x.device)
        first_max, last_min = _extreme_positions(x.double() @ r, hg)
        src, dst, weight = ops.hypergcn_pairs(hg, first_max, last_min, use_mediator)
        pairs = torch.arange(src.numel(), device=src.device)
        index = torch.stack([torch.cat([src, dst]), torch.cat([pairs, pairs])])
        return Hypergraph(
            hg.num_nodes, hyperedge_index=index, num_edges=src.numel(), hyperedge_weight=weight.to(x.dtype)
        )


def pair_graph_propagate(x: Tensor, graph: Hypergraph) -> Tensor:
    r""":math:`\mathbf{D}^{-1/2} (\mathbf{A} + \mathbf{I}) \mathbf{D}^{-1/2} \mathbf{x}` on a graph stored as a
    hypergraph of 2-node hyperedges with weights (:math:`\mathbf{D} = \mathrm{diag}(1 + \sum_u A_{vu})`)."""
    d_inv_sqrt = (graph.weighted_node_degree.to(x.dtype) + 1.0).pow(-0.5)[:, None]
    xs = x * d_inv_sqrt
    partner = ops.gather_nodes(xs, graph).view(-1, 2, x.size(1)).flip(1).reshape(-1, x.size(1))
    w = ops.gather_edges(graph.hyperedge_weight.to(x.dtype)[:, None], graph)
    return (ops.reduce_to_nodes(partner * w, graph, aggr="sum") + xs) * d_inv_sqrt


class HyperGCNConv(HypergraphLayer):
    r"""HyperGCN: a GCN layer on a graph that approximates each hyperedge, rebuilt from the signal.

    .. math::
        \mathbf{X}' = \mathbf{D}^{-1/2} (\mathbf{A}^{(\mathbf{X}\mathbf{\Theta})} + \mathbf{I})
        \mathbf{D}^{-1/2} \mathbf{X} \mathbf{\Theta} + \mathbf{b}

    where :math:`\mathbf{A}^{(\mathbf{S})}` is :func:`hypergcn_graph` built from the signal :math:`\mathbf{S}`
    (pairs of the most distant nodes along a random projection, with mediators if ``use_mediator``) and
    :math:`\mathbf{D}` the degree of :math:`\mathbf{A} + \mathbf{I}`. ``fast=True`` (FastHyperGCN) builds the
    graph once from the first input this layer sees on a given hypergraph and reuses it; a model can also pass a
    precomputed ``graph`` (FastHyperGCN proper builds it from the raw features).

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        use_mediator: connect the other nodes of each hyperedge to the chosen pair.
        fast: build the graph once (FastHyperGCN) instead of at every call.
        bias: learn an additive bias.

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``,
          optional ``graph`` from :func:`hypergcn_graph`
        - **output:** ``[V, F']``
    """

    repr_kwargs = ("use_mediator", "fast")

    def __init__(
        self, in_channels: int, out_channels: int, use_mediator: bool = True, fast: bool = False, bias: bool = True
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.use_mediator, self.fast = use_mediator, fast
        self.lin = nn.Linear(in_channels, out_channels, bias=bias)
        # FastHyperGCN: one graph per (hypergraph, use_mediator), held through a weak reference to the
        # hypergraph (Hypergraph compares by value, so it cannot be a dict key) and dropped with it
        self._graphs: dict[tuple[int, bool], tuple[weakref.ref[Hypergraph], Hypergraph]] = {}
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_linear(self.lin)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, graph: Hypergraph | None = None) -> Tensor:
        hg = self.prepare(x, hg)
        xt = x @ self.lin.weight.t()
        if graph is None and self.fast:
            graph = self._fast_graph(xt, hg)
        elif graph is None:
            graph = hypergcn_graph(xt, hg, self.use_mediator)
        out = pair_graph_propagate(xt, graph)
        return out if self.lin.bias is None else out + self.lin.bias

    def _fast_graph(self, xt: Tensor, hg: Hypergraph) -> Hypergraph:
        """The graph built from the first signal this layer saw on ``hg`` (FastHyperGCN)."""
        key = (id(hg), self.use_mediator)
        hit = self._graphs.get(key)
        if hit is None or hit[0]() is not hg:
            graphs = self._graphs
            hit = (weakref.ref(hg, lambda _: graphs.pop(key, None)), hypergcn_graph(xt, hg, self.use_mediator))
            graphs[key] = hit
        return hit[1]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_graphs"] = {}  # a cache, and weak references do not pickle: copies start empty
        return state
