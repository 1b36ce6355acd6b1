"""PMA's fast pooling (one autograd node, member-level scores, pool-first projection) against the ops-based
reference path and a dense per-set formula: forward and gradients, heads, empty sets, CSR inputs, dropout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphhyper.hypergraph import Hypergraph
from graphhyper.hypergraph import nn as hnn
from graphhyper.hypergraph.kernels import edge_layout, node_layout
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.nn import pma as pma_module
from graphhyper.hypergraph.nn._attention_pool import attention_pool

# hyperedge 7 is empty, node 8 is isolated, hyperedge 8 is a singleton
EDGES = [[0, 1, 2], [2, 3], [1, 3, 4, 5], [0, 5], [4, 6, 7], [6, 7], [0, 2, 4, 6], [], [1], [3, 4], [2, 5, 7]]


def _hg() -> Hypergraph:
    return Hypergraph(9, EDGES, allow_empty_edges=True)


def _grads(out: torch.Tensor, params: list[torch.Tensor], w: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad((out * w).sum(), params))


def _pma_case(heads: int, direction: str, f_in: int, seed: int = 0):
    hg = _hg()
    torch.manual_seed(seed)
    pma = hnn.PMA(f_in, 6, heads=heads).double()
    rows = hg.num_nodes if direction == "v2e" else hg.num_edges
    x = torch.randn(rows, f_in, dtype=torch.double, requires_grad=True)
    return hg, pma, x


@pytest.mark.parametrize("first", [None, True, False])
@pytest.mark.parametrize("heads", [1, 2, 3])
@pytest.mark.parametrize("direction", ["v2e", "e2v"])
def test_fast_pooling_equals_reference_path(monkeypatch, first, heads, direction):
    if first is not None:  # force the pool-first rule either way (it only applies with one head)
        monkeypatch.setattr(pma_module, "pool_first", lambda *a: first)
    hg, pma, x = _pma_case(heads, direction, f_in=4 if direction == "v2e" else 8)
    params = [x, *pma.parameters()]
    got = pma._pool_fast(x, hg, direction)  # the seed included
    expected = pma._pool(x, hg, direction) + pma.seed.reshape(1, -1)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-10)
    w = torch.randn_like(got)
    g_got = [g for g in torch.autograd.grad((got * w).sum(), params, allow_unused=True)]
    g_exp = [g for g in torch.autograd.grad((expected * w).sum(), params, allow_unused=True)]
    for a, b in zip(g_got, g_exp):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    empty = (edge_layout(hg) if direction == "v2e" else node_layout(hg)).ptr.diff() == 0
    assert empty.any() and (got[empty] == pma.seed.reshape(1, -1)).all()  # an empty set pools to its seed


def test_pool_first_rule_picks_the_smaller_side():
    hg = Hypergraph(9, EDGES, allow_empty_edges=True)
    x = torch.randn(hg.num_edges, 16)
    assert pma_module.pool_first(x, node_layout(hg), 16)  # 11 hyperedges pooled into 9 nodes
    assert not pma_module.pool_first(torch.randn(9, 16), edge_layout(hg), 16)  # 9 nodes into 11 hyperedges


def _dense_attention(value, score, hg, direction, mask=None):
    """Per set and head: softmax over the members' scores (times an optional dense dropout mask [S, M, H])."""
    H = score.shape[1]
    C = value.shape[1] // H
    sets = hg.num_edges if direction == "v2e" else hg.num_nodes
    by_node = [[k for k, e in enumerate(EDGES) if v in e] for v in range(9)]
    members = EDGES if direction == "v2e" else by_node
    rows = []
    for s in range(sets):
        idx = torch.tensor(members[s], dtype=torch.long)
        if idx.numel() == 0:
            rows.append(value.new_zeros(H * C))
            continue
        a = torch.softmax(score[idx], dim=0)  # [|s|, H]
        if mask is not None:
            a = a * mask[s, idx]
        rows.append((a.unsqueeze(-1) * value[idx].view(-1, H, C)).sum(0).reshape(-1))
    return torch.stack(rows)


@pytest.mark.parametrize("direction", ["v2e", "e2v"])
@pytest.mark.parametrize("heads", [1, 3])
def test_attention_pool_equals_dense_softmax_with_a_dropout_mask(direction, heads):
    hg = _hg()
    layout = edge_layout(hg) if direction == "v2e" else node_layout(hg)
    torch.manual_seed(1)
    members = hg.num_nodes if direction == "v2e" else hg.num_edges
    value = torch.randn(members, heads * 2, dtype=torch.double, requires_grad=True)
    score = torch.randn(members, heads, dtype=torch.double, requires_grad=True)
    dense_mask = (torch.rand(layout.num_segments, members, heads) > 0.3).double() / 0.7
    seg = torch.repeat_interleave(torch.arange(layout.num_segments), layout.ptr.diff())
    mask = dense_mask[seg, layout.src]  # [nnz, H] in the layout's position order
    for m, dm in ((None, None), (mask, dense_mask)):
        got = attention_pool(value, score, hg, layout, m)
        expected = _dense_attention(value, score, hg, direction, dm)
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-10)
        w = torch.randn_like(got)
        for a, b in zip(_grads(got, [value, score], w), _grads(expected, [value, score], w)):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_fast_pooling_takes_csr_inputs():
    hg, pma, _ = _pma_case(2, "v2e", f_in=5)
    dense = torch.randn(9, 5, dtype=torch.double)
    dense[dense.abs() < 0.7] = 0.0
    assert pma_module.fast_path_applies(dense.to_sparse_csr(), hg)
    got = pma._pool_fast(dense.to_sparse_csr(), hg, "v2e")
    expected = pma._pool(dense, hg, "v2e") + pma.seed.reshape(1, -1)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-10)
    got.sum().backward()
    assert pma.lin_v.weight.grad is not None and pma.lin_k.weight.grad is not None
    pma.dropout = 0.5  # attention dropout on a CSR input: a dense mask per incidence
    assert pma._pool_fast(dense.to_sparse_csr(), hg, "v2e").shape == got.shape


def test_attention_dropout_keeps_its_distribution_and_eval_is_deterministic():
    hg, pma, x = _pma_case(2, "v2e", f_in=4)
    pma.dropout = 0.5
    pma.eval()
    torch.testing.assert_close(pma(x, hg), pma(x, hg))
    no_drop = pma._pool(x, hg, "v2e").detach() + pma.seed.detach().reshape(1, -1)  # eval mode: no dropout
    pma.train()
    outs = torch.stack([pma._pool_fast(x, hg, "v2e").detach() for _ in range(400)])
    assert not torch.equal(outs[0], outs[1])  # a fresh mask per call
    torch.testing.assert_close(outs.mean(0), no_drop, atol=0.15, rtol=0.0)  # E[mask] = 1


@pytest.mark.parametrize("heads,fold", [(1, False), (1, True), (2, False)])
def test_allset_transformer_model_step_is_unchanged(monkeypatch, heads, fold):
    """A training-mode forward (input and layer dropout on, same seed) and its gradients, fast path on vs off."""
    monkeypatch.setattr(pma_module, "fold_first_linear", lambda *a: fold)
    hg = _hg()
    x = torch.randn(9, 7)
    y = torch.randint(0, 3, (9,))

    def run(fast: bool):
        monkeypatch.setattr(pma_module, "fast_path_applies", lambda *a: fast)
        torch.manual_seed(3)
        model = build_model("allset-transformer", 7, 3, hidden_channels=8, heads=heads, num_layers=2).train()
        torch.manual_seed(4)
        loss = F.cross_entropy(model(x, hg), y)
        loss.backward()
        return loss.detach(), [p.grad for p in model.parameters()]

    (loss_a, g_a), (loss_b, g_b) = run(True), run(False)
    torch.testing.assert_close(loss_a, loss_b, atol=1e-6, rtol=1e-6)
    for a, b in zip(g_a, g_b):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("layer_norm", [True, False])
@pytest.mark.parametrize("mlp_layers", [1, 2, 3])
@pytest.mark.parametrize("direction", ["v2e", "e2v"])
def test_folded_first_linear_equals_the_plain_pma(monkeypatch, layer_norm, mlp_layers, direction):
    """The one-head PMA with the MLP's first Linear moved before the pooling (and the LayerNorm statistics taken
    apart) against the reference path, with LayerNorm affine parameters and inputs far from zero mean."""
    hg = _hg()
    torch.manual_seed(2)
    pma = hnn.PMA(5, 6, heads=1, mlp_layers=mlp_layers, layer_norm=layer_norm).double()
    if layer_norm:
        torch.nn.init.normal_(pma.ln0.weight)
        torch.nn.init.normal_(pma.ln0.bias)
    rows = hg.num_nodes if direction == "v2e" else hg.num_edges
    x = (torch.randn(rows, 5, dtype=torch.double) + 3.0).requires_grad_()
    monkeypatch.setattr(pma_module, "fold_first_linear", lambda *a: True)
    assert pma._folds(x, hg, direction)
    got = pma(x, hg, direction)
    monkeypatch.setattr(pma_module, "fast_path_applies", lambda *a: False)
    expected = pma(x, hg, direction)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-10)
    w = torch.randn_like(got)
    params = [x, *pma.parameters()]
    for a, b in zip(_grads(got, params, w), _grads(expected, params, w)):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-9)


def test_fold_rule_and_where_it_does_not_apply():
    hg, pma, x = _pma_case(2, "v2e", f_in=4)
    assert not pma._folds(x, hg, "v2e")  # two heads
    pma1 = hnn.PMA(4, 6, heads=1, dropout=0.3).train()
    assert not pma1._folds(x.float(), hg, "v2e")  # attention dropout in training
    # 4024 sets of 2012 members with 100 -> 256 channels (NTU2012's first layer): folding saves work
    layout = edge_layout(Hypergraph(4, [[0, 1], [1, 2], [2, 3], [0], [1], [2], [3], [0, 3]]))
    assert pma_module.fold_first_linear(torch.zeros(4, 2), layout, 64)
    assert not pma_module.fold_first_linear(torch.zeros(4, 500), layout, 64)


def test_conv_fused_relu_dropout_equals_the_unfused_edge_returning_path():
    hg = _hg()
    conv = hnn.AllSetTransformerConv(5, 6, heads=2, dropout=0.5).train()
    x = torch.randn(9, 5, requires_grad=True)
    torch.manual_seed(7)
    fused = conv(x, hg)
    g_fused = torch.autograd.grad(fused.sum(), [x, *conv.parameters()])
    torch.manual_seed(7)
    plain, _ = conv(x, hg, return_edges=True)
    g_plain = torch.autograd.grad(plain.sum(), [x, *conv.parameters()])
    torch.testing.assert_close(fused, plain)
    for a, b in zip(g_fused, g_plain):
        torch.testing.assert_close(a, b)
