"""Layers against their formulas (dense matrices, per-set loops) and against DHG / PyG where the rules coincide."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from graphhyper.hypergraph import DirectedHypergraph, Hypergraph, random_hypergraph
from graphhyper.hypergraph import nn as hnn

EDGES = [[0, 1, 2], [2, 3], [1, 3, 4, 5], [0, 5], [4, 6, 7], [6, 7], [0, 2, 4, 6]]
WEIGHTS = [1.0, 2.0, 0.5, 1.5, 3.0, 1.0, 0.7]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _dense(hg: Hypergraph):
    """``H [V, E]`` (float64), ``w [E]``, ``|e| [E]``, weighted ``d_v [V]``."""
    H = torch.zeros(hg.num_nodes, hg.num_edges, dtype=torch.float64)
    H[hg.inc_node, hg.inc_edge] = 1.0
    w = hg.hyperedge_weight.double()
    return H, w, H.sum(0), H @ w


def _inv(t: torch.Tensor, p: float = -1.0) -> torch.Tensor:
    return torch.where(t > 0, t.clamp(min=1e-300).pow(p), torch.zeros_like(t))


def _lin(layer_lin, x):
    return x.double() @ layer_lin.weight.double().t()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hgnn_equals_dense_formula_on_random_weighted_hypergraphs(seed):
    hg = random_hypergraph(25, 14, mean_edge_size=3.5, seed=seed, weighted=True)
    assert not torch.all(hg.hyperedge_weight == 1)
    x = torch.randn(25, 7)
    layer = hnn.HGNNConv(7, 5)
    torch.nn.init.normal_(layer.lin.bias)
    H, w, de, dv = _dense(hg)
    Dv = torch.diag(_inv(dv, -0.5))
    expected = Dv @ H @ torch.diag(w) @ torch.diag(_inv(de)) @ H.t() @ Dv @ _lin(layer.lin, x) + layer.lin.bias.double()
    torch.testing.assert_close(layer(x, hg).double(), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_hgnnp_and_hcha_weighted_mean_divides_by_weight_sum(seed):
    hg = random_hypergraph(20, 12, seed=seed, weighted=True)
    x = torch.randn(20, 6)
    H, w, de, dv = _dense(hg)
    for layer in (hnn.HGNNPConv(6, 4), hnn.HCHAConv(6, 4)):
        theta = layer.lin
        bias = (layer.lin.bias if isinstance(layer, hnn.HGNNPConv) else layer.bias).double()
        expected = torch.diag(_inv(dv)) @ H @ torch.diag(w) @ torch.diag(_inv(de)) @ H.t() @ _lin(theta, x)
        expected = expected + bias * (dv > 0).double()[:, None] + bias * (dv == 0).double()[:, None]
        torch.testing.assert_close(layer(x, hg).double(), expected, atol=1e-5, rtol=1e-5)


def test_hnhn_equals_normalised_formula():
    hg = Hypergraph(8, EDGES, hyperedge_weight=WEIGHTS)
    layer = hnn.HNHNConv(5, 3, hidden_channels=4, alpha=-1.5, beta=0.5)
    x = torch.randn(8, 5)
    H, w, de, _ = _dense(hg)
    dv_count = H.sum(1)
    a_v = dv_count.pow(0.5)  # d_v^beta
    y = (H.t() * a_v) @ (x.double() @ layer.lin_v2e.weight.double().t()) / (H.t() @ a_v)[:, None]
    y = torch.relu(y + layer.lin_v2e.bias.double())
    b_e = w * de.pow(-1.5)  # w_e |e|^alpha
    out = (H * b_e) @ (y @ layer.lin_e2v.weight.double().t()) / (H @ b_e)[:, None] + layer.lin_e2v.bias.double()
    torch.testing.assert_close(layer(x, hg).double(), out, atol=1e-5, rtol=1e-5)


def test_unigcnii_equals_formula():
    hg = Hypergraph(8, EDGES, hyperedge_weight=WEIGHTS)
    layer = hnn.UniGCNIIConv(5, alpha=0.2, lamda=0.5, layer=3)
    x, x0 = torch.randn(8, 5), torch.randn(8, 5)
    H, w, _, dv = _dense(hg)
    d_e = (H.t() @ dv) / H.sum(0)
    h_e = (H.t() @ x.double()) / H.sum(0)[:, None]
    prop = _inv(dv, -0.5)[:, None] * (H @ (w * _inv(d_e, -0.5))[:, None].mul(h_e))
    h = 0.8 * prop + 0.2 * x0.double()
    beta = math.log(0.5 / 3 + 1)
    expected = (1 - beta) * h + beta * (h @ layer.lin.weight.double().t())
    torch.testing.assert_close(layer(x, hg, x0=x0).double(), expected, atol=1e-5, rtol=1e-5)


def test_unigat_equals_per_node_softmax():
    hg = Hypergraph(8, EDGES)
    layer = hnn.UniGATConv(5, 3, heads=2).eval()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(8, 5)
    xt = layer.lin(x).view(8, 2, 3)
    out = torch.zeros(8, 2, 3)
    h_e = torch.stack([xt[torch.tensor(e)].mean(0) for e in EDGES])  # [E, 2, 3]
    s = F.leaky_relu((h_e * layer.att_e).sum(-1), 0.2)  # [E, 2]
    for v in range(8):
        es = [i for i, e in enumerate(EDGES) if v in e]
        a = torch.softmax(s[es], dim=0)  # [|E_v|, 2]
        out[v] = (a[..., None] * h_e[es]).sum(0)
    torch.testing.assert_close(layer(x, hg), out.reshape(8, 6) + layer.bias, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------------- DHG oracle
def _dhg_pairs(dhg):
    def copy(ours, theirs, pairs):
        for a, b in pairs:
            getattr(theirs, b).load_state_dict(getattr(ours, a).state_dict())
        return ours, theirs

    return {
        "HGNNConv": lambda: copy(hnn.HGNNConv(5, 3), dhg.nn.HGNNConv(5, 3, is_last=True), [("lin", "theta")]),
        "HGNNPConv": lambda: copy(hnn.HGNNPConv(5, 3), dhg.nn.HGNNPConv(5, 3, is_last=True), [("lin", "theta")]),
        "UniGCNConv": lambda: copy(hnn.UniGCNConv(5, 3), dhg.nn.UniGCNConv(5, 3, is_last=True), [("lin", "theta")]),
        "UniGINConv": lambda: copy(
            hnn.UniGINConv(5, 3, train_eps=False), dhg.nn.UniGINConv(5, 3, is_last=True), [("lin", "theta")]
        ),
        "HNHNConv": lambda: copy(
            hnn.HNHNConv(5, 3),
            dhg.nn.HNHNConv(5, 3, is_last=True),
            [("lin_v2e", "theta_v2e"), ("lin_e2v", "theta_e2v")],
        ),
    }


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", ["HGNNConv", "HGNNPConv", "UniGCNConv", "UniGINConv", "HNHNConv"])
def test_matches_dhg(name, weighted):
    dhg = pytest.importorskip("dhg")
    weights = WEIGHTS if weighted else None
    hg = Hypergraph(8, EDGES, hyperedge_weight=weights)
    ref = dhg.Hypergraph(8, EDGES, e_weight=weights)
    ours, theirs = _dhg_pairs(dhg)[name]()
    x = torch.randn(8, 5)
    torch.testing.assert_close(ours(x, hg), theirs(x, ref), atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------------- PyG oracle
def _pyg_conv(**kw):
    pyg = pytest.importorskip("torch_geometric.nn")
    return pyg.HypergraphConv(5, 3, **kw)


def test_hcha_matches_pyg_hypergraphconv_with_unit_weights():
    theirs = _pyg_conv()
    ours = hnn.HCHAConv(5, 3)
    theirs.lin.weight.data.copy_(ours.lin.weight)
    torch.nn.init.normal_(theirs.bias)
    ours.bias.data.copy_(theirs.bias)
    hg, x = Hypergraph(8, EDGES), torch.randn(8, 5)
    torch.testing.assert_close(ours(x, hg), theirs(x, hg.hyperedge_index), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode", ["node", "edge"])
def test_hcha_attention_matches_pyg(mode):
    theirs = _pyg_conv(use_attention=True, heads=2, attention_mode=mode).eval()
    ours = hnn.HCHAConv(5, 3, use_attention=True, heads=2, attention_mode=mode).eval()
    theirs.lin.weight.data.copy_(ours.lin.weight)
    theirs.att.data.copy_(ours.att)
    torch.nn.init.normal_(ours.bias)
    theirs.bias.data.copy_(ours.bias)
    hg, x, z = Hypergraph(8, EDGES), torch.randn(8, 5), torch.randn(len(EDGES), 5)
    torch.testing.assert_close(ours(x, hg, hyperedge_attr=z), theirs(x, hg.hyperedge_index, hyperedge_attr=z))


def test_hcha_honours_weights_where_pyg_ignores_them():
    theirs, ours = _pyg_conv(), hnn.HCHAConv(5, 3)
    theirs.lin.weight.data.copy_(ours.lin.weight)
    w = torch.tensor(WEIGHTS)
    hg, x = Hypergraph(8, EDGES, hyperedge_weight=w), torch.randn(8, 5)
    H, wd, de, dv = _dense(hg)
    expected = torch.diag(1 / dv) @ H @ torch.diag(wd) @ torch.diag(1 / de) @ H.t() @ _lin(ours.lin, x)
    torch.testing.assert_close(ours(x, hg).double(), expected, atol=1e-5, rtol=1e-5)
    pyg_out = theirs(x, hg.hyperedge_index, hyperedge_weight=w)
    assert (pyg_out - ours(x, hg)).abs().max() > 1e-2  # PyG uses w only in D_v, not in the messages


# ---------------------------------------------------------------------------------------------- HyperGCN
def _hypergcn_dense_adjacency(x: torch.Tensor, edges, weights, r: torch.Tensor, mediators: bool) -> torch.Tensor:
    A = torch.zeros(x.size(0), x.size(0), dtype=torch.float64)
    p = x.double() @ r
    for e, w in zip(edges, weights):
        if len(e) < 2:
            continue
        vals = p[e]
        i = e[int(torch.argmax(vals))]  # first maximum
        j = e[len(e) - 1 - int(torch.argmin(vals.flip(0)))]  # last minimum
        c = w / (2 * len(e) - 3) if mediators else w / len(e)
        pairs = [(i, j)] + ([(a, u) for u in e if u not in (i, j) for a in (i, j)] if mediators else [])
        for a, b in pairs:
            A[a, b] += c
            A[b, a] += c
    return A


@pytest.mark.parametrize("mediators", [True, False])
def test_hypergcn_graph_and_propagation_match_dense_construction(mediators):
    hg = Hypergraph(8, EDGES, hyperedge_weight=WEIGHTS)
    x = torch.randn(8, 5)
    graph = hnn.hypergcn_graph(x, hg, mediators, generator=torch.Generator().manual_seed(7))
    r = torch.rand(5, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    A = _hypergcn_dense_adjacency(x, [sorted(e) for e in EDGES], WEIGHTS, r, mediators)
    Hg, wg, _, _ = _dense(graph)
    A_got = Hg @ torch.diag(wg) @ Hg.t()
    A_got.fill_diagonal_(0.0)
    torch.testing.assert_close(A_got, A, atol=1e-6, rtol=1e-6)
    layer = hnn.HyperGCNConv(5, 3, use_mediator=mediators)
    torch.nn.init.normal_(layer.lin.bias)
    Ai = A + torch.eye(8, dtype=torch.float64)
    D = torch.diag(Ai.sum(1).pow(-0.5))
    expected = D @ Ai @ D @ _lin(layer.lin, x) + layer.lin.bias.double()
    torch.testing.assert_close(layer(x, hg, graph=graph).double(), expected, atol=1e-5, rtol=1e-5)


def test_fasthypergcn_builds_its_graph_once():
    hg, x = Hypergraph(8, EDGES), torch.randn(8, 5)
    layer = hnn.HyperGCNConv(5, 3, fast=True)
    torch.manual_seed(1)
    first = layer(x, hg)
    torch.manual_seed(2)
    torch.testing.assert_close(layer(x, hg), first)


# ---------------------------------------------------------------------------------------------- set-based layers
def _sets(hg: Hypergraph):
    by_edge = [torch.nonzero(hg.inc_edge == e).flatten() for e in range(hg.num_edges)]
    by_node = [torch.nonzero(hg.inc_node == v).flatten() for v in range(hg.num_nodes)]
    return by_edge, by_node


def test_edhnn_equals_loop_reference():
    hg = Hypergraph(8, EDGES)
    layer = hnn.EDHNNConv(5, 5, mlp1_layers=2, mlp2_layers=2, mlp3_layers=1, aggr="sum", alpha=0.3).eval()
    x = torch.randn(8, 5)
    m = torch.stack([layer.phi1(x[torch.tensor(e)]).sum(0) for e in EDGES])
    out = torch.zeros(8, 5)
    for k, e in enumerate(EDGES):
        for v in e:
            out[v] += layer.phi2(torch.cat([x[v], m[k]])[None])[0]
    expected = layer.phi3(0.7 * out + 0.3 * x)
    torch.testing.assert_close(layer(x, hg), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("aggr", ["sum", "mean"])
@pytest.mark.parametrize("mlp2_layers", [0, 1])
def test_edhnn_reduced_phi2_equals_per_incidence_loop(aggr, mlp2_layers):
    """With phi2 one Linear (or none) the layer reduces m to the nodes before projecting; values and gradients
    equal the per-incidence definition, with hyperedge weights and a node in no hyperedge (node 8: output 0)."""
    hg = Hypergraph(9, EDGES, hyperedge_weight=WEIGHTS)
    torch.manual_seed(0)
    layer = hnn.EDHNNConv(5, 5, mlp1_layers=1, mlp2_layers=mlp2_layers, mlp3_layers=1, aggr=aggr, alpha=0.3).eval()
    x = torch.randn(9, 5, requires_grad=True)
    got = layer(x, hg)
    m = []
    for e in EDGES:
        rows = layer.phi1(x[torch.tensor(e)])
        m.append(rows.sum(0) if aggr == "sum" else rows.mean(0))
    out = [torch.zeros(5) for _ in range(9)]
    total = [0.0] * 9
    for k, e in enumerate(EDGES):
        for v in e:
            msg = m[k] if layer.phi2 is None else layer.phi2(torch.cat([x[v], m[k]])[None])[0]
            out[v] = out[v] + WEIGHTS[k] * msg
            total[v] += WEIGHTS[k]
    if aggr == "mean":
        out = [o / t if t else o for o, t in zip(out, total)]
    expected = layer.phi3(0.7 * torch.stack(out) + 0.3 * x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[8], layer.phi3(0.3 * x[8:9])[0])  # the isolated node: restart term only
    params = [x, *layer.parameters()]
    g_got = torch.autograd.grad(got.square().sum(), params)
    g_exp = torch.autograd.grad(expected.square().sum(), params)
    for a, b in zip(g_got, g_exp):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_pma_equals_per_set_attention():
    hg = Hypergraph(8, EDGES)
    pma = hnn.PMA(5, 4, heads=2).eval()
    x = torch.randn(8, 5)
    got = pma(x, hg, "v2e")
    K, V = pma.lin_k(x).view(8, 2, 2), pma.lin_v(x).view(8, 2, 2)
    for k, e in enumerate(EDGES):
        e = torch.tensor(e)
        a = torch.softmax(F.leaky_relu((K[e] * pma.seed).sum(-1), 0.2), dim=0)  # [|e|, 2]
        o = pma.ln0(((a[..., None] * V[e]).sum(0) + pma.seed[0]).reshape(4))
        torch.testing.assert_close(got[k], pma.ln1(o + torch.relu(pma.mlp(o[None])[0])), atol=1e-5, rtol=1e-5)


def test_unp_and_isab_blocks_equal_per_set_reference():
    hg = Hypergraph(8, EDGES)
    by_edge, by_node = _sets(hg)
    h = torch.randn(hg.nnz, 4)
    for group, sets in (("edge", by_edge), ("node", by_node)):
        unp = hnn.UNPBlock(4, group).eval()
        got = unp(h, hg)
        for s in sets:
            pooled = unp.phi1(h[s]).mean(0, keepdim=True).expand(len(s), -1)
            torch.testing.assert_close(got[s], unp.phi2(torch.cat([h[s], pooled], -1)), atol=1e-5, rtol=1e-5)
        isab = hnn.ISABBlock(4, group, heads=2, num_inducing=3).eval()
        got = isab(h, hg)
        for s in sets:
            torch.testing.assert_close(got[s], _isab_reference(isab, h[s]), atol=1e-5, rtol=1e-5)


def _mab(q, k, v, heads, out):
    """Set-Transformer MAB on one set: ``q [n, C]`` (projected), ``k, v [m, C]`` (projected)."""
    C = q.size(1)
    d = C // heads
    att = torch.softmax(torch.einsum("nhd,mhd->nmh", q.view(-1, heads, d), k.view(-1, heads, d)) / math.sqrt(C), 1)
    o = q + torch.einsum("nmh,mhd->nhd", att, v.view(-1, heads, d)).reshape(-1, C)
    return out(o)


def _isab_reference(b, hs):
    H = _mab(b.q0(b.inducing), b.k0(hs), b.v0(hs), b.heads, b.out0)
    return _mab(b.q1(hs), b.k1(H), b.v1(H), b.heads, b.out1)


def test_hdhgn_uses_direction_and_types():
    layer = hnn.HDHGNConv(4, num_node_types=2, num_edge_types=2, heads=2).eval()
    pairs = [([0, 1], [2]), ([2, 3], [4]), ([1], [3, 4])]
    flipped = [(h, t) for t, h in pairs]
    nt, et = torch.tensor([0, 1, 0, 1, 1]), torch.tensor([0, 1, 1])
    x = torch.randn(5, 4)
    base = layer(x, DirectedHypergraph(5, pairs, node_type=nt, edge_type=et))
    assert not torch.allclose(base, layer(x, DirectedHypergraph(5, flipped, node_type=nt, edge_type=et)))
    assert not torch.allclose(base, layer(x, DirectedHypergraph(5, pairs, node_type=1 - nt, edge_type=et)))
    assert not torch.allclose(base, layer(x, DirectedHypergraph(5, pairs, node_type=nt, edge_type=1 - et)))
    with pytest.raises(Exception, match="num_node_types"):
        hnn.HDHGNConv(4, num_node_types=1, num_edge_types=2, heads=2)(
            x, DirectedHypergraph(5, pairs, node_type=nt, edge_type=et)
        )


@pytest.mark.parametrize("operator", ["hgnn", "hgnnp"])
def test_appnp_equals_the_dense_recursion_and_its_fixed_point(operator):
    hg = random_hypergraph(18, 9, mean_edge_size=3.0, seed=4, weighted=True).add_self_loops()
    x = torch.randn(18, 5)
    H, w, de, dv = _dense(hg)
    if operator == "hgnn":
        Dv = torch.diag(_inv(dv, -0.5))
        P = Dv @ H @ torch.diag(w) @ torch.diag(_inv(de)) @ H.t() @ Dv
    else:
        P = torch.diag(_inv(dv)) @ H @ torch.diag(w) @ torch.diag(_inv(de)) @ H.t()
    alpha, z = 0.15, x.double()
    for _ in range(6):
        z = (1 - alpha) * P @ z + alpha * x.double()
    layer = hnn.HypergraphAPPNP(num_steps=6, alpha=alpha, operator=operator)
    torch.testing.assert_close(layer(x, hg).double(), z, atol=1e-5, rtol=1e-5)
    # many steps converge to personalised PageRank: alpha (I - (1 - alpha) P)^-1 x
    fixed = alpha * torch.linalg.solve(torch.eye(18, dtype=torch.float64) - (1 - alpha) * P, x.double())
    far = hnn.HypergraphAPPNP(num_steps=200, alpha=alpha, operator=operator)
    torch.testing.assert_close(far(x, hg).double(), fixed, atol=1e-4, rtol=1e-4)


def test_appnp_keeps_isolated_nodes_and_checks_its_arguments():
    from graphhyper.errors import InvalidInputError

    hg = Hypergraph(5, [[0, 1, 2], [1, 2]]).add_self_loops()  # nodes 3, 4: self-loop only
    x = torch.randn(5, 3)
    out = hnn.HypergraphAPPNP(num_steps=7, alpha=0.1)(x, hg)
    torch.testing.assert_close(out[3:], x[3:])
    assert not torch.allclose(out[:3], x[:3])
    assert torch.equal(hnn.HypergraphAPPNP(num_steps=0)(x, hg), x)
    for kwargs, match in (({"num_steps": -1}, "num_steps"), ({"alpha": 1.5}, "alpha"), ({"operator": "x"}, "operator")):
        with pytest.raises(InvalidInputError, match=match):
            hnn.HypergraphAPPNP(**kwargs)
