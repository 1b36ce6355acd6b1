"""Half / bfloat16 features on CPU: every public aggregation works (computed in float32, returned in the input's
dtype) instead of ending in the sparse kernel's ``NotImplementedError``; results match float32 to the dtype's
precision, and gradients flow."""

from __future__ import annotations

import pytest
import torch

from graphhyper.hypergraph import Hypergraph, ops

LOW = [torch.float16, torch.bfloat16]
TOL = {torch.float16: 2e-2, torch.bfloat16: 8e-2}  # a few units of the last place for sums of ~4 terms of O(1)


def _hg() -> Hypergraph:
    return Hypergraph(7, [[0, 1, 2], [2, 3, 4, 5], [5, 6], [0, 6], [3]], hyperedge_weight=[1.0, 2.0, 0.5, 1.0, 1.0])


CALLS = {
    "v2e mean": lambda x, y, s, hg: ops.v2e(x, hg),
    "v2e sum": lambda x, y, s, hg: ops.v2e(x, hg, "sum"),
    "v2e max": lambda x, y, s, hg: ops.v2e(x, hg, "max"),
    "v2e softmax": lambda x, y, s, hg: ops.v2e(x, hg, "softmax", weight=s),
    "e2v mean": lambda x, y, s, hg: ops.e2v(y, hg),
    "e2v sum weighted": lambda x, y, s, hg: ops.e2v(y, hg, "sum", weight=s.abs()),
    "v2v": lambda x, y, s, hg: ops.v2v(x, hg),
    "hgnn_propagate": lambda x, y, s, hg: ops.hgnn_propagate(x, hg),
    "reduce_to_nodes": lambda x, y, s, hg: ops.reduce_to_nodes(ops.gather_edges(y, hg), hg, "mean"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("name", list(CALLS))
def test_ops_accept_low_precision_on_cpu(name, dtype, record):
    record("half precision: ops on CPU", f"{name} with {dtype} features: runs, keeps dtype, matches float32, grads")
    hg = _hg()
    g = torch.Generator().manual_seed(0)
    x, y, s = torch.randn(7, 5, generator=g), torch.randn(5, 5, generator=g), torch.randn(hg.nnz, generator=g)
    reference = CALLS[name](x, y, s, hg)
    xl, yl = x.to(dtype).requires_grad_(), y.to(dtype).requires_grad_()
    out = CALLS[name](xl, yl, s.to(dtype), hg)
    assert out.dtype == dtype and out.shape == reference.shape
    torch.testing.assert_close(out.float(), reference, atol=TOL[dtype], rtol=TOL[dtype])
    out.float().sum().backward()
    grads = [t.grad for t in (xl, yl) if t.grad is not None]
    assert grads and all(gr.dtype == dtype and torch.isfinite(gr.float()).all() for gr in grads)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("model", ["hgnn", "unigcn", "allset-deepsets"])
def test_a_model_runs_in_low_precision(model, dtype, record):
    record("half precision: a model on CPU", f"build_model({model!r}).to({dtype}) forward + backward")
    from graphhyper.hypergraph.models import build_model

    torch.manual_seed(0)
    net = build_model(model, 5, 3, hidden_channels=16).eval()
    hg, x = _hg(), torch.randn(7, 5, generator=torch.Generator().manual_seed(1))
    reference = net(x, hg)
    out = net.to(dtype)(x.to(dtype), hg)
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), reference, atol=10 * TOL[dtype], rtol=10 * TOL[dtype])
    out.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == dtype for p in net.parameters() if p.requires_grad)


def test_float32_path_is_unchanged():
    """The low-precision branch does not touch float32 / float64 (no cast, same result bit for bit)."""
    hg = _hg()
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    dense = torch.zeros(5, 7, dtype=torch.float64)
    for e, members in enumerate(hg.hyperedges()):
        dense[e, list(members)] = 1.0
    assert ops.v2e(x, hg, "sum").dtype == torch.float64
    torch.testing.assert_close(ops.v2e(x, hg, "sum"), dense @ x, rtol=0, atol=1e-12)
