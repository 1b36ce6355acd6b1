"""Reference kernels in native torch (no torch-scatter); autograd everywhere.

Sums over segments use CSR ``torch.sparse.mm`` inside a custom ``autograd.Function`` whose backward is the
transposed CSR product (the transposed layout is the other side of the same hypergraph, already cached), so no
``[nnz, F]`` message tensor is built for sum/mean. ``max`` and multi-head weights use ``scatter_reduce`` /
``index_add_`` on gathered messages.
"""

from __future__ import annotations

import warnings

import torch

from graphhyper.hypergraph.kernels import Layout, transpose


def _index32(layout: Layout) -> tuple[torch.Tensor, torch.Tensor]:
    """int32 copies of ``ptr``/``src`` (MKL's sparse BLAS converts int64 indices on every call otherwise)."""
    if layout.src.numel() >= 2**31 - 1:
        return layout.ptr, layout.src
    return layout.ptr.int(), layout.src.int()


def _csr(layout: Layout, values: torch.Tensor, hg=None) -> torch.Tensor:
    vals = values if layout.identity else values[layout.perm]
    if hg is not None:
        ptr, src = hg.cache(f"index32_{int(layout.identity)}", lambda: _index32(layout))
    else:
        ptr, src = layout.ptr, layout.src
    with warnings.catch_warnings():  # torch warns that sparse CSR is "beta"; CSR @ dense is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            ptr, src, vals.contiguous(), (layout.num_segments, layout.num_sources), check_invariants=False
        )


def _mm(csr: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """``csr @ dense``; on CPU straight into an uninitialised output (``beta=0``), which skips the zero-fill and
    the extra copy of the result that ``csr @ dense`` does on the MKL path (about 25% of its time)."""
    dense = dense.contiguous()
    if dense.device.type != "cpu":
        return csr @ dense
    out = torch.empty(csr.shape[0], dense.shape[1], dtype=dense.dtype)
    return torch.addmm(out, csr, dense, beta=0, out=out)


spmm = _mm  # the public name: graphhyper.hypergraph.features multiplies CSR features with it


def _compute_dtype(dense: torch.Tensor) -> torch.dtype:
    """The dtype the CSR product runs in: float32 for half / bfloat16 on CPU, which MKL's sparse kernels do not
    implement (it also accumulates the sums in float32, as the Triton kernels do); the input's dtype otherwise."""
    if dense.device.type == "cpu" and dense.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dense.dtype


def _spmm(hg, layout: Layout, values: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    if layout.num_segments == 0 or layout.num_sources == 0 or dense.shape[1] == 0 or layout.src.numel() == 0:
        return dense.new_zeros(layout.num_segments, dense.shape[1])
    dtype = _compute_dtype(dense)
    return _mm(_csr(layout, values.to(dtype), hg), dense.to(dtype)).to(dense.dtype)


def _ones(hg, dtype: torch.dtype, device) -> torch.Tensor:
    return hg.cache(f"ones_nnz_{dtype}", lambda: torch.ones(hg.nnz, dtype=dtype, device=device))


class _GatherSum(torch.autograd.Function):
    """``out[s] = sum_{k in s} w_k src[src_k]`` with backward ``grad_src = H_w^T grad_out``."""

    @staticmethod
    def forward(ctx, src, weight, hg, layout):
        out = _spmm(hg, layout, weight, src)
        ctx.hg, ctx.layout = hg, layout
        # src is needed only for the weight's gradient; not saving it otherwise spares an [E, F] tensor per layer
        ctx.save_for_backward(src if ctx.needs_input_grad[1] else None, weight)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        src, weight = ctx.saved_tensors
        layout = ctx.layout
        grad_out = grad_out.contiguous()
        grad_src = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_src = _spmm(ctx.hg, transpose(ctx.hg, layout), weight, grad_out)
        if ctx.needs_input_grad[1]:
            grad_w = (grad_out[layout.seg_inc] * src[layout.src_inc]).sum(-1).to(weight.dtype)
        return grad_src, grad_w, None, None


def gather_sum(src: torch.Tensor, hg, layout: Layout, weight: torch.Tensor | None) -> torch.Tensor:
    """``[S, F]`` weighted sum of ``src`` rows over each segment; ``weight`` is ``[nnz]``, ``[nnz, H]`` or None."""
    if weight is None:
        weight = _ones(hg, src.dtype, src.device)
    if weight.dim() == 1:
        return _GatherSum.apply(src, weight, hg, layout)
    msg = gather_weighted(src, layout.src_inc, weight)
    return segment_sum(msg, layout, None)


def gather_weighted(src: torch.Tensor, index: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """``src[index] * weight`` for per-incidence ``weight`` ``[nnz]`` or per-head ``[nnz, H]`` (F = H * C)."""
    msg = src[index]
    if weight is None:
        return msg
    if weight.dim() == 1:
        return msg * weight.unsqueeze(-1).to(msg.dtype)
    heads = weight.shape[1]
    return (msg.view(msg.shape[0], heads, -1) * weight.unsqueeze(-1).to(msg.dtype)).view(msg.shape)


def segment_sum(msg: torch.Tensor, layout: Layout, weight: torch.Tensor | None) -> torch.Tensor:
    """Sum per-incidence messages ``[nnz, F]`` (CSR order) into segments."""
    if weight is not None:
        msg = gather_weighted(msg, torch.arange(msg.shape[0], device=msg.device), weight)
    out = msg.new_zeros(layout.num_segments, msg.shape[1])
    return out.index_add(0, layout.seg_inc, msg)


def segment_max(msg: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Max per segment of messages ``[nnz, F]`` (CSR order); empty segments give 0."""
    out = msg.new_zeros(layout.num_segments, msg.shape[1])
    if msg.shape[0] == 0:
        return out
    idx = layout.seg_inc.unsqueeze(-1).expand_as(msg)
    return out.scatter_reduce(0, idx, msg, reduce="amax", include_self=False)


def gather_max(src: torch.Tensor, hg, layout: Layout, weight: torch.Tensor | None) -> torch.Tensor:
    return segment_max(gather_weighted(src, layout.src_inc, weight), layout)


def segment_softmax(score: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Softmax of ``score [nnz, H]`` (CSR order) within each segment."""
    if score.dim() == 1:
        return segment_softmax(score.unsqueeze(-1), layout).squeeze(-1)
    if score.shape[0] == 0:
        return score
    idx = layout.seg_inc.unsqueeze(-1).expand_as(score)
    smax = score.new_full((layout.num_segments, score.shape[1]), float("-inf"))
    smax = smax.scatter_reduce(0, idx, score.detach(), reduce="amax", include_self=True)
    ex = torch.exp(score - smax[layout.seg_inc])
    den = ex.new_zeros(layout.num_segments, score.shape[1]).index_add(0, layout.seg_inc, ex)
    return ex / den[layout.seg_inc]


# ---------------------------------------------------------------------------------------------- HGNN
def hgnn_factor(hg, dtype: torch.dtype) -> torch.Tensor:
    """Per-incidence ``q = d_v^{-1/2} sqrt(w_e / |e|)`` so that ``A = Q Q^T`` with ``Q[v, e] = q``."""

    def make():
        dv = hg.weighted_node_degree.double()
        dv_is = torch.where(dv > 0, dv.clamp(min=1e-300).rsqrt(), torch.zeros_like(dv))
        de = hg.edge_degree.double()
        we = torch.where(de > 0, hg.hyperedge_weight.double() / de.clamp(min=1), torch.zeros_like(de)).sqrt()
        return (dv_is[hg.inc_node] * we[hg.inc_edge]).to(dtype).contiguous()

    return hg.cache(f"hgnn_q_{dtype}", make)


def hgnn_matrices(hg, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Cached CSR ``Q^T [E, V]`` and ``Q [V, E]``."""
    from graphhyper.hypergraph.kernels import edge_layout, node_layout

    def make():
        q = hgnn_factor(hg, dtype)
        return _csr(edge_layout(hg), q, hg), _csr(node_layout(hg), q, hg)

    return hg.cache(f"hgnn_csr_{dtype}", make)


def hgnn_apply(x: torch.Tensor, hg) -> torch.Tensor:
    """The symmetric HGNN operator ``D_v^-1/2 H W D_e^-1 H^T D_v^-1/2 x`` as two CSR products, without autograd
    support of its own (:func:`hgnn_propagate` wraps it); benchmarks time it as the cuSPARSE/MKL reference."""
    if hg.nnz == 0 or x.shape[1] == 0:
        return torch.zeros_like(x)
    dtype = _compute_dtype(x)
    qt, q = hgnn_matrices(hg, dtype)
    return _mm(q, _mm(qt, x.to(dtype))).to(x.dtype)


class SymmetricPropagate(torch.autograd.Function):
    """``y = apply(x, hg)`` for a symmetric linear operator (``A = Q Q^T``), so the backward is the same product.

    Shared by every HGNN propagation kernel (torch reference, fused Triton, two-pass Triton)."""

    @staticmethod
    def forward(ctx, x, hg, apply):
        ctx.hg, ctx.op = hg, apply
        return apply(x, hg)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        return ctx.op(grad.contiguous(), ctx.hg), None, None


def hgnn_propagate(x: torch.Tensor, hg, deterministic: bool = False) -> torch.Tensor:
    """``D_v^{-1/2} H W D_e^{-1} H^T D_v^{-1/2} x`` via two cached CSR products (deterministic either way)."""
    return SymmetricPropagate.apply(x, hg, hgnn_apply)
