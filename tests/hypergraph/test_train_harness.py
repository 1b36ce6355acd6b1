"""The reproduction harness (graphhyper.experiments, `graphhyper hypergraph table`) end to end on Zoo (tiny), one
seed, a few epochs."""

import argparse
import csv
import json

import pytest

from graphhyper.cli import main
from graphhyper.cli.hypergraph import add_table_arguments, table_settings
from graphhyper.experiments.protocol import PROTOCOL, config_for
from graphhyper.experiments.table import RunOptions, run_one


def parse_args(argv):
    p = argparse.ArgumentParser()
    add_table_arguments(p)
    return table_settings(p.parse_args(argv))


def test_harness_writes_csv_and_markdown_and_resumes(tmp_path, shared_data, capsys):
    out = tmp_path / "table"
    argv = [
        "hypergraph",
        "table",
        "--datasets",
        "zoo",
        "--models",
        "hgnn,mlp",
        "--seeds",
        "2",
        "--epochs",
        "20",
        "--patience",
        "5",
        "--out",
        str(out),
        "--set",
        "lr=0.01",
    ]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out.with_suffix(".csv"))))
    assert [(r["model"], r["seed"]) for r in rows] == [("hgnn", "0"), ("hgnn", "1"), ("mlp", "0"), ("mlp", "1")]
    md = out.with_suffix(".md").read_text()
    assert "| zoo | hgnn |" in md and "92.50 ± 4.58" in md  # published number beside ours
    capsys.readouterr()
    assert main(argv) == 0  # second call resumes: nothing retrained
    assert "seed 0: test" not in capsys.readouterr().out
    assert len(list(csv.DictReader(open(out.with_suffix(".csv"))))) == 4


def test_preset_fills_only_missing_flags():
    args = parse_args(["--preset", "issue7", "--seeds", "3"])
    assert args.seeds == 3  # the flag wins
    assert args.workers == 2 and args.threads == 1 and args.patience == 50
    assert set(args.datasets.split(",")) == {
        "cora-ca",
        "cora-cc",
        "citeseer-cc",
        "zoo",
        "ntu2012",
        "mushroom",
        "20news",
    }
    assert args.models.split(",")[:2] == ["hgnn", "allset-transformer"] and len(args.models.split(",")) == 3
    plain = parse_args([])
    assert plain.workers == 1 and plain.epochs == 300 and plain.patience == 100
    with pytest.raises(SystemExit):
        parse_args(["--workers", "0"])


def test_reference_settings_per_dataset():
    """AllSetTransformer takes the reference script's size and heads per dataset; --set still wins."""
    coraca = config_for("cora-ca", "allset-transformer", None, {})
    citeseer = config_for("citeseer-cc", "allset-transformer", None, {})
    zoo = config_for("zoo", "allset-transformer", None, {"heads": 2})
    assert (coraca.model["hidden_channels"], coraca.model["heads"], coraca.lr) == (128, 8, 1e-3)
    assert (citeseer.model["hidden_channels"], citeseer.model["heads"]) == (512, 8)
    assert (zoo.model["hidden_channels"], zoo.model["heads"], zoo.lr) == (64, 2, 1e-2)
    assert coraca.model["num_layers"] == 1 and coraca.model["classifier_layers"] == 1
    assert PROTOCOL["allset-transformer"].model["heads"] == 8  # the table was not mutated
    mushroom = config_for("mushroom", "allset-transformer", None, {})
    assert (mushroom.epochs, mushroom.patience) == (500, 0)  # the reference's fixed epochs, no early stop
    zoo_ref = config_for("zoo", "allset-transformer", None, {})  # run_AllSetTransformer.sh: 1 head
    assert (zoo_ref.model["heads"], zoo_ref.weight_decay, zoo_ref.epochs, zoo_ref.patience) == (1, 1e-5, 500, 0)
    assert "patience" not in config_for("mushroom", "hgnn", None, {}).to_dict()


def test_tuned_config_carries_every_training_choice(tmp_path):
    """A tuned JSON (either file name) sets the model, the optimiser and the other training choices it was tuned
    with; a JSON for another model of the same dataset is ignored."""
    tuned = {
        "model_name": "hgnn",
        "model": {"hidden_channels": 32, "dropout": 0.7},
        "lr": 0.002,
        "weight_decay": 1e-5,
        "label_smoothing": 0.05,
        "feature_norm": "row",
        "epochs": 40,
        "patience": 7,
    }
    (tmp_path / "zoo.json").write_text(json.dumps(tuned))
    cfg = config_for("zoo", "hgnn", str(tmp_path), {}).to_dict()
    assert cfg["model"] == tuned["model"] and cfg["tuned"] is True
    assert {k: cfg[k] for k in ("lr", "weight_decay", "label_smoothing", "feature_norm", "epochs", "patience")} == {
        k: tuned[k] for k in ("lr", "weight_decay", "label_smoothing", "feature_norm", "epochs", "patience")
    }
    assert "tuned" not in config_for("zoo", "allset-transformer", str(tmp_path), {}).to_dict()
    (tmp_path / "zoo__hgnn.json").write_text(json.dumps({**tuned, "lr": 0.5}))
    assert config_for("zoo", "hgnn", str(tmp_path), {}).lr == 0.5  # the study's own file wins


def test_tuned_run_applies_label_smoothing_and_patience(tmp_path, shared_data):
    tuned = {
        "model_name": "hgnn",
        "model": {"hidden_channels": 16},
        "lr": 0.01,
        "weight_decay": 0.0,
        "label_smoothing": 0.1,
        "feature_norm": "row",
        "epochs": 12,
        "patience": 3,
    }
    (tmp_path / "zoo.json").write_text(json.dumps(tuned))
    row = run_one("zoo", "hgnn", 0, config_for("zoo", "hgnn", str(tmp_path), {}), RunOptions(epochs=500, patience=100))
    assert row["epochs_run"] <= 12 and json.loads(row["config"])["label_smoothing"] == 0.1


def test_resume_ignores_the_key_order_of_stored_configs(tmp_path, shared_data, capsys):
    """A row whose config JSON has the same settings in another key order (as `--set` wrote them before the
    configs became RunConfig) is reused, not retrained."""
    out = tmp_path / "t"
    argv = [
        "hypergraph",
        "table",
        "--datasets",
        "zoo",
        "--models",
        "hgnn",
        "--seeds",
        "1",
        "--epochs",
        "3",
        "--set",
        "patience=2",
        "--set",
        "label_smoothing=0.1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out.with_suffix(".csv"))))
    stored = json.loads(rows[0]["config"])
    rows[0]["config"] = json.dumps(dict(reversed(list(stored.items()))))
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 runs to train" in capsys.readouterr().out
