"""Kill and resume: a process killed with SIGKILL mid-run loses nothing and ends where an unkilled run ends."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
STEPS, EVERY = 8, 2

TRAIN = textwrap.dedent(f"""
    import sys, time, torch
    from graphhyper.ghn import GHNConfig
    from graphhyper.ghn.train import TrainConfig, Trainer
    torch.manual_seed(0)
    cfg = TrainConfig(tasks=["digits"], steps={STEPS}, meta_batch=2, batch_size=16, pool_size=3,
                      ckpt_every={EVERY}, warmup=2, seed=5)
    t = Trainer(None, cfg, sys.argv[1], ghn_config=GHNConfig(hidden=16, layers=1, rank=4))
    t.resume_if_possible()
    slow = len(sys.argv) > 2
    while t.step < {STEPS}:
        t.fit(stop_at=t.step + 1)
        if slow:
            time.sleep(0.5)
    torch.save(t.ghn.state_dict(), sys.argv[1] + "/final.pt")
""")


def _train(out: pathlib.Path, slow: bool = False) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    args = [sys.executable, "-c", TRAIN, str(out)] + (["slow"] if slow else [])
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_ghn_training_killed_mid_run_resumes_to_same_weights(tmp_path, record):
    record("GHN training SIGKILLed mid-run", f"kill after the step-{EVERY} checkpoint, resume, compare weights")
    straight = _train(tmp_path / "straight")
    victim = _train(tmp_path / "victim", slow=True)
    ckpt = tmp_path / "victim" / "last.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and victim.poll() is None:
        time.sleep(0.2)
    assert ckpt.exists(), victim.communicate()[0].decode()[-2000:]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "victim" / "final.pt").exists()  # it really died before the end
    resumed = _train(tmp_path / "victim")
    for p in (straight, resumed):
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out.decode()[-2000:]
    a = torch.load(tmp_path / "straight" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "victim" / "final.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_optuna_study_killed_mid_run_loses_no_trial(tmp_path, record):
    optuna = pytest.importorskip("optuna")
    from optuna.trial import TrialState

    record("Optuna study SIGKILLed mid-run", "SQLite study killed after some trials, resumed to its target")
    worker = ROOT / "tests" / "search" / "_worker.py"
    url = f"sqlite:///{tmp_path / 'study.db'}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(worker), url, "kill", "30", "0", "0.3"]
    victim = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and victim.poll() is None and done < 5:
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="kill", storage=url)
            done = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
        except Exception:  # noqa: BLE001 - the study may not exist yet
            done = 0
    assert done >= 5, victim.communicate()[0].decode()[-2000:]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    before = {
        t.number: t.value
        for t in optuna.load_study(study_name="kill", storage=url).trials
        if t.state == TrialState.COMPLETE
    }
    out = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    assert out.returncode == 0, out.stdout.decode()[-2000:]
    trials = optuna.load_study(study_name="kill", storage=url).trials
    after = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}
    assert all(after.get(k) == v for k, v in before.items())  # no completed trial lost or changed
    assert len(after) >= 30
    assert not [t for t in trials if t.state == TrialState.RUNNING]
