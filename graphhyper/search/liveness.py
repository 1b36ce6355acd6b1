"""Is the worker holding a claim still alive? The one place where search reads heartbeats.

* **Storages with an Optuna heartbeat** (RDB storages: SQLite, PostgreSQL, MySQL, opened with a
  ``heartbeat_interval``): Optuna's own thread beats every running trial. A waiting worker calls
  ``optuna.storages.fail_stale_trials``, which marks FAIL a trial whose heartbeat is older than the grace period
  (and re-queues it through the storage's stale-trial callback). Optuna itself only does this when a worker
  *starts* a trial, which a worker blocked inside one never does.
* **Storages without one** (journal files, in-memory): the holder beats its claim, a counter in the claim study's
  system attributes rewritten every ``interval`` seconds. A waiting worker that sees the counter unchanged for
  ``grace`` seconds of its own clock marks the holder's trial FAIL. Only a change is compared, never two machines'
  clocks.

Either way the holder's trial ends up FAIL, and :class:`~graphhyper.search.claims.Claims` then takes its claim over.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Hashable

from graphhyper.search import _optuna

__all__ = [
    "BEAT_ATTR",
    "Liveness",
    "TrialHeartbeat",
    "ClaimHeartbeat",
    "liveness_for",
]

BEAT_ATTR = "beat"


def _noop() -> None:
    pass


class Liveness:
    """No heartbeat: a holder counts as alive for as long as its trial runs (only the wait bound ends a wait)."""

    def __init__(self, interval: float | None = None, grace: float | None = None):
        self.interval, self.grace = interval, grace
        self._seen: dict[Hashable, tuple[object, float]] = {}

    def start(self, storage, cid: int) -> Callable[[], None]:
        """Start beating claim ``cid`` (held by this worker); returns the function that stops it."""
        return _noop

    def reap(self, study, cid: int, trial_id: int, attrs: dict) -> None:
        """Mark the holder's trial ``trial_id`` FAIL if its worker is dead (``attrs``: the claim's system attrs)."""

    def unchanged_for_grace(self, key: Hashable, token: object) -> bool:
        """Whether ``token`` (seen now under ``key``) has not changed for ``grace`` seconds of this worker's clock."""
        if self.grace is None:
            return False
        now = time.monotonic()
        last = self._seen.get(key)
        if last is None or last[0] != token:
            self._seen[key] = (token, now)
            return False
        return now - last[1] > self.grace


class TrialHeartbeat(Liveness):
    """Optuna's heartbeat (RDB storages): fail the study's stale trials, then read the holder's state."""

    def reap(self, study, cid: int, trial_id: int, attrs: dict) -> None:
        _optuna.fail_stale_trials(study)


class ClaimHeartbeat(Liveness):
    """The holder rewrites a counter on its claim every ``interval`` seconds (storages without a heartbeat)."""

    def start(self, storage, cid: int) -> Callable[[], None]:
        stop = threading.Event()

        def beat() -> None:
            n = 0
            while True:
                try:
                    storage.set_study_system_attr(cid, BEAT_ATTR, n)
                except KeyError:  # the claim is gone (released, or taken over)
                    return
                n += 1
                if stop.wait(self.interval or 1.0):
                    return

        thread = threading.Thread(target=beat, name=f"graphhyper-claim-{cid}", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join()

        return halt

    def reap(self, study, cid: int, trial_id: int, attrs: dict) -> None:
        from optuna.exceptions import UpdateFinishedTrialError

        if self.unchanged_for_grace(cid, attrs.get(BEAT_ATTR)):
            try:
                _optuna.fail_trial(study, trial_id)
            except UpdateFinishedTrialError:  # it finished (or another waiter failed it) meanwhile
                pass


def liveness_for(study, heartbeat_interval: float | None, grace_period: float | None) -> Liveness:
    """The liveness check of ``study``'s storage; ``heartbeat_interval=None`` (and no storage heartbeat): none."""
    storage_interval = _optuna.storage_heartbeat_interval(study)
    interval = storage_interval or heartbeat_interval
    if not interval:
        return Liveness()
    grace = float(grace_period) if grace_period is not None else 2.0 * interval
    return (TrialHeartbeat if storage_interval else ClaimHeartbeat)(float(interval), grace)
