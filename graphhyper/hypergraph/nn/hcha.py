"""HCHA: hypergraph convolution and hypergraph attention (Bai, Zhang and Torr, Pattern Recognition 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn._utils import check_features, dropout, expand_heads, glorot_, safe_pow
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.structure import Hypergraph


class HCHAConv(HypergraphLayer):
    r"""Hypergraph convolution with optional hypergraph attention (the rule of PyG's ``HypergraphConv``).

    .. math::
        \mathbf{y}_e &= \frac{1}{|e|} \sum_{v \in e} \alpha_{ve}\, \mathbf{\Theta}^\top \mathbf{x}_v \\
        \mathbf{x}'_v &= \frac{1}{d_v} \sum_{e \ni v} w_e\, \alpha_{ve}\, \mathbf{y}_e + \mathbf{b},
        \qquad d_v = \sum_{e \ni v} w_e

    i.e. :math:`\mathbf{D}_v^{-1} \mathbf{H} \mathbf{W} \mathbf{D}_e^{-1} \mathbf{H}^\top \mathbf{X}
    \mathbf{\Theta}` without attention (:math:`\alpha = 1`). With attention (per head)

    .. math::
        \alpha_{ve} = \operatorname{softmax}\big(\mathrm{LeakyReLU}(\mathbf{a}^\top
        [\mathbf{\Theta}^\top \mathbf{x}_v \,\Vert\, \mathbf{\Theta}^\top \mathbf{z}_e])\big)

    where the softmax runs over the nodes of each hyperedge ``e`` (``attention_mode="node"``: attention among
    the nodes of a hyperedge) or over the hyperedges of each node ``v`` (``"edge"``) -- PyG's convention -- and
    :math:`\mathbf{z}_e` is ``hyperedge_attr`` (default: the mean of :math:`\mathbf{x}` over :math:`e`).
    Unlike PyG, the hyperedge weights :math:`w_e` enter the messages, not just :math:`d_v`.

    Args:
        in_channels: input size :math:`F`.
        out_channels: size per head :math:`C`.
        use_attention: learn the attention coefficients :math:`\alpha`.
        attention_mode: ``"node"`` (softmax among the nodes of a hyperedge) or ``"edge"`` (among the hyperedges
            of a node).
        heads: attention heads :math:`K` (must be 1 without attention).
        concat: concatenate heads (``[V, K*C]``) or average them (``[V, C]``).
        negative_slope: LeakyReLU slope.
        dropout: dropout on the attention coefficients.
        bias: learn an additive bias.

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``,
          optional ``hyperedge_attr [E, F]``
        - **output:** ``[V, K*C]`` or ``[V, C]``
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        use_attention: bool = False,
        attention_mode: str = "node",
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if attention_mode not in ("node", "edge"):
            raise InvalidInputError(f"attention_mode must be 'node' or 'edge', got {attention_mode!r}.")
        if not use_attention and heads != 1:
            raise InvalidInputError("heads > 1 needs use_attention=True; set heads=1 or enable attention.")
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.use_attention, self.attention_mode = use_attention, attention_mode
        self.negative_slope, self.dropout = negative_slope, dropout
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att = nn.Parameter(torch.empty(1, heads, 2 * out_channels)) if use_attention else None
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    repr_kwargs = ("use_attention", "heads")

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        if self.att is not None:
            glorot_(self.att)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _attention(self, xt: Tensor, hg: Hypergraph, hyperedge_attr: Tensor | None) -> Tensor:
        assert self.att is not None  # only called with use_attention
        H, C = self.heads, self.out_channels
        if hyperedge_attr is None:
            zt = ops.v2e(xt, hg, aggr="mean")
        else:
            check_features(hyperedge_attr, self.in_channels, "hyperedge_attr", rows=hg.num_edges)
            zt = self.lin(hyperedge_attr)
        s_v = (xt.view(-1, H, C) * self.att[..., :C]).sum(-1)  # [V, H]
        s_e = (zt.view(-1, H, C) * self.att[..., C:]).sum(-1)  # [E, H]
        score = F.leaky_relu(ops.gather_nodes(s_v, hg) + ops.gather_edges(s_e, hg), self.negative_slope)
        if self.attention_mode == "node":
            alpha = ops.softmax_over_edges(score, hg)  # normalise among the nodes of each hyperedge
        else:
            alpha = ops.softmax_over_nodes(score, hg)  # normalise among the hyperedges of each node
        return dropout(alpha, self.dropout, self.training)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, hyperedge_attr: Tensor | None = None) -> Tensor:
        hg = self.prepare(x, hg)
        xt = self.lin(x)
        if not self.use_attention:
            out = ops.e2v(ops.v2e(xt, hg, aggr="mean"), hg, aggr="mean")
        else:
            a = expand_heads(self._attention(xt, hg, hyperedge_attr), self.out_channels)  # [nnz, H*C]
            inv_e = safe_pow(hg.edge_degree.to(x.dtype), -1.0)[:, None]
            y = ops.reduce_to_edges(ops.gather_nodes(xt, hg) * a, hg, aggr="sum") * inv_e
            w = ops.gather_edges(hg.hyperedge_weight.to(x.dtype)[:, None], hg)
            inv_v = safe_pow(hg.weighted_node_degree.to(x.dtype), -1.0)[:, None]
            out = ops.reduce_to_nodes(ops.gather_edges(y, hg) * a * w, hg, aggr="sum") * inv_v
        if not self.concat:
            out = out.view(-1, self.heads, self.out_channels).mean(1)
        return out if self.bias is None else out + self.bias
