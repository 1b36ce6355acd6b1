import json

import numpy as np

from graphhyper.cli import main


def test_datasets_lists_every_card(capsys):
    assert main(["hypergraph", "datasets", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["cora-ca"]["nodes"] == 2708 and rows["cora-cc"]["isolated"] == 1274
    assert len(rows) == 16  # 14 node-classification sets, 2 edge-dependent (enc) ones


def test_train_on_zoo(capsys, shared_data):
    code = main(
        [
            "hypergraph",
            "train",
            "--dataset",
            "zoo",
            "--model",
            "mlp",
            "--epochs",
            "30",
            "--lr",
            "0.01",
            "--quiet",
            "--set",
            "hidden_channels=32",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "model mlp: best val acc" in out and "test acc at that epoch" in out
    assert "published" not in out  # the cards have no MLP number


def test_train_enc_on_stack_biology(capsys, shared_data):
    args = ["hypergraph", "train", "--task", "enc", "--dataset", "stack-biology", "--model", "hgnn", "--quiet"]
    code = main([*args, "--epochs", "3", "--lr", "0.01", "--set", "hidden_channels=8", "--feature-dim", "8"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "EncDataset('stack-biology'" in out and "test at that epoch micro-F1" in out
    assert main([*args, "--epochs", "1", "--dataset", "cora-ca"]) == 1
    assert "load_hypergraph" in capsys.readouterr().err  # a node-classification set is refused for enc


def test_train_enc_minibatch_on_stack_biology(capsys, shared_data, tmp_path):
    args = ["hypergraph", "train", "--task", "enc", "--dataset", "stack-biology", "--model", "conhd", "--quiet"]
    args += ["--set", "hidden_channels=8", "--feature-dim", "8", "--epochs", "1", "--threads", "1"]
    code = main([*args, "--batch-size", "4096", "--hedge-sampling", "5", "--gamma", "0.9", "--lr", "0.01"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "test at that epoch micro-F1" in out and "1 epochs" in out
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((3, 8), dtype=np.float32))
    assert main([*args, "--node-features", str(bad)]) == 1
    assert "one row per node" in capsys.readouterr().err


def test_train_enc_minibatch_resumes_from_its_state_file(capsys, shared_data, tmp_path):
    args = ["hypergraph", "train", "--task", "enc", "--dataset", "stack-biology", "--model", "conhd", "--quiet"]
    args += ["--set", "hidden_channels=8", "--feature-dim", "8", "--threads", "1", "--eval-every", "1"]
    args += ["--batch-size", "4096", "--hedge-sampling", "5", "--lr", "0.01", "--resume", str(tmp_path / "run.pt")]
    assert main([*args, "--epochs", "1"]) == 0
    assert "1 epochs" in capsys.readouterr().out and (tmp_path / "run.pt").exists()
    assert main([*args, "--epochs", "2"]) == 0  # goes on with the second epoch instead of starting over
    assert "2 epochs" in capsys.readouterr().out
    assert main([*args, "--epochs", "3", "--gamma", "0.5"]) == 1
    assert "gamma=0.99 (now 0.5)" in capsys.readouterr().err
    assert main([*args[:-8], "--epochs", "1", "--resume", str(tmp_path / "x.pt")]) == 1
    assert "--resume with --task enc" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()


def test_train_whatsnet_minibatch_at_the_authors_optimiser(capsys, shared_data):
    args = ["hypergraph", "train", "--task", "enc", "--dataset", "stack-biology", "--model", "whatsnet", "--quiet"]
    args += ["--set", "hidden_channels=8", "--set", "att_channels=8", "--set", "node_channels=8"]
    args += ["--set", "edge_channels=8", "--set", "edge_in_channels=8", "--feature-dim", "8", "--threads", "1"]
    opt = ["--batch-size", "4096", "--hedge-sampling", "3", "--lr", "0.001", "--adam-eps", "1e-8", "--clip-norm", "0"]
    code = main([*args, *opt, "--epochs", "1", "--weight-decay", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "model whatsnet" in out and "1 epochs" in out
    assert main([*args, "--epochs", "1", "--adam-eps", "1e-8"]) == 1  # mini-batch options without --batch-size
    assert "--adam-eps with --task enc" in capsys.readouterr().err
    assert main([*args, *opt[:-2], "--clip-norm", "-1", "--epochs", "1"]) == 1
    assert "clip >= 0" in capsys.readouterr().err


def test_train_refuses_the_other_tasks_options_by_name(capsys):
    base = ["hypergraph", "train", "--dataset", "zoo", "--model", "hgnn", "--epochs", "1", "--quiet"]
    assert main([*base, "--task", "enc", "--batch-size", "16", "--hops", "2"]) == 1
    assert "--hops with --task enc" in capsys.readouterr().err
    assert main([*base, "--task", "enc", "--hedge-sampling", "5"]) == 1
    err = capsys.readouterr().err
    assert "--hedge-sampling with --task enc" in err and "give --batch-size N" in err
    assert main([*base, "--gamma", "0.9", "--hedge-sampling", "5"]) == 1
    assert "--hedge-sampling, --gamma with --task node" in capsys.readouterr().err
    assert main([*base, "--resume", "run.pt"]) == 1
    assert "--resume with --task node" in capsys.readouterr().err
    assert main([*base, "--head-pe", "--eval-every", "5"]) == 1
    assert "--head-pe, --eval-every with --task node" in capsys.readouterr().err


def test_edgepred_defaults_work_as_shipped(capsys, shared_data):
    """The CLI's defaults (hgnn, sized negatives, the table's settings) on Cora-CA: 0.89 AUROC when measured."""
    assert main(["hypergraph", "edgepred", "--dataset", "cora-ca", "--threads", "1", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["method"] == "hgnn" and row["negatives"] == "sized"
    assert row["best_val_auroc"] > 0.8 and row["test_auroc"] > 0.8


def test_errors_are_reported_not_raised(capsys):
    assert main(["hypergraph", "train", "--dataset", "no-such-set", "--quiet"]) == 1
    assert "unknown dataset 'no-such-set'" in capsys.readouterr().err
    assert main(["hypergraph", "train", "--dataset", "zoo", "--set", "oops", "--quiet"]) == 1


def test_distill_reports_teacher_and_both_students(capsys, shared_data):
    code = main(
        [
            "hypergraph",
            "distill",
            "--dataset",
            "zoo",
            "--epochs",
            "30",
            "--lr",
            "0.01",
            "--quiet",
            "--set",
            "hidden_channels=32",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for name in ("teacher", "LightHGNN ", "LightHGNN+"):
        assert name in out
    assert "gap" in out
    import re

    pairs = re.findall(r"MLP ([\d.]+) \(gap [^,]+, deployed in bfloat16 ([\d.]+)\)", out)
    assert len(pairs) == 2  # LightHGNN and LightHGNN+
    for student, deployed in pairs:
        assert abs(float(student) - float(deployed)) <= 100 / 26 + 1e-6  # at most one of Zoo's ~26 test nodes


def test_tune_then_evaluate_through_the_cli(capsys, shared_data, tmp_path):
    argv = [
        "hypergraph",
        "tune",
        "--dataset",
        "zoo",
        "--model",
        "appnp",
        "--trials",
        "2",
        "--tune-seeds",
        "1",
        "--epochs",
        "10",
        "--patience",
        "5",
        "--out",
        str(tmp_path),
        "--fix",
        "num_steps=2",
        "--space",
        'hidden_channels=["cat", [16, 32]]',
        "--enqueue",
        '{"hidden_channels": 16, "lr": 0.01}',
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "trial 0: val" in out and "trial 1: val" in out and "best val" in out
    cfg = json.loads((tmp_path / "zoo__appnp.json").read_text())
    assert cfg["model_name"] == "appnp" and cfg["model"]["num_steps"] == 2
    assert cfg["model"]["hidden_channels"] in (16, 32) and cfg["tune_seeds"] == [1000]
    import optuna

    study = optuna.load_study(study_name="zoo__appnp", storage=f"sqlite:///{tmp_path / 'studies.db'}")
    assert study.trials[0].params["hidden_channels"] == 16 and study.trials[0].params["lr"] == 0.01  # enqueued
    csv_path = tmp_path / "eval.csv"
    assert (
        main(
            [
                "hypergraph",
                "tune",
                "--evaluate",
                str(tmp_path / "zoo__appnp.json"),
                "--seeds",
                "2",
                "--csv",
                str(csv_path),
            ]
        )
        == 0
    )
    assert "(2 seeds)" in capsys.readouterr().out
    assert len(csv_path.read_text().splitlines()) == 3


def test_tune_errors_name_the_fix(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"dataset": "zoo"}')
    cases = [
        (["--model", "appnp"], "--dataset is required"),
        (["--dataset", "zoo", "--model", "nope"], "No search space for model 'nope'"),
        (["--dataset", "zoo", "--space", "lr=0.1"], "expected a JSON list [kind, ...]"),
        (["--dataset", "zoo", "--enqueue", "{oops"], "is not JSON"),
        (["--dataset", "zoo", "--enqueue", "[1, 2]"], "as a JSON object"),
        (["--evaluate", str(bad)], "lacks ['lr', 'model', 'model_name', 'weight_decay']"),
        (["--evaluate", str(tmp_path / "missing.json")], "cannot read the tuned config"),
        (["--dataset", "zoo", "--trials", "0"], "has no finished trial yet"),
    ]
    for extra, message in cases:
        assert main(["hypergraph", "tune", "--out", str(tmp_path), *extra]) == 1, extra
        assert message in capsys.readouterr().err, extra


def test_select_trial_breaks_ties_by_validation_loss():
    import optuna
    import pytest

    from graphhyper.errors import InvalidInputError
    from graphhyper.experiments.tuning import select_trial

    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}

    def trial(number, value, **attrs):
        t = optuna.trial.create_trial(value=value, params={"x": 0.5}, distributions=dist, user_attrs=attrs)
        t.number = number
        return t

    trials = [
        trial(0, 0.9, val_loss=0.1),
        trial(1, 1.0, val_loss=0.5),
        trial(2, 1.0),
        trial(3, 1.0, val_loss=0.2),
        trial(4, 1.0, val_loss=0.2),
    ]
    assert select_trial(trials, "first").number == 1
    assert select_trial(trials, "val_loss").number == 3  # lowest loss among the tied; the earlier of equal losses
    assert select_trial(trials[:1] + trials[2:3], "val_loss").number == 2  # no loss recorded: still the best value
    assert select_trial([], "val_loss") is None
    with pytest.raises(InvalidInputError, match="tie_break='loss' is unknown"):
        select_trial(trials, "loss")


def test_tune_records_validation_loss_and_the_tie_break(capsys, shared_data, tmp_path):
    argv = [
        "hypergraph",
        "tune",
        "--dataset",
        "zoo",
        "--model",
        "hgnn",
        "--trials",
        "2",
        "--tune-seeds",
        "1",
        "--epochs",
        "5",
        "--patience",
        "5",
        "--out",
        str(tmp_path),
        "--tie-break",
        "val_loss",
    ]
    assert main(argv) == 0
    cfg = json.loads((tmp_path / "zoo__hgnn.json").read_text())
    assert "ties broken by the lower mean validation loss" in cfg["selection"]
    import optuna

    study = optuna.load_study(study_name="zoo__hgnn", storage=f"sqlite:///{tmp_path / 'studies.db'}")
    losses = [t.user_attrs["val_loss"] for t in study.trials]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)


def _tuned(path, model, val_acc, val_loss, tune_seeds=(1000, 1001), dataset="zoo"):
    cfg = {
        "dataset": dataset,
        "model_name": model,
        "model": {"hidden_channels": 8},
        "lr": 0.01,
        "weight_decay": 0.0,
        "val_acc": val_acc,
        "val_loss": val_loss,
        "tune_seeds": list(tune_seeds),
    }
    path.write_text(json.dumps(cfg))
    return str(path)


def test_choose_picks_the_family_by_validation_then_loss(capsys, tmp_path):
    a = _tuned(tmp_path / "a.json", "appnp", 0.99, 0.05)
    b = _tuned(tmp_path / "b.json", "hgnn", 1.0, 0.20)
    c = _tuned(tmp_path / "c.json", "allset-transformer", 1.0, 0.04)
    out = tmp_path / "sub" / "zoo.json"
    argv = ["hypergraph", "tune", "--choose", a, b, c, "--write", str(out)]
    assert main(argv) == 0  # ties by the order given
    assert json.loads(out.read_text())["model_name"] == "hgnn"
    assert main(argv + ["--tie-break", "val_loss"]) == 0  # ties by the lower validation loss
    chosen = json.loads(out.read_text())
    assert chosen["model_name"] == "allset-transformer" and chosen["lr"] == 0.01
    assert [r["model_name"] for r in chosen["chosen_from"]] == ["allset-transformer", "hgnn", "appnp"]
    assert "ties by the lower validation loss" in chosen["choice"]
    assert "1. allset-transformer" in capsys.readouterr().out


def test_choose_refuses_configs_that_are_not_comparable(capsys, tmp_path):
    a = _tuned(tmp_path / "a.json", "appnp", 0.99, 0.05)
    other_splits = _tuned(tmp_path / "b.json", "hgnn", 1.0, 0.2, tune_seeds=(1000,))
    other_data = _tuned(tmp_path / "c.json", "hgnn", 1.0, 0.2, dataset="ntu2012")
    assert main(["hypergraph", "tune", "--choose", a, other_splits]) == 1
    assert "differ in tune_seeds" in capsys.readouterr().err
    assert main(["hypergraph", "tune", "--choose", a, other_data]) == 1
    assert "differ in dataset" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["hypergraph", "tune", "--choose", a, str(bad)]) == 1
    assert "cannot read the tuned config" in capsys.readouterr().err
    assert main(["hypergraph", "tune", "--evaluate", a, "--write", str(tmp_path / "w.json")]) == 1
    assert "--write goes with --choose" in capsys.readouterr().err


def test_run_config_patience_zero_trains_every_epoch(shared_data):
    """The tuner and the reproduction harness share run_config; patience 0 means the reference's fixed epochs."""
    from graphhyper.experiments.tuning import run_config

    # lr 0: the weights never change, so nothing after the first epoch is a better checkpoint
    cfg = {"model": {"hidden_channels": 8}, "lr": 0.0, "weight_decay": 0.0, "epochs": 15, "patience": 0}
    assert run_config("zoo", cfg, 0, model_name="hgnn").epochs_run == 15
    assert run_config("zoo", {**cfg, "patience": 1}, 0, model_name="hgnn").epochs_run == 2


def test_train_minibatch_on_zoo(capsys, shared_data, tmp_path):
    ckpt = tmp_path / "zoo.safetensors"
    args = ["hypergraph", "train", "--dataset", "zoo", "--model", "hgnn", "--epochs", "5", "--quiet"]
    code = main([*args, "--batch-size", "16", "--max-edges-per-node", "8", "--checkpoint", str(ckpt)])
    out = capsys.readouterr().out
    assert code == 0 and "model hgnn: best val acc" in out and ckpt.stat().st_size > 0
    assert main([*args, "--hops", "1"]) == 1  # sampling options without --batch-size
    assert "--batch-size" in capsys.readouterr().err


def test_edgepred_runs_and_reports_auroc_and_ap(capsys, shared_data):
    code = main(
        ["hypergraph", "edgepred", "--dataset", "cora-ca", "--method", "gcn", "--negatives", "clique"]
        + ["--epochs", "3", "--patience", "3", "--threads", "1", "--json"]
    )
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert row["dataset"] == "cora-ca" and row["method"] == "gcn" and row["negatives"] == "clique"
    assert 0.0 <= row["test_auroc"] <= 1.0 and 0.0 <= row["test_ap"] <= 1.0 and row["epochs_run"] == 3
    assert row["hyperedges"]["val"] == row["hyperedges"]["test"] > 0  # 10% each of the distinct hyperedges
