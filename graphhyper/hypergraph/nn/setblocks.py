"""Permutation-equivariant set blocks over the incidences of a hypergraph (used by CoNHD).

Incidences are grouped either by hyperedge (``group="edge"``: the node–hyperedge pairs of one hyperedge form a
set) or by node (``group="node"``: the pairs of one node). A block maps each incidence's state to a new state
that depends on its own state and on its whole set, and commutes with any reordering inside the set.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.nn._utils import incidence_broadcast, set_ops
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.nn.mlp import MLP
from graphhyper.hypergraph.structure import Hypergraph


def _check_group(group: str) -> str:
    if group not in ("edge", "node"):
        raise InvalidInputError(f"group must be 'edge' or 'node', got {group!r}.")
    return group


class UNPBlock(HypergraphLayer):
    r"""Unweighted-pooling equivariant block: :math:`\mathbf{h}'_i = \phi_2([\mathbf{h}_i \,\Vert\,
    \frac{1}{|S|}\sum_{j \in S} \phi_1(\mathbf{h}_j)])` for every incidence :math:`i` of set :math:`S`.

    Shapes: ``h [nnz, C] -> [nnz, C]`` (CSR incidence order).
    """

    repr_args = ("channels",)
    repr_kwargs = ("group",)

    def __init__(self, channels: int, group: str, mlp_layers: int = 2, dropout: float = 0.0, ln: bool = False):
        super().__init__()
        self.channels, self.group = channels, _check_group(group)
        norm = "ln" if ln else "none"
        self.phi1 = MLP(channels, channels, channels, mlp_layers, dropout, norm, input_norm=ln)
        self.phi2 = MLP(2 * channels, channels, channels, mlp_layers, dropout, norm, input_norm=ln)

    def forward(self, h: Tensor, hg: Hypergraph) -> Tensor:
        _, _, reduce = set_ops(self.group)
        pooled = incidence_broadcast(reduce(self.phi1(h), hg, aggr="mean"), hg, self.group)
        return self.phi2(torch.cat([h, pooled], dim=-1))


class _MABOut(nn.Module):
    """The residual tail of a set-transformer MAB: ``LN1(O + ReLU(W O))`` after ``O = LN0(O)``."""

    def __init__(self, channels: int, ln: bool):
        super().__init__()
        self.ln0: nn.Module = nn.LayerNorm(channels) if ln else nn.Identity()
        self.ln1: nn.Module = nn.LayerNorm(channels) if ln else nn.Identity()
        self.fc_o = nn.Linear(channels, channels)

    def forward(self, o: Tensor) -> Tensor:
        o = self.ln0(o)
        return self.ln1(o + F.relu(self.fc_o(o)))


class ISABBlock(HypergraphLayer):
    r"""Induced set attention block (Set Transformer) over each set :math:`S` of incidences.

    .. math::
        \mathbf{H}_S = \mathrm{MAB}(\mathbf{I}, \{\mathbf{h}_j\}_{j \in S}), \qquad
        \mathbf{h}'_i = \mathrm{MAB}(\mathbf{h}_i, \mathbf{H}_S)

    with ``num_inducing`` learned points :math:`\mathbf{I}` and multi-head attention
    :math:`\mathrm{MAB}(Q, K) = \mathrm{LN}(O + \mathrm{ReLU}(W O))`, :math:`O = \mathrm{LN}(Q W_q +
    \mathrm{softmax}(Q W_q (K W_k)^\top / \sqrt{C}) K W_v)`. Cost is linear in the set size.

    ``in_channels`` (default ``C``) lets the members enter with another size ``F`` (the Set Transformer's
    ``ISAB(dim_in, dim_out)``): the maps reading members take ``F`` inputs, the output has ``C`` channels.

    Shapes: ``h [nnz, F] -> [nnz, C]`` (CSR incidence order).
    """

    repr_args = ("channels",)
    repr_kwargs = ("group", "heads", "num_inducing")

    def __init__(
        self,
        channels: int,
        group: str,
        heads: int = 4,
        num_inducing: int = 4,
        ln: bool = False,
        in_channels: int | None = None,
    ):
        super().__init__()
        if channels % heads:
            raise InvalidInputError(f"channels={channels} must be divisible by heads={heads}.")
        self.group, self.channels, self.heads, self.num_inducing = _check_group(group), channels, heads, num_inducing
        self.in_channels = channels if in_channels is None else in_channels
        f = self.in_channels
        self.inducing = nn.Parameter(torch.empty(num_inducing, channels))
        self.q0, self.k0, self.v0 = nn.Linear(channels, channels), nn.Linear(f, channels), nn.Linear(f, channels)
        self.q1, self.k1, self.v1 = nn.Linear(f, channels), nn.Linear(channels, channels), nn.Linear(channels, channels)
        self.out0, self.out1 = _MABOut(channels, ln), _MABOut(channels, ln)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.inducing)
        super().reset_parameters()  # the six Linear maps, then the two MAB tails

    def _pool(self, h: Tensor, hg: Hypergraph) -> Tensor:
        """Inducing points attend to the members of each set -> ``[sets, m, C]``."""
        _, softmax, reduce = set_ops(self.group)
        m, H, C = self.num_inducing, self.heads, self.channels
        d = C // H
        q = self.q0(self.inducing)  # [m, C]
        k, v = self.k0(h), self.v0(h).view(-1, 1, H, d)
        # per head, [nnz, d] @ [d, m]: one batched matmul instead of an [nnz, m, H, d] product and its sum
        score = torch.bmm(k.view(-1, H, d).transpose(0, 1), q.view(m, H, d).permute(1, 2, 0)).permute(1, 2, 0)
        score = score / math.sqrt(C)  # [nnz, m, H]
        att = softmax(score.reshape(-1, m * H), hg).view(-1, m, H, 1)
        pooled = reduce((att * v).reshape(-1, m * C), hg, aggr="sum").view(-1, m, C)
        return self.out0(pooled + q)

    def forward(self, h: Tensor, hg: Hypergraph) -> Tensor:
        H, C, m = self.heads, self.channels, self.num_inducing
        d = C // H
        pooled = self._pool(h, hg)  # [sets, m, C]
        k = incidence_broadcast(self.k1(pooled).reshape(-1, m * C), hg, self.group).view(-1, m, H, d)
        v = incidence_broadcast(self.v1(pooled).reshape(-1, m * C), hg, self.group).view(-1, m, H, d)
        q = self.q1(h)
        att = torch.softmax((q.view(-1, 1, H, d) * k).sum(-1) / math.sqrt(C), dim=1)  # [nnz, m, H]
        return self.out1(q + (att.unsqueeze(-1) * v).sum(1).reshape(-1, C))
