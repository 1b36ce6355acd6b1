import json

import pytest
import torch

from graphhyper.data import from_tensors
from graphhyper.data.splits import Split
from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import hsbm
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.train import resets_patience, set_seed, train_node_classifier


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


def test_progress_bar_shows_validation_never_test(planted, monkeypatch):
    import graphhyper.hypergraph.train as train_mod

    shown: list[dict] = []

    class Bar:
        def set_postfix(self, **kw):
            shown.append(kw)

        def update(self, n):
            pass

        def close(self):
            pass

    monkeypatch.setattr(train_mod, "_progress", lambda total, enabled: Bar())
    model = build_model("hgnn", 8, 3, hidden_channels=16)
    r = train_node_classifier(model, planted, epochs=5, lr=5e-2, seed=1)
    assert len(shown) == 5 and all("test" not in key for row in shown for key in row)
    assert float(shown[-1]["best_val"]) == pytest.approx(r.best_val_acc, abs=1e-3)


def test_early_stopping_and_determinism(planted):
    runs = []
    for _ in range(2):
        set_seed(3)
        m = build_model("hgnn", 8, 3, hidden_channels=16)
        runs.append(train_node_classifier(m, planted, epochs=400, lr=5e-2, patience=10, seed=3, progress=False))
    # replay the rule: a better checkpoint (higher accuracy, or a tie below 100% with a lower loss) resets patience
    best, last_gain = (-1.0, float("inf")), -1
    for h in runs[0].history:
        acc, loss = h["val_acc"], h["val_loss"]
        if resets_patience(acc, loss, best):
            last_gain = h["epoch"]
        if (acc, -loss) > (best[0], -best[1]):
            best = (acc, loss)
    assert runs[0].epochs_run < 400 and runs[0].epochs_run == last_gain + 11
    assert last_gain <= runs[0].best_epoch < runs[0].epochs_run
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]


def test_patience_rule():
    assert resets_patience(0.6, 9.0, (0.5, 1.0))  # higher accuracy, whatever the loss
    assert resets_patience(0.5, 0.9, (0.5, 1.0))  # a slow start: same accuracy, falling loss
    assert not resets_patience(0.5, 1.1, (0.5, 1.0)) and not resets_patience(0.4, 0.1, (0.5, 1.0))
    assert not resets_patience(1.0, 0.001, (1.0, 0.01))  # saturated: the loss alone does not count
    assert resets_patience(0.0, 5.0, (-1.0, float("inf")))  # the first epoch always counts


def test_saturated_validation_accuracy_stops_despite_falling_loss(planted):
    """Once validation accuracy is perfect, ties with a lower loss must not keep an early-stopped run alive: it
    stops ``patience`` epochs after first reaching 100%, and still keeps the lowest-loss perfect checkpoint."""
    easy = planted.with_split(Split(planted.split.train, planted.split.train[:5], planted.split.test))
    set_seed(0)
    m = build_model("hgnn", 8, 3, hidden_channels=16)
    r = train_node_classifier(m, easy, epochs=300, lr=5e-2, patience=20, seed=0, progress=False)
    accs = [h["val_acc"] for h in r.history]
    assert max(accs) == 1.0 and r.epochs_run == accs.index(1.0) + 21 < 300
    losses = [h["val_loss"] for h in r.history]
    assert r.best_epoch == min(range(r.epochs_run), key=lambda i: (-accs[i], losses[i]))


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


def test_label_smoothing_is_used_and_checked(planted):
    def first_loss(ls):
        set_seed(0)
        m = build_model("mlp", 8, 3, hidden_channels=16)
        return train_node_classifier(m, planted, epochs=1, seed=0, progress=False, label_smoothing=ls).history[0]

    plain, smooth = first_loss(0.0), first_loss(0.3)
    assert smooth["loss"] != pytest.approx(plain["loss"])  # same weights and dropout, different target
    with pytest.raises(InvalidInputError, match="label_smoothing"):
        first_loss(1.0)


def test_normalize_features_rows(planted):
    from dataclasses import replace

    from graphhyper.hypergraph.train import normalize_features

    x = planted.x.clone()
    x[0] = 0.0
    data = normalize_features(replace(planted, x=x.to_sparse_csr()), "row")
    assert data.x.layout == torch.strided and torch.equal(data.x[0], torch.zeros(8))
    torch.testing.assert_close(data.x[1:].abs().sum(-1), torch.ones(planted.num_nodes - 1))
    torch.testing.assert_close(data.x[1] * x[1].abs().sum(), x[1])
    assert normalize_features(planted, "none") is planted
    with pytest.raises(InvalidInputError, match="row"):
        normalize_features(planted, "l3")


# ---------------------------------------------------------------- `graphhyper hypergraph tune` on Zoo (tiny)
def tune_main(argv):
    """The tuner's command line (scripts/tune_hypergraph.py is a front over it); tests/conftest.py puts the thread
    count back after its --threads."""
    from graphhyper.cli import main

    return main(["hypergraph", "tune", *argv])


def test_tune_then_evaluate_on_zoo(tmp_path, shared_data, capsys):
    argv = [
        "--dataset",
        "zoo",
        "--model",
        "hgnn",
        "--trials",
        "2",
        "--tune-seeds",
        "1",
        "--epochs",
        "15",
        "--patience",
        "5",
        "--out",
        str(tmp_path),
        "--fix",
        "feature_norm=row",
        "--fix",
        "num_layers=2",
    ]
    assert tune_main(argv) == 0
    cfg = json.loads((tmp_path / "zoo__hgnn.json").read_text())
    assert cfg["model_name"] == "hgnn" and cfg["feature_norm"] == "row" and cfg["model"]["num_layers"] == 2
    assert cfg["tune_seeds"] == [1000] and cfg["trials"] == 2 and 0.0 <= cfg["val_acc"] <= 1.0
    assert {"lr", "weight_decay", "label_smoothing", "epochs", "patience"} <= set(cfg)
    capsys.readouterr()
    csv_path = tmp_path / "eval.csv"
    assert tune_main(["--evaluate", str(tmp_path / "zoo__hgnn.json"), "--seeds", "2", "--csv", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert "seed 0: test" in out and "seed 1: test" in out and "(2 seeds)" in out
    assert len(csv_path.read_text().splitlines()) == 3  # header + two seeds


def test_tuner_opens_its_storage_through_make_storage(tmp_path, shared_data, monkeypatch):
    """Parallel tuners on one new SQLite file need make_storage's retry of the schema race (it crashed before)."""
    from graphhyper.search import study as study_mod

    opened = []
    real = study_mod.make_storage
    monkeypatch.setattr(study_mod, "make_storage", lambda url, **kw: opened.append(url) or real(url, **kw))
    argv = [
        "--dataset",
        "zoo",
        "--model",
        "hgnn",
        "--trials",
        "1",
        "--tune-seeds",
        "1",
        "--epochs",
        "3",
        "--out",
        str(tmp_path),
    ]
    assert tune_main(argv) == 0
    assert opened == [f"sqlite:///{tmp_path / 'studies.db'}"]


def test_fix_parses_values():
    from graphhyper.experiments.config import parse_key_values

    assert parse_key_values(["a=1", "b=0.5", "c=row", "d=true"], "--fix") == {"a": 1, "b": 0.5, "c": "row", "d": True}
    with pytest.raises(InvalidInputError, match="--fix 'oops': use KEY=VALUE"):
        parse_key_values(["oops"], "--fix")


def test_adam_is_fused_where_it_applies_and_steps_like_plain_adam():
    from graphhyper.hypergraph.train import adam

    torch.manual_seed(0)
    model = torch.nn.Linear(6, 3)
    fused = adam(model, lr=0.1, weight_decay=0.01)
    assert fused.defaults["fused"] is True
    twin = torch.nn.Linear(6, 3)
    twin.load_state_dict(model.state_dict())
    plain = torch.optim.Adam(twin.parameters(), lr=0.1, weight_decay=0.01)
    x = torch.randn(8, 6)
    for _ in range(3):
        for m, opt in ((model, fused), (twin, plain)):
            opt.zero_grad()
            m(x).square().sum().backward()
            opt.step()
    torch.testing.assert_close(model.weight, twin.weight, rtol=1e-5, atol=1e-6)
    assert not adam(torch.nn.Linear(2, 2).bfloat16(), lr=0.1, weight_decay=0.0).defaults["fused"]
