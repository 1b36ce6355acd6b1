import pytest
import torch

from graphhyper.data import from_tensors
from graphhyper.data.splits import Split
from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import hsbm
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.train import set_seed, train_node_classifier


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny full-batch models: one thread is faster and immune to oversubscription on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted():
    hg, x, y = hsbm(300, 240, num_classes=3, feature_dim=8, mean_edge_size=5, p_in=0.9, feature_noise=2.0, seed=1)
    return from_tensors(hg.add_self_loops(), x, y, seed=0)


def test_hgnn_learns_planted_classes_and_beats_mlp(planted):
    set_seed(0)
    hgnn = build_model("hgnn", 8, 3, hidden_channels=32)
    r = train_node_classifier(hgnn, planted, epochs=150, lr=1e-2, patience=50, seed=0, progress=False)
    set_seed(0)
    mlp = build_model("mlp", 8, 3, hidden_channels=32)
    r_mlp = train_node_classifier(mlp, planted, epochs=150, lr=1e-2, patience=50, seed=0, progress=False)
    assert r.test_acc > 0.8
    assert r.test_acc > r_mlp.test_acc + 0.05  # the structure carries signal the features alone do not
    assert 0 <= r.best_epoch < r.epochs_run <= 150
    assert len(r.history) == r.epochs_run


def test_reported_test_acc_is_at_best_validation_epoch(planted):
    set_seed(1)
    model = build_model("hgnn", 8, 3, hidden_channels=16)
    r = train_node_classifier(model, planted, epochs=60, lr=5e-2, seed=1, progress=False)
    best = max(r.history, key=lambda h: (h["val_acc"], -h["val_loss"]))
    assert r.best_epoch == best["epoch"] and r.test_acc == best["test_acc"] and r.best_val_acc == best["val_acc"]
    # restore_best: the returned model reproduces the best epoch's validation accuracy
    model.eval()
    with torch.no_grad():
        pred = model(planted.x, planted.hg).argmax(-1)
    val = planted.split.val
    assert float((pred[val] == planted.y[val]).float().mean()) == pytest.approx(r.best_val_acc)


def test_early_stopping_and_determinism(planted):
    runs = []
    for _ in range(2):
        set_seed(3)
        m = build_model("hgnn", 8, 3, hidden_channels=16)
        runs.append(train_node_classifier(m, planted, epochs=400, lr=5e-2, patience=10, seed=3, progress=False))
    assert runs[0].epochs_run < 400 and runs[0].epochs_run == runs[0].best_epoch + 11
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]


def test_needs_validation_set(planted):
    empty = Split(planted.split.train, torch.empty(0, dtype=torch.long), planted.split.test)
    with pytest.raises(InvalidInputError, match="validation"):
        train_node_classifier(build_model("mlp", 8, 3), planted.with_split(empty), epochs=5, progress=False)


def test_sparse_feature_fast_path_is_exact_and_leaves_the_model_alone(planted):
    from dataclasses import replace

    from graphhyper.hypergraph.train import with_sparse_features

    x = (planted.x > 1.0).float()  # a sparse binary "bag of words"
    data = replace(planted, x=x)
    set_seed(0)
    model = build_model("hgnn", 8, 3, hidden_channels=16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = with_sparse_features(model, data, max_density=0.5)
    assert fast.x.layout == torch.sparse_csr
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(fast.x, fast.hg), model(data.x, data.hg), rtol=1e-5, atol=1e-5)
    assert with_sparse_features(model, planted).x.layout == torch.strided  # dense Gaussian features stay dense
