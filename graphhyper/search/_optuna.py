"""The one adapter between graphhyper's search and Optuna internals.

Optuna has no public API for a few things the claims and liveness protocol need: the storage of a study
(``study._storage``), the storage id of a trial (``trial._trial_id``), failing a trial that another worker
holds, the storage's heartbeat interval, and its (experimental) stale-trial sweep. Every such access lives
here, in small functions, so an Optuna upgrade that moves them touches this module only.
"""

from __future__ import annotations

import warnings

__all__ = ["fail_stale_trials", "fail_trial", "storage_heartbeat_interval", "storage_of", "trial_id"]


def storage_of(study):
    """The Optuna storage object behind ``study`` (``study._storage``)."""
    return study._storage


def trial_id(trial) -> int:
    """The storage id of a live or frozen trial (``trial._trial_id``), as storage methods take it."""
    return trial._trial_id


def fail_trial(study, trial_id: int) -> None:
    """Mark trial ``trial_id`` of ``study`` FAIL in its storage (raises Optuna's ``UpdateFinishedTrialError``
    if it finished meanwhile)."""
    from optuna.trial import TrialState

    study._storage.set_trial_state_values(trial_id, state=TrialState.FAIL)


def storage_heartbeat_interval(study):
    """The heartbeat interval of ``study``'s storage (seconds), or ``None`` if it has no heartbeat."""
    return getattr(study._storage, "get_heartbeat_interval", lambda: None)()


def fail_stale_trials(study) -> None:
    """Optuna's (experimental) stale-trial sweep: fail every trial whose heartbeat is older than the grace
    period, and re-queue it through the storage's stale-trial callback."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
