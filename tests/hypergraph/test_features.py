"""Sparse feature inputs and once-per-tensor input checks (graphhyper.hypergraph.features)."""

from __future__ import annotations

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import features, ops
from graphhyper.hypergraph.models import build_model

HG = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 3]])


def bag_of_words(rows: int = 40, cols: int = 30, density: float = 0.05, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(rows, cols, generator=g) < density).float() * torch.rand(rows, cols, generator=g)


@pytest.fixture
def count_scans(monkeypatch):
    """Count the NaN/inf scans (calls of torch.isfinite) made by the checks."""
    calls = []
    real = torch.isfinite

    def counting(t):
        calls.append(t.shape)
        return real(t)

    monkeypatch.setattr(features.torch, "isfinite", counting)
    return calls


def test_sparse_features_converts_sparse_matrices_once_and_after_in_place_changes():
    x = bag_of_words()
    xs = features.sparse_features(x)
    assert xs.layout == torch.sparse_csr and torch.equal(xs.to_dense(), x)
    assert features.sparse_features(x) is xs  # remembered: no second conversion
    x[0, 0] = 7.0  # an in-place change bumps x._version: converted afresh
    again = features.sparse_features(x)
    assert again is not xs and again.to_dense()[0, 0] == 7.0
    dense = torch.rand(40, 30) + 0.1
    assert features.sparse_features(dense) is dense  # every entry non-zero: stays dense
    assert features.sparse_features(x, max_density=0.0) is x
    assert features.sparse_features(x.bfloat16()).layout == torch.strided  # no CPU CSR kernels for half types
    assert features.sparse_features(x.requires_grad_()) is x  # features that need a gradient stay dense


@pytest.mark.parametrize("bias", [True, False])
def test_csr_linear_matches_dense_in_values_and_weight_gradients(bias):
    x = bag_of_words(50, 40, 0.1)
    weight = torch.randn(16, 40, requires_grad=True)
    b = torch.randn(16, requires_grad=True) if bias else None
    grad = torch.randn(50, 16)
    dense = torch.nn.functional.linear(x, weight, b)
    dense.backward(grad)
    expected = [weight.grad.clone()] + ([b.grad.clone()] if bias else [])
    weight.grad = None
    if b is not None:
        b.grad = None
    out = features.linear(features.sparse_features(x), weight, b)
    out.backward(grad)
    torch.testing.assert_close(out, dense, rtol=1e-5, atol=1e-5)
    got = [weight.grad] + ([b.grad] if bias else [])
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def test_csr_dropout_keeps_the_structure_and_drops_stored_entries():
    xs = features.sparse_features(bag_of_words(200, 30, 0.08))
    torch.manual_seed(0)
    out = features.dropout(xs, 0.5, training=True)
    assert out.layout == torch.sparse_csr and torch.equal(out.col_indices(), xs.col_indices())
    kept = out.values() != 0
    assert 0.3 < kept.float().mean() < 0.7
    torch.testing.assert_close(out.values()[kept], 2 * xs.values()[kept])
    weight = torch.randn(5, 30, requires_grad=True)
    features.linear(out, weight).sum().backward()  # the transpose is shared with xs
    torch.testing.assert_close(weight.grad, out.to_dense().sum(0).expand(5, 30))


def test_finite_check_scans_a_tensor_once_until_it_changes(count_scans):
    x = torch.rand(20, 4)
    features.check_finite(x)
    features.check_finite(x)
    assert len(count_scans) == 1
    x[3, 1] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN or inf"):
        features.check_finite(x)
    x[3, 1] = 0.0
    features.check_finite(x)
    assert len(count_scans) == 3


def test_model_checks_features_once_per_tensor_and_rechecks_after_in_place_change(count_scans):
    x = torch.rand(40, 6)
    model = build_model("hgnn", 6, 3, hidden_channels=8)
    for _ in range(3):
        model(x, HG)
    assert count_scans == [x.shape]  # intermediates are not scanned, the features once
    x[5, 2] = float("inf")
    with pytest.raises(InvalidInputError, match="NaN or inf"):
        model(x, HG)


def test_ops_still_check_their_inputs_outside_models():
    from graphhyper.hypergraph import Hypergraph

    hg = Hypergraph(3, [[0, 1], [1, 2]])
    x = torch.tensor([[1.0], [float("nan")], [0.0]])
    with pytest.raises(InvalidInputError, match="NaN or inf"):
        ops.v2e(x, hg)
    with ops.trusted_inputs():
        assert ops.v2e(x, hg).shape == (2, 1)
    with pytest.raises(InvalidInputError, match="NaN or inf"):
        ops.v2e(x, hg)


def _first_input_layout(model, x):
    """Layout of what the model's first layer receives (a conv's or MLP's input)."""
    seen = []
    module = model.mlp if hasattr(model, "mlp") else model.convs[0]
    handle = module.register_forward_pre_hook(lambda m, args: seen.append(args[0].layout))
    model(x, HG)
    handle.remove()
    return seen[0] if seen else None


@pytest.mark.parametrize("name", ["hgnn", "hgnnp", "unigcnii", "allset-transformer", "ed-hnn", "mlp"])
def test_models_choose_csr_for_sparse_features_with_dense_results(name):
    x = bag_of_words()
    kw = dict(hidden_channels=8, num_layers=3) if name == "unigcnii" else dict(hidden_channels=8)
    torch.manual_seed(0)
    model = build_model(name, 30, 3, **kw)
    model.eval()
    if name not in ("ed-hnn", "unigcnii"):  # their lin_in is no module call when the input is sparse
        assert _first_input_layout(model, x) == torch.sparse_csr
    outs, grads = [], []
    for layout in ("auto", "dense", "sparse"):
        model.feature_layout = layout
        out = model(x, HG)
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
        model.zero_grad(set_to_none=True)
    for other, other_grads in zip(outs[1:], grads[1:]):
        torch.testing.assert_close(other, outs[0], rtol=1e-4, atol=1e-5)
        for g, e in zip(other_grads, grads[0]):
            torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


def test_feature_layout_dense_keeps_the_dense_product_and_bad_values_are_refused():
    x = bag_of_words()
    model = build_model("hgnn", 30, 3, hidden_channels=8, feature_layout="dense")
    assert model.feature_layout == "dense" and _first_input_layout(model, x) == torch.strided
    assert _first_input_layout(model, x.to_sparse_csr()) == torch.strided  # CSR input densified
    assert _first_input_layout(build_model("hgnn", 30, 3), x) == torch.sparse_csr
    dense_x = torch.rand(40, 30) + 0.5
    assert _first_input_layout(build_model("hgnn", 30, 3), dense_x) == torch.strided  # dense data stays dense
    with pytest.raises(InvalidInputError, match="feature_layout"):
        build_model("hgnn", 30, 3, feature_layout="csr")
    model.feature_layout = "csr"
    with pytest.raises(InvalidInputError, match="feature_layout"):
        model(x, HG)


def test_sparse_training_with_input_dropout_fits_like_dense():
    """The sparse path trains through input dropout on the stored entries: Adam from the same start fits a
    learnable labelling as well as the dense path."""
    x = bag_of_words(40, 30, 0.3, seed=1)
    y = (x @ torch.randn(30, 3, generator=torch.Generator().manual_seed(2))).argmax(-1)
    losses = {}
    seen: list[torch.layout] = []
    for layout in ("dense", "sparse"):
        torch.manual_seed(0)
        model = build_model("unigcnii", 30, 3, hidden_channels=16, num_layers=1, dropout=0.0, input_dropout=0.3)
        model.feature_layout = layout
        model.lin_in.register_forward_pre_hook(lambda m, args: seen.append(args[0].layout))
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(60):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x, HG), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            losses[layout] = float(torch.nn.functional.cross_entropy(model(x, HG), y))
    assert set(seen) == {torch.strided}  # the sparse run never calls the lin_in module (no dense input)
    assert losses["sparse"] < 0.7 and losses["dense"] < 0.7  # both fit (log 3 = 1.10 at the start)


def test_hyperedge_index_is_wrapped_once_per_tensor_and_not_kept_alive():
    import gc
    import weakref

    from graphhyper.hypergraph.nn import as_hypergraph

    index = HG.clone()
    hg = as_hypergraph(index, 40)
    assert as_hypergraph(index, 40) is hg  # no second sort and validation
    assert as_hypergraph(index, 41) is not hg and as_hypergraph(index, 41).num_nodes == 41
    index[0, 0] = 12  # in place: wrapped afresh
    nodes = as_hypergraph(index, 40).hyperedge_index[0].tolist()
    assert 12 in nodes and 0 not in nodes
    alive = weakref.ref(index)
    del index, hg
    gc.collect()
    assert alive() is None  # the remembered Hypergraph does not hold the index tensor


def test_csr_features_given_by_the_user_are_used_as_they_are_with_int32_indices():
    x = bag_of_words()
    given = x.to_sparse_csr()
    model = build_model("hgnn", 30, 3, hidden_channels=8).eval()
    seen = []
    model.convs[0].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    torch.testing.assert_close(model(given, HG), model(x, HG), rtol=1e-5, atol=1e-5)
    assert seen[0].layout == torch.sparse_csr and seen[0].crow_indices().dtype == torch.int32
    model(given, HG)
    assert seen[2] is seen[0]  # converted once


def test_inference_mode_tensors_are_checked_every_call_and_not_remembered(count_scans):
    model = build_model("hgnn", 30, 3, hidden_channels=8).eval()
    dense = bag_of_words()
    expected = model(dense, HG)
    with torch.inference_mode():
        x, index = dense.clone(), HG.clone()
        for _ in range(2):
            torch.testing.assert_close(model(x, index), expected, rtol=1e-5, atol=1e-5)
        x[0, 0] = float("nan")  # in place, unseen by a version counter: the next call must still scan
        with pytest.raises(InvalidInputError, match="NaN or inf"):
            model(x, index)
        assert features.sparse_features(x).layout == torch.sparse_csr
    assert len(count_scans) == 4  # dense once, then every inference call
