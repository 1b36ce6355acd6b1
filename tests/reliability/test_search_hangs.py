"""Search never hangs and never lets a storage error escape raw: a killed claim holder is taken over, a search
whose trials all fail stops with a SearchError, and a corrupt storage file is refused, left as it was."""

from __future__ import annotations

import hashlib
import math
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from graphhyper.errors import SearchError  # noqa: E402
from graphhyper.search import nb201_space, run  # noqa: E402
from graphhyper.search.study import make_storage  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
STORAGES = ["sqlite", "journal", "postgresql"]

# One architecture only, so every trial of every worker contends for the same claim; the first evaluation of it
# takes long (that worker gets killed), any later one returns at once.
WORKER = textwrap.dedent("""
    import os, sys, time
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from graphhyper.search import Choice, SearchSpace, run
    storage, study, log = sys.argv[1:4]

    def objective(c):
        with open(log, "a") as f:
            first = f.tell() == 0
            f.write(f"{os.getpid()}\\n")
        time.sleep(120 if first else 0)
        return 1.0

    run(SearchSpace({"op": Choice("op", ["only"])}, name="one"), objective, 1, storage=storage, study_name=study,
        progress=False, heartbeat_interval=1, grace_period=2)
""")


@pytest.fixture(params=STORAGES)
def storage(request, tmp_path):
    """A fresh storage URL of each kind (PostgreSQL: a new study on the session's throw-away server)."""
    if request.param != "postgresql":
        yield {"sqlite": f"sqlite:///{tmp_path / 's.db'}", "journal": f"journal:{tmp_path / 's.log'}"}[request.param]
        return
    url = request.getfixturevalue("postgres_url")
    before = set(optuna.get_all_study_names(make_storage(url, heartbeat_interval=None)))
    yield url
    store = make_storage(url, heartbeat_interval=None)  # the server is shared: leave it as found
    for name in set(optuna.get_all_study_names(store)) - before:
        optuna.delete_study(study_name=name, storage=store)


def _worker(url: str, study: str, log: pathlib.Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, study, str(log)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _load(url: str, study: str):
    return optuna.load_study(study_name=study, storage=make_storage(url, heartbeat_interval=None))


def _wait_for(cond, what: str, procs, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, f"a worker ended before {what}: " + dead[0].communicate()[0].decode()[-2000:]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def _waiting_trials(url: str, study: str) -> int:
    try:
        trials = _load(url, study).get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    except KeyError:  # the study is not created yet
        return 0
    return sum("hash" in t.user_attrs for t in trials)


@pytest.mark.timeout(150)
def test_a_waiter_takes_over_the_claim_of_a_killed_worker(storage, tmp_path, record):
    record("search: claim of a SIGKILLed worker", f"{storage.split(':')[0]}: worker waits on a claim, holder killed")
    study, log = f"hang-{uuid.uuid4().hex[:8]}", tmp_path / "evals.log"
    workers = [_worker(storage, study, log) for _ in range(2)]
    try:
        _wait_for(
            lambda: _waiting_trials(storage, study) == 2 and log.exists() and log.read_text(),
            "one worker evaluates and the other waits for it",
            workers,
        )
        time.sleep(0.5)
        holder, waiter = sorted(workers, key=lambda p: str(p.pid) not in log.read_text().split())
        assert log.read_text().split() == [str(holder.pid)]  # the waiter is still waiting
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = time.monotonic()
        try:
            out, _ = waiter.communicate(timeout=30)  # a few heartbeats, not the 6 h wait bound
        except subprocess.TimeoutExpired:
            pytest.fail("the waiting worker is still blocked 30 s after the claim holder was killed")
        took = time.monotonic() - killed
        assert waiter.returncode == 0, out.decode()[-2000:]
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert log.read_text().split() == [str(holder.pid), str(waiter.pid)]  # evaluated once by the survivor
    st = _load(storage, study)
    states = [t.state for t in st.get_trials(deepcopy=False)]
    assert states.count(TrialState.COMPLETE) == 1 and TrialState.RUNNING not in states, states
    assert optuna.get_all_study_names(make_storage(storage, heartbeat_interval=None)).count(study) == 1
    assert not [
        n
        for n in optuna.get_all_study_names(make_storage(storage, heartbeat_interval=None))
        if n.startswith(study + "::claim::")
    ]  # no claim left behind
    assert took < 20, f"takeover took {took:.1f} s"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("failure", ["nan", "raise"])
def test_a_search_whose_trials_all_fail_stops_with_a_clear_error(storage, failure, record):
    record("search: every trial fails", f"{storage.split(':')[0]}: objective {failure}s, run(n_trials=3)")
    study = f"fail-{uuid.uuid4().hex[:8]}"

    def objective(c):
        if failure == "nan":
            return math.nan
        raise ValueError("no accuracy for this cell")

    start = time.monotonic()
    with pytest.raises(SearchError) as err:
        run(
            nb201_space(),
            objective,
            n_trials=3,
            storage=storage,
            study_name=study,
            progress=False,
            catch=(ValueError,),
            heartbeat_interval=1,
            timeout=20,
        )  # timeout: a run blind to failures ends
    msg = str(err.value)
    assert "10 trials failed" in msg and "max_failures" in msg, msg
    assert ("nan" in msg) if failure == "nan" else ("ValueError: no accuracy for this cell" in msg), msg
    trials = _load(storage, study).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.FAIL] * 10
    assert time.monotonic() - start < 20


@pytest.mark.timeout(60)
def test_the_failure_budget_is_a_parameter_and_occasional_failures_pass(tmp_path, record):
    record("search: failure budget", "max_failures=2 with a failing objective; 3 NaNs among 5 good trials")
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with pytest.raises(SearchError, match="2 trials failed"):
        run(
            nb201_space(),
            lambda c: math.nan,
            n_trials=3,
            storage=url,
            study_name="b",
            progress=False,
            max_failures=2,
            timeout=20,
        )
    calls = []

    def flaky(c):
        calls.append(1)
        return math.nan if len(calls) <= 3 else 1.0

    res = run(nb201_space(), flaky, n_trials=5, storage=url, study_name="flaky", progress=False, timeout=20)
    assert len(res.trials) == 5
    with pytest.raises(SearchError, match="max_failures"):
        run(nb201_space(), flaky, n_trials=5, storage=url, study_name="zero", progress=False, max_failures=0)


def _sha(p: pathlib.Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


CORRUPT = {
    "sqlite-random": ("s.db", os.urandom(4096)),
    "sqlite-bad-pages": ("s.db", b"SQLite format 3\x00" + b"\xff" * 4000),
    "journal-random": ("s.log", b"\xc1\x80" + os.urandom(4096)),
    "journal-json-not-a-log": ("s.log", b'{"a": 1}\n{"b": 2}\n'),
    "journal-text-line": ("s.log", b"epoch 1 loss 0.3\n"),
    "journal-garbage-inside": (
        "s.log",
        b'{"op_code":0,"worker_id":"w","study_name":"x","directions":[1]}\n'
        b"\xff\xfe\x00garbage\n"
        b'{"op_code":0,"worker_id":"w","study_name":"y","directions":[1]}\n',
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_corrupt_storage_file_is_refused_and_left_unchanged(case, tmp_path, record):
    record("search: corrupt storage file", f"{case}: run() on it")
    name, data = CORRUPT[case]
    path = tmp_path / name
    path.write_bytes(data)
    before = _sha(path)
    url = f"sqlite:///{path}" if name.endswith(".db") else f"journal:{path}"
    with pytest.raises(SearchError) as err:
        run(nb201_space(), lambda c: 1.0, n_trials=1, storage=url, progress=False)
    msg = str(err.value)
    assert str(path) in msg and "unchanged" in msg and "storage=" in msg, msg
    assert _sha(path) == before  # nothing overwritten, nothing deleted


@pytest.mark.timeout(60)
def test_a_storage_path_that_cannot_be_a_file_is_refused(tmp_path, record):
    record("search: unusable storage path", "a directory, a FIFO, a missing folder as SQLite / journal storage")
    os.mkfifo(tmp_path / "pipe.log")  # reading it would block forever
    (tmp_path / "dir.db").mkdir()
    for url, says in [
        (f"journal:{tmp_path / 'pipe.log'}", "not a regular file"),
        (f"sqlite:///{tmp_path / 'dir.db'}", "not a regular file"),
        (f"sqlite:///{tmp_path / 'no' / 'such' / 's.db'}", "does not exist"),
        (f"journal:{tmp_path / 'no' / 'such' / 's.log'}", "cannot be opened"),
    ]:
        with pytest.raises(SearchError, match=says):
            make_storage(url)


@pytest.mark.timeout(60)
def test_the_cli_takes_the_failure_budget_and_refuses_a_bad_one_first(tmp_path, monkeypatch, capsys, record):
    record("search: --max-failures", "graphhyper search darts --max-failures 0, and 2 passed through to run()")
    from graphhyper import search as search_pkg
    from graphhyper.cli import main

    def cli(*args: str) -> int:
        try:
            return main(["search", "darts", *args, "--out", str(tmp_path), "--no-progress"])
        except SystemExit as e:  # argparse refuses a bad value itself
            return int(e.code)

    assert cli("--max-failures", "0") != 0
    err = capsys.readouterr().err
    assert "error:" in err and "--max-failures" in err and "Traceback" not in err, err
    seen = {}

    def fake_run(*args, **kw):
        seen.update(kw)
        raise SearchError("stop here")

    monkeypatch.setattr(search_pkg, "run", fake_run)
    assert cli("--max-failures", "2") == 1 and seen["max_failures"] == 2
