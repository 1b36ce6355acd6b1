"""``GHNConfig.code_dim``: the low-rank decoder's index-code size bounds the rank of every predicted weight."""

from __future__ import annotations

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.ghn import GHN, GHNConfig, load, save
from graphhyper.ghn.decoders import build_decoder


def _rank(w: torch.Tensor) -> int:
    return int(torch.linalg.matrix_rank(w.double(), rtol=1e-4))


@pytest.mark.parametrize(("rank", "code_dim", "expected"), [(16, 8, 8), (16, 64, 16), (48, 32, 32), (48, 64, 48)])
def test_predicted_weight_rank_is_min_of_rank_and_code_dim(rank, code_dim, expected):
    torch.manual_seed(0)
    dec = build_decoder("lowrank", 16, rank=rank, code_dim=code_dim)
    w = dec(torch.randn(2, 16), (96, 80))
    assert w.shape == (2, 96, 80)
    assert [_rank(w[g]) for g in range(2)] == [expected, expected]


def test_config_round_trip_and_default(tmp_path):
    ghn = GHN(GHNConfig(hidden=16, heads=2, layers=1, rank=4, code_dim=32))
    assert ghn.decoder.code_dim == 32
    save(ghn, tmp_path / "g")
    back = load(tmp_path / "g")
    assert back.config.code_dim == 32
    for a, b in zip(ghn.state_dict().values(), back.state_dict().values()):
        assert torch.equal(a, b)
    legacy = GHNConfig.to_dict(GHNConfig())
    del legacy["code_dim"]  # a config saved before the key existed
    assert GHNConfig.from_dict(legacy).code_dim == 64


@pytest.mark.parametrize("bad", [0, 7, -2, 2.0, True])
def test_bad_code_dim_is_refused_with_the_rule(bad):
    with pytest.raises(InvalidInputError, match="code_dim"):
        GHNConfig(code_dim=bad).validate()


def test_cli_code_dim_reaches_the_trained_ghn_and_defaults_to_the_config_default(tmp_path):
    import argparse
    import json

    from graphhyper.cli import ghn as cli_ghn
    from graphhyper.cli import main

    parser = argparse.ArgumentParser()
    cli_ghn.add_parser(parser.add_subparsers())
    assert parser.parse_args(["ghn", "train"]).code_dim == GHNConfig().code_dim
    argv = ["ghn", "train", "--tasks", "digits", "--steps", "1", "--meta-batch", "1", "--batch-size", "8"]
    argv += ["--pool-size", "2", "--hidden", "16", "--rank", "4", "--code-dim", "8", "--threads", "1"]
    argv += ["--out", str(tmp_path / "run"), "--export", str(tmp_path / "g")]
    assert main(argv) == 0
    assert json.loads((tmp_path / "g.json").read_text())["config"]["code_dim"] == 8
    assert load(tmp_path / "g").decoder.code_dim == 8
