"""CoNHD (Zheng and Worring, "Co-Representation Neural Hypergraph Diffusion for Edge-Dependent Node
Classification", CIKM 2025)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.nn._utils import Dropout, as_hypergraph, check_features, csr_order
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.nn.setblocks import ISABBlock, UNPBlock
from graphhyper.hypergraph.structure import Hypergraph


class CoNHDConv(HypergraphLayer):
    r"""One co-representation diffusion step on node–hyperedge pairs.

    Every incidence :math:`(v, e)` carries its own state :math:`\mathbf{h}_{v,e}`. Two equivariant operators
    let the pairs of one hyperedge interact, and the pairs of one node interact:

    .. math::
        \mathbf{m}^{E}_{v,e} &= \phi_E\big(\{\mathbf{h}_{u,e}\}_{u \in e}\big)_v, \qquad
        \mathbf{m}^{V}_{v,e} = \phi_V\big(\{\mathbf{h}_{v,f}\}_{f \ni v}\big)_e \\
        \mathbf{h}'_{v,e} &= \mathrm{LN}\big(\mathbf{W}\,[\mathbf{h}_{v,e} \,\Vert\, \mathbf{m}^{E}_{v,e}
            \,\Vert\, \mathbf{m}^{V}_{v,e} \,\Vert\, \mathbf{h}^{(0)}_{v,e}]\big)

    :math:`\phi_E, \phi_V` are stacks of ``num_blocks`` multi-input multi-output equivariant set blocks:
    ``"unp"`` (mean pooling + MLPs, :class:`~graphhyper.hypergraph.nn.setblocks.UNPBlock`) or ``"isab"`` (induced
    set attention, :class:`~graphhyper.hypergraph.nn.setblocks.ISABBlock`), followed by dropout.
    :math:`\mathbf{h}^{(0)}` is the initial co-representation (default ``h``). With ``pe_channels > 0`` every
    incidence also carries a positional encoding :math:`\mathbf{p}_{v,e}` (CoNHD's and WHATsNet's "OrderPE": the
    rank of :math:`v`'s centralities among the nodes of :math:`e`), added to the operators' inputs:
    :math:`\phi_E` reads :math:`\mathbf{h}_{u,e} + \mathbf{P}_E \mathbf{p}_{u,e}`, :math:`\phi_V` reads
    :math:`\mathbf{h}_{v,f} + \mathbf{P}_V \mathbf{p}_{v,f}` (two linear maps :math:`\mathbf{P}_E, \mathbf{P}_V`).

    Args:
        channels: co-representation size :math:`C`.
        num_blocks: set blocks per operator.
        operator: ``"unp"`` or ``"isab"``.
        heads: attention heads (``"isab"``).
        num_inducing: inducing points (``"isab"``).
        dropout: dropout on the operator outputs.
        layer_norm: LayerNorm on the update (and inside the blocks).
        pe_channels: size of the per-incidence positional encoding ``pe`` (0: none).

    Shapes:
        - **input:** ``h [nnz, C]``, one row per incidence in the order of ``hg.hyperedge_index`` (for a raw
          ``hyperedge_index`` input: its column order), optional ``h0 [nnz, C]``, ``pe [nnz, P]`` (required
          when ``pe_channels = P > 0``)
        - **output:** ``[nnz, C]`` in the same order
    """

    repr_args = ("channels",)
    repr_kwargs = ("operator", "num_blocks")

    def __init__(
        self,
        channels: int,
        num_blocks: int = 2,
        operator: str = "unp",
        heads: int = 4,
        num_inducing: int = 4,
        dropout: float = 0.0,
        layer_norm: bool = True,
        pe_channels: int = 0,
    ) -> None:
        super().__init__()
        if operator not in ("unp", "isab"):
            raise InvalidInputError(f"operator must be 'unp' or 'isab', got {operator!r}.")
        self.channels, self.operator, self.num_blocks = channels, operator, num_blocks

        def block(group: str) -> nn.Module:
            if operator == "unp":
                return UNPBlock(channels, group, ln=layer_norm)
            return ISABBlock(channels, group, heads, num_inducing, ln=layer_norm)

        self.within_edge = nn.ModuleList(block("edge") for _ in range(num_blocks))
        self.within_node = nn.ModuleList(block("node") for _ in range(num_blocks))
        self.drop = Dropout(dropout)
        self.update = nn.Linear(4 * channels, channels)
        self.norm: nn.Module = nn.LayerNorm(channels) if layer_norm else nn.Identity()
        self.pe_channels = pe_channels
        self.pe_edge = nn.Linear(pe_channels, channels) if pe_channels else None
        self.pe_node = nn.Linear(pe_channels, channels) if pe_channels else None

    def forward(
        self,
        h: Tensor,
        hg: Hypergraph | Tensor,
        h0: Tensor | None = None,
        num_nodes: int | None = None,
        pe: Tensor | None = None,
    ) -> Tensor:
        raw = hg if isinstance(hg, Tensor) else None
        hg = as_hypergraph(hg, num_nodes)
        check_features(h, self.channels, "h", rows=hg.nnz)
        h0 = h if h0 is None else h0
        check_features(h0, self.channels, "h0", rows=hg.nnz)
        self._check_pe(pe, hg.nnz)
        order = None
        if raw is not None:  # rows follow the user's columns; the Hypergraph sorts them by (hyperedge, node)
            order = csr_order(raw, hg.num_nodes)
            h, h0 = h[order], h0[order]
            pe = pe[order] if pe is not None else None
        m_e, m_v = h, h
        if pe is not None and self.pe_edge is not None and self.pe_node is not None:
            m_e, m_v = h + self.pe_edge(pe), h + self.pe_node(pe)
        for blk in self.within_edge:
            m_e = blk(m_e, hg)
        for blk in self.within_node:
            m_v = blk(m_v, hg)
        out = self.norm(self.update(torch.cat([h, self.drop(m_e), self.drop(m_v), h0], dim=-1)))
        if order is not None:
            out = out[torch.argsort(order)]
        return out

    def _check_pe(self, pe: Tensor | None, nnz: int) -> None:
        if self.pe_channels and pe is None:
            raise InvalidInputError(
                f"this CoNHDConv was built with pe_channels={self.pe_channels}: pass pe [nnz, {self.pe_channels}] "
                "(e.g. graphhyper.hypergraph.enc.order_encoding), or build it with pe_channels=0."
            )
        if not self.pe_channels and pe is not None:
            raise InvalidInputError("pe was given to a CoNHDConv built with pe_channels=0; build it with pe_channels=P")
        if pe is not None:
            check_features(pe, self.pe_channels, "pe", rows=nnz)
