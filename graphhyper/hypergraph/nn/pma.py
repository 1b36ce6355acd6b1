"""Pooling by multi-head attention (PMA) over the sets a hypergraph defines, as used by AllSetTransformer."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import features, ops
from graphhyper.hypergraph.kernels import Layout, edge_layout, node_layout
from graphhyper.hypergraph.nn._attention_pool import (
    attention_pool,
    attention_pool_many,
    norm_and_folded_linear,
    patterns,
)
from graphhyper.hypergraph.nn._utils import dropout, dropout_mask, glorot_, set_ops
from graphhyper.hypergraph.nn.base import HypergraphLayer
from graphhyper.hypergraph.nn.mlp import MLP
from graphhyper.hypergraph.structure import Hypergraph


class PMA(HypergraphLayer):
    r"""Multi-head attention pooling of a set onto one learned seed (AllSet's PMA).

    For a set :math:`S` (the nodes of a hyperedge when ``direction="v2e"``, the hyperedges of a node when
    ``"e2v"``) and each head :math:`k` with seed :math:`\mathbf{s}^k`:

    .. math::
        \alpha^k_{u} &= \operatorname{softmax}_{u \in S}\big(\mathrm{LeakyReLU}(
            \langle \mathbf{s}^k, \mathbf{K}^k \mathbf{x}_u \rangle)\big) \\
        \mathbf{o} &= \mathrm{LN}_0\Big(\big\Vert_k \big(\mathbf{s}^k + \sum_{u \in S} \alpha^k_u\,
            \mathbf{V}^k \mathbf{x}_u\big)\Big), \qquad
        \mathbf{z}_S = \mathrm{LN}_1\big(\mathbf{o} + \mathrm{ReLU}(\mathrm{MLP}(\mathbf{o}))\big)

    An empty set pools to its seed. ``layer_norm=False`` drops both LayerNorms. The scores are computed as
    :math:`\mathbf{x}_u^\top (\mathbf{K}^k)^\top \mathbf{s}^k` (no key vectors are formed) and each head's
    weighted sum is one sparse product through :mod:`~graphhyper.hypergraph.ops` (no per-incidence messages), so
    the cost is that of the dense ``Linear`` layers plus ``heads`` sparse products. Sparse CSR inputs are accepted.

    Args:
        in_channels: member size :math:`F`.
        out_channels: output size :math:`F'` (divisible by ``heads``).
        heads: number of heads.
        mlp_layers: layers of the row-wise feed-forward MLP.
        dropout: dropout on the attention coefficients.
        layer_norm: apply the two LayerNorms.

    Shapes:
        - **input:** members ``x [V, F]`` (``"v2e"``) or ``[E, F]`` (``"e2v"``), a ``Hypergraph``
        - **output:** ``[E, F']`` or ``[V, F']``
    """

    repr_kwargs = ("heads",)
    sparse_input = True  # members may be a CSR tensor (see graphhyper.hypergraph.features)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        mlp_layers: int = 2,
        dropout: float = 0.0,
        layer_norm: bool = True,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        if out_channels % heads:
            raise InvalidInputError(f"out_channels={out_channels} must be divisible by heads={heads}.")
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.dropout, self.negative_slope = dropout, negative_slope
        self.lin_k = nn.Linear(in_channels, out_channels)
        self.lin_v = nn.Linear(in_channels, out_channels)
        self.seed = nn.Parameter(torch.empty(1, heads, out_channels // heads))
        self.mlp = MLP(out_channels, out_channels, out_channels, max(1, mlp_layers))
        self.ln0: nn.Module = nn.LayerNorm(out_channels) if layer_norm else nn.Identity()
        self.ln1: nn.Module = nn.LayerNorm(out_channels) if layer_norm else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        glorot_(self.seed)

    def forward(self, x: Tensor, hg: Hypergraph, direction: str = "v2e") -> Tensor:
        if direction not in ("v2e", "e2v"):
            raise InvalidInputError(f"direction must be 'v2e' or 'e2v', got {direction!r}.")
        fast = fast_path_applies(x, hg) and self.dropout < 1.0
        if fast and self._folds(x, hg, direction):
            return self._forward_folded(x, hg, direction)
        if fast:
            seeded = self._pool_fast(x, hg, direction)
        else:
            seeded = self._pool(x, hg, direction) + self.seed.reshape(1, -1)
        out = self.ln0(seeded)
        return self.ln1(out + F.relu(self.mlp(out)))

    def _folds(self, x: Tensor, hg: Hypergraph, direction: str) -> bool:
        """Whether :meth:`_forward_folded` takes the call: one head, no attention dropout, a dense ``x`` and
        :func:`fold_first_linear` says it is cheaper."""
        if self.heads != 1 or (self.training and self.dropout > 0.0) or x.layout != torch.strided:
            return False
        if not isinstance(self.ln0, (nn.LayerNorm, nn.Identity)) or not isinstance(self.mlp.input_norm, nn.Identity):
            return False
        layout = edge_layout(hg) if direction == "v2e" else node_layout(hg)
        return fold_first_linear(x, layout, self.out_channels)

    def _forward_folded(self, x: Tensor, hg: Hypergraph, direction: str) -> Tensor:
        r"""The one-head PMA with the feed-forward MLP's first ``Linear`` (``W_1``) moved before the pooling.

        For a non-empty set the weights sum to 1, so with :math:`\mathbf{v}_u = V\mathbf{x}_u + \mathbf{b} +
        \mathbf{s}` the pre-LayerNorm row is :math:`\mathbf{z} = \sum_u \alpha_u \mathbf{v}_u` and, with
        :math:`W_\gamma = W_1 \operatorname{diag}(\gamma)` and :math:`\mu, \sigma` the row's LayerNorm statistics,

        .. math::
            W_1 \mathrm{LN}_0(\mathbf{z}) + \mathbf{b}_1 = \big(\textstyle\sum_u \alpha_u W_\gamma \mathbf{v}_u
                - \mu\, W_\gamma \mathbf{1}\big) / \sigma + W_1 \beta + \mathbf{b}_1

        so ``W_gamma v_u`` is computed per member (``[M, F] x [F, F']``, pooled with the same weights as ``v``)
        instead of ``W_1`` per set (``[S, F'] x [F', F']``): cheaper when there are more sets than members and
        ``F`` is small (the first layer's ``v2e``). ``LN_0(z)`` itself is still formed for the residual."""
        layout = edge_layout(hg) if direction == "v2e" else node_layout(hg)
        if not ops.inputs_trusted():
            features.check_finite(x)
        lin1, seed = cast(nn.Linear, self.mlp.lins[0]), self.seed.reshape(-1)
        ln0 = self.ln0 if isinstance(self.ln0, nn.LayerNorm) else None
        w_gamma = lin1.weight if ln0 is None else lin1.weight * ln0.weight  # [F', F']
        bias = self.lin_v.bias + seed
        w_score, b_score = self._score_weight()
        score = F.leaky_relu(F.linear(x, w_score, b_score), self.negative_slope)
        value = F.linear(x, self.lin_v.weight, bias)
        folded = F.linear(x, w_gamma @ self.lin_v.weight, w_gamma @ bias)
        z, wz = attention_pool_many((value, folded), score, hg, layout)
        if patterns(hg, layout, 1).has_empty:  # an empty set pools to 0; its row is the seed
            empty = (layout.ptr[1:] == layout.ptr[:-1]).to(x.dtype).unsqueeze(1)
            z, wz = torch.addcmul(z, empty, seed), torch.addcmul(wz, empty, w_gamma @ seed)
        if ln0 is not None:
            k, c = w_gamma.sum(1), lin1.bias + lin1.weight @ ln0.bias
            out, h = norm_and_folded_linear(z, wz, ln0.weight, ln0.bias, k, c, ln0.eps)
        else:
            out, h = z, wz + lin1.bias
        return self.ln1(out + F.relu(self.mlp.forward_after_first(h)))

    def _score_weight(self) -> tuple[Tensor, Tensor]:
        """``([H, F], [H])``: ``<s_k, K^k x + b^k> = x (K^k)^T s_k + <b^k, s_k>``, the scores without keys (one
        batched product: an ``einsum`` costs several times more per call on small graphs)."""
        H, C = self.heads, self.out_channels // self.heads
        seed = self.seed.view(H, 1, C)
        w_score = torch.matmul(seed, self.lin_k.weight.view(H, C, -1)).view(H, -1)
        return w_score, torch.matmul(seed, self.lin_k.bias.view(H, C, 1)).view(H)

    def _pool_fast(self, x: Tensor, hg: Hypergraph, direction: str) -> Tensor:
        """The attention-weighted sums plus the seed ``[sets, F']`` through :func:`attention_pool` (one autograd
        node, no per-incidence gradient products). Without attention dropout a non-empty set's weights sum to 1,
        so the seed rides in the values' bias (``sum_u a_u (V x_u + b + s) = sum_u a_u V x_u + b + s``; an empty
        set gets the seed alone). With one head and no attention dropout it pools the inputs first and projects the
        sets (``V (sum_u a_u x_u) + b + s``) where :func:`pool_first` says that is cheaper."""
        if not ops.inputs_trusted():
            features.check_finite(x)
        layout = edge_layout(hg) if direction == "v2e" else node_layout(hg)
        w_score, b_score = self._score_weight()
        seed = self.seed.reshape(-1)
        if self.training and self.dropout > 0.0:  # the weights no longer sum to 1: add the seed after pooling
            mask = dropout_mask(torch.empty(hg.nnz, self.heads, dtype=x.dtype), self.dropout)
            value, score = self._values_and_scores(x, self.lin_v.bias, w_score, b_score)
            return attention_pool(value, score, hg, layout, mask) + seed
        bias = self.lin_v.bias + seed
        if self.heads == 1 and x.layout == torch.strided and pool_first(x, layout, self.out_channels):
            score = F.leaky_relu(F.linear(x, w_score, b_score), self.negative_slope)
            seeded = F.linear(attention_pool(x, score, hg, layout), self.lin_v.weight, bias)
        else:
            value, score = self._values_and_scores(x, bias, w_score, b_score)
            seeded = attention_pool(value, score, hg, layout)
        if patterns(hg, layout, self.heads).has_empty:  # an empty set: no members, so neither bias nor projection
            empty = (layout.ptr[1:] == layout.ptr[:-1]).unsqueeze(1)
            seeded = torch.where(empty, seed, seeded)
        return seeded

    def _values_and_scores(self, x: Tensor, bias: Tensor, w_score: Tensor, b_score: Tensor) -> tuple[Tensor, Tensor]:
        """``(x V^T + bias, LeakyReLU(x w + b))`` per member: two products for a dense ``x``, one over a CSR ``x``
        (split, not slicing: see :meth:`_pool`)."""
        if x.layout == torch.strided:
            value, score = F.linear(x, self.lin_v.weight, bias), F.linear(x, w_score, b_score)
        else:
            both = features.linear(x, torch.cat([self.lin_v.weight, w_score]))
            value, score = torch.split(both, [self.out_channels, self.heads], dim=1)
            value, score = value + bias, score + b_score
        return value, F.leaky_relu(score, self.negative_slope)

    def _pool(self, x: Tensor, hg: Hypergraph, direction: str) -> Tensor:
        """The attention-weighted sums ``[sets, F']`` through :mod:`~graphhyper.hypergraph.ops` (any backend,
        device and dtype): per-incidence softmax, one weighted sparse product per head."""
        gather, softmax, _ = set_ops("edge" if direction == "v2e" else "node")
        H, C = self.heads, self.out_channels // self.heads
        w_score, b_score = self._score_weight()
        # values and scores in one product: one pass over x (a CSR x for bag-of-words features)
        # (split, not slicing: a slice's backward zero-fills a full-size gradient per slice)
        both = features.linear(x, torch.cat([self.lin_v.weight, w_score]))  # [members, F' + H]
        value, score = torch.split(both, [self.out_channels, H], dim=1)
        value = value + self.lin_v.bias
        score = score + b_score  # [members, H]
        alpha = softmax(F.leaky_relu(gather(score, hg), self.negative_slope), hg)  # [nnz, H]
        alpha = dropout(alpha, self.dropout, self.training)
        if direction == "v2e":

            def pool(v, a):
                return ops.v2e(v, hg, aggr="sum", weight=a)
        else:

            def pool(v, a):
                return ops.e2v(v, hg, aggr="sum", weight=a, edge_weight=False)

        # one weighted sparse product per head (no [nnz, F'] message tensor)
        if H == 1:
            return pool(value, alpha[:, 0])
        # unbind, not indexing: each per_head[k]'s backward would zero-fill a full [H, members, C] gradient
        per_head = value.view(-1, H, C).transpose(0, 1).contiguous().unbind(0)  # H x [members, C]
        return torch.cat([pool(v, a) for v, a in zip(per_head, alpha.unbind(1))], dim=1)


# a sparse product costs about this many dense-product multiply-adds per multiply-add (MKL CSR x dense vs GEMM on
# one CPU core); only the choice of pool_first depends on it
SPMM_COST = 16


def pool_first(x: Tensor, layout: Layout, out_channels: int) -> bool:
    """Whether pooling the ``[M, F]`` inputs into the ``S`` sets and projecting them (``S F F'`` dense plus
    ``nnz F`` sparse multiply-adds) is cheaper than projecting the members and pooling the values (``M F F'``
    plus ``nnz F'``), with sparse multiply-adds weighted by :data:`SPMM_COST`."""
    members, f_in = x.shape
    sets, nnz = layout.num_segments, layout.src.numel()
    first = sets * f_in * out_channels + SPMM_COST * nnz * f_in
    last = members * f_in * out_channels + SPMM_COST * nnz * out_channels
    return first < last


def fold_first_linear(x: Tensor, layout: Layout, out_channels: int) -> bool:
    """Whether :meth:`PMA._forward_folded` is cheaper: the ``M F F'`` dense and ``nnz F'`` sparse multiply-adds it
    adds (``W_gamma v`` per member, pooled) must be under half the ``S F' F'`` of the first ``Linear`` on the sets it
    saves (the other half pays for the LayerNorm statistics' backward and the second pooled tensor: measured on one
    core, NTU2012's first layer, 2012 x 100 -> 4024 x 256, gains 13% per PMA step; Mushroom's, 8124 x 22 -> 8416 x
    128 with four times the incidences, breaks even and is left out)."""
    members, f_in = x.shape
    sets, nnz = layout.num_segments, layout.src.numel()
    added = members * f_in * out_channels + SPMM_COST * nnz * out_channels
    return 2 * added < sets * out_channels * out_channels


def fast_path_applies(x: Tensor, hg: Hypergraph) -> bool:
    """Whether :meth:`PMA._pool_fast` takes the call: a CPU float32/float64 ``x`` (dense or CSR without
    gradient), a hypergraph with incidences, and not the Triton backend; otherwise :meth:`PMA._pool`."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or hg.nnz == 0:
        return False
    if x.layout != torch.strided and (x.layout != torch.sparse_csr or x.requires_grad):
        return False
    return ops.get_backend() != "triton"
