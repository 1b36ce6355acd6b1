"""ops (torch reference backend) against dense formulas; gradcheck for every op; input errors."""

from __future__ import annotations

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import Hypergraph, ops


def weighted_hg(seed: int = 0, num_nodes: int = 9, empty: bool = True) -> Hypergraph:
    gen = torch.Generator().manual_seed(seed)
    edges = [[0, 1, 2], [2, 3], [3, 4, 5, 6, 7], [0, 7], [1]]
    if empty:
        edges.append([])
    w = 0.5 + torch.rand(len(edges), generator=gen)
    return Hypergraph(num_nodes, edges, hyperedge_weight=w, allow_empty_edges=empty)  # node 8 isolated


def incidence_matrix(hg: Hypergraph, values: torch.Tensor | None = None) -> torch.Tensor:
    vals = torch.ones(hg.nnz, dtype=torch.float64) if values is None else values.double()
    h = torch.zeros(hg.num_nodes, hg.num_edges, dtype=torch.float64)
    h[hg.inc_node, hg.inc_edge] = vals
    return h


def dense_mean(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Rows of ``a`` (segments x sources) as weights: sum a x / sum a, 0 when the sum is 0."""
    den = a.sum(1, keepdim=True)
    return torch.where(den != 0, (a @ x) / torch.where(den != 0, den, torch.ones_like(den)), 0.0)


@pytest.fixture
def hg() -> Hypergraph:
    return weighted_hg()


def test_v2e_sum_mean_weighted(hg):
    x = torch.randn(hg.num_nodes, 4, dtype=torch.float64)
    w = torch.rand(hg.nnz, dtype=torch.float64) + 0.1
    h = incidence_matrix(hg)
    a = incidence_matrix(hg, w)
    torch.testing.assert_close(ops.v2e(x, hg, "sum"), h.t() @ x)
    torch.testing.assert_close(ops.v2e(x, hg, "sum", weight=w), a.t() @ x)
    torch.testing.assert_close(ops.v2e(x, hg, "mean"), dense_mean(h.t(), x))
    # weighted mean divides by the weight sum (not DHG's multiply)
    torch.testing.assert_close(ops.v2e(x, hg, "mean", weight=w), dense_mean(a.t(), x))
    assert ops.v2e(x, hg, "mean")[5].abs().sum() == 0  # empty hyperedge -> 0, not NaN


def test_e2v_uses_hyperedge_weights(hg):
    y = torch.randn(hg.num_edges, 3, dtype=torch.float64)
    we = hg.hyperedge_weight.double()
    a = incidence_matrix(hg, we[hg.inc_edge])
    torch.testing.assert_close(ops.e2v(y, hg, "sum"), a @ y)
    torch.testing.assert_close(ops.e2v(y, hg, "mean"), dense_mean(a, y))
    torch.testing.assert_close(ops.e2v(y, hg, "mean", edge_weight=False), dense_mean(incidence_matrix(hg), y))
    w = torch.rand(hg.nnz, dtype=torch.float64)
    torch.testing.assert_close(ops.e2v(y, hg, "sum", weight=w), incidence_matrix(hg, w * we[hg.inc_edge]) @ y)
    assert ops.e2v(y, hg)[8].abs().sum() == 0  # isolated node


def loop_max(hg, src, seg_of, src_of, num_segments, weight=None):
    out = torch.zeros(num_segments, src.shape[1], dtype=src.dtype)
    for s in range(num_segments):
        ks = [k for k in range(hg.nnz) if seg_of[k] == s]
        if ks:
            vals = torch.stack([src[src_of[k]] * (1 if weight is None else weight[k]) for k in ks])
            out[s] = vals.max(0).values
    return out


def test_max(hg):
    x = torch.randn(hg.num_nodes, 5, dtype=torch.float64)
    w = torch.rand(hg.nnz, dtype=torch.float64)
    got = ops.v2e(x, hg, "max")
    torch.testing.assert_close(got, loop_max(hg, x, hg.inc_edge, hg.inc_node, hg.num_edges))
    got = ops.v2e(x, hg, "max", weight=w)
    torch.testing.assert_close(got, loop_max(hg, x, hg.inc_edge, hg.inc_node, hg.num_edges, w))
    y = torch.randn(hg.num_edges, 2, dtype=torch.float64)
    got = ops.e2v(y, hg, "max", edge_weight=False)
    torch.testing.assert_close(got, loop_max(hg, y, hg.inc_node, hg.inc_edge, hg.num_nodes))


def test_softmax_aggregation_and_segment_softmax(hg):
    x = torch.randn(hg.num_nodes, 4, dtype=torch.float64)
    score = torch.randn(hg.nnz, dtype=torch.float64)
    alpha = ops.softmax_over_edges(score, hg)
    sums = torch.zeros(hg.num_edges, dtype=torch.float64).index_add(0, hg.inc_edge, alpha)
    torch.testing.assert_close(sums[:5], torch.ones(5, dtype=torch.float64))
    ref = torch.zeros(hg.num_edges, 4, dtype=torch.float64)
    for e in range(hg.num_edges):
        ks = (hg.inc_edge == e).nonzero().flatten()
        if ks.numel():
            a = torch.softmax(score[ks], 0)
            ref[e] = (a.unsqueeze(1) * x[hg.inc_node[ks]]).sum(0)
    torch.testing.assert_close(ops.v2e(x, hg, "softmax", weight=score), ref)
    beta = ops.softmax_over_nodes(score, hg)
    sums = torch.zeros(hg.num_nodes, dtype=torch.float64).index_add(0, hg.inc_node, beta)
    torch.testing.assert_close(sums[:8], torch.ones(8, dtype=torch.float64))


def test_multihead_weights(hg):
    x = torch.randn(hg.num_nodes, 2, 3, dtype=torch.float64)  # 2 heads x 3 channels
    score = torch.randn(hg.nnz, 2, dtype=torch.float64)
    out = ops.v2e(x, hg, "softmax", weight=score)
    assert out.shape == (hg.num_edges, 2, 3)
    for head in range(2):
        single = ops.v2e(x[:, head].contiguous(), hg, "softmax", weight=score[:, head].contiguous())
        torch.testing.assert_close(out[:, head], single)
    flat = ops.v2e(x.reshape(hg.num_nodes, 6), hg, "sum", weight=score)
    torch.testing.assert_close(flat.view(-1, 2, 3), ops.v2e(x, hg, "sum", weight=score))


def test_gather_and_reduce_match_v2e_e2v(hg):
    x = torch.randn(hg.num_nodes, 3, dtype=torch.float64)
    y = torch.randn(hg.num_edges, 3, dtype=torch.float64)
    w = torch.rand(hg.nnz, dtype=torch.float64)
    for aggr in ("sum", "mean", "max"):
        torch.testing.assert_close(ops.reduce_to_edges(ops.gather_nodes(x, hg), hg, aggr, w), ops.v2e(x, hg, aggr, w))
        torch.testing.assert_close(
            ops.reduce_to_nodes(ops.gather_edges(y, hg), hg, aggr, w), ops.e2v(y, hg, aggr, w, edge_weight=False)
        )
    torch.testing.assert_close(
        ops.reduce_to_edges(ops.gather_nodes(x, hg), hg, "softmax", w), ops.v2e(x, hg, "softmax", w)
    )
    torch.testing.assert_close(ops.v2v(x, hg, "sum", "mean"), ops.e2v(ops.v2e(x, hg, "sum"), hg, "mean"))


def dense_hgnn(hg: Hypergraph, x: torch.Tensor) -> torch.Tensor:
    h = incidence_matrix(hg)
    w = hg.hyperedge_weight.double()
    dv = h @ w
    de = h.sum(0)
    dv_is = torch.where(dv > 0, dv.clamp(min=1e-300) ** -0.5, 0.0)
    de_i = torch.where(de > 0, 1.0 / de.clamp(min=1), 0.0)
    a = torch.diag(dv_is) @ h @ torch.diag(w * de_i) @ h.t() @ torch.diag(dv_is)
    return (a @ x.double()).to(x.dtype)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hgnn_propagate_equals_dense_formula(seed):
    gen = torch.Generator().manual_seed(seed)
    num_nodes, num_edges = 20, 12
    edges = [
        torch.randperm(num_nodes, generator=gen)[: int(torch.randint(1, 8, (1,), generator=gen))].tolist()
        for _ in range(num_edges)
    ]
    w = 0.2 + 2 * torch.rand(num_edges, generator=gen)
    hg = Hypergraph(num_nodes, edges, hyperedge_weight=w)
    theta = torch.randn(5, 4, dtype=torch.float64, generator=gen)
    x = torch.randn(num_nodes, 5, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(ops.hgnn_propagate(x @ theta, hg), dense_hgnn(hg, x) @ theta)
    x32 = x.float()
    torch.testing.assert_close(ops.hgnn_propagate(x32, hg), dense_hgnn(hg, x).float(), rtol=1e-4, atol=1e-5)


def test_hgnn_isolated_and_empty(hg):
    x = torch.randn(hg.num_nodes, 3, dtype=torch.float64)
    out = ops.hgnn_propagate(x, hg)
    torch.testing.assert_close(out, dense_hgnn(hg, x))
    assert out[8].abs().sum() == 0


def test_gradcheck_every_op(hg):
    x = torch.randn(hg.num_nodes, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(hg.num_edges, 3, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(hg.nnz, dtype=torch.float64) + 0.1).requires_grad_()
    msg = torch.randn(hg.nnz, 3, dtype=torch.float64, requires_grad=True)
    for aggr in ("sum", "mean", "max", "softmax"):
        assert torch.autograd.gradcheck(lambda x, w, a=aggr: ops.v2e(x, hg, a, weight=w), (x, w))
        assert torch.autograd.gradcheck(lambda y, w, a=aggr: ops.e2v(y, hg, a, weight=w), (y, w))
        assert torch.autograd.gradcheck(lambda m, w, a=aggr: ops.reduce_to_nodes(m, hg, a, weight=w), (msg, w))
        assert torch.autograd.gradcheck(lambda m, w, a=aggr: ops.reduce_to_edges(m, hg, a, weight=w), (msg, w))
    for aggr in ("sum", "mean"):
        assert torch.autograd.gradcheck(lambda x, a=aggr: ops.v2e(x, hg, a), (x,))
        assert torch.autograd.gradcheck(lambda y, a=aggr: ops.e2v(y, hg, a), (y,))
    assert torch.autograd.gradcheck(lambda x: ops.hgnn_propagate(x, hg), (x,))
    assert torch.autograd.gradcheck(lambda x: ops.v2v(x, hg), (x,))
    assert torch.autograd.gradcheck(lambda s: ops.softmax_over_edges(s, hg), (msg,))
    assert torch.autograd.gradcheck(lambda s: ops.softmax_over_nodes(s, hg), (msg,))
    heads = (torch.rand(hg.nnz, 3, dtype=torch.float64) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: ops.v2e(x, hg, "mean", weight=w), (x, heads))


def test_input_errors(hg):
    x = torch.randn(hg.num_nodes, 3)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN"):
        ops.v2e(bad, hg)
    ops.set_input_checks(False)
    try:
        ops.v2e(bad, hg)  # no check: runs
    finally:
        ops.set_input_checks(True)
    with pytest.raises(InvalidInputError, match="rows"):
        ops.v2e(torch.randn(3, 3), hg)
    with pytest.raises(InvalidInputError, match="floating"):
        ops.v2e(torch.ones(hg.num_nodes, 3, dtype=torch.long), hg)
    with pytest.raises(InvalidInputError, match="aggregation"):
        ops.v2e(x, hg, "median")
    with pytest.raises(InvalidInputError, match="weight"):
        ops.v2e(x, hg, "sum", weight=torch.ones(3))
    with pytest.raises(InvalidInputError, match="heads"):
        ops.v2e(x, hg, "sum", weight=torch.ones(hg.nnz, 2))
    with pytest.raises(InvalidInputError, match="score"):
        ops.v2e(x, hg, "softmax")
    with pytest.raises(InvalidInputError, match="Hypergraph"):
        ops.v2e(x, torch.tensor([[0, 1], [0, 0]]))
    with pytest.raises(InvalidInputError, match="backend"):
        ops.set_backend("cuda-magic")


def test_backend_context_restores():
    assert ops.get_backend() == "auto"
    with ops.use_backend("torch"):
        assert ops.get_backend() == "torch"
    assert ops.get_backend() == "auto"


def test_1d_features(hg):
    x = torch.randn(hg.num_nodes, dtype=torch.float64)
    out = ops.v2e(x, hg, "sum")
    assert out.shape == (hg.num_edges,)
    torch.testing.assert_close(out, incidence_matrix(hg).t() @ x)


def test_zero_rows_and_zero_edges():
    hg = Hypergraph(0, [])
    x = torch.zeros(0, 4, requires_grad=True)
    for aggr in ("sum", "mean", "max"):
        assert ops.v2e(x, hg, aggr).shape == (0, 4)
        assert ops.e2v(torch.zeros(0, 4), hg, aggr).shape == (0, 4)
    assert ops.hgnn_propagate(x, hg).shape == (0, 4)
    hg = Hypergraph(3, [])  # nodes but no hyperedges
    x = torch.randn(3, 2, requires_grad=True)
    out = ops.v2v(x, hg)
    assert out.shape == (3, 2) and out.abs().sum() == 0
    ops.hgnn_propagate(x, hg).sum().backward()
    assert x.grad.abs().sum() == 0


def test_gather_sum_keeps_its_input_for_backward_only_when_the_weight_needs_a_gradient():
    from graphhyper.hypergraph.kernels import edge_layout, torch_ref

    hg = Hypergraph(4, [[0, 1, 2], [2, 3]])
    x = torch.randn(4, 3, requires_grad=True)
    fixed = torch.rand(hg.nnz)
    learned = fixed.clone().requires_grad_(True)
    out_fixed = torch_ref.gather_sum(x, hg, edge_layout(hg), fixed)
    out_learned = torch_ref.gather_sum(x, hg, edge_layout(hg), learned)
    assert out_fixed.grad_fn.saved_tensors[0] is None  # no [nnz-sized, F] copy kept without a weight gradient
    assert out_learned.grad_fn.saved_tensors[0] is not None
    g = torch.randn_like(out_fixed)
    (gx_fixed,) = torch.autograd.grad(out_fixed, x, g)
    gx_learned, gw = torch.autograd.grad(out_learned, (x, learned), g)
    torch.testing.assert_close(gx_fixed, gx_learned)
    expected = torch.zeros(hg.nnz)
    # d out[e, f] / d w_k = x[node_k, f] for incidence k of hyperedge e
    for k in range(hg.nnz):
        expected[k] = (g[edge_layout(hg).seg_inc[k]] * x[edge_layout(hg).src_inc[k]]).sum()
    torch.testing.assert_close(gw, expected.detach())
