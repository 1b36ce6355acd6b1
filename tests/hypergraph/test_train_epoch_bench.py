"""scripts/bench/train_epoch.py runs as a user runs it, and its reference-code peers (AllSet, ED-HNN checkouts,
never present in CI) are skipped with a reason that says how to get them, or refused with the fix when the path
is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "train_epoch.py"


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHHYPER_") or k == "GRAPHHYPER_DATA"}
    env.update(HOME=str(tmp_path), OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(BENCH), "--datasets", "zoo", "--threads", "1", "--rounds", "1", "--budget", "0.01"]
    return subprocess.run([*cmd, *extra], capture_output=True, text=True, env=env, timeout=300)


def test_reference_peers_without_checkout_are_skipped(tmp_path, shared_data):
    out_json = tmp_path / "rows.json"
    done = _run(tmp_path, "--models", "unigcnii,ed-hnn", "--peers", "allset,edhnn", "--json", str(out_json))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "peer allset skipped" in done.stdout and "--allset-src" in done.stdout
    assert "peer edhnn skipped" in done.stdout and "GRAPHHYPER_EDHNN_SRC" in done.stdout
    assert "machine: " in done.stdout and "load average" in done.stdout
    rows = json.loads(out_json.read_text())["rows"]
    assert [(r["model"], r["impl"]) for r in rows] == [("unigcnii", "graphhyper"), ("ed-hnn", "graphhyper")]
    assert all(r["train_ms"] > 0 and r["eval_ms"] > 0 for r in rows)


def test_wrong_checkout_path_names_the_fix(tmp_path, shared_data):
    done = _run(tmp_path, "--models", "allset-transformer", "--peers", "allset", "--allset-src", str(tmp_path))
    assert done.returncode != 0
    assert "pass the src/ folder of an AllSet checkout" in done.stderr


def test_unknown_peer_is_refused(tmp_path):
    done = _run(tmp_path, "--peers", "allset,nope")
    assert done.returncode == 2 and "nope" in done.stderr and "edhnn" in done.stderr
