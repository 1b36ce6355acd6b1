"""UniGCNII convolution (Huang and Yang, "UniGNN", IJCAI 2021): GCNII's initial residual and identity mapping."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.nn._utils import check_features
from graphhyper.hypergraph.nn.base import HypergraphLayer, reset_linear
from graphhyper.hypergraph.nn.unigcn import unigcn_propagate
from graphhyper.hypergraph.structure import Hypergraph


class UniGCNIIConv(HypergraphLayer):
    r"""UniGCNII: deep UniGCN with initial residual and identity mapping.

    .. math::
        \tilde{\mathbf{x}}_v &= \frac{1}{\sqrt{d_v}} \sum_{e \ni v} \frac{w_e}{\sqrt{d_e}}
            \frac{1}{|e|}\sum_{u \in e} \mathbf{x}_u \\
        \hat{\mathbf{x}}_v &= (1 - \alpha)\, \tilde{\mathbf{x}}_v + \alpha\, \mathbf{x}^{(0)}_v \\
        \mathbf{x}'_v &= (1 - \beta)\, \hat{\mathbf{x}}_v + \beta\, \mathbf{\Theta}^\top \hat{\mathbf{x}}_v,
        \qquad \beta = \log(\lambda / \ell + 1)

    (:math:`d_v, d_e` as in :class:`UniGCNConv`; :math:`\ell` is the 1-based layer index.)

    Args:
        channels: input and output size :math:`F`.
        alpha: initial-residual strength :math:`\alpha`.
        lamda: :math:`\lambda` of the identity-mapping strength.
        layer: layer index :math:`\ell \ge 1`.
        bias: bias in :math:`\mathbf{\Theta}` (the paper has none).

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``,
          ``x0 [V, F]`` the first layer's representation (default ``x``)
        - **output:** ``[V, F]``
    """

    def __init__(
        self, channels: int, alpha: float = 0.1, lamda: float = 0.5, layer: int = 1, bias: bool = False
    ) -> None:
        super().__init__()
        if layer < 1:
            raise InvalidInputError(f"UniGCNIIConv needs layer >= 1 (1-based index), got {layer}.")
        self.channels, self.alpha, self.lamda, self.layer = channels, alpha, lamda, layer
        self.beta = math.log(lamda / layer + 1.0)
        self.lin = nn.Linear(channels, channels, bias=bias)
        self.reset_parameters()

    repr_args = ("channels",)
    repr_kwargs = ("alpha", "lamda", "layer")
    input_size = "channels"

    def reset_parameters(self) -> None:
        reset_linear(self.lin)

    # Its propagation is UniGCN's (trim_safe there); forward takes out_rows.
    trim_safe = True

    def forward(
        self, x: Tensor, hg: Hypergraph | Tensor, x0: Tensor | None = None, out_rows: int | None = None
    ) -> Tensor:
        """``x0``: the initial representation (default ``x``); ``out_rows``: return only the first rows."""
        hg = self.prepare(x, hg)
        if x0 is None:
            x0 = x
        check_features(x0, self.channels, "x0", rows=x.size(0))
        h = torch.lerp(unigcn_propagate(x, hg)[:out_rows], x0[:out_rows], self.alpha)  # (1 - alpha) prop + alpha x0
        return torch.lerp(h, self.lin(h), self.beta)
