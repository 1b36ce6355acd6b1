"""UniGIN convolution (Huang and Yang, "UniGNN", IJCAI 2021)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn.base import HypergraphLayer, reset_linear
from graphhyper.hypergraph.structure import Hypergraph


class UniGINConv(HypergraphLayer):
    r"""UniGIN: GIN's injective sum lifted to hypergraphs.

    .. math::
        \mathbf{h}_e = \frac{1}{|e|} \sum_{u \in e} \mathbf{\Theta}^\top \mathbf{x}_u, \qquad
        \mathbf{x}'_v = (1 + \varepsilon)\, \mathbf{\Theta}^\top \mathbf{x}_v + \sum_{e \ni v} w_e\, \mathbf{h}_e

    (:math:`\mathbf{\Theta}` includes the bias; :math:`\varepsilon` is learnable when ``train_eps``.)

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        eps: initial :math:`\varepsilon`.
        train_eps: learn :math:`\varepsilon`.
        bias: bias in :math:`\mathbf{\Theta}`.

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F']``
    """

    def __init__(
        self, in_channels: int, out_channels: int, eps: float = 0.0, train_eps: bool = True, bias: bool = True
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.initial_eps = in_channels, out_channels, eps
        self.lin = nn.Linear(in_channels, out_channels, bias=bias)
        if train_eps:
            self.eps = nn.Parameter(torch.tensor([eps]))
        else:
            self.register_buffer("eps", torch.tensor([eps]))
        self.reset_parameters()

    repr_kwargs = ("initial_eps",)

    def reset_parameters(self) -> None:
        reset_linear(self.lin)
        with torch.no_grad():
            self.eps.fill_(self.initial_eps)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor) -> Tensor:
        hg = self.prepare(x, hg)
        x = self.lin(x)
        h_e = ops.v2e(x, hg, aggr="mean")
        return (1 + self.eps) * x + ops.e2v(h_e, hg, aggr="sum")
