"""A plain multi-layer perceptron: the building block of AllSet, ED-HNN and CoNHD, and the distillation student."""

from __future__ import annotations

from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import features
from graphhyper.hypergraph.nn._utils import Dropout
from graphhyper.hypergraph.nn.base import HypergraphLayer

_NORMS = ("none", "ln", "bn")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "ln":
        return nn.LayerNorm(channels)
    if kind == "bn":
        return nn.BatchNorm1d(channels)
    return nn.Identity()


class MLP(HypergraphLayer):
    r"""Multi-layer perceptron applied row-wise.

    .. math::
        \mathbf{h}^{(0)} = \mathrm{Norm}_{in}(\mathbf{x}), \quad
        \mathbf{h}^{(l)} = \mathrm{Dropout}(\mathrm{Norm}(\sigma(
            \mathbf{h}^{(l-1)} \mathbf{W}^{(l)} + \mathbf{b}^{(l)}))),
        \quad \mathbf{y} = \mathbf{h}^{(L-1)} \mathbf{W}^{(L)} + \mathbf{b}^{(L)}

    The normalisation follows the activation, as in the AllSet / ED-HNN reference MLPs. The last layer has no
    normalisation, activation or dropout. ``num_layers=1`` is a single ``Linear``.

    Args:
        in_channels: input size.
        hidden_channels: hidden size.
        out_channels: output size.
        num_layers: number of ``Linear`` layers (``>= 1``).
        dropout: dropout after each hidden activation.
        norm: ``"ln"`` (LayerNorm), ``"bn"`` (BatchNorm1d) or ``"none"`` after each hidden activation.
        input_norm: also normalise the input with ``norm``.
        act: activation module class (default ``nn.ReLU``).

    Shapes:
        input ``[N, in_channels]``; output ``[N, out_channels]``.
    """

    repr_args = ("in_channels", "hidden_channels", "out_channels")
    repr_kwargs = ("num_layers", "norm")

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int = 2,
        dropout: float = 0.0,
        norm: str = "none",
        input_norm: bool = False,
        act: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise InvalidInputError(f"MLP needs num_layers >= 1, got {num_layers}.")
        norm = (norm or "none").lower()
        if norm not in _NORMS:
            raise InvalidInputError(f"Unknown norm {norm!r}; use one of {_NORMS}.")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.dropout, self.norm = num_layers, dropout, norm
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.input_norm: nn.Module = _norm(norm, in_channels) if input_norm else nn.Identity()
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(_norm(norm, c) for c in sizes[1:-1])
        self.act = act()
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``x [N, in_channels] -> [N, out_channels]``."""
        if x.size(0) == 0 and self.norm == "bn":
            return x.new_zeros(0, self.out_channels)
        x = self.input_norm(x)
        for lin, norm in zip(self.lins[:-1], self.norms):
            x = self.drop(norm(self.act(features.apply_linear(lin, x))))  # x: CSR features or dense
        return features.apply_linear(self.lins[-1], x)

    def forward_after_first(self, h: Tensor) -> Tensor:
        """The rest of :meth:`forward` from ``h``, the first ``Linear``'s output on the (input-normed) rows: for
        callers that compute that product themselves (ED-HNN splits it over its concatenated input)."""
        if len(self.lins) == 1:
            return h
        if h.size(0) == 0 and self.norm == "bn":
            return h.new_zeros(0, self.out_channels)
        h = self.drop(self.norms[0](self.act(h)))
        for lin, norm in zip(self.lins[1:-1], self.norms[1:]):
            h = self.drop(norm(self.act(lin(h))))
        out: Tensor = self.lins[-1](h)
        return out
