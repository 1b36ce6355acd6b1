"""Properties every hypergraph layer must have: shapes, gradients, hyperedge_index input, reset_parameters,
permutation equivariance, isolated nodes, empty input and clear errors on bad input."""

from __future__ import annotations

import pytest
import torch

from graphhyper.errors import GraphhyperError, InvalidInputError
from graphhyper.hypergraph import Hypergraph
from graphhyper.hypergraph import nn as hnn

F_IN = 6
EDGES = [[0, 1, 2], [2, 3], [1, 3, 4, 5], [0, 5], [4, 6, 7], [6, 7], [0, 2, 4, 6]]
WEIGHTS = [1.0, 2.0, 0.5, 1.5, 3.0, 1.0, 0.7]

# name -> (factory, output width, per-incidence layer)
LAYERS = {
    "hgnn": (lambda: hnn.HGNNConv(F_IN, 4), 4, False),
    "hgnnp": (lambda: hnn.HGNNPConv(F_IN, 4), 4, False),
    "hnhn": (lambda: hnn.HNHNConv(F_IN, 4, hidden_channels=5, alpha=0.5, beta=-0.5), 4, False),
    "hypergcn": (lambda: hnn.HyperGCNConv(F_IN, 4), 4, False),
    "hypergcn-nomediator": (lambda: hnn.HyperGCNConv(F_IN, 4, use_mediator=False), 4, False),
    "fasthypergcn": (lambda: hnn.HyperGCNConv(F_IN, 4, fast=True), 4, False),
    "unigcn": (lambda: hnn.UniGCNConv(F_IN, 4), 4, False),
    "unigat": (lambda: hnn.UniGATConv(F_IN, 3, heads=2), 6, False),
    "unigin": (lambda: hnn.UniGINConv(F_IN, 4), 4, False),
    "unigcnii": (lambda: hnn.UniGCNIIConv(F_IN, layer=2), F_IN, False),
    "hcha": (lambda: hnn.HCHAConv(F_IN, 4), 4, False),
    "hcha-attention": (lambda: hnn.HCHAConv(F_IN, 3, use_attention=True, heads=2), 6, False),
    "alldeepsets": (lambda: hnn.AllDeepSetsConv(F_IN, 4, hidden_channels=8), 4, False),
    "allsettransformer": (lambda: hnn.AllSetTransformerConv(F_IN, 4, heads=2), 4, False),
    "edhnn": (lambda: hnn.EDHNNConv(F_IN, 4, aggr="mean"), 4, False),
    "edhnn-restart": (lambda: hnn.EDHNNConv(F_IN, F_IN, mlp2_layers=2), F_IN, False),
    "hdhgn": (lambda: hnn.HDHGNConv(F_IN, heads=2), F_IN, False),
    "conhd-unp": (lambda: hnn.CoNHDConv(F_IN, operator="unp"), F_IN, True),
    "conhd-isab": (lambda: hnn.CoNHDConv(F_IN, operator="isab", heads=2, num_inducing=3), F_IN, True),
    "appnp": (lambda: hnn.HypergraphAPPNP(num_steps=4, alpha=0.2), F_IN, False),
    "appnp-hgnnp": (lambda: hnn.HypergraphAPPNP(num_steps=3, alpha=0.3, operator="hgnnp"), F_IN, False),
}
NAMES = sorted(LAYERS)
PARAMETER_FREE = {"appnp", "appnp-hgnnp"}  # propagation only: gradients reach the input, there are no weights


def _make(name: str) -> tuple[torch.nn.Module, int, bool]:
    torch.manual_seed(0)
    factory, width, per_incidence = LAYERS[name]
    return factory().eval(), width, per_incidence


def _inputs(hg: Hypergraph, per_incidence: bool, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(hg.num_nodes, F_IN, generator=gen)
    if not per_incidence:
        return x
    z = torch.randn(hg.num_edges, F_IN, generator=gen)
    return x[hg.inc_node] + z[hg.inc_edge]  # a state per (node, hyperedge) pair


def _call(layer, inp, hg, seed: int = 0):
    torch.manual_seed(seed)  # HyperGCN draws its random projection
    if isinstance(layer, hnn.CoNHDConv) and isinstance(hg, torch.Tensor):
        return layer(inp, hg, num_nodes=8)
    return layer(inp, hg)


@pytest.mark.parametrize("name", NAMES)
def test_forward_shape_and_finite_gradients(name):
    layer, width, per_inc = _make(name)
    layer.train()
    hg = Hypergraph(8, EDGES, hyperedge_weight=WEIGHTS)
    inp = _inputs(hg, per_inc).requires_grad_(True)
    out = _call(layer, inp, hg)
    assert out.shape == ((hg.nnz if per_inc else 8), width)
    assert torch.isfinite(out).all()
    (out * torch.randn_like(out)).sum().backward()
    assert inp.grad is not None and torch.isfinite(inp.grad).all() and inp.grad.abs().sum() > 0
    grads = [p.grad for p in layer.parameters() if p.grad is not None]
    if name in PARAMETER_FREE:
        assert not list(layer.parameters())
        return
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", NAMES)
def test_hyperedge_index_input_matches_hypergraph(name):
    layer, _, per_inc = _make(name)
    hg = Hypergraph(8, EDGES)
    inp = _inputs(hg, per_inc)
    expected = _call(layer, inp, hg)
    got = _call(layer, inp, hg.hyperedge_index)
    torch.testing.assert_close(got, expected)
    gaps = hg.hyperedge_index * torch.tensor([[1], [2]])  # unused hyperedge ids, as PyG allows
    torch.testing.assert_close(_call(layer, inp, gaps), expected)


def test_conhd_accepts_unsorted_hyperedge_index_columns():
    layer, _, _ = _make("conhd-unp")
    hg = Hypergraph(8, EDGES)
    h = _inputs(hg, True)
    perm = torch.randperm(hg.nnz, generator=torch.Generator().manual_seed(3))
    out = layer(h[perm], hg.hyperedge_index[:, perm], num_nodes=8)
    torch.testing.assert_close(out, layer(h, hg)[perm])


@pytest.mark.parametrize("name", NAMES)
def test_reset_parameters_changes_parameters(name):
    layer, _, _ = _make(name)
    before = {k: v.detach().clone() for k, v in layer.state_dict().items()}
    torch.manual_seed(123)
    layer.reset_parameters()
    changed = [k for k, v in layer.state_dict().items() if not torch.equal(v, before[k])]
    assert changed or (name in PARAMETER_FREE and not before), "reset_parameters left every parameter unchanged"


def _permuted(hg: Hypergraph, perm: torch.Tensor) -> Hypergraph:
    index = torch.stack([perm[hg.inc_node], hg.inc_edge])
    return Hypergraph(hg.num_nodes, hyperedge_index=index, num_edges=hg.num_edges, hyperedge_weight=hg.hyperedge_weight)


@pytest.mark.parametrize("name", NAMES)
def test_node_permutation_equivariance(name):
    layer, _, per_inc = _make(name)
    hg = Hypergraph(8, EDGES, hyperedge_weight=WEIGHTS)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(1))
    hg2 = _permuted(hg, perm)
    inp = _inputs(hg, per_inc)
    out = _call(layer, inp, hg)
    if not per_inc:
        x2 = torch.empty_like(inp)
        x2[perm] = inp
        out2 = _call(layer, x2, hg2)
        torch.testing.assert_close(out2[perm], out, atol=1e-5, rtol=1e-4)
        return
    # per-incidence states: match incidences by (hyperedge, original node)
    inv = torch.argsort(perm)
    key1 = hg.inc_edge * 8 + hg.inc_node
    key2 = hg2.inc_edge * 8 + inv[hg2.inc_node]
    o1, o2 = torch.argsort(key1), torch.argsort(key2)
    inp2 = torch.empty_like(inp)
    inp2[o2] = inp[o1]
    out2 = _call(layer, inp2, hg2)
    torch.testing.assert_close(out2[o2], out[o1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_isolated_nodes_get_finite_outputs(name):
    layer, width, per_inc = _make(name)
    hg = Hypergraph(10, EDGES)  # nodes 8 and 9 are in no hyperedge
    out = _call(layer, _inputs(hg, per_inc), hg)
    assert out.shape == ((hg.nnz if per_inc else 10), width)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_empty_hypergraph(name):
    layer, width, per_inc = _make(name)
    hg = Hypergraph(4, hyperedge_index=torch.empty(2, 0, dtype=torch.long))  # nodes, no hyperedges
    out = _call(layer, _inputs(hg, per_inc), hg)
    assert out.shape == ((0 if per_inc else 4), width)
    assert torch.isfinite(out).all()
    none = Hypergraph(0, hyperedge_index=torch.empty(2, 0, dtype=torch.long))  # nothing at all
    assert _call(layer, _inputs(none, per_inc), none).shape == (0, width)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_clear_error(name):
    layer, _, per_inc = _make(name)
    hg = Hypergraph(8, EDGES)
    rows = hg.nnz if per_inc else 8
    if name in PARAMETER_FREE:  # propagates a signal of any width
        assert _call(layer, torch.randn(rows, F_IN + 1), hg).shape == (rows, F_IN + 1)
    else:
        with pytest.raises(InvalidInputError, match="channels"):
            _call(layer, torch.randn(rows, F_IN + 1), hg)
    with pytest.raises(GraphhyperError):
        _call(layer, _inputs(hg, per_inc), [[0, 1]])
    with pytest.raises(InvalidInputError):
        _call(layer, _inputs(hg, per_inc), torch.zeros(3, 4, dtype=torch.long))
    if not per_inc:
        with pytest.raises(InvalidInputError, match="rows|nodes"):
            layer(torch.randn(9, F_IN), hg)
    assert type(layer).__name__ in repr(layer)


def test_models_reject_wrong_options():
    with pytest.raises(InvalidInputError, match="heads"):
        hnn.HCHAConv(4, 4, heads=2)
    with pytest.raises(InvalidInputError, match="divisible"):
        hnn.AllSetTransformerConv(4, 6, heads=4)
    with pytest.raises(InvalidInputError, match="aggr"):
        hnn.EDHNNConv(4, 4, aggr="median")
    with pytest.raises(InvalidInputError, match="operator"):
        hnn.CoNHDConv(4, operator="sab")
    with pytest.raises(InvalidInputError, match="layer"):
        hnn.UniGCNIIConv(4, layer=0)


@pytest.mark.parametrize("name", [n for n in NAMES if "hypergcn" not in n])
def test_gradcheck_float64(name):
    """Analytic input gradients equal finite differences (HyperGCN is excluded: its graph is piecewise constant)."""
    layer, _, per_inc = _make(name)
    layer = layer.double()
    hg = Hypergraph(5, [[0, 1, 2], [2, 3], [1, 3, 4]], hyperedge_weight=[1.0, 2.0, 0.5])
    gen = torch.Generator().manual_seed(0)
    inp = torch.randn(hg.nnz if per_inc else 5, F_IN, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: layer(t, hg), (inp,), eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize("layers", [1, 2])
def test_edhnn_split_phi2_equals_phi2_on_the_concatenation(layers):
    """ED-HNN projects x_v and m_e separately and adds them per incidence: the same rows as phi2([x_v || m_e])."""
    from graphhyper.hypergraph import Hypergraph, ops
    from graphhyper.hypergraph.nn import EDHNNConv

    torch.manual_seed(0)
    hg = Hypergraph(6, [[0, 1, 2], [2, 3], [3, 4, 5, 0]])
    conv = EDHNNConv(5, 8, mlp2_layers=layers, norm="ln").eval()
    x, m = torch.randn(6, 5), torch.randn(3, 8)
    expected = conv.phi2(torch.cat([ops.gather_nodes(x, hg), ops.gather_edges(m, hg)], dim=-1))
    torch.testing.assert_close(conv._phi2(x, m, hg), expected, rtol=1e-5, atol=1e-5)
