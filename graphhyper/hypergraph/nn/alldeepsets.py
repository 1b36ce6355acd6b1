"""AllDeepSets (Chien et al., "You are AllSet", ICLR 2022)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn._utils import dropout
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.nn.mlp import MLP
from graphhyper.hypergraph.structure import Hypergraph

_AGGRS = {"mean": "mean", "sum": "sum", "add": "sum"}


class AllDeepSetsConv(HypergraphLayer):
    r"""One AllDeepSets layer: DeepSets multiset functions node -> hyperedge -> node.

    .. math::
        \mathbf{y}_e &= \mathrm{ReLU}\Big(\mathrm{MLP}_2\big(\square_{v \in e}\,
            \mathrm{ReLU}(\mathrm{MLP}_1(\mathbf{x}_v))\big)\Big) \\
        \mathbf{x}'_v &= \mathrm{MLP}_4\big(\square_{e \ni v}\, w_e \cdot
            \mathrm{ReLU}(\mathrm{MLP}_3(\mathbf{y}_e))\big)

    where :math:`\square` is the mean (the hyperedge -> node mean is weighted by :math:`w_e` and divides by
    :math:`\sum w_e`) or the sum. Dropout (``dropout``) follows each encoder ReLU and sits between the halves;
    the MLPs' hidden layers use ``mlp_dropout``. The output is linear (the model applies its
    activation).

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        hidden_channels: MLP hidden size (default ``out_channels``).
        mlp_layers: layers of each of the four MLPs.
        aggr: ``"mean"`` or ``"sum"`` (``"add"``).
        dropout: dropout rate.
        norm: normalisation inside the MLPs (``"ln"``, ``"bn"`` or ``"none"``).
        input_norm: normalise the input of each encoder MLP.
        mlp_dropout: dropout inside the four MLPs (default ``dropout``).

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F']`` (``return_edges=True`` also returns ``y [E, hidden_channels]``)
    """

    repr_kwargs = ("aggr",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int | None = None,
        mlp_layers: int = 2,
        aggr: str = "mean",
        dropout: float = 0.0,
        norm: str = "ln",
        input_norm: bool = True,
        mlp_dropout: float | None = None,
    ) -> None:
        super().__init__()
        if aggr not in _AGGRS:
            raise InvalidInputError(f"aggr must be one of {sorted(_AGGRS)}, got {aggr!r}.")
        hid = hidden_channels or out_channels
        self.in_channels, self.out_channels, self.hidden_channels = in_channels, out_channels, hid
        self.aggr, self.dropout = _AGGRS[aggr], dropout
        self.mlp_dropout = dropout if mlp_dropout is None else mlp_dropout
        self.v2e_enc = self._mlp(in_channels, hid, mlp_layers, norm, input_norm)
        self.v2e_dec = self._mlp(hid, hid, mlp_layers, norm)
        self.e2v_enc = self._mlp(hid, hid, mlp_layers, norm, input_norm)
        self.e2v_dec = self._mlp(hid, out_channels, mlp_layers, norm)

    def _mlp(self, in_ch: int, out_ch: int, layers: int, norm: str, input_norm: bool = False) -> MLP:
        hid = self.hidden_channels
        return MLP(in_ch, hid, out_ch, num_layers=layers, dropout=self.mlp_dropout, norm=norm, input_norm=input_norm)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, return_edges: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        hg = self.prepare(x, hg)
        h = dropout(F.relu(self.v2e_enc(x)), self.dropout, self.training)
        y = F.relu(self.v2e_dec(ops.v2e(h, hg, aggr=self.aggr)))
        g = dropout(F.relu(self.e2v_enc(dropout(y, self.dropout, self.training))), self.dropout, self.training)
        out = self.e2v_dec(ops.e2v(g, hg, aggr=self.aggr))
        return (out, y) if return_edges else out
