"""HGNN convolution (Feng et al., "Hypergraph Neural Networks", AAAI 2019)."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.hypergraph import features, ops
from graphhyper.hypergraph.nn import _fused
from graphhyper.hypergraph.nn.base import HypergraphLayer, reset_linear
from graphhyper.hypergraph.structure import Hypergraph


class HGNNConv(HypergraphLayer):
    r"""The hypergraph convolution of HGNN.

    .. math::
        \mathbf{X}' = \mathbf{D}_v^{-1/2} \mathbf{H} \mathbf{W} \mathbf{D}_e^{-1} \mathbf{H}^\top
        \mathbf{D}_v^{-1/2} \mathbf{X} \mathbf{\Theta} + \mathbf{b}

    with incidence matrix :math:`\mathbf{H} \in \{0,1\}^{V \times E}`, hyperedge weights
    :math:`\mathbf{W} = \mathrm{diag}(w_e)`, hyperedge degrees :math:`(\mathbf{D}_e)_{ee} = |e|` and weighted node
    degrees :math:`(\mathbf{D}_v)_{vv} = \sum_{e \ni v} w_e`. Isolated nodes get :math:`\mathbf{b}`.

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        bias: learn an additive bias.

    Shapes:
        - **input:** node features ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F']``
    """

    sparse_input = True  # x may be a CSR tensor (bag-of-words features): see graphhyper.hypergraph.features
    # A node's output needs only its own hyperedges, their members, the members' weighted degrees and |e|, all of
    # which a per-layer trim of a sample keeps (see graphhyper.hypergraph.sampling.trim); forward takes out_rows.
    trim_safe = True

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin = nn.Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_linear(self.lin)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, out_rows: int | None = None) -> Tensor:
        """``out_rows``: return only the first rows (a per-layer trim, see
        :func:`graphhyper.hypergraph.sampling.layer_plan`); the linear map then runs on those rows only."""
        hg = self.prepare(x, hg)
        if _fused.applies(x, self.lin.weight, out_rows):  # CPU: one autograd node, cached operator
            return _fused.layer(x, hg, self.lin.weight, self.lin.bias, "hgnn")
        out = self._project(x, hg, ops.hgnn_propagate, out_rows)
        return out if self.lin.bias is None else out + self.lin.bias

    def _project(
        self, x: Tensor, hg: Hypergraph, propagate: Callable[[Tensor, Hypergraph], Tensor], rows: int | None
    ) -> Tensor:
        r"""``propagate(x Θ)[:rows]``. ``propagate`` is linear in the features, so this is also
        ``propagate(x)[:rows] Θ``, which is taken for a dense ``x`` when it is cheaper: fewer input than output
        channels, or fewer than twice as many when ``x`` needs no gradient (then the backward pass has no
        propagation at all, only the weight gradient ``(P x)^T g``)."""
        f_in, f_out = self.lin.in_features, self.lin.out_features
        if x.layout == torch.strided and (f_in < f_out or (not x.requires_grad and f_in < 2 * f_out)):
            return F.linear(propagate(x, hg)[:rows], self.lin.weight)
        return propagate(features.linear(x, self.lin.weight), hg)[:rows]
