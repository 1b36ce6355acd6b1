"""Triton kernels against the torch reference: values and gradients, skewed sizes, empty hyperedges, fp32/fp64.

On a CPU machine they run under ``TRITON_INTERPRET=1`` (set by tests/conftest.py); with a CUDA GPU and
``TRITON_INTERPRET=0`` (scripts/bench/gpu_check.sh) the same tests run the compiled kernels on the GPU.
"""

from __future__ import annotations

import os

import pytest
import torch

from graphhyper.hypergraph import Hypergraph, ops

pytest.importorskip("triton", reason="triton is not installed")

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cpu" if INTERPRET or not torch.cuda.is_available() else "cuda"
if DEVICE == "cpu" and not INTERPRET:
    pytest.skip("Triton kernels need CUDA or TRITON_INTERPRET=1", allow_module_level=True)

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-9, atol=1e-9)}


def medium_hg(seed: int = 0, num_nodes: int = 48) -> Hypergraph:
    """A 40-member hyperedge, small ones, an empty one (id 7) and isolated nodes; few segments keep the
    Triton interpreter fast (its cost is per program, i.e. per segment)."""
    gen = torch.Generator().manual_seed(seed)
    edges = [torch.randperm(num_nodes - 4, generator=gen)[:40].tolist()]
    for _ in range(14):
        size = int(torch.randint(1, 6, (1,), generator=gen))
        edges.append(torch.randperm(num_nodes - 4, generator=gen)[:size].tolist())
    edges.insert(7, [])
    w = 0.5 + torch.rand(len(edges), generator=gen)
    return Hypergraph(num_nodes, edges, hyperedge_weight=w, allow_empty_edges=True).to(DEVICE)


def small_hg() -> Hypergraph:
    edges = [[0, 1, 2], [2, 3], [], [3, 4, 5, 0], [5]]
    return Hypergraph(7, edges, hyperedge_weight=[1.0, 0.5, 2.0, 1.5, 1.0], allow_empty_edges=True).to(DEVICE)


def run_both(fn, *inputs):
    """Outputs and input gradients of ``fn`` under the torch and the triton backends."""
    results = []
    for backend in ("torch", "triton"):
        leaves = [t.detach().clone().requires_grad_(t.requires_grad) for t in inputs]
        with ops.use_backend(backend):
            out = fn(*leaves)
            out.backward(torch.ones_like(out) + torch.arange(out.shape[-1], device=out.device, dtype=out.dtype))
        results.append((out.detach(), [t.grad for t in leaves]))
    return results


@pytest.mark.parametrize(
    "dtype, aggr",
    [
        (torch.float32, "sum"),
        (torch.float64, "sum"),
        (torch.float32, "max"),
        (torch.float64, "max"),
        (torch.float32, "mean"),
        (torch.float32, "softmax"),
    ],
)
def test_v2e_e2v_match_reference(dtype, aggr):
    hg = medium_hg()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(hg.num_nodes, 20, generator=gen, dtype=dtype).to(DEVICE).requires_grad_()
    y = torch.randn(hg.num_edges, 20, generator=gen, dtype=dtype).to(DEVICE).requires_grad_()
    w = (torch.rand(hg.nnz, generator=gen, dtype=dtype) + 0.1).to(DEVICE).requires_grad_()
    weights = [w] if aggr == "softmax" else [None, w]
    for weight in weights:
        extra = () if weight is None else (weight,)
        for fn, src in ((lambda s, *ww: ops.v2e(s, hg, aggr, *ww), x), (lambda s, *ww: ops.e2v(s, hg, aggr, *ww), y)):
            (ref, ref_grads), (got, got_grads) = run_both(fn, src, *extra)
            torch.testing.assert_close(got, ref, **TOL[dtype])
            for g_got, g_ref in zip(got_grads, ref_grads):
                torch.testing.assert_close(g_got, g_ref, **TOL[dtype])
    empty = 7
    with ops.use_backend("triton"):
        assert ops.v2e(x, hg, aggr, w)[empty].abs().sum() == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reduce_and_hgnn_match_reference(dtype):
    hg = medium_hg(seed=3)
    gen = torch.Generator().manual_seed(2)
    msg = torch.randn(hg.nnz, 12, generator=gen, dtype=dtype).to(DEVICE).requires_grad_()
    w = (torch.rand(hg.nnz, generator=gen, dtype=dtype) + 0.1).to(DEVICE).requires_grad_()
    x = torch.randn(hg.num_nodes, 12, generator=gen, dtype=dtype).to(DEVICE).requires_grad_()
    for aggr in ("sum", "max"):
        for fn in (ops.reduce_to_edges, ops.reduce_to_nodes):
            (ref, ref_g), (got, got_g) = run_both(lambda m, ww, f=fn, a=aggr: f(m, hg, a, ww), msg, w)
            torch.testing.assert_close(got, ref, **TOL[dtype])
            for a, b in zip(got_g, ref_g):
                torch.testing.assert_close(a, b, **TOL[dtype])
    (ref, ref_g), (got, got_g) = run_both(lambda t: ops.hgnn_propagate(t, hg), x)
    torch.testing.assert_close(got, ref, **TOL[dtype])
    torch.testing.assert_close(got_g[0], ref_g[0], **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_skewed_segment_of_thousands(dtype):
    """A hyperedge of 3000 members: the kernels' chunked loop over one long segment (forward kernels; the
    gradients here are torch gathers). Built from per-incidence messages so the other side stays tiny."""
    hg = Hypergraph(3000, [list(range(3000)), [0, 1], [5]]).to(DEVICE)
    gen = torch.Generator().manual_seed(4)
    msg = torch.randn(hg.nnz, 8, generator=gen, dtype=dtype).to(DEVICE).requires_grad_()
    w = (torch.rand(hg.nnz, generator=gen, dtype=dtype) + 0.1).to(DEVICE).requires_grad_()
    for aggr in ("sum", "mean", "max", "softmax"):
        (ref, ref_g), (got, got_g) = run_both(lambda m, ww, a=aggr: ops.reduce_to_edges(m, hg, a, ww), msg, w)
        torch.testing.assert_close(got, ref, **TOL[dtype])
        for a, b in zip(got_g, ref_g):
            torch.testing.assert_close(a, b, **TOL[dtype])
    x = torch.randn(hg.num_nodes, 8, generator=gen, dtype=dtype).to(DEVICE)
    with torch.no_grad():
        for aggr in ("sum", "max"):
            with ops.use_backend("torch"):
                ref = ops.v2e(x, hg, aggr)
            with ops.use_backend("triton"):
                got = ops.v2e(x, hg, aggr)
            torch.testing.assert_close(got, ref, **TOL[dtype])


def test_fused_hgnn_equals_dense_formula():
    hg = small_hg()
    x = torch.randn(hg.num_nodes, 5, dtype=torch.float64, device=DEVICE)
    h = torch.zeros(hg.num_nodes, hg.num_edges, dtype=torch.float64, device=DEVICE)
    h[hg.inc_node, hg.inc_edge] = 1.0
    w = hg.hyperedge_weight.double()
    dv, de = h @ w, h.sum(0)
    dv_is = torch.where(dv > 0, dv.clamp(min=1e-12) ** -0.5, 0.0)
    a = torch.diag(dv_is) @ h @ torch.diag(torch.where(de > 0, w / de.clamp(min=1), 0.0)) @ h.t() @ torch.diag(dv_is)
    with ops.use_backend("triton"):
        torch.testing.assert_close(ops.hgnn_propagate(x, hg), a @ x)


def test_gradcheck_triton_kernels():
    hg = small_hg()
    x = torch.randn(hg.num_nodes, 3, dtype=torch.float64, device=DEVICE, requires_grad=True)
    y = torch.randn(hg.num_edges, 3, dtype=torch.float64, device=DEVICE, requires_grad=True)
    w = (torch.rand(hg.nnz, dtype=torch.float64, device=DEVICE) + 0.1).requires_grad_()
    msg = torch.randn(hg.nnz, 3, dtype=torch.float64, device=DEVICE, requires_grad=True)
    check = dict(fast_mode=True)  # a few random directional derivatives: the interpreter is slow
    with ops.use_backend("triton"):
        for aggr in ("sum", "mean", "max"):
            assert torch.autograd.gradcheck(lambda x, w, a=aggr: ops.v2e(x, hg, a, w), (x, w), **check)
            assert torch.autograd.gradcheck(lambda y, a=aggr: ops.e2v(y, hg, a), (y,), **check)
        assert torch.autograd.gradcheck(lambda m, w: ops.reduce_to_nodes(m, hg, "sum", w), (msg, w), **check)
        assert torch.autograd.gradcheck(lambda m: ops.reduce_to_edges(m, hg, "max"), (msg,), **check)
        assert torch.autograd.gradcheck(lambda x: ops.hgnn_propagate(x, hg), (x,), **check)


def test_two_pass_matches_fused():
    from graphhyper.hypergraph.kernels import triton_kernels

    hg = medium_hg(seed=5)
    x = torch.randn(hg.num_nodes, 16, device=DEVICE)
    torch.testing.assert_close(
        triton_kernels.hgnn_two_pass(x, hg), triton_kernels.hgnn_apply(x, hg), rtol=1e-4, atol=1e-5
    )
    xd = x.double().requires_grad_()
    with ops.use_backend("triton"):
        first = ops.hgnn_propagate(xd, hg, deterministic=True)
        assert torch.equal(first, ops.hgnn_propagate(xd, hg, deterministic=True))  # bitwise reproducible
        assert torch.autograd.gradcheck(lambda t: ops.hgnn_propagate(t, hg, deterministic=True), (xd,), fast_mode=True)


@pytest.mark.skipif(DEVICE != "cuda", reason="needs a CUDA GPU (run scripts/bench/gpu_check.sh)")
def test_auto_backend_uses_triton_on_cuda():
    from graphhyper.hypergraph.kernels import triton_kernels

    hg = small_hg()
    assert ops._kernels(torch.zeros(1, device="cuda")) is triton_kernels
    x = torch.randn(hg.num_nodes, 8, device="cuda")
    torch.testing.assert_close(ops.hgnn_propagate(x, hg), triton_kernels.hgnn_apply(x, hg))
