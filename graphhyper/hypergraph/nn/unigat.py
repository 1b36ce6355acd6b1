"""UniGAT convolution (Huang and Yang, "UniGNN", IJCAI 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn._utils import dropout, expand_heads, glorot_
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.structure import Hypergraph


class UniGATConv(HypergraphLayer):
    r"""UniGAT: each node attends over the hyperedges that contain it.

    .. math::
        \mathbf{h}_e &= \frac{1}{|e|} \sum_{u \in e} \mathbf{\Theta}^\top \mathbf{x}_u \\
        \alpha_{ve} &= \operatorname{softmax}_{e \ni v}\big(\mathrm{LeakyReLU}(\mathbf{a}^\top \mathbf{h}_e)\big) \\
        \mathbf{x}'_v &= \big\Vert_{k=1}^{K} \sum_{e \ni v} \alpha^{k}_{ve}\, \mathbf{h}^{k}_e + \mathbf{b}

    per head :math:`k` (concatenated, or averaged when ``concat=False``). As in the reference code the score
    depends on the hyperedge only; the softmax runs over each node's hyperedges.

    Args:
        in_channels: input size :math:`F`.
        out_channels: size per head :math:`C`.
        heads: number of heads :math:`K`.
        concat: concatenate heads (``[V, K*C]``) or average them (``[V, C]``).
        negative_slope: LeakyReLU slope.
        dropout: dropout on the attention coefficients.
        bias: learn an additive bias.

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, K*C]`` or ``[V, C]``
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_e = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    repr_kwargs = ("heads",)

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        glorot_(self.att_e)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor) -> Tensor:
        hg = self.prepare(x, hg)
        H, C = self.heads, self.out_channels
        h_e = ops.v2e(self.lin(x), hg, aggr="mean")  # [E, H*C]
        score = (h_e.view(-1, H, C) * self.att_e).sum(-1)  # [E, H]
        score = F.leaky_relu(ops.gather_edges(score, hg), self.negative_slope)  # [nnz, H]
        alpha = dropout(ops.softmax_over_nodes(score, hg), self.dropout, self.training)
        out = ops.reduce_to_nodes(ops.gather_edges(h_e, hg) * expand_heads(alpha, C), hg, aggr="sum")
        out = out if self.concat else out.view(-1, H, C).mean(1)
        return out if self.bias is None else out + self.bias
