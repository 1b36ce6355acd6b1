"""Personalised-PageRank propagation on a hypergraph (APPNP, Gasteiger et al. 2019, with a hypergraph operator)."""

from __future__ import annotations

from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.nn._utils import dropout, prepare

OPERATORS = ("hgnn", "hgnnp")


class HypergraphAPPNP(nn.Module):
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

    def forward(self, x: Tensor, hg) -> Tensor:
        hg = prepare(x, hg, x.size(-1))
        z = x
        for _ in range(self.num_steps):
            z = (1.0 - self.alpha) * self._propagate(dropout(z, self.dropout, self.training), hg) + self.alpha * x
        return z

    def _propagate(self, z: Tensor, hg) -> Tensor:
        from graphhyper.hypergraph import ops

        if self.operator == "hgnn":
            return ops.hgnn_propagate(z, hg)
        return ops.e2v(ops.v2e(z, hg, aggr="mean"), hg, aggr="mean")

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, alpha={self.alpha}, operator={self.operator!r}, dropout={self.dropout}"
