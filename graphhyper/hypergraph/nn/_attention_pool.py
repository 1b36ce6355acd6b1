r"""PMA's attention-weighted sum over each set as one autograd node with a hand-written backward.

For sets :math:`s` (segments of a :class:`~graphhyper.hypergraph.kernels.Layout`) with members :math:`u`, ``H``
heads, member values :math:`\mathbf{v}^k_u \in \mathbb{R}^C` and *member-level* scores :math:`e^k_u` (AllSet's
seed is shared by all sets, so a member's score does not depend on the set; only the normalisation does):

.. math::
    \alpha^k_{us} = \frac{\exp(e^k_u - m^k_s)}{\sum_{u' \in s} \exp(e^k_{u'} - m^k_s)}, \quad
    m^k_s = \max_{u \in s} e^k_u, \qquad
    \mathbf{p}^k_s = \sum_{u \in s} \tilde\alpha^k_{us} \mathbf{v}^k_u

(:math:`\tilde\alpha = \alpha` or, with attention dropout, :math:`\alpha` times a dropout mask). Written as a
sparse matrix :math:`A^k [S, M]`, :math:`\mathbf{P}^k = \tilde A^k \mathbf{V}^k`. The backward needs no
per-incidence inner products (no ``[nnz, C]`` tensor): with :math:`\mathbf{g}_s = \partial L / \partial
\mathbf{p}_s` and :math:`d^k_s = \langle \mathbf{g}^k_s, \mathbf{p}^k_s \rangle`, the softmax backward
:math:`\partial L / \partial e_{us} = \alpha_{us}(\tilde m_{us} \langle \mathbf{g}_s, \mathbf{v}_u \rangle -
d_s)` summed over the sets of :math:`u` is

.. math::
    \frac{\partial L}{\partial \mathbf{V}^k} = (\tilde A^k)^\top \mathbf{G}^k, \qquad
    \frac{\partial L}{\partial e^k_u} = \Big\langle \big((\tilde A^k)^\top \mathbf{G}^k\big)_u,
        \mathbf{v}^k_u \Big\rangle - \big((A^k)^\top \mathbf{d}^k\big)_u

so a step costs two sparse products per direction (width ``C`` and width 1) plus ``[M, H]``-sized work.

All heads share one sparse product: rows ``(s, k)`` of a ``[S * H, M * H]`` CSR matrix hold set ``s``'s weights of
head ``k`` at columns ``(u, k)``, so ``P.view(S * H, C) = A_big @ V.view(M * H, C)`` with no copy of the dense
operands; its structure (row pointers, columns and where each value comes from) is computed once per hypergraph.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import torch
from torch import Tensor

from graphhyper.hypergraph.kernels import Layout, transpose
from graphhyper.hypergraph.kernels.torch_ref import spmm
from graphhyper.hypergraph.structure import Hypergraph

__all__ = [
    "Pattern",
    "Patterns",
    "attention_pool",
    "attention_pool_many",
    "norm_and_folded_linear",
    "patterns",
    "softmax_weights",
]


class Pattern(NamedTuple):
    """A CSR structure ``[rows, cols]`` whose values are ``alpha.flatten()[order]`` (``order`` None: as is)."""

    crow: Tensor
    col: Tensor
    order: Tensor | None
    shape: tuple[int, int]

    def matrix(self, alpha: Tensor) -> Tensor:
        """The CSR matrix with values taken from ``alpha [nnz, H]`` (forward-layout position order)."""
        flat = alpha.reshape(-1)
        values = flat if self.order is None else flat.index_select(0, self.order)
        with warnings.catch_warnings():  # torch warns that sparse CSR is "beta"; CSR @ dense is stable
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self.crow, self.col, values, self.shape, check_invariants=False)


def _index_dtype(n: int) -> torch.dtype:
    return torch.int32 if n < 2**31 - 1 else torch.int64  # MKL converts int64 indices on every call otherwise


def _segment_of_position(ptr: Tensor) -> Tensor:
    """``[n]`` segment id of every position of a CSR pointer ``ptr [S + 1]``."""
    counts = ptr[1:] - ptr[:-1]
    return torch.repeat_interleave(torch.arange(counts.numel(), device=ptr.device), counts)


def _pattern(ptr: Tensor, cols: Tensor, alpha_pos: Tensor | None, heads: int, num_cols: int) -> Pattern:
    """The ``[R * H, num_cols * H]`` pattern of a CSR ``(ptr, cols)`` repeated per head, rows ``(r, k)``.

    ``alpha_pos [n]``: the forward-layout position whose weight each entry takes (None: the entry's own)."""
    n, rows, H = cols.numel(), ptr.numel() - 1, heads
    itype = _index_dtype(max(n * H, rows * H + 1))
    shape = (rows * H, num_cols * H)
    if H == 1:
        return Pattern(ptr.to(itype), cols.to(itype), alpha_pos, shape)
    seg = _segment_of_position(ptr)
    deg = ptr[1:] - ptr[:-1]
    head = torch.arange(H, device=ptr.device)
    offset = torch.arange(n, device=ptr.device) - ptr[:-1][seg]
    # entry (position p, head k) sits at ptr[r] * H + k * deg[r] + offset within row (r, k)
    where = (ptr[:-1][seg] * H + offset).unsqueeze(1) + head * deg[seg].unsqueeze(1)  # [n, H]
    src = torch.arange(n, device=ptr.device) if alpha_pos is None else alpha_pos
    col = torch.empty(n * H, dtype=torch.long, device=ptr.device)
    col[where.reshape(-1)] = (cols.unsqueeze(1) * H + head).reshape(-1)
    order = torch.empty(n * H, dtype=torch.long, device=ptr.device)
    order[where.reshape(-1)] = (src.unsqueeze(1) * H + head).reshape(-1)
    crow = torch.zeros(rows * H + 1, dtype=torch.long, device=ptr.device)
    crow[1:] = torch.cumsum(deg.repeat_interleave(H), 0)
    return Pattern(crow.to(itype), col.to(itype), order, shape)


class Patterns(NamedTuple):
    """Everything structural the pooling needs for one layout and head count (cached on the hypergraph)."""

    segment: Tensor  # [n] set id of each forward position
    has_empty: bool  # some set has no member
    forward: Pattern  # [S * H, M * H]
    backward: Pattern  # [M * H, S * H]: the transpose, values from the same forward-position alpha
    num_sets: int
    num_members: int


def patterns(hg: Hypergraph, layout: Layout, heads: int) -> Patterns:
    """The cached :class:`Patterns` of ``layout`` (sets = its segments, members = its sources) for ``heads``."""

    def make() -> Patterns:
        back = transpose(hg, layout)
        # the transpose's entries take the weight of the same incidence: its forward position
        if layout.identity:
            back_from = back.perm
        else:
            pos_of_inc = torch.empty_like(layout.perm)
            pos_of_inc[layout.perm] = torch.arange(layout.perm.numel(), device=layout.perm.device)
            back_from = pos_of_inc[back.perm]
        return Patterns(
            _segment_of_position(layout.ptr),
            bool((layout.ptr[1:] == layout.ptr[:-1]).any()),
            _pattern(layout.ptr, layout.src, None, heads, layout.num_sources),
            _pattern(back.ptr, back.src, back_from, heads, layout.num_segments),
            layout.num_segments,
            layout.num_sources,
        )

    return hg.cache(f"attention_pool_{int(layout.identity)}_{heads}", make)


def softmax_weights(score: Tensor, p: Patterns, members: Tensor, ptr: Tensor) -> Tensor:
    """``alpha [n, H]`` in forward-position order: the per-set softmax of the member scores ``score [M, H]``
    (``members [n]``: the member at each position; ``ptr``: the layout's pointer)."""
    e = score.index_select(0, members)
    top = torch.segment_reduce(e, "max", offsets=ptr, axis=0, unsafe=True)  # [S, H]; -inf for an empty set
    ex = e.sub_(top.index_select(0, p.segment)).exp_()
    total = torch.segment_reduce(ex, "sum", offsets=ptr, axis=0, unsafe=True)
    return ex.div_(total.index_select(0, p.segment))


class _AttentionPool(torch.autograd.Function):
    """``(score, patterns, layout, mask, *values) -> one pooled tensor per value`` with the same weights."""

    @staticmethod
    def forward(ctx: Any, score: Tensor, p: Patterns, layout: Layout, mask: Tensor | None, *values: Tensor) -> Any:
        H = score.shape[1]
        alpha = softmax_weights(score, p, layout.src, layout.ptr)
        kept = alpha if mask is None else alpha * mask
        matrix = p.forward.matrix(kept)
        outs = []
        for value in values:
            C = value.shape[1] // H
            outs.append(spmm(matrix, value.reshape(p.num_members * H, C)).view(p.num_sets, H * C))
        ctx.p = p
        ctx.save_for_backward(alpha, kept, *values, *outs)
        return tuple(outs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, *grads: Tensor) -> Any:
        alpha, kept, *saved = ctx.saved_tensors
        values, outs = saved[: len(grads)], saved[len(grads) :]
        p: Patterns = ctx.p
        H, S, M = alpha.shape[1], p.num_sets, p.num_members
        back = p.backward.matrix(kept)
        grad_values: list[Tensor | None] = []
        d = alpha.new_zeros(S, H)  # sum over the values of <g_s, p_s> per head
        grad_score = alpha.new_zeros(M, H)
        for value, out, grad in zip(values, outs, grads):
            C = value.shape[1] // H
            grad = grad.contiguous()
            grad_value = spmm(back, grad.view(S * H, C)).view(M, H * C)
            grad_values.append(grad_value)
            if ctx.needs_input_grad[0]:
                d += torch.linalg.vecdot(grad.view(S, H, C), out.view(S, H, C))
                grad_score += torch.linalg.vecdot(grad_value.view(M, H, C), value.view(M, H, C))
        if ctx.needs_input_grad[0]:
            grad_score -= spmm(p.backward.matrix(alpha), d.view(S * H, 1)).view(M, H)
        needs = ctx.needs_input_grad[4:]
        return (
            grad_score if ctx.needs_input_grad[0] else None,
            None,
            None,
            None,
            *(g if n else None for g, n in zip(grad_values, needs)),
        )


def attention_pool(value: Tensor, score: Tensor, hg: Hypergraph, layout: Layout, mask: Tensor | None = None) -> Tensor:
    """``[S, H * C]``: each set's softmax(``score``)-weighted sum of its members' ``value [M, H * C]`` per head
    (``score [M, H]`` per member; ``mask [n, H]``: an optional dropout mask on the weights, in the layout's
    position order). An empty set pools to 0. See the module docs for the formulas and the backward."""
    return attention_pool_many((value,), score, hg, layout, mask)[0]


def attention_pool_many(
    values: tuple[Tensor, ...], score: Tensor, hg: Hypergraph, layout: Layout, mask: Tensor | None = None
) -> tuple[Tensor, ...]:
    """:func:`attention_pool` of several value tensors with the same weights (one softmax, one autograd node)."""
    p = patterns(hg, layout, score.shape[1])
    dense = (v.contiguous() for v in values)
    out: tuple[Tensor, ...] = _AttentionPool.apply(score.contiguous(), p, layout, mask, *dense)
    return out


class _NormAndFoldedLinear(torch.autograd.Function):
    """``(LN(z), (wz - mean k) * rstd + c)`` with ``mean``/``rstd`` the LayerNorm statistics of each row of ``z``:
    the LayerNorm and, from ``wz = z W^T`` pooled before the norm, the next ``Linear`` of the normalised rows."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, wz: Tensor, gamma: Tensor, beta: Tensor, k: Tensor, c: Tensor, eps: float) -> Any:
        out, mean, rstd = torch.native_layer_norm(z, (z.shape[1],), gamma, beta, eps)
        h = torch.addcmul(c, torch.addr(wz, mean.view(-1), k, alpha=-1), rstd)
        ctx.save_for_backward(z, wz, gamma, beta, k, mean, rstd)
        return out, h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: Tensor | None, grad_h: Tensor | None) -> Any:
        z, wz, gamma, beta, k, mean, rstd = ctx.saved_tensors
        n = z.shape[1]
        if grad_out is None:
            grad_out = torch.zeros_like(z)
        mask = [True, ctx.needs_input_grad[2], ctx.needs_input_grad[3]]
        grad_z, grad_gamma, grad_beta = torch.ops.aten.native_layer_norm_backward(
            grad_out.contiguous(), z, (n,), mean, rstd, gamma, beta, mask
        )
        grad_wz = grad_k = grad_c = None
        if grad_h is not None:
            grad_h = grad_h.contiguous()
            centred = torch.addr(wz, mean.view(-1), k, alpha=-1)  # wz - mean k
            grad_wz = grad_h * rstd
            grad_c = grad_h.sum(0)
            grad_k = torch.mv(grad_h.t(), (mean * rstd).view(-1)).neg_()
            grad_mean = torch.mv(grad_h, k).unsqueeze(1).mul_(rstd).neg_()  # [S, 1]
            grad_rstd = torch.linalg.vecdot(grad_h, centred).unsqueeze(1)
            # d mean / dz = 1/n, d rstd / dz = -rstd^3 (z - mean) / n
            coef = grad_rstd.mul_(rstd.pow(3)).div_(n)
            grad_z.add_(grad_mean.div_(n).addcmul_(coef, mean)).addcmul_(z, coef, value=-1.0)
        return grad_z, grad_wz, grad_gamma, grad_beta, grad_k, grad_c, None


def norm_and_folded_linear(
    z: Tensor, wz: Tensor, gamma: Tensor, beta: Tensor, k: Tensor, c: Tensor, eps: float
) -> tuple[Tensor, Tensor]:
    r"""``(LN(z), W LN(z) + b)`` for ``z [S, F]`` given ``wz = z (W diag(gamma))^T`` (rows formed elsewhere, e.g.
    pooled), ``k = W gamma`` and ``c = W beta + b``: with the row statistics :math:`\mu, \rho = (\sigma^2 +
    \epsilon)^{-1/2}`, :math:`W \mathrm{LN}(z) + b = (wz - \mu k) \rho + c`. One autograd node; its backward
    is the LayerNorm's plus the statistics' share (no ``[S, F] x [F, F']`` product)."""
    out, h = _NormAndFoldedLinear.apply(z.contiguous(), wz.contiguous(), gamma, beta, k, c, eps)
    return out, h
