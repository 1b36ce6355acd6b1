"""AllDeepSets (Chien et al., "You are AllSet", ICLR 2022)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.nn._utils import dropout, prepare
from graphhyper.hypergraph.nn.mlp import MLP

_AGGRS = {"mean": "mean", "sum": "sum", "add": "sum"}


class AllDeepSetsConv(nn.Module):
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
        kw = dict(num_layers=mlp_layers, dropout=self.mlp_dropout, norm=norm)
        self.v2e_enc = MLP(in_channels, hid, hid, input_norm=input_norm, **kw)
        self.v2e_dec = MLP(hid, hid, hid, **kw)
        self.e2v_enc = MLP(hid, hid, hid, input_norm=input_norm, **kw)
        self.e2v_dec = MLP(hid, hid, out_channels, **kw)

    def reset_parameters(self) -> None:
        for m in (self.v2e_enc, self.v2e_dec, self.e2v_enc, self.e2v_dec):
            m.reset_parameters()

    def forward(self, x: Tensor, hg, return_edges: bool = False):
        from graphhyper.hypergraph import ops

        hg = prepare(x, hg, self.in_channels)
        h = dropout(F.relu(self.v2e_enc(x)), self.dropout, self.training)
        y = F.relu(self.v2e_dec(ops.v2e(h, hg, aggr=self.aggr)))
        g = dropout(F.relu(self.e2v_enc(dropout(y, self.dropout, self.training))), self.dropout, self.training)
        out = self.e2v_dec(ops.e2v(g, hg, aggr=self.aggr))
        return (out, y) if return_edges else out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, aggr={self.aggr!r})"
