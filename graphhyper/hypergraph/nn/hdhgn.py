"""HDHGN layer (Yang et al., "Heterogeneous Directed Hypergraph Neural Network over abstract syntax tree (AST)
for Code Classification", SEKE 2023)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.directed import DirectedHypergraph
from graphhyper.hypergraph.nn._utils import dropout, expand_heads, glorot_, typed_linear
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.structure import Hypergraph


def _typing(hg: Hypergraph) -> tuple[Tensor, Tensor, Tensor]:
    """``(is_head [nnz], node_type [V], edge_type [E])``; a plain Hypergraph is all-tail and untyped."""
    if isinstance(hg, DirectedHypergraph):
        return hg.is_head, hg.node_type, hg.edge_type
    dev = hg.inc_node.device
    zeros = torch.zeros
    return (
        zeros(hg.nnz, dtype=torch.bool, device=dev),
        zeros(hg.num_nodes, dtype=torch.long, device=dev),
        zeros(hg.num_edges, dtype=torch.long, device=dev),
    )


class HDHGNConv(HypergraphLayer):
    r"""Heterogeneous directed hypergraph convolution (HDHGN).

    Incidences are *tail* (sources, e.g. the children of an AST node) or *head* (targets, the parent); nodes and
    hyperedges are typed. With :math:`\tau(v)` the node type, :math:`\phi(e)` the hyperedge type, :math:`T(e)`
    and :math:`H(e)` the tail and head sets:

    .. math::
        \mathbf{z}_v &= \mathbf{W}_{\tau(v)}\, \mathbf{x}_v \\
        \beta_{ve} &= \operatorname{softmax}_{u \in T(e)}\big(\mathrm{LeakyReLU}(
            \mathbf{a}^\top [\mathbf{z}_v \,\Vert\, \mathbf{t}_{\phi(e)}])\big) \\
        \mathbf{y}_e &= \mathbf{W}_T \sum_{v \in T(e)} \beta_{ve}\, \mathbf{z}_v
                     + \mathbf{W}_H \frac{1}{|H(e)|}\sum_{v \in H(e)} \mathbf{z}_v \\
        \mathbf{m}_{ve} &= \mathbf{D}_{d(v,e)}\, \mathbf{U}_{\phi(e)}\, \mathbf{y}_e, \qquad
        \gamma_{ve} = \operatorname{softmax}_{e \ni v}\Big(\frac{\langle \mathbf{Q} \mathbf{z}_v,
            \mathbf{K} \mathbf{m}_{ve} \rangle}{\sqrt{d}}\Big) \\
        \mathbf{x}'_v &= \mathrm{ELU}\Big(\mathrm{LN}\big(\mathbf{W}_c \sum_{e \ni v} \gamma_{ve}\,
            \mathbf{m}_{ve} + \mathbf{W}_p\, \mathbf{x}_v\big)\Big)

    per head (:math:`\beta, \gamma` are multi-head), with a learned embedding :math:`\mathbf{t}_\phi` per
    hyperedge type, a matrix :math:`\mathbf{U}_\phi` per hyperedge type and a direction-specific map
    :math:`\mathbf{D}_{d}` (head or tail). A plain :class:`~graphhyper.hypergraph.Hypergraph` is treated as
    untyped with all incidences tails. (The reference uses GraphNorm; LayerNorm keeps the layer batch-free.)

    Args:
        channels: node feature size :math:`C` (input and output).
        num_node_types: number of node types (``hg.node_type < num_node_types``).
        num_edge_types: number of hyperedge types.
        heads: attention heads (divides ``channels``).
        dropout: dropout on the attention coefficients.
        negative_slope: LeakyReLU slope of the tail attention.

    Shapes:
        - **input:** ``x [V, C]``, ``hg``: a ``DirectedHypergraph`` (or ``Hypergraph`` / ``hyperedge_index``)
        - **output:** ``[V, C]``
    """

    repr_args = ("channels",)
    repr_kwargs = ("num_node_types", "num_edge_types", "heads")
    input_size = "channels"

    def __init__(
        self,
        channels: int,
        num_node_types: int = 1,
        num_edge_types: int = 1,
        heads: int = 4,
        dropout: float = 0.0,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        if channels % heads:
            raise InvalidInputError(f"channels={channels} must be divisible by heads={heads}.")
        C = channels
        self.channels, self.heads, self.dropout, self.negative_slope = C, heads, dropout, negative_slope
        self.num_node_types, self.num_edge_types = num_node_types, num_edge_types
        self.node_weight = nn.Parameter(torch.empty(num_node_types, C, C))
        self.edge_type_emb = nn.Parameter(torch.empty(num_edge_types, C))
        self.att = nn.Parameter(torch.empty(1, heads, 2 * (C // heads)))
        self.lin_tail, self.lin_head = nn.Linear(C, C), nn.Linear(C, C)
        self.edge_weight = nn.Parameter(torch.empty(num_edge_types, C, C))
        self.dir_tail, self.dir_head = nn.Linear(C, C), nn.Linear(C, C)
        self.lin_q, self.lin_k = nn.Linear(C, C, bias=False), nn.Linear(C, C, bias=False)
        self.lin_child, self.lin_parent = nn.Linear(C, C), nn.Linear(C, C)
        self.norm = nn.LayerNorm(C)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in (self.node_weight, self.edge_weight):
            for t in range(w.size(0)):
                nn.init.xavier_uniform_(w.data[t])
        nn.init.xavier_uniform_(self.edge_type_emb)
        glorot_(self.att)
        super().reset_parameters()  # the Linear maps and the LayerNorm, in registration order

    def _check_types(self, node_type: Tensor, edge_type: Tensor) -> None:
        for what, t, n in (("node", node_type, self.num_node_types), ("edge", edge_type, self.num_edge_types)):
            if t.numel() and int(t.max()) >= n:
                raise InvalidInputError(
                    f"The hypergraph has {what} type {int(t.max())} but the layer was built with "
                    f"num_{what}_types={n}; build the layer with num_{what}_types >= {int(t.max()) + 1}."
                )

    def _to_edges(self, z: Tensor, hg: Hypergraph, is_head: Tensor, edge_type: Tensor) -> Tensor:
        H, d = self.heads, self.channels // self.heads
        tail = (~is_head).to(z.dtype)[:, None]
        s_v = (z.view(-1, H, d) * self.att[..., :d]).sum(-1)
        s_e = (self.edge_type_emb[edge_type].view(-1, H, d) * self.att[..., d:]).sum(-1)
        score = F.leaky_relu(ops.gather_nodes(s_v, hg) + ops.gather_edges(s_e, hg), self.negative_slope)
        score = torch.where(is_head[:, None], torch.full_like(score, -1e9), score)  # heads take no tail attention
        beta = dropout(ops.softmax_over_edges(score, hg) * tail, self.dropout, self.training)
        z_inc = ops.gather_nodes(z, hg)
        tails = ops.reduce_to_edges(z_inc * expand_heads(beta, d), hg, aggr="sum")
        head_mask = 1.0 - tail
        n_heads = ops.reduce_to_edges(head_mask, hg, aggr="sum").clamp(min=1.0)
        heads = ops.reduce_to_edges(z_inc * head_mask, hg, aggr="sum") / n_heads
        return self.lin_tail(tails) + self.lin_head(heads)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor) -> Tensor:
        hg = self.prepare(x, hg)
        is_head, node_type, edge_type = _typing(hg)
        self._check_types(node_type, edge_type)
        H, d = self.heads, self.channels // self.heads
        z = typed_linear(x, node_type, self.node_weight)
        y = typed_linear(self._to_edges(z, hg, is_head, edge_type), edge_type, self.edge_weight)
        y_inc = ops.gather_edges(y, hg)
        m = torch.where(is_head[:, None], self.dir_head(y_inc), self.dir_tail(y_inc))  # [nnz, C]
        q = ops.gather_nodes(self.lin_q(z), hg).view(-1, H, d)
        score = (q * self.lin_k(m).view(-1, H, d)).sum(-1) / math.sqrt(d)
        gamma = dropout(ops.softmax_over_nodes(score, hg), self.dropout, self.training)
        agg = ops.reduce_to_nodes(m * expand_heads(gamma, d), hg, aggr="sum")
        return F.elu(self.norm(self.lin_child(agg) + self.lin_parent(x)))
