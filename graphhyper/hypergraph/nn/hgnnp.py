"""HGNN+ convolution (Gao et al., "HGNN+: General Hypergraph Neural Networks", TPAMI 2022)."""

from __future__ import annotations

from torch import Tensor

from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn import _fused
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

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, out_rows: int | None = None) -> Tensor:
        hg = self.prepare(x, hg)
        if _fused.applies(x, self.lin.weight, out_rows):  # CPU: one autograd node, cached operator
            return _fused.layer(x, hg, self.lin.weight, self.lin.bias, "hgnnp")
        out = self._project(x, hg, _mean_of_means, out_rows)
        return out if self.lin.bias is None else out + self.lin.bias


def _mean_of_means(x: Tensor, hg: Hypergraph) -> Tensor:
    """Node -> hyperedge mean, then the weighted hyperedge -> node mean."""
    return ops.e2v(ops.v2e(x, hg, aggr="mean"), hg, aggr="mean")
