"""Trainer: exact resume after a kill, NaN/inf guard (data parallel: test_train_ddp.py)."""

from __future__ import annotations

import json

import pytest
import torch

from graphhyper.errors import CheckpointError
from graphhyper.ghn import GHN, GHNConfig
from graphhyper.ghn.train import TrainConfig, Trainer

GCFG = dict(hidden=16, layers=1, rank=4)


def _cfg(**kw):
    base = dict(tasks=["digits"], steps=4, meta_batch=1, batch_size=8, pool_size=2, ckpt_every=2, warmup=2, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _trainer(out=None, **kw):
    torch.manual_seed(0)
    return Trainer(None, _cfg(**kw), out, ghn_config=GHNConfig(**GCFG))


def test_exact_resume_after_kill(tmp_path):
    straight = _trainer(tmp_path / "a")
    straight.fit()
    killed = _trainer(tmp_path / "b")
    killed.fit(stop_at=2)  # "killed" after the checkpoint of step 2
    assert (tmp_path / "b" / "last.pt").exists()
    resumed = _trainer(tmp_path / "b")
    assert resumed.resume_if_possible() and resumed.step == 2
    resumed.fit()
    a, b = straight.ghn.state_dict(), resumed.ghn.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and training did change the weights
    fresh = _trainer().ghn.state_dict()
    assert any(not torch.equal(a[k], fresh[k]) for k in a)


def test_checkpoint_of_another_config_is_refused(tmp_path):
    t = _trainer(tmp_path)
    t.save_checkpoint()
    torch.manual_seed(0)
    other = Trainer(None, _cfg(), tmp_path, ghn_config=GHNConfig(hidden=8, layers=1, rank=4))
    with pytest.raises(CheckpointError, match="another GHN config"):
        other.resume_if_possible()
    # a run saved before weight_scale existed (its JSON config lacks the key) trained with "rms"
    st = torch.load(tmp_path / "last.pt", weights_only=True)
    old = {k: v for k, v in json.loads(st["ghn_config"]).items() if k != "weight_scale"}
    torch.save({**st, "ghn_config": json.dumps(old)}, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match="weight_scale='rms' \\(now 'spectral'\\).*--weight-scale rms"):
        _trainer(tmp_path).resume_if_possible()
    torch.manual_seed(0)
    assert Trainer(None, _cfg(), tmp_path, ghn_config=GHNConfig(**{**GCFG, "weight_scale": "rms"})).resume_if_possible()
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="Cannot read"):
        t.load_checkpoint(tmp_path / "last.pt")


def test_nan_guard_skips_and_logs(caplog):
    t = _trainer(steps=3)
    original = t.compute_loss

    def poisoned(step):
        loss, acc = original(step)
        return (loss * float("nan") if step == 1 else loss), acc

    t.compute_loss = poisoned
    t.train_step()
    before = {k: v.clone() for k, v in t.ghn.state_dict().items()}
    with caplog.at_level("WARNING", logger="graphhyper.ghn.train"):
        rec = t.train_step()
    assert rec.get("skipped") and t.skipped == [1]
    assert "step 1 skipped" in caplog.text
    after = t.ghn.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no update from the bad step
    t.train_step()
    assert all(torch.isfinite(p).all() for p in t.ghn.parameters())
    assert any(not torch.equal(before[k], t.ghn.state_dict()[k]) for k in before)


def test_pool_mix_splits_the_pool_by_share():
    from graphhyper.errors import InvalidInputError
    from graphhyper.ghn.train import pool_counts

    assert pool_counts(10, {"id": 1, "bn_free": 1}) == {"id": 5, "bn_free": 5}
    assert pool_counts(7, {"id": 2, "bn_free": 1}) == {"id": 5, "bn_free": 2}
    assert sum(pool_counts(11, {"id": 0.3, "dense": 0.3, "bn_free": 0.4}).values()) == 11
    with pytest.raises(InvalidInputError, match="bn_free"):
        pool_counts(4, {"bnfree": 1.0})
    with pytest.raises(InvalidInputError, match="positive sum"):
        pool_counts(4, {"id": 0.0})
    t = _trainer(pool_size=6, pool_mix={"id": 0.5, "bn_free": 0.5})
    norms = [s.norm for s in t.pools[0].specs]
    assert norms.count("none") == 3 and norms.count("bn") == 3


def test_init_from_starts_at_the_saved_weights_and_trains_them(tmp_path):
    from graphhyper.ghn import hub
    from graphhyper.ghn.train import run_training

    torch.manual_seed(1)
    start = GHN(GHNConfig(**GCFG))
    hub.save(start, tmp_path / "start")
    before = {k: v.clone() for k, v in start.state_dict().items()}
    ft = run_training(
        _cfg(steps=1, init_from=str(tmp_path / "start.safetensors")), GHNConfig(hidden=8, layers=1), tmp_path / "run"
    )
    assert ft.ghn.config.hidden == GCFG["hidden"]  # the saved GHN's config, not the one passed
    after = ft.ghn.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert max((before[k] - after[k]).abs().max().item() for k in before) < 0.05  # one small step from it


def test_cli_pool_mix_and_init_from_reach_the_train_config():
    import argparse

    from graphhyper.cli import ghn as cli_ghn

    parser = argparse.ArgumentParser()
    cli_ghn.add_parser(parser.add_subparsers())
    args = parser.parse_args(["ghn", "train", "--pool-mix", "id=0.5,bn_free=0.5", "--init-from", "ghn-tiny-tiled"])
    assert args.pool_mix == {"id": 0.5, "bn_free": 0.5} and args.init_from == "ghn-tiny-tiled"
    with pytest.raises(argparse.ArgumentTypeError, match="SPLIT=SHARE"):
        cli_ghn._pool_mix("bnfree=1")


def test_recorded_command_line_parses_back():
    import argparse

    from graphhyper.cli import ghn as cli_ghn

    parser = argparse.ArgumentParser()
    cli_ghn.add_parser(parser.add_subparsers())
    args = parser.parse_args(["ghn", "train", "--pool-mix", "id=0.5,bn_free=0.5"])
    line = cli_ghn._command_line(args)
    assert "--pool-mix id=0.5,bn_free=0.5" in line
    again = parser.parse_args(line.split()[1:])
    assert again.pool_mix == args.pool_mix
