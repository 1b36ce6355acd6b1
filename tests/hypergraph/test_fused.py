"""The CPU fast path of HGNN / HGNN+ (graphhyper.hypergraph.nn._fused) against the generic path and the formulas."""

import itertools

import pytest
import torch

from graphhyper.hypergraph import Hypergraph
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.nn import HGNNConv, HGNNPConv, _fused, dropout
from graphhyper.hypergraph.nn._utils import dropout_mask


def _small_edges() -> Hypergraph:
    g = torch.Generator().manual_seed(3)
    edges = [torch.randperm(40, generator=g)[: int(torch.randint(1, 4, (1,), generator=g))].tolist() for _ in range(60)]
    return Hypergraph(50, edges, hyperedge_weight=torch.rand(60, generator=g) + 0.5).add_self_loops()


GRAPHS = {
    # pairs of members: few (the node-by-node CSR matrix), many (the two incidence products), tiny (dense)
    "direct": _small_edges,
    "factored": lambda: Hypergraph(300, [list(range(250)), list(range(50, 300)), [1, 2], []], allow_empty_edges=True),
    "dense": lambda: Hypergraph(  # node 6 is isolated
        7,
        [[0, 1, 2], [2, 3], [3, 4, 5], [0, 5], []],
        hyperedge_weight=torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0]),
        allow_empty_edges=True,
    ),
}


def _form(op: _fused.Operator) -> str:
    if len(op.forward) == 2:
        return "factored"
    return "dense" if op.forward[0].layout == torch.strided else "direct"


def _reference_matrix(hg: Hypergraph, kind: str) -> torch.Tensor:
    """P from its definition, dense float64."""
    h = torch.zeros(hg.num_nodes, hg.num_edges, dtype=torch.float64)
    h[hg.inc_node, hg.inc_edge] = 1.0
    w = hg.hyperedge_weight.double()
    de = h.sum(0)
    de_inv = torch.where(de > 0, 1.0 / de.clamp(min=1), torch.zeros_like(de))
    dv = h @ w
    middle = h * (w * de_inv)
    if kind == "hgnn":
        s = torch.where(dv > 0, dv.clamp(min=1e-300).rsqrt(), torch.zeros_like(dv))
        return s[:, None] * (middle @ h.t()) * s[None, :]
    return torch.where(dv > 0, 1.0 / dv.clamp(min=1e-300), torch.zeros_like(dv))[:, None] * (middle @ h.t())


def _dense(m: torch.Tensor) -> torch.Tensor:
    return (m if m.layout == torch.strided else m.to_dense()).double()


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("kind", ["hgnn", "hgnnp"])
def test_operator_forms_equal_the_definition(graph, kind):
    hg = GRAPHS[graph]()
    op = _fused.operator(hg, kind, torch.float64)
    assert _form(op) == graph
    expected = _reference_matrix(hg, kind)
    forward = torch.linalg.multi_dot([_dense(m) for m in op.forward]) if len(op.forward) > 1 else _dense(op.forward[0])
    backward = (
        torch.linalg.multi_dot([_dense(m) for m in op.backward]) if len(op.backward) > 1 else _dense(op.backward[0])
    )
    assert torch.allclose(forward, expected, atol=1e-12)
    assert torch.allclose(backward, expected.t(), atol=1e-12)


def _outputs_and_grads(conv, x, dense_x, g, grad_x):
    out = conv(x, GRAPH)
    wrt = list(conv.parameters()) + ([dense_x] if grad_x else [])
    return [out, *torch.autograd.grad(out, wrt, g)]


@pytest.mark.parametrize(
    "graph,cls,channels,grad_x,sparse",
    [
        (graph, cls, channels, grad_x, sparse)
        for graph, cls, channels, grad_x, sparse in itertools.product(
            GRAPHS, [HGNNConv, HGNNPConv], [(4, 9), (9, 4), (7, 5)], [False, True], [False, True]
        )
        if not (grad_x and sparse)
    ],
)
def test_fused_layer_equals_the_generic_path(monkeypatch, graph, cls, channels, grad_x, sparse):
    global GRAPH
    GRAPH = GRAPHS[graph]()
    torch.manual_seed(0)
    conv = cls(*channels)
    x = torch.randn(GRAPH.num_nodes, channels[0])
    if sparse:
        x = x * (torch.rand_like(x) < 0.2)
    x.requires_grad_(grad_x)
    given = x.detach().to_sparse_csr() if sparse else x
    g = torch.randn(GRAPH.num_nodes, channels[1])
    assert _fused.applies(given, conv.lin.weight, None)
    fast = _outputs_and_grads(conv, given, x, g, grad_x)
    monkeypatch.setattr(_fused, "applies", lambda *args: False)
    generic = _outputs_and_grads(conv, given, x, g, grad_x)
    for a, b in zip(fast, generic):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def test_fast_path_is_skipped_for_trims_half_precision_and_the_triton_backend():
    x, w = torch.randn(5, 3), torch.randn(4, 3)
    assert _fused.applies(x, w, None)
    assert not _fused.applies(x, w, 2)
    assert not _fused.applies(x.half(), w.half(), None)
    assert not _fused.applies(x.to_sparse_csr().requires_grad_(), w, None)


def test_propagated_input_is_computed_once_per_tensor_version_and_hypergraph(monkeypatch):
    hg, other = GRAPHS["direct"](), _small_edges()
    x = torch.randn(hg.num_nodes, 3)
    op = _fused.operator(hg, "hgnn", torch.float32)
    calls = []
    real = _fused.Operator.apply
    monkeypatch.setattr(_fused.Operator, "apply", lambda self, t: calls.append(1) or real(self, t))
    first = _fused.propagated_input(x, hg, "hgnn", op)
    assert _fused.propagated_input(x, hg, "hgnn", op) is first and len(calls) == 1
    assert torch.allclose(first, _reference_matrix(hg, "hgnn").float() @ x, atol=1e-6)
    _fused.propagated_input(x, other, "hgnn", _fused.operator(other, "hgnn", torch.float32))
    assert len(calls) == 2  # another hypergraph
    x.mul_(2.0)
    again = _fused.propagated_input(x, other, "hgnn", _fused.operator(other, "hgnn", torch.float32))
    assert len(calls) == 3 and torch.allclose(again, _reference_matrix(other, "hgnn").float() @ x, atol=1e-5)


def test_model_takes_one_autograd_node_per_layer_and_keeps_nan_checks():
    hg = GRAPHS["direct"]()
    model = build_model("hgnn", 6, 3, hidden_channels=16)
    x = torch.randn(hg.num_nodes, 6)
    out = model(x, hg)
    names = []
    stack = [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None:
            names.append(type(node).__name__)
            stack.extend(n for n, _ in node.next_functions)
    assert names.count("_LayerBackward") == 2 and names.count("_ReluDropoutBackward") == 1
    with pytest.raises(Exception, match="NaN or inf"):
        HGNNConv(6, 2)(torch.full((hg.num_nodes, 6), float("nan")), hg)


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_relu_dropout_equals_dropout_of_relu_with_the_same_mask(p):
    x = torch.randn(64, 33, requires_grad=True)
    g = torch.randn(64, 33)
    torch.manual_seed(5)
    fused = _fused.relu_dropout(x, p, True)
    (gx_fused,) = torch.autograd.grad(fused, x, g)
    torch.manual_seed(5)
    plain = dropout(torch.relu(x), p, True)
    (gx_plain,) = torch.autograd.grad(plain, x, g)
    assert torch.equal(fused, plain) and torch.allclose(gx_fused, gx_plain)
    assert torch.equal(_fused.relu_dropout(x, p, False), torch.relu(x))


@pytest.mark.parametrize("p", [0.5, 0.25, 0.375])
def test_dyadic_dropout_mask_is_unbiased_at_every_bit_position(p):
    torch.manual_seed(0)
    mask = dropout_mask(torch.empty(24 * 20_000), p)
    values = mask.unique().tolist()
    assert values[0] == 0.0 and values[1:] == [pytest.approx(1 / (1 - p))]
    kept = (mask != 0).float().view(-1, 24).mean(0)  # 24 = the random bits used per draw at p = 0.5
    assert float((kept - (1 - p)).abs().max()) < 0.02
