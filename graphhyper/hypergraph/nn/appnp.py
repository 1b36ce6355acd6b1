"""Personalised-PageRank propagation on a hypergraph (APPNP, Gasteiger et al. 2019, with a hypergraph operator)."""

from __future__ import annotations

from torch import Tensor

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn._utils import dropout
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.structure import Hypergraph

OPERATORS = ("hgnn", "hgnnp")


class HypergraphAPPNP(HypergraphLayer):
    r"""Parameter-free propagation of node signals by ``K`` steps of personalised PageRank:

    .. math::
        \mathbf{Z}^{(0)} = \mathbf{H}_0, \qquad
        \mathbf{Z}^{(k+1)} = (1 - \alpha)\, \mathbf{P}\, \mathrm{Dropout}(\mathbf{Z}^{(k)}) + \alpha\, \mathbf{H}_0

    with the input :math:`\mathbf{H}_0` (typically an MLP's logits, "predict then propagate") and the
    hypergraph operator :math:`\mathbf{P}`: ``"hgnn"`` is HGNN's symmetric
    :math:`\mathbf{D}_v^{-1/2} \mathbf{H} \mathbf{W} \mathbf{D}_e^{-1} \mathbf{H}^\top \mathbf{D}_v^{-1/2}`,
    ``"hgnnp"`` HGNN+'s two-stage mean :math:`\mathbf{D}_v^{-1} \mathbf{H} \mathbf{W} \mathbf{D}_e^{-1}
    \mathbf{H}^\top`. The teleport :math:`\alpha` keeps every node close to its own prediction, so many steps
    do not over-smooth; a node whose only hyperedge is its self-loop keeps :math:`\mathbf{H}_0` exactly.

    Args:
        num_steps: :math:`K` (``0`` returns the input).
        alpha: teleport probability in ``[0, 1]``.
        operator: ``"hgnn"`` or ``"hgnnp"``.
        dropout: dropout on the propagated signal before every step (training only).

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F]``
    """

    repr_args = ()
    repr_kwargs = ("num_steps", "alpha", "operator", "dropout")
    input_size = None

    def __init__(self, num_steps: int = 10, alpha: float = 0.1, operator: str = "hgnn", dropout: float = 0.0) -> None:
        super().__init__()
        if num_steps < 0:
            raise InvalidInputError(f"num_steps must be >= 0, got {num_steps}.")
        if not 0.0 <= alpha <= 1.0:
            raise InvalidInputError(f"alpha is a teleport probability and must lie in [0, 1], got {alpha}.")
        if operator not in OPERATORS:
            raise InvalidInputError(f"Unknown operator {operator!r}; choose one of {OPERATORS}.")
        self.num_steps, self.alpha, self.operator, self.dropout = num_steps, alpha, operator, dropout

    def reset_parameters(self) -> None:
        """Nothing to reset (no parameters); present so that every layer has the same interface."""

    def forward(self, x: Tensor, hg: Hypergraph | Tensor) -> Tensor:
        hg = self.prepare(x, hg)
        z = x
        for _ in range(self.num_steps):
            z = (1.0 - self.alpha) * self._propagate(dropout(z, self.dropout, self.training), hg) + self.alpha * x
        return z

    def _propagate(self, z: Tensor, hg: Hypergraph) -> Tensor:
        if self.operator == "hgnn":
            return ops.hgnn_propagate(z, hg)
        return ops.e2v(ops.v2e(z, hg, aggr="mean"), hg, aggr="mean")
