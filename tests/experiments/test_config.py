"""The one config style of graphhyper.experiments: dataclasses from JSON or TOML, unknown keys refused."""

import json
from pathlib import Path

import pytest

from graphhyper.errors import GraphhyperError, InvalidInputError
from graphhyper.experiments.config import RunConfig, TunedConfig, load_config, parse_key_values
from graphhyper.experiments.protocol import DATASET_PROTOCOL, PROTOCOL, config_for

TUNED = Path(__file__).resolve().parents[2] / "configs" / "hypergraph" / "tuned"


@pytest.mark.parametrize("path", sorted(TUNED.glob("*.json")), ids=lambda p: p.name)
def test_shipped_tuned_configs_load_unchanged(path):
    raw = json.loads(path.read_text())
    cfg = load_config(path)
    assert isinstance(cfg, TunedConfig) and cfg.to_dict() == raw  # every key kept, none added
    assert cfg.run_config().model == raw["model"] and cfg.dataset == path.stem


def test_toml_and_json_give_the_same_config(tmp_path):
    (tmp_path / "c.toml").write_text(
        'model_name = "hgnn"\nlr = 0.01\nweight_decay = 0.0\nepochs = 40\n[model]\nhidden_channels = 32\n'
    )
    (tmp_path / "c.json").write_text(
        json.dumps(
            {"model_name": "hgnn", "lr": 0.01, "weight_decay": 0.0, "epochs": 40, "model": {"hidden_channels": 32}}
        )
    )
    assert load_config(tmp_path / "c.toml") == load_config(tmp_path / "c.json")


def test_unknown_keys_and_wrong_kinds_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match=r"unknown key\(s\) \['learning_rate'\]"):
        RunConfig.from_dict({"learning_rate": 0.01})
    with pytest.raises(InvalidInputError, match="val_acc"):
        RunConfig.from_dict({"val_acc": 0.9})  # provenance belongs to TunedConfig, not to a run
    with pytest.raises(InvalidInputError, match="epochs"):
        RunConfig.from_dict({"epochs": 2.5})
    with pytest.raises(InvalidInputError, match="lr"):
        RunConfig.from_dict({"lr": True})
    (tmp_path / "bad.toml").write_text("lr = 0.01\nmodle = 3\n")
    with pytest.raises(GraphhyperError, match="modle"):
        load_config(tmp_path / "bad.toml")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_config(tmp_path / "broken.json")


def test_protocol_entries_are_run_configs_and_round_trip():
    for cfg in [*PROTOCOL.values(), *DATASET_PROTOCOL.values()]:
        assert isinstance(cfg, RunConfig)
        assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_config_for_keeps_the_stored_form():
    """The table's CSV stores ``json.dumps(cfg.to_dict())``; the key order is the one the resume matched before."""
    assert json.dumps(config_for("zoo", "hgnn").to_dict()) == (
        '{"model": {"hidden_channels": 256, "dropout": 0.5}, "lr": 0.01, "weight_decay": 1e-05}'
    )
    assert list(config_for("zoo", "allset-transformer").to_dict()) == [
        "model",
        "lr",
        "weight_decay",
        "epochs",
        "patience",
    ]
    assert list(config_for("zoo", "allset-transformer", TUNED, {"lr": 0.5}).to_dict()) == [
        "model",
        "tuned",
        "lr",
        "weight_decay",
        "label_smoothing",
        "feature_norm",
        "epochs",
        "patience",
    ]


def test_overrides_are_checked():
    with pytest.raises(InvalidInputError, match="epochs"):
        config_for("zoo", "hgnn", None, {"epochs": "many"})
    with pytest.raises(InvalidInputError, match="give a number"):
        config_for("zoo", "hgnn", None, {"lr": "fast"})
    assert parse_key_values(["a=1", "b=0.5", "c=row", "d=true"]) == {"a": 1, "b": 0.5, "c": "row", "d": True}
