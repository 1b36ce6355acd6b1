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

__all__ = ["Pattern", "attention_pool", "patterns"]


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
    @staticmethod
    def forward(ctx: Any, value: Tensor, score: Tensor, p: Patterns, layout: Layout, mask: Tensor | None) -> Tensor:
        H = score.shape[1]
        alpha = softmax_weights(score, p, layout.src, layout.ptr)
        kept = alpha if mask is None else alpha * mask
        C = value.shape[1] // H
        out = spmm(p.forward.matrix(kept), value.reshape(p.num_members * H, C)).view(p.num_sets, H * C)
        ctx.p, ctx.mask_used = p, mask is not None
        ctx.save_for_backward(value, alpha, kept, out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None, None]:
        value, alpha, kept, out = ctx.saved_tensors
        p: Patterns = ctx.p
        H = alpha.shape[1]
        C = value.shape[1] // H
        S, M = p.num_sets, p.num_members
        grad = grad.contiguous()
        grad_value = spmm(p.backward.matrix(kept), grad.view(S * H, C)).view(M, H * C)
        grad_score = None
        if ctx.needs_input_grad[1]:
            d = (grad.view(S, H, C) * out.view(S, H, C)).sum(-1)  # [S, H]: <g_s, p_s> per head
            q = spmm(p.backward.matrix(alpha), d.view(S * H, 1)).view(M, H)
            grad_score = (grad_value.view(M, H, C) * value.view(M, H, C)).sum(-1).sub_(q)
        return (grad_value if ctx.needs_input_grad[0] else None), grad_score, None, None, None


def attention_pool(value: Tensor, score: Tensor, hg: Hypergraph, layout: Layout, mask: Tensor | None = None) -> Tensor:
    """``[S, H * C]``: each set's softmax(``score``)-weighted sum of its members' ``value [M, H * C]`` per head
    (``score [M, H]`` per member; ``mask [n, H]``: an optional dropout mask on the weights, in the layout's
    position order). An empty set pools to 0. See the module docs for the formulas and the backward."""
    p = patterns(hg, layout, score.shape[1])
    out: Tensor = _AttentionPool.apply(value.contiguous(), score.contiguous(), p, layout, mask)
    return out
