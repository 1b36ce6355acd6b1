"""GHN training on DistributedDataParallel: 2 gloo processes against one process on the same global meta-batch.

One ``torchrun --nproc-per-node 2`` launch runs every distributed scenario (the workers join the group through
``graphhyper.ghn.train.distributed``, as the entry point does) and saves what each rank saw; the tests compare
that with single-process runs made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.ghn import GHN, GHNConfig
from graphhyper.ghn.train import TrainConfig, Trainer, shard

# weight_scale "rms": the tolerances below are set for its gradients. Under "spectral" a few entries get gradients
# near AdamW's eps, where the rounding between one and two processes moves them by up to 1e-4 in 3 steps (the DDP
# mechanics tested here do not depend on the rule; one process and a batch of three give gradients equal to 2e-7).
GCFG = dict(hidden=16, layers=1, rank=4, weight_scale="rms")
# meta-batch 3 over 2 ranks: uneven shards (1 + 2 architectures), the case the loss scaling must get right
CFG = dict(tasks=["digits"], steps=3, meta_batch=3, batch_size=8, pool_size=4, ckpt_every=2, warmup=1, seed=5)
# the same through the command line (`python -m graphhyper.ghn.train`); its GHN has the default depth
CLI = ["--tasks", "digits", "--steps", "1", "--meta-batch", "3", "--batch-size", "8", "--pool-size", "4"]
CLI += ["--hidden", "16", "--rank", "4", "--warmup", "1", "--seed", "2", "--device", "cpu"]

_WORKER = textwrap.dedent("""
    import json, os, sys, torch
    torch.set_num_threads(1)
    from graphhyper.ghn import GHNConfig
    from graphhyper.ghn.train import Trainer, TrainConfig, distributed, main
    out, GCFG, CFG, CLI = sys.argv[1], *map(json.loads, sys.argv[2:5])
    rank = int(os.environ["RANK"])

    def trainer(out_dir=None):
        torch.manual_seed(rank)  # a different init per rank: DDP must start every rank from rank 0's weights
        return Trainer(None, TrainConfig(**CFG), out_dir, ghn_config=GHNConfig(**GCFG))

    res = {}
    with distributed("cpu"):
        straight = trainer(f"{out}/straight")
        res["init"] = {k: v.clone() for k, v in straight.ghn.state_dict().items()}
        res["rec1"] = straight.train_step()
        res["step1"] = {k: v.clone() for k, v in straight.ghn.state_dict().items()}
        res["grad1"] = {n: p.grad.clone() for n, p in straight.ghn.named_parameters()}
        straight.fit()  # on to CFG["steps"]
        res["straight"] = straight.ghn.state_dict()
        killed = trainer(f"{out}/killed")
        killed.fit(stop_at=2)  # killed after rank 0's checkpoint of step 2
        resumed = trainer(f"{out}/killed")
        res["resumed_at"] = int(resumed.resume_if_possible()) * resumed.step
        resumed.fit()
        res["resumed"] = resumed.ghn.state_dict()
        poisoned = trainer()
        compute = poisoned.compute_loss

        def nan_on_rank1(step):
            loss, correct = compute(step)
            return (loss * float("nan") if step == 0 and rank == 1 else loss), correct

        poisoned.compute_loss = nan_on_rank1
        poisoned.train_step()
        res["after_nan"] = {k: v.clone() for k, v in poisoned.ghn.state_dict().items()}
        poisoned.train_step()
        res["after_next"] = poisoned.ghn.state_dict()
        res["skipped"] = poisoned.skipped
        res["cli"] = main(["--out", f"{out}/cli", "--export", f"{out}/cli/exported", *CLI])
    torch.save(res, f"{out}/rank{rank}.pt")
""")


def _env() -> dict:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, TQDM_DISABLE="1", PYTHONPATH=path, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of the 2 ranks saved (a dict per rank), and the folder of their runs."""
    out = tmp_path_factory.mktemp("ddp")
    script = out / "worker.py"
    script.write_text(_WORKER)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script)]
    args = [str(out), *(json.dumps(v) for v in (GCFG, CFG, CLI))]
    done = subprocess.run([*launch, *args], env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)], out


def _single(out_dir=None, **kw) -> Trainer:
    torch.manual_seed(0)
    return Trainer(None, TrainConfig(**{**CFG, **kw}), out_dir, ghn_config=GHNConfig(**GCFG))


def _close(a: dict, b: dict, atol: float = 1e-6, mask: dict | None = None) -> None:
    """``a == b`` to float tolerance, on the entries of ``mask`` (all when ``None``)."""
    assert a.keys() == b.keys()
    for k in a:
        m = torch.ones_like(a[k], dtype=torch.bool) if mask is None else mask.get(k, torch.ones_like(a[k]).bool())
        assert torch.allclose(a[k][m], b[k][m], rtol=1e-5, atol=atol), (k, (a[k] - b[k])[m].abs().max())


def _conditioned(ga: dict, gb: dict) -> dict:
    """Entries whose gradient stands well above the rounding noise between two computations of it.

    AdamW's first step moves an entry by ``lr * g / (|g| + eps)``, about ``lr * sign(g)``: an entry whose
    gradient is rounding noise (exactly 0 in exact arithmetic, e.g. the attention key bias, since softmax ignores a
    shift shared by all keys) moves by noise of up to ``lr``, in one process as in two. Weight comparisons leave
    those few entries out (their gradients are compared like all others): per tensor, the entries with ``|g|``
    above 10x the largest difference between the two gradients, or equal in both (e.g. exact zeros).
    """
    mask = {}
    for k, g in ga.items():
        noise = (g - gb[k]).abs().max()
        mask[k] = (g.abs() > 10 * noise) | (g == gb[k])
    total = sum(g.numel() for g in ga.values())
    assert sum(int((~m).sum()) for m in mask.values()) < 0.02 * total
    return mask


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_shards_cover_the_meta_batch_once():
    for n in range(1, 9):
        for world in range(1, n + 1):
            parts = [list(range(n))[shard(n, r, world)] for r in range(world)]
            assert [i for part in parts for i in part] == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_one_ddp_step_equals_the_single_process_step(ranks):
    (r0, r1), _ = ranks
    assert _equal(r0["init"], r1["init"])  # rank 1 (seeded differently) starts from rank 0's weights
    assert _equal(r0["step1"], r1["step1"])  # averaged gradients: the replicas stay identical
    single = _single()
    assert _equal(single.ghn.state_dict(), r0["init"])  # the same start as the 2-process run
    rec = single.train_step()
    grads = {n: p.grad for n, p in single.ghn.named_parameters()}
    _close(grads, r0["grad1"])  # DDP's average == the single-process mean over the global meta-batch
    after = single.ghn.state_dict()
    assert not _equal(after, r0["init"])  # the step did move the weights
    _close(after, r0["step1"], mask=_conditioned(grads, r0["grad1"]))
    assert rec["loss"] == pytest.approx(r0["rec1"]["loss"], rel=1e-6)  # the logged loss is the global mean
    assert rec["acc"] == pytest.approx(r0["rec1"]["acc"])
    # a meta-batch of 1 (only rank 0's architecture) gives another gradient: the test can tell shards apart
    other = _single(meta_batch=1)
    other.train_step()
    assert any(not torch.allclose(p.grad, r0["grad1"][n], atol=1e-4) for n, p in other.ghn.named_parameters())


def test_resume_from_the_rank0_checkpoint_continues_identically(ranks):
    (r0, r1), out = ranks
    assert r0["resumed_at"] == 2 and r1["resumed_at"] == 2  # both ranks resumed from step 2
    assert _equal(r0["resumed"], r0["straight"]) and _equal(r1["resumed"], r0["straight"])
    st = torch.load(out / "killed" / "last.pt", weights_only=True)
    assert st["step"] == CFG["steps"] and st["world_size"] == 2
    assert sorted(p.name for p in (out / "killed").iterdir()) == ["history.json", "last.pt"]
    # and the 2-process run follows the single-process run over the same global meta-batches
    single = _single()
    single.train_step()
    mask = _conditioned({n: p.grad for n, p in single.ghn.named_parameters()}, r0["grad1"])
    single.fit()
    assert not _equal(single.ghn.state_dict(), r0["step1"])
    _close(single.ghn.state_dict(), r0["straight"], atol=1e-5, mask=mask)


def test_a_nan_on_one_rank_skips_the_step_on_every_rank(ranks):
    (r0, r1), _ = ranks
    assert r0["skipped"] == [0] and r1["skipped"] == [0]
    assert _equal(r0["init"], r0["after_nan"]) and _equal(r1["init"], r1["after_nan"])  # no update anywhere
    assert _equal(r0["after_next"], r1["after_next"]) and not _equal(r0["after_next"], r0["after_nan"])


def test_meta_batch_smaller_than_the_world_is_refused(monkeypatch):
    import graphhyper.ghn.train as train

    monkeypatch.setattr(train, "_dist", lambda: (torch.distributed, 0, 4))
    with pytest.raises(InvalidInputError, match="--meta-batch 4 or more"):
        Trainer(None, TrainConfig(**{**CFG, "meta_batch": 3}), None, ghn_config=GHNConfig(**GCFG))


def test_entry_point_under_torchrun_matches_one_process(ranks, tmp_path):
    """``python -m graphhyper.ghn.train ARGS`` in 2 processes == ``graphhyper ghn train ARGS`` in one."""
    from graphhyper.cli import main

    (r0, r1), out = ranks
    assert r0["cli"] == r1["cli"] == 0
    assert main(["ghn", "train", "--out", str(tmp_path / "one"), *CLI]) == 0
    two = torch.load(out / "cli" / "last.pt", weights_only=True)  # written by rank 0
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    assert two["world_size"] == 2 and one["world_size"] == 1 and two["step"] == one["step"] == 1
    assert torch.equal(two["gen"], one["gen"])  # the shared generator drew the same meta-batch and data
    names = [n for n, _ in GHN(GHNConfig.from_dict(json.loads(one["ghn_config"]))).named_parameters()]
    beta1 = one["opt"]["param_groups"][0]["betas"][0]
    grads = [{n: st["opt"]["state"][i]["exp_avg"] / (1 - beta1) for i, n in enumerate(names)} for st in (one, two)]
    _close(grads[1], grads[0], atol=1e-5)  # the same first-step gradients (AdamW's first moment is (1 - beta1) g)
    _close(two["ghn"], one["ghn"], mask=_conditioned(*grads))
    meta = json.loads((out / "cli" / "exported.json").read_text())["meta"]  # the recipe, launch included
    assert meta["world_size"] == 2 and meta["command"].endswith("--nproc-per-node 2")


def test_nproc_per_node_relaunches_under_torchrun(tmp_path, monkeypatch):
    import graphhyper.cli.ghn as cli_ghn
    from graphhyper.cli import build_parser, main

    calls = []
    monkeypatch.setattr(cli_ghn, "launch_torchrun", lambda argv, nproc: calls.append((argv, nproc)) or 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    argv = ["ghn", "train", "--out", str(tmp_path / "run"), *CLI, "--mip", "--nproc-per-node", "2"]
    assert main(argv) == 0
    [(relaunch, nproc)] = calls
    assert nproc == 2 and "--nproc-per-node" not in relaunch
    # every other option reaches the workers unchanged
    again, first = build_parser().parse_args(["ghn", "train", *relaunch]), build_parser().parse_args(argv)
    assert {**vars(again), "nproc_per_node": 2} == vars(first)
    assert not (tmp_path / "run").exists()  # the launcher itself trains nothing


def test_more_processes_than_architectures_is_refused(tmp_path, capsys):
    from graphhyper.cli import main

    argv = ["ghn", "train", "--out", str(tmp_path), *CLI, "--meta-batch", "2", "--nproc-per-node", "4"]
    assert main(argv) == 1
    assert "--meta-batch 4 or more" in capsys.readouterr().err


def test_a_world_size_without_torchrun_names_the_fix(monkeypatch):
    from graphhyper.ghn.train import distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    for var in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(InvalidInputError, match="launch with torchrun"), distributed("cpu"):
        pass
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(InvalidInputError, match="WORLD_SIZE='two' is not an integer"), distributed("cpu"):
        pass
