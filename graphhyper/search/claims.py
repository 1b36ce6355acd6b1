"""Claims: of the workers sharing a study, one at a time evaluates a given architecture.

A claim is an empty Optuna study named ``<study>::claim::<hash>`` in the search's own storage. Creating a study
whose name is taken fails atomically in every Optuna storage (a unique key in the RDB schema, a lock in the
journal and in-memory ones), so when several workers draw one architecture at the same moment exactly one creates
the claim and evaluates; the others wait for that trial and reuse its result. No timing assumption is involved.
The claim is deleted once its trial is stored (complete, pruned or failed), so the storage holds claim studies
only while evaluations run.

A claim whose holder's trial failed without releasing it is stale: a waiting worker deletes it and claims the
architecture itself. A waiting worker also finds out when the holder was killed while its trial still reads RUNNING:
it checks the holder's heartbeat while it waits (:mod:`graphhyper.search.liveness`) and fails that trial once the
heartbeat is older than the grace period, so the takeover comes within a few heartbeat intervals.
"""

from __future__ import annotations

import time
from typing import Callable

from graphhyper.search import _optuna
from graphhyper.search.liveness import Liveness, liveness_for

__all__ = [
    "CLAIM_WAIT_S",
    "claim_name",
    "is_claim",
    "Claims",
]

#: Longest wait for another worker's evaluation of the same architecture before evaluating it here as well.
CLAIM_WAIT_S = 6 * 3600.0
_SEP = "::claim::"


def claim_name(study_name: str, h: str) -> str:
    """Name of the claim study of architecture hash ``h`` in study ``study_name``."""
    return f"{study_name}{_SEP}{h}"


def is_claim(study_name: str) -> bool:
    """Whether ``study_name`` names a claim (not a search study)."""
    return _SEP in study_name


class Claims:
    """Claims of one worker on one study. ``lookup(h)`` returns a finished evaluation of ``h`` (read afresh from
    the storage) or ``None``. ``heartbeat_interval`` / ``grace_period`` (seconds) let a waiting worker detect a
    killed holder (:func:`~graphhyper.search.liveness.liveness_for`); without them only ``wait_s`` ends a wait."""

    def __init__(
        self,
        study,
        lookup: Callable[[str], object],
        wait_s: float | None = None,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
    ):
        self.study = study
        self.storage = _optuna.storage_of(study)
        self.lookup = lookup
        self.wait_s = CLAIM_WAIT_S if wait_s is None else wait_s
        self.liveness: Liveness = liveness_for(study, heartbeat_interval, grace_period)
        interval = self.liveness.interval
        self.max_delay = min(2.0, interval) if interval else 2.0  # poll at least once per heartbeat
        self.held: dict[int, int] = {}  # trial number -> claim study id
        self._beats: dict[int, Callable[[], None]] = {}  # trial number -> stops the claim's heartbeat

    def acquire(self, trial, h: str):
        """``None`` if ``trial`` now holds the claim on ``h`` and evaluates it, else the finished trial to reuse.

        After the wait limit it gives up and returns ``None`` (evaluates without a claim)."""
        deadline = time.monotonic() + self.wait_s
        delay = 0.05
        while True:
            cid = self._create(h)
            if cid is not None:
                self.storage.set_study_system_attr(cid, "trial_id", _optuna.trial_id(trial))
                self.held[trial.number] = cid
                self._beats[trial.number] = self.liveness.start(self.storage, cid)
                prev = self.lookup(h)  # an evaluation may have finished, and released its claim, just before
                if prev is not None:
                    self.release(trial.number)
                return prev
            prev = self._holder_result(h)
            if prev is not None:
                return prev
            if time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(self.max_delay, delay * 1.5)

    def release(self, number: int) -> None:
        """Delete the claim held by trial ``number`` (call once its result is stored)."""
        self._beats.pop(number, lambda: None)()
        cid = self.held.pop(number, None)
        if cid is not None:
            self._delete(cid)

    def release_all(self) -> None:
        for number in list(self.held):
            self.release(number)

    # ------------------------------------------------------------------------------------------- internals
    def _create(self, h: str) -> int | None:
        from optuna.exceptions import DuplicatedStudyError
        from optuna.study import StudyDirection

        try:
            return self.storage.create_new_study([StudyDirection.MINIMIZE], claim_name(self.study.study_name, h))
        except DuplicatedStudyError:
            return None

    def _delete(self, cid: int) -> None:
        try:
            self.storage.delete_study(cid)
        except KeyError:  # already deleted (a stale claim taken over)
            pass

    def _holder_result(self, h: str):
        """The holder's finished trial if there is one to reuse; deletes a stale claim; else ``None`` (wait)."""
        try:
            cid = self.storage.get_study_id_from_name(claim_name(self.study.study_name, h))
            return self._poll_holder(h, cid)
        except KeyError:  # released (deleted) at any point of this poll: its result, if any, is stored
            return self.lookup(h)

    def _poll_holder(self, h: str, cid: int):
        """One look at the claim ``cid`` of ``h``; raises ``KeyError`` when the claim is deleted meanwhile."""
        from optuna.trial import TrialState

        attrs = self.storage.get_study_system_attrs(cid)
        trial_id = attrs.get("trial_id")
        if trial_id is None:  # its holder is between creating it and naming its trial, or died there
            if self.liveness.unchanged_for_grace(cid, None):
                self._delete_if_same(h, cid)
            return None
        self.liveness.reap(self.study, cid, trial_id, attrs)  # a dead holder's trial is FAIL from here on
        state = self.storage.get_trial(trial_id).state  # one trial read per poll, not the whole study
        if state in (TrialState.COMPLETE, TrialState.PRUNED):
            return self.lookup(h)
        if state is not TrialState.RUNNING and state is not TrialState.WAITING:
            self._delete_if_same(h, cid)  # FAIL: the holder died without releasing it
        return None

    def _delete_if_same(self, h: str, cid: int) -> None:
        try:
            if self.storage.get_study_id_from_name(claim_name(self.study.study_name, h)) == cid:
                self._delete(cid)
        except KeyError:
            pass
