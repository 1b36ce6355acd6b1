"""ED-HNN (Wang et al., "Equivariant Hypergraph Diffusion Neural Operators", ICLR 2023)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn._utils import check_features
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.nn.mlp import MLP
from graphhyper.hypergraph.structure import Hypergraph

_AGGRS = {"mean": "mean", "sum": "sum", "add": "sum"}


class EDHNNConv(HypergraphLayer):
    r"""One step of equivariant hypergraph diffusion (ED-HNN's ``EquivSetConv``).

    .. math::
        \mathbf{m}_e &= \square_{u \in e}\, \phi_1(\mathbf{x}_u) \\
        \tilde{\mathbf{x}}_v &= \square_{e \ni v}\, w_e\, \phi_2\big([\mathbf{x}_v \,\Vert\, \mathbf{m}_e]\big)
            \quad (\text{the weighted mean divides by } \textstyle\sum_{e \ni v} w_e) \\
        \mathbf{x}'_v &= \phi_3\big((1 - \alpha)\, \tilde{\mathbf{x}}_v + \alpha\, \mathbf{x}^{(0)}_v\big)

    :math:`\phi_1, \phi_2, \phi_3` are MLPs; :math:`\square` is the sum (reference default) or mean. The
    hyperedge -> node message sees the receiving node's own state, which makes the operator an equivariant
    diffusion rather than a plain two-stage mean. :math:`\mathbf{x}^{(0)}` is the initial representation
    (``x0``; default ``x`` when ``in_channels == out_channels``, otherwise the restart term is dropped).

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        mlp1_layers, mlp2_layers, mlp3_layers: depths of :math:`\phi_1, \phi_2, \phi_3` (0 makes
            :math:`\phi_1`/:math:`\phi_3` the identity, which needs ``in_channels == out_channels``, and
            :math:`\phi_2` pass :math:`\mathbf{m}_e` through).
        aggr: ``"sum"`` (``"add"``) or ``"mean"``.
        alpha: restart weight :math:`\alpha`.
        dropout: dropout inside the MLPs.
        norm: normalisation inside the MLPs (``"ln"``, ``"bn"``, ``"none"``).

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``, optional
          ``x0 [V, F']``
        - **output:** ``[V, F']``
    """

    repr_kwargs = ("aggr", "alpha")

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mlp1_layers: int = 1,
        mlp2_layers: int = 1,
        mlp3_layers: int = 1,
        aggr: str = "sum",
        alpha: float = 0.5,
        dropout: float = 0.0,
        norm: str = "none",
    ) -> None:
        super().__init__()
        if aggr not in _AGGRS:
            raise InvalidInputError(f"aggr must be one of {sorted(_AGGRS)}, got {aggr!r}.")
        if (mlp1_layers == 0 or mlp3_layers == 0) and in_channels != out_channels:
            raise InvalidInputError("mlp1_layers=0 or mlp3_layers=0 needs in_channels == out_channels.")
        self.in_channels, self.out_channels, self.aggr, self.alpha = in_channels, out_channels, _AGGRS[aggr], alpha
        C = out_channels
        self.phi1: nn.Module = MLP(in_channels, C, C, mlp1_layers, dropout, norm) if mlp1_layers else nn.Identity()
        self.phi2 = MLP(in_channels + C, C, C, mlp2_layers, dropout, norm) if mlp2_layers else None
        self.phi3: nn.Module = MLP(C, C, C, mlp3_layers, dropout, norm) if mlp3_layers else nn.Identity()

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, x0: Tensor | None = None) -> Tensor:
        hg = self.prepare(x, hg)
        m = ops.v2e(self.phi1(x), hg, aggr=self.aggr)  # [E, C]
        if self.phi2 is None:  # the incidences carry m_e alone: reducing them is e2v
            out = ops.e2v(m, hg, aggr=self.aggr)
        elif len(self.phi2.lins) == 1 and isinstance(self.phi2.input_norm, nn.Identity):
            out = self._linear_phi2(x, m, hg)
        else:
            w = ops.gather_edges(hg.hyperedge_weight.to(x.dtype)[:, None], hg)[:, 0]
            out = ops.reduce_to_nodes(self._phi2(x, m, hg), hg, aggr=self.aggr, weight=w)  # from [nnz, C]
        if x0 is None and self.in_channels == self.out_channels:
            x0 = x
        if x0 is not None:
            check_features(x0, self.out_channels, "x0", rows=x.size(0))
            out = (1 - self.alpha) * out + self.alpha * x0
        return self.phi3(out)

    def _linear_phi2(self, x: Tensor, m: Tensor, hg: Hypergraph) -> Tensor:
        r"""The node update when :math:`\phi_2` is one ``Linear`` ``[x_v || m_e] W^T + b``: a linear map
        commutes with the weighted sum / mean over :math:`e \ni v`, so the hyperedge states are reduced first
        and projected once per node,

        .. math::
            \tilde{\mathbf{x}}_v = s_v\,(W_x \mathbf{x}_v + \mathbf{b}) + W_m \operatorname{e2v}(\mathbf{m})_v,

        with :math:`s_v = \sum_{e \ni v} w_e` for the sum and :math:`s_v = [\sum_{e \ni v} w_e \neq 0]` for
        the mean (a node in no hyperedge gets 0, as from the per-incidence form). ``2 V F' C`` multiply-adds
        and no ``[nnz, C]`` intermediate, instead of ``(V + E) F' C`` plus three passes over ``[nnz, C]``."""
        phi2 = self.phi2
        assert phi2 is not None
        first = phi2.lins[0]
        assert isinstance(first, nn.Linear)
        w_x, w_m = first.weight.split([self.in_channels, self.out_channels], dim=1)
        own = x @ w_x.t()
        if first.bias is not None:
            own = own + first.bias
        scale = hg.cache(f"edhnn_scale_{self.aggr}_{x.dtype}", lambda: self._node_scale(hg, x.dtype))
        if scale is not None:
            own = own * scale
        return own + ops.e2v(m, hg, aggr=self.aggr) @ w_m.t()

    def _node_scale(self, hg: Hypergraph, dtype: torch.dtype) -> Tensor | None:
        """``s_v`` of :meth:`_linear_phi2` as ``[V, 1]``, or None where it is 1 for every node."""
        total = ops.e2v(torch.ones(hg.num_edges, 1, dtype=dtype, device=hg.device), hg, aggr="sum")
        scale = total if self.aggr == "sum" else (total != 0).to(dtype)
        return None if bool((scale == 1).all()) else scale

    def _phi2(self, x: Tensor, m: Tensor, hg: Hypergraph) -> Tensor:
        """``phi2([x_v || m_e])`` per incidence. The first ``Linear`` is split over the concatenation,
        ``[x_v || m_e] W^T = x_v W_x^T + m_e W_m^T``: each part is projected once per node and per hyperedge and
        the incidences only add them (``(V + E) F C`` multiply-adds instead of ``nnz (F + C) C``, and no
        ``[nnz, F + C]`` input)."""
        phi2 = self.phi2
        assert phi2 is not None
        if not isinstance(phi2.input_norm, nn.Identity):  # a norm over the concatenation: no split
            return phi2(torch.cat([ops.gather_nodes(x, hg), ops.gather_edges(m, hg)], dim=-1))
        first = phi2.lins[0]
        assert isinstance(first, nn.Linear)
        w_x, w_m = first.weight.split([self.in_channels, self.out_channels], dim=1)
        h = ops.gather_nodes(x @ w_x.t(), hg) + ops.gather_edges(m @ w_m.t(), hg)
        return phi2.forward_after_first(h if first.bias is None else h + first.bias)
