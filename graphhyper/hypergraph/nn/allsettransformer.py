"""AllSetTransformer (Chien et al., "You are AllSet: A Multiset Function Framework for Hypergraph Neural
Networks", ICLR 2022)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from graphhyper.hypergraph.nn._fused import relu_dropout
from graphhyper.hypergraph.nn._utils import dropout
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.nn.pma import PMA
from graphhyper.hypergraph.structure import Hypergraph


class AllSetTransformerConv(HypergraphLayer):
    r"""One AllSetTransformer layer: a set transformer pools nodes into hyperedges, another pools back.

    .. math::
        \mathbf{y}_e = \mathrm{ReLU}\big(\mathrm{PMA}_{V \to E}(\{\mathbf{x}_v\}_{v \in e})\big), \qquad
        \mathbf{x}'_v = \mathrm{PMA}_{E \to V}(\{\mathrm{Dropout}(\mathbf{y}_e)\}_{e \ni v})

    with :class:`~graphhyper.hypergraph.nn.pma.PMA` (multi-head attention onto a learned seed, LayerNorm and a
    residual MLP). The layer is equivariant to node and hyperedge permutations. Hyperedge weights are not used.

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'` (divisible by ``heads``).
        heads: attention heads.
        mlp_layers: layers of each PMA's feed-forward MLP.
        dropout: dropout between the two halves.
        layer_norm: use LayerNorm inside the PMAs.
        attention_dropout: dropout on the attention coefficients (the reference uses none).

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F']`` (``return_edges=True`` also returns ``y [E, F']``)
    """

    repr_kwargs = ("heads",)
    sparse_input = True  # x may be a CSR tensor: its first use is PMA's linear maps

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        mlp_layers: int = 2,
        dropout: float = 0.0,
        layer_norm: bool = True,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.dropout = in_channels, out_channels, heads, dropout
        self.v2e = PMA(in_channels, out_channels, heads, mlp_layers, attention_dropout, layer_norm)
        self.e2v = PMA(out_channels, out_channels, heads, mlp_layers, attention_dropout, layer_norm)

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, return_edges: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        hg = self.prepare(x, hg)
        if return_edges:
            y = F.relu(self.v2e(x, hg, "v2e"))
            return self.e2v(dropout(y, self.dropout, self.training), hg, "e2v"), y
        # ReLU and dropout as one autograd node (the same mask as dropout(relu(y)))
        return self.e2v(relu_dropout(self.v2e(x, hg, "v2e"), self.dropout, self.training), hg, "e2v")
