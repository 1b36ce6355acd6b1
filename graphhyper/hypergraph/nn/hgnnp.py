"""HGNN+ convolution (Gao et al., "HGNN+: General Hypergraph Neural Networks", TPAMI 2022)."""

from __future__ import annotations

from torch import Tensor

from graphhyper.hypergraph import features, ops
from graphhyper.hypergraph.nn.hgnn import HGNNConv
from graphhyper.hypergraph.structure import Hypergraph


class HGNNPConv(HGNNConv):
    r"""The two-stage (node -> hyperedge -> node) mean convolution of HGNN+.

    .. math::
        \mathbf{y}_e = \frac{1}{|e|} \sum_{v \in e} \mathbf{\Theta}^\top \mathbf{x}_v, \qquad
        \mathbf{x}'_v = \frac{\sum_{e \ni v} w_e \, \mathbf{y}_e}{\sum_{e \ni v} w_e} + \mathbf{b}

    i.e. :math:`\mathbf{X}' = \mathbf{D}_v^{-1} \mathbf{H} \mathbf{W} \mathbf{D}_e^{-1} \mathbf{H}^\top
    \mathbf{X} \mathbf{\Theta} + \mathbf{b}` with the weighted node degree :math:`\mathbf{D}_v`. The weighted
    mean divides by the weight sum (DHG multiplies by the weights without dividing when weights are custom).

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        bias: learn an additive bias.

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F']``
    """

    # Parameters, initialisation and repr are HGNNConv's; only the propagation differs.

    def forward(self, x: Tensor, hg: Hypergraph | Tensor) -> Tensor:
        hg = self.prepare(x, hg)
        y = ops.v2e(features.linear(x, self.lin.weight), hg, aggr="mean")
        out = ops.e2v(y, hg, aggr="mean")
        return out if self.lin.bias is None else out + self.lin.bias
