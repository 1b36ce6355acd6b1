"""HNHN convolution (Dong, Sawin and Bengio, "HNHN: Hypergraph Networks with Hyperedge Neurons", 2020)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn._utils import safe_pow
from graphhyper.hypergraph.nn.base import HypergraphLayer, reset_linear
from graphhyper.hypergraph.structure import Hypergraph


class HNHNConv(HypergraphLayer):
    r"""HNHN: hyperedges are neurons with their own weights and non-linearity.

    .. math::
        \mathbf{y}_e &= \sigma\Big(\frac{\sum_{v \in e} d_v^{\beta}\, \mathbf{W}_V \mathbf{x}_v}
                                      {\sum_{v \in e} d_v^{\beta}} + \mathbf{b}_V\Big) \\
        \mathbf{x}'_v &= \frac{\sum_{e \ni v} w_e\, |e|^{\alpha}\, \mathbf{W}_E \mathbf{y}_e}
                               {\sum_{e \ni v} w_e\, |e|^{\alpha}} + \mathbf{b}_E

    with node degree :math:`d_v`, hyperedge size :math:`|e|` and hyperedge weight :math:`w_e`.
    ``alpha = beta = 0`` gives plain means (DHG's ``HNHNConv``). The output is left linear so a model can choose
    its own activation and dropout.

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        hidden_channels: size of the hyperedge neurons (default ``out_channels``).
        alpha: exponent of the hyperedge-size normalisation on the hyperedge -> node step.
        beta: exponent of the node-degree normalisation on the node -> hyperedge step.
        bias: learn biases :math:`\mathbf{b}_V, \mathbf{b}_E`.

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F']`` (``return_edges=True`` also returns ``y [E, hidden_channels]``)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int | None = None,
        alpha: float = 0.0,
        beta: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels = hidden_channels or out_channels
        self.alpha, self.beta = alpha, beta
        self.lin_v2e = nn.Linear(in_channels, self.hidden_channels, bias=bias)
        self.lin_e2v = nn.Linear(self.hidden_channels, out_channels, bias=bias)
        self.reset_parameters()

    repr_kwargs = ("hidden_channels", "alpha", "beta")

    def reset_parameters(self) -> None:
        reset_linear(self.lin_v2e)
        reset_linear(self.lin_e2v)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, return_edges: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        hg = self.prepare(x, hg)
        w_v2e = w_e2v = None
        if self.beta != 0.0:
            w_v2e = ops.gather_nodes(safe_pow(hg.node_degree.to(x.dtype), self.beta)[:, None], hg)[:, 0]
        if self.alpha != 0.0:
            w_e2v = ops.gather_edges(safe_pow(hg.edge_degree.to(x.dtype), self.alpha)[:, None], hg)[:, 0]
        y = F.relu(ops.v2e(self.lin_v2e(x), hg, aggr="mean", weight=w_v2e))
        out = ops.e2v(y @ self.lin_e2v.weight.t(), hg, aggr="mean", weight=w_e2v)
        if self.lin_e2v.bias is not None:
            out = out + self.lin_e2v.bias
        return (out, y) if return_edges else out
