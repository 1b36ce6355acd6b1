"""Triton kernels for CUDA: segment sum / max over CSR layouts and a fused HGNN propagation.

One program handles one segment (a hyperedge or a node) and one block of features; it walks the segment's
positions ``ptr[s]:ptr[s+1]`` in chunks of ``BLOCK_K`` and gathers the source rows, so the ``[nnz, F]`` message
tensor is never built. The fused HGNN kernel does ``v2e`` and ``e2v`` in one pass: it reduces the members of a
hyperedge into registers and scatters the result straight back to the members with atomic adds.

Every kernel is wrapped in an ``autograd.Function`` whose backward is again a kernel over the transposed layout
(the other side of the same hypergraph). Runs on CPU tensors under ``TRITON_INTERPRET=1`` (how the tests check it).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch

from graphhyper.errors import require
from graphhyper.hypergraph.kernels import Layout, transpose
from graphhyper.hypergraph.kernels import torch_ref as _ref

triton = require("triton", "triton", "the CUDA hypergraph kernels")
tl: Any = require("triton.language", "triton", "the CUDA hypergraph kernels")  # tl.constexpr annotates kernel args

_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def _seg_sum_kernel(
    src,
    ptr,
    idx,
    w,
    out,
    F,
    stride_src,
    stride_out,
    HAS_W: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_F: tl.constexpr,
):
    seg = tl.program_id(0)
    fb = tl.program_id(1)
    cols = fb * BLOCK_F + tl.arange(0, BLOCK_F)
    fmask = cols < F
    start = tl.load(ptr + seg)
    end = tl.load(ptr + seg + 1)
    acc = tl.zeros((BLOCK_F,), dtype=ACC)
    for k0 in range(start, end, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        kmask = ks < end
        rows = tl.load(idx + ks, mask=kmask, other=0)
        vals = tl.load(
            src + rows[:, None] * stride_src + cols[None, :], mask=kmask[:, None] & fmask[None, :], other=0.0
        ).to(ACC)
        if HAS_W:
            wk = tl.load(w + ks, mask=kmask, other=0.0).to(ACC)
            vals = vals * wk[:, None]
        acc += tl.sum(vals, axis=0)
    tl.store(out + seg * stride_out + cols, acc.to(out.dtype.element_ty), mask=fmask)


@triton.jit
def _seg_max_kernel(
    src, ptr, idx, out, arg, F, stride_src, stride_out, ACC: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_F: tl.constexpr
):
    seg = tl.program_id(0)
    fb = tl.program_id(1)
    cols = fb * BLOCK_F + tl.arange(0, BLOCK_F)
    fmask = cols < F
    start = tl.load(ptr + seg)
    end = tl.load(ptr + seg + 1)
    best = tl.full((BLOCK_F,), float("-inf"), dtype=ACC)
    best_pos = tl.full((BLOCK_F,), -1, dtype=tl.int64)
    for k0 in range(start, end, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        kmask = ks < end
        rows = tl.load(idx + ks, mask=kmask, other=0)
        vals = tl.load(
            src + rows[:, None] * stride_src + cols[None, :], mask=kmask[:, None] & fmask[None, :], other=float("-inf")
        ).to(ACC)
        chunk_best = tl.max(vals, axis=0)
        is_best = (vals == chunk_best[None, :]) & kmask[:, None]
        pos = tl.where(is_best, ks[:, None].to(tl.int64), 2**62)
        chunk_pos = tl.min(pos, axis=0)
        better = chunk_best > best
        best_pos = tl.where(better, chunk_pos, best_pos)
        best = tl.where(better, chunk_best, best)
    empty = best_pos < 0
    tl.store(out + seg * stride_out + cols, tl.where(empty, 0.0, best).to(out.dtype.element_ty), mask=fmask)
    tl.store(arg + seg * stride_out + cols, best_pos, mask=fmask)


@triton.jit
def _hgnn_fused_kernel(
    x, ptr, idx, q, out, F, stride_x, stride_out, ACC: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_F: tl.constexpr
):
    e = tl.program_id(0)
    fb = tl.program_id(1)
    cols = fb * BLOCK_F + tl.arange(0, BLOCK_F)
    fmask = cols < F
    start = tl.load(ptr + e)
    end = tl.load(ptr + e + 1)
    acc = tl.zeros((BLOCK_F,), dtype=ACC)
    for k0 in range(start, end, BLOCK_K):  # v2e: t_e = sum_k q_k x[v_k]
        ks = k0 + tl.arange(0, BLOCK_K)
        kmask = ks < end
        rows = tl.load(idx + ks, mask=kmask, other=0)
        qk = tl.load(q + ks, mask=kmask, other=0.0).to(ACC)
        vals = tl.load(
            x + rows[:, None] * stride_x + cols[None, :], mask=kmask[:, None] & fmask[None, :], other=0.0
        ).to(ACC)
        acc += tl.sum(vals * qk[:, None], axis=0)
    for k0 in range(start, end, BLOCK_K):  # e2v: out[v_k] += q_k t_e
        ks = k0 + tl.arange(0, BLOCK_K)
        kmask = ks < end
        rows = tl.load(idx + ks, mask=kmask, other=0)
        qk = tl.load(q + ks, mask=kmask, other=0.0).to(ACC)
        contrib = (qk[:, None] * acc[None, :]).to(out.dtype.element_ty)
        tl.atomic_add(
            out + rows[:, None] * stride_out + cols[None, :],
            contrib,
            mask=kmask[:, None] & fmask[None, :],
            sem="relaxed",
        )  # plain sums: no ordering needed, and acq_rel fences cost


# ---------------------------------------------------------------------------------------------- launch helpers
def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _block_f(features: int) -> int:
    return max(16, min(128, triton.next_power_of_2(max(features, 1))))


def _block_k(positions: int, segments: int) -> int:
    """Chunk of a segment walked per loop step: half the mean segment size rounded up to a power of two, 16..64
    (measured on an H200 with ``scripts/bench/hgnn_kernel_sweep.py``: 16 wins for mean sizes 10-20).
    The interpreter pays per step, so it always takes 64."""
    if _INTERPRET:
        return 64
    mean = -(-positions // max(segments, 1))
    return max(16, min(64, triton.next_power_of_2(max(mean, 1)) // 2))


#: One warp per program: a program reads ``BLOCK_K`` rows of ``BLOCK_F`` features, too little work for more
#: warps; 1 warp was fastest or within noise at every size swept (10^5-10^7 incidences, H200).
_NUM_WARPS = 1


def _fused_block_f(features: int) -> int:
    """The fused kernel keeps more programs in flight with 32-feature blocks (H200 sweep)."""
    return max(16, min(32, triton.next_power_of_2(max(features, 1))))


def _output_fits_l2(rows: int, features: int, dtype: torch.dtype, device) -> bool:
    """Whether the output of an HGNN pass stays in L2: atomics are then cheap and the fused kernel wins; beyond
    it every atomic read-modify-write goes to DRAM and the atomic-free two-pass kernels win (H200 sweep)."""
    if device.type != "cuda":
        return True
    return rows * features * torch.empty((), dtype=dtype).element_size() <= _l2_bytes(device.index) // 2


@functools.cache
def _l2_bytes(index: int | None) -> int:
    props = torch.cuda.get_device_properties(torch.cuda.current_device() if index is None else index)
    return getattr(props, "L2_cache_size", 0) or 50 * 2**20


def _grid(segments: int, features: int):
    return (segments, triton.cdiv(features, _block_f(features)))


def seg_sum(
    src: torch.Tensor,
    ptr: torch.Tensor,
    idx: torch.Tensor,
    w_pos: torch.Tensor | None,
    segments: int,
    *,
    block_k: int | None = None,
    block_f: int | None = None,
    num_warps: int | None = None,
) -> torch.Tensor:
    """``out[s] = sum_{p in ptr[s]:ptr[s+1]} w_pos[p] * src[idx[p]]`` (launch overrides as in :func:`hgnn_apply`)."""
    src = src.contiguous()
    features = src.shape[1]
    out = torch.empty(segments, features, dtype=src.dtype, device=src.device)
    if segments == 0 or features == 0:
        return out.zero_()
    w_arg = w_pos.to(src.dtype).contiguous() if w_pos is not None else src
    bf = block_f or _block_f(features)
    extra = {"num_warps": num_warps or _NUM_WARPS}
    _seg_sum_kernel[(segments, triton.cdiv(features, bf))](
        src,
        ptr,
        idx,
        w_arg,
        out,
        features,
        src.stride(0),
        out.stride(0),
        HAS_W=w_pos is not None,
        ACC=_acc(src.dtype),
        BLOCK_K=block_k or _block_k(idx.numel(), segments),
        BLOCK_F=bf,
        **extra,
    )
    return out


def seg_max(src: torch.Tensor, ptr: torch.Tensor, idx: torch.Tensor, segments: int):
    """``(max over the segment of src[idx[p]], argmax position p or -1)``; empty segments give 0."""
    src = src.contiguous()
    features = src.shape[1]
    out = torch.zeros(segments, features, dtype=src.dtype, device=src.device)
    arg = torch.full((segments, features), -1, dtype=torch.long, device=src.device)
    if segments == 0 or features == 0:
        return out, arg
    _seg_max_kernel[_grid(segments, features)](
        src,
        ptr,
        idx,
        out,
        arg,
        features,
        src.stride(0),
        out.stride(0),
        ACC=_acc(src.dtype),
        BLOCK_K=_block_k(idx.numel(), segments),
        BLOCK_F=_block_f(features),
    )
    return out, arg


def _positions(layout: Layout, weight: torch.Tensor | None) -> torch.Tensor | None:
    if weight is None or layout.identity:
        return weight
    return weight[layout.perm]


# ---------------------------------------------------------------------------------------------- autograd
class _GatherSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, src, weight, hg, layout):
        ctx.hg, ctx.layout = hg, layout
        ctx.save_for_backward(src, weight)
        return seg_sum(src, layout.ptr, layout.src, _positions(layout, weight), layout.num_segments)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        src, weight = ctx.saved_tensors
        layout, grad_src, grad_w = ctx.layout, None, None
        grad_out = grad_out.contiguous()
        if ctx.needs_input_grad[0]:
            t = transpose(ctx.hg, layout)
            grad_src = seg_sum(grad_out, t.ptr, t.src, _positions(t, weight), t.num_segments)
        if ctx.needs_input_grad[1]:
            grad_w = (grad_out[layout.seg_inc] * src[layout.src_inc]).sum(-1).to(weight.dtype)
        return grad_src, grad_w, None, None


class _SegMax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, src, ptr, idx, segments):
        out, arg = seg_max(src, ptr, idx, segments)
        ctx.save_for_backward(idx, arg)
        ctx.num_rows = src.shape[0]
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        idx, arg = ctx.saved_tensors
        valid = arg >= 0
        rows = idx[arg.clamp(min=0)]
        grad = grad_out.new_zeros(ctx.num_rows * grad_out.shape[1])
        flat = rows * grad_out.shape[1] + torch.arange(grad_out.shape[1], device=rows.device)
        grad.index_add_(0, flat[valid], grad_out[valid])
        return grad.view(ctx.num_rows, grad_out.shape[1]), None, None, None


class _SegSum(torch.autograd.Function):
    """Sum of per-incidence messages (CSR order) into segments; backward gathers."""

    @staticmethod
    def forward(ctx, msg, weight, layout):
        ctx.layout = layout
        ctx.save_for_backward(msg, weight)
        return seg_sum(msg, layout.ptr, layout.perm, _positions(layout, weight), layout.num_segments)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        msg, weight = ctx.saved_tensors
        g = grad_out[ctx.layout.seg_inc]
        grad_msg = g * weight.unsqueeze(-1).to(g.dtype) if ctx.needs_input_grad[0] else None
        grad_w = (g * msg).sum(-1).to(weight.dtype) if ctx.needs_input_grad[1] else None
        return grad_msg, grad_w, None


def hgnn_apply(
    x: torch.Tensor, hg, *, block_k: int | None = None, block_f: int | None = None, num_warps: int | None = None
) -> torch.Tensor:
    """One fused kernel for ``D_v^-1/2 H W D_e^-1 H^T D_v^-1/2 x`` (atomic scatter into a zeroed output).

    ``block_k``, ``block_f`` and ``num_warps`` override the launch heuristics (for tuning benchmarks)."""
    x = x.contiguous()
    features = x.shape[1]
    out = torch.zeros_like(x)
    if hg.num_edges == 0 or features == 0 or hg.nnz == 0:
        return out
    q = _ref.hgnn_factor(hg, x.dtype)
    bf = block_f or _fused_block_f(features)
    extra = {"num_warps": num_warps or _NUM_WARPS}
    _hgnn_fused_kernel[(hg.num_edges, triton.cdiv(features, bf))](
        x,
        hg.edge_ptr,
        hg.inc_node,
        q,
        out,
        features,
        x.stride(0),
        out.stride(0),
        ACC=_acc(x.dtype),
        BLOCK_K=block_k or _block_k(hg.nnz, hg.num_edges),
        BLOCK_F=bf,
        **extra,
    )
    return out


def hgnn_two_pass(x: torch.Tensor, hg, **launch) -> torch.Tensor:
    """Unfused variant: two segment-sum kernels (``v2e`` then ``e2v``), no atomics, so bitwise deterministic.
    ``launch``: :func:`seg_sum` overrides for both passes."""
    from graphhyper.hypergraph.kernels import edge_layout, node_layout

    x = x.contiguous()
    if hg.nnz == 0 or x.shape[1] == 0:
        return torch.zeros_like(x)
    q = _ref.hgnn_factor(hg, x.dtype)
    e, n = edge_layout(hg), node_layout(hg)
    t = seg_sum(x, e.ptr, e.src, q, e.num_segments, **launch)
    return seg_sum(t, n.ptr, n.src, q[n.perm], n.num_segments, **launch)


# ---------------------------------------------------------------------------------------------- kernel API
def gather_sum(src: torch.Tensor, hg, layout: Layout, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is not None and weight.dim() == 2:
        return _ref.gather_sum(src, hg, layout, weight)  # per-head weights: reference path
    if weight is None:
        weight = _ref._ones(hg, src.dtype, src.device)
    return _GatherSum.apply(src, weight, hg, layout)


def gather_max(src: torch.Tensor, hg, layout: Layout, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return _SegMax.apply(src, layout.ptr, layout.src, layout.num_segments)
    return segment_max(_ref.gather_weighted(src, layout.src_inc, weight), layout)


def segment_sum(msg: torch.Tensor, layout: Layout, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is not None and weight.dim() == 2:
        return _ref.segment_sum(msg, layout, weight)
    if weight is None:
        weight = torch.ones(msg.shape[0], dtype=msg.dtype, device=msg.device)
    return _SegSum.apply(msg, weight, layout)


def segment_max(msg: torch.Tensor, layout: Layout) -> torch.Tensor:
    return _SegMax.apply(msg, layout.ptr, layout.perm, layout.num_segments)


def segment_softmax(score: torch.Tensor, layout: Layout) -> torch.Tensor:
    return _ref.segment_softmax(score, layout)


def hgnn_propagate(x: torch.Tensor, hg, deterministic: bool = False) -> torch.Tensor:
    """HGNN propagation: the fused atomic kernel while the output fits in L2, else (or when ``deterministic``)
    the two atomic-free segment-sum passes."""
    fused = not deterministic and _output_fits_l2(x.shape[0], x.shape[1], x.dtype, x.device)
    return _ref.SymmetricPropagate.apply(x, hg, hgnn_apply if fused else hgnn_two_pass)
