"""Correctness found by reading the code: selection on test, CoNHD's per-incidence logits read as node logits,
overrides that are mis-parsed or dropped, shapes truncated when tracing, unchecked NaN and zero widths."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from graphhyper.errors import InvalidHypergraphError, InvalidInputError


def _rows(x: torch.Tensor) -> list[tuple]:
    return sorted(tuple(r.tolist()) for r in x.flatten(1))


# ------------------------------------------------------------------------------- selection on validation
@pytest.mark.timeout(60)
def test_ghn_task_has_a_validation_split_carved_from_training(record):
    record("search: GHN task splits", "digits: train/val/test disjoint, test as before, seeded")
    from graphhyper.ghn.tasks import load_digits_task

    datasets = pytest.importorskip("sklearn.datasets")
    t = load_digits_task(seed=0)
    d = datasets.load_digits()
    x = (torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0 - 0.3) / 0.4
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    assert torch.equal(t.x_test, x[perm[:497]])  # the test split is the one reported before
    assert len(t.x_val) >= 256 and len(t.x_train) + len(t.x_val) == x.shape[0] - 497
    assert _rows(torch.cat([t.x_train, t.x_val])) == _rows(x[perm[497:]])  # validation comes from the training pool
    again = load_digits_task(seed=0)
    assert torch.equal(again.x_val, t.x_val) and torch.equal(again.y_train, t.y_train)  # deterministic
    gen = torch.Generator().manual_seed(0)
    batches = torch.cat([t.batch(gen, 256)[0] for _ in range(8)])
    assert not set(_rows(batches)) & set(_rows(t.x_val)) - set(_rows(t.x_train))  # training never draws val


@pytest.mark.timeout(60)
def test_search_objectives_score_on_validation_and_report_test_once(record):
    record("search: for_task selects on validation", "GHNProxy.for_task / TrainEval.for_task default split")
    from graphhyper.ghn import DEFAULT_GHN, list_pretrained
    from graphhyper.ghn.tasks import get_task
    from graphhyper.search.objectives import GHNProxy, TrainEval

    t = get_task("digits")
    te = TrainEval.for_task("digits", epochs=1)
    xt, yt, xv, yv = te.data
    assert torch.equal(xv, t.x_val) and torch.equal(yv, t.y_val) and torch.equal(xt, t.x_train)
    assert torch.equal(TrainEval.for_task("digits", split="test").data[2], t.x_test)
    with pytest.raises(InvalidInputError, match="split"):
        TrainEval.for_task("digits", split="train")
    assert DEFAULT_GHN in list_pretrained()  # the proxy's default GHN ships with the package
    proxy = GHNProxy.for_task("digits", n_eval=64, n_calib=64)
    assert torch.equal(proxy.x, t.x_val[:64]) and torch.equal(proxy.y, t.y_val[:64])
    assert torch.equal(GHNProxy.for_task("digits", n_eval=64, split="test").x, t.x_test[:64])


@pytest.mark.timeout(120)
def test_training_objective_in_a_multi_objective_search(tmp_path, record):
    record("search: TrainEval in MultiObjective", "search darts --objective train: training + #params, 2 directions")
    from graphhyper.ghn.tasks import get_task
    from graphhyper.search import darts_space, run
    from graphhyper.search.objectives import MultiObjective, TrainEval, num_params

    t = get_task("digits")
    acc = TrainEval(t.x_train[:64], t.y_train[:64], t.x_val[:64], t.y_val[:64], epochs=2, batch_size=32)
    space = darts_space(**t.darts_kwargs(), cells=(3, 3), widths=(8,))
    db = f"sqlite:///{tmp_path / 'search.db'}"
    res = run(
        space,
        MultiObjective([acc, num_params]),
        1,
        storage=db,
        directions=["maximize", "minimize"],
        progress=False,
        study_name="multi",
    )
    assert len(res.trials) == 1 and 0.0 <= res.trials[0].values[0] <= 1.0  # Trial.report hidden
    single = run(space, acc, 1, storage=db, progress=False, study_name="single")  # one objective still reports
    assert single.trials[0].intermediate_values.keys() == {0, 1}


# ------------------------------------------------------------------------------- CoNHD on node classification
@pytest.fixture(scope="module")
def planted():
    from graphhyper.data import from_tensors
    from graphhyper.hypergraph import hsbm

    hg, x, y = hsbm(80, 60, num_classes=2, feature_dim=6, mean_edge_size=4, p_in=0.9, feature_noise=1.0, seed=2)
    return from_tensors(hg.add_self_loops(), x, y, seed=0)


@pytest.mark.timeout(120)
def test_conhd_node_classification_pools_incidences_to_nodes(planted, record):
    record("hypergraph: CoNHD node classification", "train_node_classifier / predict on per-incidence logits")
    from graphhyper.hypergraph.models import build_model
    from graphhyper.hypergraph.train import predict, set_seed, train_node_classifier

    set_seed(0)
    model = build_model("conhd", 6, 2, hidden_channels=8, num_layers=1, dropout=0.0)
    assert model(planted.x, planted.hg).shape[0] == planted.hg.nnz  # the model itself stays per incidence
    before = predict(model, planted)
    assert before.shape == (planted.hg.num_nodes, 2)  # one row per node
    res = train_node_classifier(model, planted, epochs=60, lr=1e-2, seed=0, progress=False)
    assert res.history[-1]["loss"] < 0.1 * res.history[0]["loss"]  # it learns (seeds 0-2: 0.66 -> <0.003)
    assert res.history[-1]["train_acc"] == 1.0 and res.test_acc > 0.75  # seeds 0-2: test 0.85-0.95
    # the pooled row of a node is the mean of its incidences' logits
    per_inc = model.eval()(planted.x, planted.hg).detach()
    node = int(planted.hg.inc_node[0])
    mine = per_inc[planted.hg.inc_node == node].mean(0)
    assert torch.allclose(predict(model, planted)[node], mine, atol=1e-5)


@pytest.mark.timeout(30)
def test_node_classifier_with_wrong_number_of_rows_is_refused(planted, record):
    record("hypergraph: node logits shape", "a model returning [V+1, C] logits to train_node_classifier")
    from graphhyper.hypergraph.train import train_node_classifier

    class Wrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 2)

        def forward(self, x, hg):
            return self.lin(torch.cat([x, x[:1]]))

    with pytest.raises(InvalidInputError, match="rows"):
        train_node_classifier(Wrong(), planted, epochs=2, progress=False)


# ------------------------------------------------------------------------------- harness overrides
@pytest.mark.timeout(30)
def test_harness_set_parses_strings_and_refuses_unknown_keys(tmp_path, capsys, record):
    from graphhyper.cli import main
    from graphhyper.experiments.config import parse_key_values
    from graphhyper.experiments.protocol import config_for

    record("scripts: reproduce_hypergraph_table --set", "act=tanh, a misspelt key, a missing '='")
    sets = parse_key_values(["act=tanh", "lr=0.01", "dropout=0.25", "label_smoothing=0.1"])
    cfg = config_for("zoo", "hgnn", None, sets)
    assert cfg.model["act"] == "tanh" and cfg.model["dropout"] == 0.25
    assert cfg.lr == 0.01 and cfg.label_smoothing == 0.1
    with pytest.raises(InvalidInputError, match="hiden_channels"):
        config_for("zoo", "hgnn", None, parse_key_values(["hiden_channels=64"]))
    with pytest.raises(InvalidInputError, match="KEY=VALUE"):
        parse_key_values(["act"], "--set")
    out = tmp_path / "t"
    code = main(
        [
            "hypergraph",
            "table",
            "--datasets",
            "zoo",
            "--models",
            "hgnn",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--set",
            "hiden_channels=64",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "graphhyper: error:" in err and "hiden_channels" in err and "Traceback" not in err
    assert not out.with_suffix(".csv").exists()  # nothing trained


# ------------------------------------------------------------------------------- tracing inputs
@pytest.mark.timeout(60)
@pytest.mark.parametrize("shape", [(2.5, 4), (True, 4), (2, False), (2, -4), (0, 4), ((2, 4), (1.5, 4)), "24"])
def test_trace_refuses_non_int_shapes(shape, record):
    record("arch: trace input_shape", "floats, bools, non-positive entries, a string")
    from graphhyper.arch import trace

    with pytest.raises(InvalidInputError, match="input_shape"):
        trace(nn.Linear(4, 3), input_shape=shape)


@pytest.mark.timeout(60)
def test_trace_accepts_int_like_shapes():
    import numpy as np

    from graphhyper.arch import trace

    g = trace(nn.Linear(4, 3), input_shape=(np.int64(2), torch.tensor(4).item()))
    assert g.meta["input_shape"] == (2, 4)
    assert trace(nn.Linear(4, 3), input_shape=torch.Size([2, 4])).meta["input_shape"] == (2, 4)


@pytest.mark.timeout(60)
def test_trace_of_lazy_module_names_the_fix(record):
    record("arch: trace lazy modules", "nn.LazyLinear / LazyConv2d with uninitialised parameters")
    from graphhyper.arch import trace

    lazy = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(5))
    with pytest.raises(InvalidInputError, match=r"lazy.*'0'.*'3'.*forward") as info:
        trace(lazy, input_shape=(1, 3, 8, 8))
    assert "torch.zeros(1, 3, 8, 8)" in str(info.value)
    lazy(torch.zeros(1, 3, 8, 8))  # the fix the message names
    graph = trace(lazy, input_shape=(1, 3, 8, 8))
    assert graph.parameters["3.weight"] == (5, 4 * 6 * 6)


# ------------------------------------------------------------------------------- NaN features, zero widths
@pytest.mark.timeout(30)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_incidence_features_are_refused(bad, record):
    record("hypergraph: incidence_features", "NaN / +inf / -inf in per-incidence features")
    from graphhyper.hypergraph import Hypergraph

    feats = torch.tensor([[0.0, 1.0], [1.0, bad], [2.0, 2.0], [3.0, 3.0]])
    with pytest.raises(InvalidHypergraphError, match="incidence_features"):
        Hypergraph(3, [[0, 1], [1, 2]], incidence_features=feats)
    with pytest.raises(InvalidHypergraphError, match="incidence_features"):
        Hypergraph(3, hyperedge_index=torch.tensor([[0, 1, 1, 2], [0, 0, 1, 1]]), incidence_features=feats[:, 1])
    assert Hypergraph(3, [[0, 1], [1, 2]], incidence_features=feats.nan_to_num(0.0, 0.0, 0.0)).nnz == 4


@pytest.mark.timeout(30)
@pytest.mark.parametrize("model", ["hgnn", "allset-transformer", "conhd", "mlp", "unigcnii"])
@pytest.mark.parametrize("hidden", [0, -8, True, 2.5, "abc"])
def test_non_positive_hidden_channels_are_refused(model, hidden, record):
    record("hypergraph: build_model hidden_channels", "0, negative, bool, float, string")
    from graphhyper.hypergraph.models import build_model

    with pytest.raises(InvalidInputError, match="hidden_channels"):
        build_model(model, 4, 3, hidden_channels=hidden)


def test_ghn_recipe_choice_reads_validation_only(record, monkeypatch):
    """GHN evaluation scores the split it is given (validation for the recipe sweep, scripts/ghn_sweep.py), from
    architectures disjoint from the test ones."""
    from graphhyper.ghn import evaluate
    from graphhyper.ghn.tasks import arch_specs, get_task

    record("search: GHN recipe choice reads validation only", "ghn.evaluate split=, arch_specs role='val'")
    task = get_task("digits")
    val, test = arch_specs(task, "id", 4, role="val"), arch_specs(task, "id", 4)
    key = lambda spec: json.dumps(spec.to_dict(), sort_keys=True)  # noqa: E731
    assert not {key(s) for s in val} & {key(s) for s in test}
    seen = []
    monkeypatch.setattr(task, "split", lambda name: seen.append(name) or (task.x_val[:8], task.y_val[:8]))
    net = evaluate.build_net(val[0], seed=0)
    assert 0.0 <= evaluate.accuracy(net, task, split="val") <= 1.0
    assert seen == ["val"]
    with pytest.raises(InvalidInputError, match="split"):
        evaluate.accuracy(net, task, split="train")
    with pytest.raises(InvalidInputError, match="role"):
        arch_specs(task, "id", 1, role="tset")
