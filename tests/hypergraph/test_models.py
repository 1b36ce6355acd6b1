"""The model zoo: every registered model trains on a tiny planted-class hypergraph, and the registry refuses bad
names and options with errors that list the valid ones."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphhyper.errors import GraphhyperError, InvalidInputError
from graphhyper.hypergraph import DirectedHypergraph, hsbm
from graphhyper.hypergraph.models import build_model, list_models, model_defaults, register_model, train_defaults

# small sizes so every model trains in well under a second
SMALL = {
    "unigat": dict(hidden_channels=4, heads=2),
    "unigcnii": dict(hidden_channels=16, num_layers=4),
    "hdhgn": dict(hidden_channels=16, num_layers=2, heads=2),
    "allset-transformer": dict(hidden_channels=16, heads=2),
    "conhd": dict(hidden_channels=16),
    "whatsnet": dict(att_channels=16, node_channels=8, edge_channels=8, edge_in_channels=8),
}


@pytest.fixture(scope="module")
def data():
    return hsbm(48, 24, num_classes=3, feature_dim=8, mean_edge_size=4.0, p_in=0.9, seed=0)


def test_registry_lists_every_paper_model():
    expected = {
        "hgnn",
        "hgnnp",
        "hnhn",
        "hypergcn",
        "unigcn",
        "unigat",
        "unigin",
        "unigcnii",
        "hcha",
        "allset-deepsets",
        "allset-transformer",
        "ed-hnn",
        "conhd",
        "whatsnet",
        "hdhgn",
        "mlp",
    }
    assert expected <= set(list_models())
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize("name", list_models())
def test_model_trains_and_loss_goes_down(name, data):
    hg, x, y = data
    torch.manual_seed(0)
    overrides = {"hidden_channels": 16, "dropout": 0.0, "input_dropout": 0.0, **SMALL.get(name, {})}
    overrides = {k: v for k, v in overrides.items() if k in model_defaults(name)}  # WHATsNet has no input dropout
    model = build_model(name, x.size(1), 3, **overrides)
    # CoNHD and WHATsNet label each (node, hyperedge) pair
    target = y[hg.inc_node] if getattr(model, "per_incidence", False) else y

    def eval_loss():
        model.eval()
        torch.manual_seed(1)
        with torch.no_grad():
            return F.cross_entropy(model(x, hg), target).item()

    before = eval_loss()
    opt = torch.optim.Adam(model.parameters(), **train_defaults(name))
    for step in range(25):
        model.train()
        torch.manual_seed(step)
        opt.zero_grad()
        loss = F.cross_entropy(model(x, hg), target)
        assert torch.isfinite(loss)
        loss.backward()
        opt.step()
    after = eval_loss()
    assert after < before, f"{name}: eval loss {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("name", ["hgnn", "unigcn", "allset-transformer", "ed-hnn", "conhd", "whatsnet", "mlp"])
def test_model_accepts_hyperedge_index(name, data):
    hg, x, _ = data
    model = build_model(name, x.size(1), 3, **{"hidden_channels": 16, **SMALL.get(name, {})}).eval()
    torch.testing.assert_close(model(x, hg.hyperedge_index), model(x, hg))


def test_output_shapes_of_special_models(data):
    hg, x, _ = data
    assert build_model("conhd", 8, 5, hidden_channels=8)(x, hg).shape == (hg.nnz, 5)
    hdhgn = build_model("hdhgn", 8, 4, hidden_channels=8, num_layers=1, heads=2, num_node_types=2, num_edge_types=2)
    dh = DirectedHypergraph(
        5, [([0, 1], [2]), ([2, 3], [4])], node_type=torch.tensor([0, 1, 0, 1, 1]), edge_type=torch.tensor([0, 1])
    )
    xs = torch.randn(5, 8)
    assert hdhgn(xs, dh).shape == (5, 4)
    assert hdhgn(xs, dh, batch=torch.tensor([0, 0, 0, 1, 1])).shape == (2, 4)


def test_unknown_model_lists_known_names():
    with pytest.raises(GraphhyperError) as err:
        build_model("hgnn-plus-plus", 4, 2)
    assert "hgnn" in str(err.value) and "allset-transformer" in str(err.value)


def test_unknown_override_lists_accepted_keys():
    with pytest.raises(InvalidInputError, match="hidden_channels"):
        build_model("hgnn", 4, 2, hiden_channels=3)
    with pytest.raises(InvalidInputError, match="positive"):
        build_model("hgnn", 0, 2)
    with pytest.raises(InvalidInputError, match="activation"):
        build_model("hgnn", 4, 2, act="swish")


def test_defaults_are_copies_and_overrides_apply():
    d = model_defaults("unigcnii")
    d["num_layers"] = 1
    assert model_defaults("unigcnii")["num_layers"] == 32
    model = build_model("unigcnii", 4, 2, num_layers=3, hidden_channels=8)
    assert len(model.convs) == 3


def test_train_defaults_are_suggested_per_model():
    assert train_defaults("allset-transformer")["lr"] < train_defaults("hgnn")["lr"]
    assert set(train_defaults("mlp")) == {"lr", "weight_decay"}


def test_register_model_refuses_silent_overwrite():
    with pytest.raises(InvalidInputError, match="overwrite"):
        register_model("hgnn", lambda i, n, c: None, {})


@pytest.mark.parametrize("name", ["hgnn", "unigcnii", "ed-hnn"])
def test_input_dropout_on_sparse_csr_features(name):
    """Bag-of-words features stay CSR through input dropout: only stored entries are dropped, zeros stay zero."""
    torch.manual_seed(0)
    x = (torch.rand(30, 12) < 0.2).float()
    hg = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 1, 1, 2, 2, 2]])
    model = build_model(name, 12, 3, hidden_channels=8, input_dropout=0.5)
    model.train()
    out = model(x.to_sparse_csr(), hg)
    assert out.shape == (30, 3) and torch.isfinite(out).all()
    model.eval()
    torch.testing.assert_close(model(x.to_sparse_csr(), hg), model(x, hg), rtol=1e-5, atol=1e-5)
