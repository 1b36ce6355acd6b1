"""run(): define-by-run trials, duplicate detection, resumption after a killed worker, shared PostgreSQL studies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from graphhyper.errors import SearchError
from graphhyper.search import Choice, SearchSpace, nb201_space, run
from graphhyper.search.claims import is_claim
from graphhyper.search.objectives import MultiObjective
from graphhyper.search.study import make_storage

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_worker.py")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _toy_space():
    return SearchSpace({"a": Choice("a", ["x", "y"]), "b": Choice("b", [1, 2])}, name="toy")


def test_duplicates_are_not_evaluated_twice(fast_tmp):
    calls = []

    def objective(c):
        calls.append(c.hash)
        return {"x": 1.0, "y": 2.0}[c.arch["a"]] * c.arch["b"]

    res = run(_toy_space(), objective, 12, storage=f"sqlite:///{fast_tmp}/s.db", seed=0, progress=False)
    trials = res.trials
    assert len(trials) == 12
    assert len(calls) == len(set(calls)) <= 4  # 4 architectures, each evaluated once
    assert res.evaluated == len(calls) and res.duplicates == 12 - len(calls)
    for t in trials:
        assert {"arch", "hash"} <= set(t.user_attrs)
        if "duplicate_of" in t.user_attrs:
            first = res.study.trials[t.user_attrs["duplicate_of"]]
            assert first.user_attrs["hash"] == t.user_attrs["hash"] and first.value == t.value
    assert res.best.value == max(t.value for t in trials) == 4.0
    assert res.best_arch() == {"a": "y", "b": 2}


def test_resume_counts_existing_trials(fast_tmp):
    url = f"sqlite:///{fast_tmp}/r.db"
    seen = []

    def objective(c):
        seen.append(c.hash)
        return float(sum(op == "nor_conv_3x3" for op in c.arch))

    space = nb201_space()
    run(space, objective, 6, storage=url, study_name="r", seed=1, progress=False)
    before = {t.number: t.value for t in optuna.load_study(study_name="r", storage=url).trials}
    res = run(space, objective, 10, storage=url, study_name="r", seed=1, progress=False)
    assert len(res.trials) == 10
    assert {t.number: t.value for t in res.study.trials if t.number in before} == before
    assert len(seen) == len(set(seen))  # a resumed run draws new architectures


def test_journal_storage_and_direction_mismatch(fast_tmp):
    path = f"journal:{fast_tmp}/j.log"
    res = run(_toy_space(), lambda c: float(c.arch["b"]), 3, storage=path, study_name="j", progress=False)
    assert len(res.trials) == 3 and res.dashboard is not None
    with pytest.raises(SearchError, match="directions"):
        run(_toy_space(), lambda c: 1.0, 4, storage=path, study_name="j", directions="minimize", progress=False)
    with pytest.raises(SearchError, match="scheme"):
        run(_toy_space(), lambda c: 1.0, 1, storage="ftp://x", progress=False)


def test_a_killed_workers_claim_does_not_block_the_restart(fast_tmp, monkeypatch):
    """A worker killed mid-evaluation leaves its claim and a RUNNING trial; reclaim_running re-queues the trial,
    and the restarted worker takes the stale claim over, evaluates that architecture and leaves no claim behind."""
    from graphhyper.search import claims
    from graphhyper.search.claims import Claims

    monkeypatch.setattr(claims, "CLAIM_WAIT_S", 20.0)  # a broken takeover fails, it does not hang
    path = f"journal:{fast_tmp}/k.log"
    calls = []

    def objective(c):
        calls.append(c.hash)
        return float(c.arch["b"])

    space = _toy_space()
    study = optuna.create_study(
        study_name="k", storage=make_storage(path, heartbeat_interval=None), direction="maximize"
    )
    dead = study.ask()
    h = space.hash(space.suggest(dead))  # the worker drew an architecture,
    assert Claims(study, lambda h: None).acquire(dead, h) is None  # claimed it, then died: no release, no tell
    res = run(space, objective, 4, storage=path, study_name="k", progress=False, reclaim_running=True)
    assert study.trials[dead.number].state == TrialState.FAIL
    retry = [t for t in res.trials if t.user_attrs.get("retry_of") == dead.number]
    assert retry and retry[0].state == TrialState.COMPLETE and retry[0].user_attrs["hash"] == h
    assert calls.count(h) == 1  # evaluated once, by the restarted worker
    assert {s.study_name for s in study._storage.get_all_studies()} == {"k"}  # the stale claim is gone


def test_storage_retries_the_schema_creation_race(fast_tmp, monkeypatch):
    """Workers started together on a new database race to create the tables; the loser must retry, not crash."""
    from sqlalchemy.exc import OperationalError

    from graphhyper.search import study as study_mod

    real, calls = optuna.storages.RDBStorage, []

    def flaky(url, **kw):
        calls.append(url)
        if len(calls) < 3:
            raise OperationalError("CREATE TABLE", {}, Exception("table study_user_attributes already exists"))
        return real(url, **kw)

    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    storage = study_mod.make_storage(f"sqlite:///{fast_tmp}/race.db", heartbeat_interval=None)
    assert len(calls) == 3 and isinstance(storage, real)
    calls.clear()
    retry = study_mod._rdb_storage
    monkeypatch.setattr(study_mod, "_rdb_storage", lambda url, e, kw: retry(url, e, kw, attempts=2))
    with pytest.raises(OperationalError, match="already exists"):
        study_mod.make_storage(f"sqlite:///{fast_tmp}/race2.db", heartbeat_interval=None)


def test_multi_objective_pareto_and_constraints(fast_tmp):
    space = nb201_space()

    def acc(c):
        return sum({"nor_conv_3x3": 3, "nor_conv_1x1": 1, "skip_connect": 1}.get(op, 0) for op in c.arch)

    def cost(c):
        return float(sum(op == "nor_conv_3x3" for op in c.arch))

    obj = MultiObjective([acc, cost], constraints={"max_conv3": (cost, 3)})
    res = run(
        space,
        obj,
        25,
        storage=f"sqlite:///{fast_tmp}/m.db",
        directions=["maximize", "minimize"],
        seed=0,
        progress=False,
    )
    front = res.pareto
    assert front
    for t in front:
        assert t.values[1] <= 3  # feasible only
        dominated = [
            u
            for u in res.trials
            if u.values[0] >= t.values[0]
            and u.values[1] <= t.values[1]
            and tuple(u.values) != tuple(t.values)
            and u.values[1] <= 3
        ]
        assert not dominated
    png = res.plot_pareto(fast_tmp / "pareto.png", names=["acc", "conv3"])
    assert png.stat().st_size > 1000
    with pytest.raises(SearchError, match="several objectives"):
        _ = res.best


def _spawn(storage, study, n, seed, sleep, log, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, str(WORKER), storage, study, str(n), str(seed), str(sleep), "--log", str(log)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _check_study(study, log_path, n_target, killed_in_flight=0):
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) >= n_target
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    evaluated = Counter(t.user_attrs["hash"] for t in complete if t.user_attrs.get("evaluated"))
    assert max(evaluated.values()) == 1  # no architecture completed twice
    logged = Path(log_path).read_text().split("\n")[:-1]
    assert len(logged) == sum(evaluated.values()) + killed_in_flight
    assert study.best_trial.value == max(t.value for t in complete)
    assert study.best_trial.number in {t.number for t in complete if t.value == study.best_trial.value}
    names = [s.study_name for s in study._storage.get_all_studies()]
    assert not [n for n in names if is_claim(n)]  # every claim was released


def test_killed_worker_resumes_default_sqlite(fast_tmp):
    study_name = f"kill-{uuid.uuid4().hex[:6]}"
    log = fast_tmp / "evals.log"
    url = f"sqlite:///{fast_tmp}/graphhyper-search.db"  # the default file, in the worker's cwd
    proc = _spawn("default", study_name, 6, 0, 0.3, log, fast_tmp)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            done = [
                t
                for t in optuna.load_study(study_name=study_name, storage=url).trials
                if t.state == TrialState.COMPLETE
            ]
        except Exception:  # study not created yet
            done = []
        if len(done) >= 2 and log.exists() and len(log.read_text().splitlines()) > len(done):
            break  # mid-evaluation of the next trial
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    study = optuna.load_study(study_name=study_name, storage=url)
    before = {t.number: (t.value, t.params) for t in study.trials if t.state == TrialState.COMPLETE}
    running = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert before and len(running) == 1
    time.sleep(3)  # heartbeat (1 s) is now stale (grace 2 s)
    proc = _spawn("default", study_name, 6, 0, 0.0, log, fast_tmp)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out.decode()[-2000:]
    study = optuna.load_study(study_name=study_name, storage=url)
    after = {t.number: (t.value, t.params) for t in study.trials if t.state == TrialState.COMPLETE}
    assert all(after[k] == v for k, v in before.items())  # nothing completed was lost or changed
    stale = study.trials[running[0].number]
    assert stale.state == TrialState.FAIL
    retried = [t for t in study.trials if t.params == stale.params and t.state == TrialState.COMPLETE]
    assert retried  # the interrupted architecture was re-run
    _check_study(study, log, 6, killed_in_flight=1)


@pytest.fixture
def postgres(postgres_url):
    """The loopback PostgreSQL of tests/conftest.py (CI's, or one started from .ci/postgres.sh)."""
    return postgres_url


def test_three_workers_share_a_postgres_study(postgres, fast_tmp):
    study_name = f"pg-{uuid.uuid4().hex[:8]}"
    log = fast_tmp / "evals.log"
    procs = [_spawn(postgres, study_name, 9, seed, 0.02, log, fast_tmp) for seed in range(3)]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out.decode()[-2000:]
    study = optuna.load_study(study_name=study_name, storage=postgres)
    _check_study(study, log, 9)
    pids = {line.split()[1] for line in log.read_text().splitlines()}
    assert len(pids) >= 2  # the work really was shared
