r"""WHATsNet (Choe et al., "Classification of Edge-Dependent Labels of Nodes in Hypergraphs", KDD 2023).

WHATsNet gives every node an embedding that depends on the hyperedge it is read in: within each hyperedge the
members attend to each other (WithinATT) after their order encoding is added (WithinOrderPE), and the result is
pooled by attention with the hyperedge's previous embedding as the query (PrevQ); the same happens on the node side
over the hyperedges of each node. A per-incidence linear scorer reads ``[z_e || z_v]``.

The formulas follow the authors' code (young917/EdgeDependentNodeLabel, ``model/Whatsnet.py`` and ``train.py``,
read at de5e0c7); the code here is ours and aggregates through :mod:`graphhyper.hypergraph.ops` (segment softmax
and sums over the incidences, no per-hyperedge loop, no padding).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import features, ops
from graphhyper.hypergraph.nn._utils import as_hypergraph, check_features, csr_order, dropout, reset_module, set_ops
from graphhyper.hypergraph.nn._utils import incidence_broadcast as _broadcast
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.nn.setblocks import ISABBlock, _MABOut
from graphhyper.hypergraph.structure import Hypergraph


class PrevQPool(HypergraphLayer):
    r"""Attention pooling of a set with the set owner's previous state as the only query (WHATsNet's "PrevQ").

    For the set :math:`S` of a hyperedge (``group="edge"``: its incidences) or of a node (``"node"``), with owner
    state :math:`\mathbf{q}_S` and member states :math:`\mathbf{h}_i`, per head :math:`k` of size :math:`d = C/H`:

    .. math::
        \alpha^k_i = \operatorname{softmax}_{i \in S}\big(\langle \mathbf{W}^k_q \mathbf{q}_S,
            \mathbf{W}^k_k \mathbf{h}_i \rangle / \sqrt{C}\big), \qquad
        \mathbf{o}_S = \mathbf{W}_q \mathbf{q}_S + \big\Vert_k \sum_{i \in S} \alpha^k_i \mathbf{W}^k_v \mathbf{h}_i

    and :math:`\mathbf{z}_S = \mathrm{LN}_1(\mathbf{o}' + \mathrm{ReLU}(\mathbf{W}_o \mathbf{o}'))`,
    :math:`\mathbf{o}' = \mathrm{LN}_0(\mathbf{o}_S)` (a Set Transformer MAB with one query; the scale is
    :math:`\sqrt{C}`, as in the authors' code; LayerNorms only with ``ln``). An empty set gives
    :math:`\mathbf{o}_S = \mathbf{W}_q \mathbf{q}_S`.

    Shapes: ``query [S, Q]`` (one row per hyperedge or node), ``h [nnz, F]`` -> ``[S, C]``.
    """

    repr_args = ("query_channels", "in_channels", "channels")
    repr_kwargs = ("group", "heads")

    def __init__(
        self, query_channels: int, in_channels: int, channels: int, group: str, heads: int = 4, ln: bool = False
    ):
        super().__init__()
        if channels % heads:
            raise InvalidInputError(f"channels={channels} must be divisible by heads={heads}.")
        if group not in ("edge", "node"):
            raise InvalidInputError(f"group must be 'edge' or 'node', got {group!r}.")
        self.query_channels, self.in_channels, self.channels = query_channels, in_channels, channels
        self.group, self.heads = group, heads
        self.lin_q = nn.Linear(query_channels, channels)
        self.lin_k = nn.Linear(in_channels, channels)
        self.lin_v = nn.Linear(in_channels, channels)
        self.out = _MABOut(channels, ln)

    def forward(self, query: Tensor, h: Tensor, hg: Hypergraph) -> Tensor:
        _, softmax, reduce = set_ops(self.group)
        H, C = self.heads, self.channels
        q = self.lin_q(query)  # [S, C]
        k, v = self.lin_k(h).view(-1, H, C // H), self.lin_v(h).view(-1, H, C // H)
        score = (_broadcast(q, hg, self.group).view(-1, H, C // H) * k).sum(-1) / math.sqrt(C)  # [nnz, H]
        att = softmax(score, hg)
        pooled = reduce((att.unsqueeze(-1) * v).reshape(-1, C), hg, aggr="sum")
        return self.out(q + pooled)


class WhatsnetConv(HypergraphLayer):
    r"""One WHATsNet layer: nodes -> hyperedges, then hyperedges -> nodes, each by within-set attention and PrevQ
    pooling.

    With node states :math:`\mathbf{x}_v`, hyperedge states :math:`\mathbf{y}_e` and the order encoding
    :math:`\mathbf{p}_{v,e}` of every incidence:

    .. math::
        \mathbf{h}_{v,e} &= \mathrm{ISAB}^{(A)}_e\big(\{\mathbf{x}_u + \mathbf{P}_V \mathbf{p}_{u,e}\}_{u \in e}
            \big)_v, \qquad
        \mathbf{y}'_e = \mathbf{W}_E\,\mathrm{drop}\big(\mathrm{PrevQ}(\mathbf{y}_e,
            \{\mathrm{drop}(\mathbf{h}_{u,e})\}_{u \in e})\big) \\
        \mathbf{g}_{v,e} &= \mathrm{ISAB}^{(A)}_v\big(\{\mathbf{y}'_f + \mathbf{P}_E \mathbf{p}_{v,f}\}_{f \ni v}
            \big)_e, \qquad
        \mathbf{x}'_v = \mathbf{W}_V\,\mathrm{drop}\big(\mathrm{PrevQ}(\mathbf{x}_v,
            \{\mathrm{drop}(\mathbf{g}_{v,f})\}_{f \ni v})\big)

    :math:`\mathrm{ISAB}^{(A)}` is a stack of ``num_att_layers`` induced set attention blocks
    (:class:`~graphhyper.hypergraph.nn.setblocks.ISABBlock`, ``num_inducing`` points, ``heads`` heads) within the
    hyperedge (WithinATT) or within the node's hyperedges; the first maps the input size to ``hidden_channels``.
    ``PrevQ`` is :class:`PrevQPool`; :math:`\mathbf{P}_V, \mathbf{P}_E` are linear maps of the order encoding
    (WithinOrderPE; none with ``pe_channels=0``, the authors' "pure" ablation). As in the authors' code there is
    no nonlinearity outside the attention blocks (their ``activation`` argument is stored, never applied).

    Shapes: ``x [V, node_in]``, ``y [E, edge_in]``, ``pe [nnz, P]`` (CSR incidence order) ->
    ``(x' [V, node_out], y' [E, edge_out])``.
    """

    repr_args = ("node_in", "edge_in", "node_out", "edge_out")
    repr_kwargs = ("hidden_channels", "num_att_layers", "pe_channels")
    input_size = "node_in"

    def __init__(
        self,
        node_in: int,
        edge_in: int,
        node_out: int,
        edge_out: int,
        hidden_channels: int = 64,
        pe_channels: int = 4,
        heads: int = 4,
        num_inducing: int = 4,
        num_att_layers: int = 2,
        dropout: float = 0.7,
        ln: bool = False,
    ) -> None:
        super().__init__()
        self.node_in, self.edge_in, self.node_out, self.edge_out = node_in, edge_in, node_out, edge_out
        self.hidden_channels, self.num_att_layers, self.pe_channels = hidden_channels, num_att_layers, pe_channels
        self.dropout = dropout
        self.pe_node = nn.Linear(pe_channels, node_in) if pe_channels else None
        self.pe_edge = nn.Linear(pe_channels, edge_out) if pe_channels else None

        def stack(first: int, group: str) -> nn.ModuleList:
            sizes = [first] + [hidden_channels] * (num_att_layers - 1)
            return nn.ModuleList(
                ISABBlock(hidden_channels, group, heads, num_inducing, ln, in_channels=f)
                for f in sizes[:num_att_layers]
            )

        self.within_edge = stack(node_in, "edge")
        pooled_in = hidden_channels if num_att_layers else node_in
        self.edge_pool = PrevQPool(edge_in, pooled_in, hidden_channels, "edge", heads, ln)
        self.edge_lin = nn.Linear(hidden_channels, edge_out)
        self.within_node = stack(edge_out, "node")
        pooled_in = hidden_channels if num_att_layers else edge_out
        self.node_pool = PrevQPool(node_in, pooled_in, hidden_channels, "node", heads, ln)
        self.node_lin = nn.Linear(hidden_channels, node_out)

    def _attend(self, h: Tensor, pe: Tensor | None, pe_lin: nn.Module | None, blocks: nn.ModuleList, hg: Hypergraph):
        if pe is not None and pe_lin is not None:
            h = h + pe_lin(pe)
        for blk in blocks:
            h = blk(h, hg)
        return dropout(h, self.dropout, self.training)

    def forward(self, x: Tensor, y: Tensor, hg: Hypergraph, pe: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_features(x, self.node_in, "x", rows=hg.num_nodes)
        check_features(y, self.edge_in, "y", rows=hg.num_edges)
        if bool(self.pe_channels) != (pe is not None):
            raise InvalidInputError(
                f"this WhatsnetConv has pe_channels={self.pe_channels}: pass pe [nnz, {self.pe_channels}] "
                "exactly when pe_channels > 0 (graphhyper.hypergraph.enc.order_encoding builds it)."
            )
        if pe is not None:
            check_features(pe, self.pe_channels, "pe", rows=hg.nnz)
        h = self._attend(ops.gather_nodes(x, hg), pe, self.pe_node, self.within_edge, hg)
        y_new = self.edge_lin(dropout(self.edge_pool(y, h, hg), self.dropout, self.training))
        g = self._attend(ops.gather_edges(y_new, hg), pe, self.pe_edge, self.within_node, hg)
        x_new = self.node_lin(dropout(self.node_pool(x, g, hg), self.dropout, self.training))
        return x_new, y_new


class Whatsnet(nn.Module):
    r"""WHATsNet for edge-dependent node classification: ``num_layers`` :class:`WhatsnetConv` layers and the
    authors' ``sm`` scorer, one linear map per incidence: :math:`\hat{y}_{v,e} = \mathbf{W}[\mathbf{y}_e \Vert
    \mathbf{x}_v] + \mathbf{b}`.

    The hyperedges start from zeros of size ``edge_in_channels`` (the authors' ``e_feat``, size ``dim_edge``).
    Layer sizes as in the authors' code: the first layer maps ``(in_channels, edge_in_channels)`` to
    ``(hidden, hidden)``, the middle ones keep ``hidden``, the last maps to ``(node_channels, edge_channels)``
    (one layer: straight to those). Inside every layer the attention blocks and PrevQ pooling are
    ``att_channels`` wide: the authors' ``Whatsnet`` does not pass ``--dim_hidden`` to its layers, which keep
    their default width 128, so ``--dim_hidden 64`` only sets the size between layers.

    ``forward(x [V, F], hg, pe=None) -> [nnz, num_classes]`` in the CSR order of ``hg`` (or the column order of a
    raw ``hyperedge_index``); ``pe [nnz, pe_channels]`` is required when ``pe_channels > 0``.
    ``sampling_hops = num_layers + 1`` is the hyperedge-sampling depth whose sub-hypergraph holds the whole
    receptive field of the seed hyperedges (a layer reads members, then their hyperedges).
    """

    per_incidence = True

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_channels: int = 64,
        att_channels: int = 128,
        node_channels: int = 128,
        edge_channels: int = 128,
        edge_in_channels: int = 128,
        num_layers: int = 2,
        heads: int = 4,
        num_inducing: int = 4,
        num_att_layers: int = 2,
        dropout: float = 0.7,
        pe_channels: int = 4,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise InvalidInputError(f"num_layers={num_layers}: WHATsNet needs at least one layer.")
        sizes = [(in_channels, edge_in_channels)] + [(hidden_channels, hidden_channels)] * (num_layers - 1)
        outs = [(hidden_channels, hidden_channels)] * (num_layers - 1) + [(node_channels, edge_channels)]
        kw: dict[str, Any] = dict(
            hidden_channels=att_channels, pe_channels=pe_channels, heads=heads, num_inducing=num_inducing,
            num_att_layers=num_att_layers, dropout=dropout, ln=layer_norm,
        )  # fmt: skip
        self.convs = nn.ModuleList(WhatsnetConv(vi, ei, vo, eo, **kw) for (vi, ei), (vo, eo) in zip(sizes, outs))
        self.head = nn.Linear(edge_channels + node_channels, num_classes)
        self.in_channels, self.edge_in_channels = in_channels, edge_in_channels
        self.num_layers, self.pe_channels = num_layers, pe_channels

    @property
    def sampling_hops(self) -> int:
        return self.num_layers + 1

    def reset_parameters(self) -> None:
        reset_module(self)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, pe: Tensor | None = None) -> Tensor:
        raw = hg if isinstance(hg, Tensor) else None
        hg = as_hypergraph(hg, x.size(0))
        check_features(x, self.in_channels, "x", rows=hg.num_nodes)
        order = csr_order(raw, hg.num_nodes) if raw is not None else None
        if order is not None and pe is not None:
            pe = pe[order]
        features.check_finite(x, "x")
        if pe is not None:
            features.check_finite(pe, "pe")
        y = x.new_zeros(hg.num_edges, self.edge_in_channels)
        with ops.trusted_inputs():  # the inputs are checked; the layers' tensors derive from them and the weights
            for conv in self.convs:
                x, y = conv(x, y, hg, pe)
            out = self.head(torch.cat([ops.gather_edges(y, hg), ops.gather_nodes(x, hg)], dim=-1))
        return out if order is None else out[torch.argsort(order)]


__all__ = ["PrevQPool", "Whatsnet", "WhatsnetConv"]
