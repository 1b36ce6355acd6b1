"""Load test of the search storage: 4 worker processes x 100 trials on one PostgreSQL study."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import uuid

import pytest

WORKER = pathlib.Path(__file__).resolve().parents[1] / "search" / "_worker.py"
WORKERS, PER_WORKER = 4, 100


@pytest.mark.slow
def test_four_workers_hundred_trials_each(postgres_url, tmp_path, record):
    optuna = pytest.importorskip("optuna")
    from optuna.trial import TrialState

    record("PostgreSQL storage under load", f"{WORKERS} worker processes x {PER_WORKER} trials on one study")
    study_name = f"load-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "evals.log"
    total = WORKERS * PER_WORKER
    env = dict(os.environ, PYTHONPATH=str(WORKER.parents[2]))
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), postgres_url, study_name, str(total), str(seed), "0", "--log", str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        for seed in range(WORKERS)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out.decode()[-2000:]
    study = optuna.load_study(study_name=study_name, storage=postgres_url)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))  # every trial recorded exactly once
    states = {t.state for t in trials}
    assert states <= {TrialState.COMPLETE}, states  # nothing left RUNNING or FAILED
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert total <= len(complete) <= total + WORKERS - 1  # the target, plus at most in-flight stragglers
    assert study.best_value == max(t.value for t in complete)
    evaluated = log.read_text().splitlines()
    assert len(evaluated) <= len(complete)  # duplicates answered from storage, not re-run
    assert len({line.split()[1] for line in evaluated}) == WORKERS  # every worker really evaluated trials
