"""Claims: one evaluation per architecture among concurrent workers, decided by an atomic create in the storage."""

from __future__ import annotations

import threading
import time

import optuna
import pytest
from optuna.trial import TrialState

from graphhyper.search.claims import Claims, claim_name, is_claim

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _finished(study):
    def lookup(h):
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
            if t.user_attrs.get("hash") == h and t.user_attrs.get("evaluated"):
                return t
        return None

    return lookup


def _names(study):
    return {s.study_name for s in study._storage.get_all_studies()}


@pytest.fixture(params=["memory", "sqlite", "journal"])
def study(request, tmp_path):
    from graphhyper.search.study import make_storage

    storage = {"memory": None, "sqlite": f"sqlite:///{tmp_path / 'c.db'}", "journal": f"journal:{tmp_path / 'c.log'}"}[
        request.param
    ]
    storage = storage and make_storage(storage, heartbeat_interval=None)
    return optuna.create_study(storage=storage, study_name="s", direction="maximize")


def test_one_claim_per_architecture_and_the_waiter_reuses_the_result(study):
    claims = Claims(study, _finished(study))
    first, second = study.ask(), study.ask()
    assert claims.acquire(first, "aaa") is None  # claimed: evaluate
    assert claim_name("s", "aaa") in _names(study) and is_claim(claim_name("s", "aaa"))
    got = {}
    waiter = threading.Thread(target=lambda: got.update(prev=Claims(study, _finished(study)).acquire(second, "aaa")))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # it waits while the holder runs
    first.set_user_attr("hash", "aaa")
    first.set_user_attr("evaluated", True)
    study.tell(first, 0.75)
    claims.release(first.number)
    waiter.join(10)
    assert not waiter.is_alive() and got["prev"].number == first.number and got["prev"].value == 0.75
    assert _names(study) == {"s"}  # released: no claim left in the storage


def test_a_claim_after_the_release_still_finds_the_finished_evaluation(study):
    claims = Claims(study, _finished(study))
    first, later = study.ask(), study.ask()
    assert claims.acquire(first, "h") is None
    first.set_user_attr("hash", "h")
    first.set_user_attr("evaluated", True)
    study.tell(first, 1.0)
    claims.release(first.number)
    prev = claims.acquire(later, "h")  # creates the claim, then sees the result
    assert prev is not None and prev.number == first.number
    assert _names(study) == {"s"}


def test_a_stale_claim_of_a_failed_trial_is_taken_over(study):
    dead, alive = Claims(study, _finished(study)), Claims(study, _finished(study), wait_s=5)
    first, second = study.ask(), study.ask()
    assert dead.acquire(first, "x") is None
    study.tell(first, state=TrialState.FAIL)  # its worker died: the claim was never released
    assert alive.acquire(second, "x") is None  # taken over: this worker evaluates
    assert alive.held == {second.number: study._storage.get_study_id_from_name(claim_name("s", "x"))}


def test_other_architectures_do_not_conflict_and_the_wait_is_bounded(study):
    a, b = Claims(study, _finished(study)), Claims(study, _finished(study), wait_s=0.3)
    t1, t2, t3 = study.ask(), study.ask(), study.ask()
    assert a.acquire(t1, "p") is None
    assert b.acquire(t2, "q") is None  # another architecture: no wait
    assert b.acquire(t3, "p") is None and t3.number not in b.held  # holder still running: gave up, unclaimed
    a.release_all()
    b.release_all()
    assert _names(study) == {"s"}


def test_racing_workers_let_exactly_one_evaluate(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    optuna.create_study(storage=url, study_name="r", direction="maximize")
    n = 6
    barrier, results = threading.Barrier(n), []

    def worker():
        study = optuna.load_study(study_name="r", storage=url)
        trial = study.ask()
        claims = Claims(study, _finished(study), wait_s=0.5)
        barrier.wait()
        results.append((claims.acquire(trial, "same"), trial.number in claims.held))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == n
    assert sum(held for _, held in results) == 1  # one holder; the rest waited, then gave up


def _beating(study, interval=0.1, grace=0.6, wait_s=30):
    return Claims(study, _finished(study), wait_s=wait_s, heartbeat_interval=interval, grace_period=grace)


@pytest.mark.timeout(30)
def test_a_live_holder_keeps_its_claim_and_a_silent_one_is_taken_over(study):
    holder, waiter = _beating(study), _beating(study, wait_s=1.5)
    first, second, third = study.ask(), study.ask(), study.ask()
    assert holder.acquire(first, "z") is None
    assert waiter.acquire(second, "z") is None and second.number not in waiter.held  # beating: waited, gave up
    assert study._storage.get_trial(first._trial_id).state == TrialState.RUNNING
    holder._beats.pop(first.number)()  # the holder stops beating without releasing: it was killed
    waiter.wait_s = 30
    start = time.monotonic()
    assert waiter.acquire(third, "z") is None and third.number in waiter.held  # taken over
    assert time.monotonic() - start < 5
    assert study._storage.get_trial(first._trial_id).state == TrialState.FAIL
    waiter.release_all()
    assert _names(study) == {"s"}


@pytest.mark.timeout(30)
def test_a_claim_whose_holder_died_before_naming_its_trial_is_dropped(study):
    study._storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], claim_name("s", "n"))
    waiter = _beating(study)
    trial = study.ask()
    assert waiter.acquire(trial, "n") is None and trial.number in waiter.held
    waiter.release_all()
    assert _names(study) == {"s"}


def test_a_claim_released_while_a_waiter_reads_it_hands_over_the_result(study, monkeypatch):
    """The holder deletes its claim between the waiter's name lookup and its read of the claim's attributes (a race
    seen with 4 PostgreSQL workers): the waiter reuses the stored result instead of failing its trial."""
    holder, waiter = Claims(study, _finished(study)), Claims(study, _finished(study), wait_s=5)
    first, second = study.ask(), study.ask()
    assert holder.acquire(first, "r") is None
    first.set_user_attr("hash", "r")
    first.set_user_attr("evaluated", True)
    study.tell(first, 0.5)
    storage = waiter.storage
    read_attrs = storage.get_study_system_attrs

    def released_first(cid):
        holder.release(first.number)  # the claim is gone before the waiter reads it
        return read_attrs(cid)

    monkeypatch.setattr(storage, "get_study_system_attrs", released_first)
    prev = waiter.acquire(second, "r")
    assert prev is not None and prev.number == first.number and prev.value == 0.5
    assert _names(study) == {"s"}
