"""Transformer GHN tasks: the byte-level text task and the ViT tasks train through the ordinary Trainer."""

from __future__ import annotations

import pytest
import torch

from graphhyper.ghn import tasks as tasks_mod
from graphhyper.ghn.model import GHNConfig
from graphhyper.ghn.train import TrainConfig, Trainer
from graphhyper.ghn.transformer_tasks import load_text_task

_TINY = GHNConfig(hidden=16, layers=1, heads=2, decoder="lowrank")


@pytest.fixture()
def text_task(tmp_path, monkeypatch):
    lib = tmp_path / "Lib"
    lib.mkdir()
    for i in range(40):
        (lib / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i} + {i % 7}\n" * 5)
    task = load_text_task(context=16, eval_count=8, root=tmp_path / "cache", lib_dir=lib)
    monkeypatch.setitem(tasks_mod._CACHE, "pytext", task)
    return task


def test_text_batches_are_shifted_windows(text_task):
    x, y = text_task.batch(torch.Generator().manual_seed(0), 5)
    assert x.shape == y.shape == (5, 16) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    x2, _ = text_task.batch(torch.Generator().manual_seed(0), 5)
    assert torch.equal(x, x2)
    xv, yv = text_task.split("val")
    assert xv.shape == (8, 16) and torch.equal(xv[:, 1:], yv[:, :-1])
    specs = tasks_mod.arch_specs(text_task, "wide", 3, role="test")
    assert all(s.width >= 96 and s.context == 16 for s in specs)
    train = {s.hash() for s in tasks_mod.arch_specs(text_task, "id", 20, role="train")}
    held = {s.hash() for s in tasks_mod.arch_specs(text_task, "id", 20, role="test")}
    assert len(train) > 5  # distinct draws (the ID space is small, so a few coincide by chance)
    assert held != train


def test_trainer_runs_on_text_and_vit_tasks(text_task):
    for name in ("pytext", "digits-vit"):
        pytest.importorskip("sklearn")
        cfg = TrainConfig(tasks=[name], steps=3, meta_batch=2, batch_size=4, pool_size=4, warmup=1, log_every=1)
        tr = Trainer(None, cfg, None, ghn_config=_TINY)
        hist = tr.fit()
        assert len(hist) == 3 and all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
        assert not tr.skipped
        assert type(tr.pools[0].get(0, "cpu")[0]).__name__ == ("GPT" if name == "pytext" else "ViT")


def test_unknown_arch_split_names_choices(text_task):
    from graphhyper.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="choose one of"):
        tasks_mod.arch_specs(text_task, "dense", 1)
