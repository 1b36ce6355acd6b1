"""Run a search as an Optuna study: storage, duplicate detection, resumption, several workers.

:func:`run` compiles the space into define-by-run ``suggest_*`` calls, records each trial's architecture
(``user_attrs["arch"]``, ``user_attrs["hash"]``), evaluates each structurally distinct architecture once (a
duplicate trial gets the stored values back and ``user_attrs["duplicate_of"]``), and stops when the study holds
``n_trials`` COMPLETE trials — so calling it again on the same storage *resumes* the study:

* **SQLite** (default ``sqlite:///graphhyper-search.db``, embedded, nothing to start) and **PostgreSQL / MySQL**
  URLs use Optuna's ``RDBStorage`` with a heartbeat: a trial whose worker was killed turns stale after
  ``grace_period`` seconds, is marked FAIL and re-queued with the same parameters, so no completed trial is
  lost and none is evaluated twice. Several processes (on several machines, for PostgreSQL) can call
  :func:`run` with the same ``storage`` and ``study_name`` to share one study.
* **Journal files** (``"journal:path"``, a path ending in ``.log`` / ``.journal``, or any Optuna storage object)
  have no trial heartbeat: pass ``reclaim_running=True`` when restarting a study whose only worker was killed.
  (A worker waiting for another's evaluation still detects a killed holder: see :mod:`graphhyper.search.liveness`.)

Failed trials (NaN, or an exception in ``catch``) never count toward ``n_trials``; ``max_failures`` of them end the
run with a :class:`~graphhyper.errors.SearchError`. A storage file that cannot be read raises one too, untouched.

``optuna-dashboard <storage URL>`` opens the same storage (``SearchResult.dashboard``).

>>> from graphhyper.search import run, space
>>> res = run(space.nb201_space(), lambda c: -c.arch.count("none"), n_trials=20)   # doctest: +SKIP
>>> res.best.user_attrs["arch"]                                                     # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from graphhyper.errors import SearchError, require
from graphhyper.search import _optuna
from graphhyper.search.claims import Claims
from graphhyper.search.storage_checks import check_sqlite_url, open_journal, sqlite_or_rdb_error

__all__ = [
    "DEFAULT_STORAGE",
    "make_storage",
    "storage_url",
    "Candidate",
    "SearchResult",
    "run",
    "check_max_failures",
]

DEFAULT_STORAGE = "sqlite:///graphhyper-search.db"
_RDB_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql")


# ----------------------------------------------------------------------------------------------- storage
def make_storage(storage=None, heartbeat_interval: int | None = 10, grace_period: int | None = None):
    """Turn ``storage`` (None, a URL, a journal path or an Optuna storage) into an Optuna storage object."""
    import optuna

    if storage is None:
        storage = DEFAULT_STORAGE
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if isinstance(storage, Path):
        storage = str(storage)
    if not isinstance(storage, str):
        raise SearchError(
            f"storage={storage!r} is not understood: give None (SQLite file), 'sqlite:///f.db', "
            "'postgresql://user@host/db', 'journal:path.log' or an optuna storage object."
        )
    if storage.startswith("journal:") or storage.endswith((".log", ".journal")):
        return open_journal(Path(storage.split(":", 1)[1] if storage.startswith("journal:") else storage))
    if storage.startswith(_RDB_PREFIXES):
        if storage.startswith(("postgresql:", "postgres:")):
            storage = _postgres_driver_url(storage)
        engine_kwargs = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite:") else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            kw: dict[str, Any] = {}
            if heartbeat_interval:
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
                kw = dict(
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=retry,
                )
            return _rdb_storage(storage, engine_kwargs, kw)
    raise SearchError(
        f"storage={storage!r} has an unknown scheme: use sqlite:///..., postgresql://..., "
        "mysql://..., journal:<path> or an optuna storage object."
    )


def _postgres_driver_url(url: str) -> str:
    """``postgresql://`` with the installed driver spelled out (SQLAlchemy 2.1 defaults to psycopg 3)."""
    rest = url.split(":", 1)[1]
    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        try:
            __import__(module)
        except ImportError:
            continue
        return f"postgresql+{driver}:{rest}"
    require("psycopg", extra="postgres", purpose="PostgreSQL storage")
    return url


def _rdb_storage(url: str, engine_kwargs, kw: dict, attempts: int = 8):
    """Open an RDB storage; workers starting together race to create the schema, so retry that race.

    A file that is not an SQLite database raises :class:`SearchError`, leaving the file as it was."""
    import optuna
    from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, ProgrammingError

    check_sqlite_url(url)
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kw)
        except (IntegrityError, ProgrammingError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
        except DatabaseError as e:  # e.g. "file is not a database": retrying cannot help
            raise sqlite_or_rdb_error(url, e) from e
    raise AssertionError("unreachable")


def storage_url(storage) -> str | None:
    """The URL ``optuna-dashboard`` accepts for ``storage`` (``None`` for in-memory storages)."""
    import optuna

    if storage is None:
        return DEFAULT_STORAGE
    if isinstance(storage, str):
        return storage
    if isinstance(storage, optuna.storages.RDBStorage):
        return storage.url
    return None


# ----------------------------------------------------------------------------------------------- trials
@dataclass
class Candidate:
    """What an objective receives: the architecture, its strings, the Optuna trial and lazy builders."""

    arch: Any
    arch_str: str
    hash: str
    trial: Any
    space: Any

    def module(self):
        """The architecture as a fresh ``nn.Module`` (``space.build``)."""
        return self.space.build(self.arch)

    def graph(self):
        """The architecture as the predictor's input (NB201 cell or ArchGraph)."""
        return self.space.graph(self.arch)

    def report(self, value: float, step: int) -> None:
        """Report an intermediate value (for pruners)."""
        self.trial.report(value, step)

    def should_prune(self) -> bool:
        return self.trial.should_prune()

    def set_constraint(self, key: str, value: float) -> None:
        """Constraint ``value <= 0`` means feasible (Optuna's ``trial.set_constraint``)."""
        self.trial.set_constraint(key, value)


def _constraints(system_attrs: dict) -> dict:
    return {k.split(":", 1)[1]: v for k, v in system_attrs.items() if k.startswith("constraints:")}


@dataclass
class SearchResult:
    """Outcome of :func:`run`: the study, the best trial(s) and the Pareto front for several objectives."""

    study: Any
    space: Any
    storage_url: str | None = None
    evaluated: int = 0
    duplicates: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def trials(self) -> list:
        from optuna.trial import TrialState

        return self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))

    @property
    def best(self):
        """The best COMPLETE trial (single objective)."""
        if len(self.study.directions) > 1:
            raise SearchError("This study has several objectives; use result.pareto (the Pareto front).")
        return self.study.best_trial

    @property
    def pareto(self) -> list:
        """Pareto-optimal COMPLETE trials (feasible ones when constraints were set), one per architecture."""
        seen, out = set(), []
        for t in self.study.best_trials:
            h = t.user_attrs.get("hash")
            if h not in seen:
                seen.add(h)
                out.append(t)
        return out

    def best_arch(self):
        """The best architecture object (single objective)."""
        return self.space.from_params(self.best.params)

    @property
    def dashboard(self) -> str | None:
        """Shell command that opens this study in optuna-dashboard."""
        return f"optuna-dashboard {self.storage_url}" if self.storage_url else None

    def plot_history(self, path) -> Path:
        from graphhyper.search.plots import plot_history

        return plot_history(self.study, path)

    def plot_pareto(self, path, names: Sequence[str] | None = None) -> Path:
        from graphhyper.search.plots import plot_pareto

        return plot_pareto(self.study, path, names=names)


class _Dedup:
    """hash -> first finished (COMPLETE or PRUNED) evaluation, refreshed from the storage (sees other workers)."""

    def __init__(self, study):
        self.study = study
        self.by_hash: dict[str, Any] = {}

    def refresh(self) -> None:
        from optuna.trial import TrialState

        for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
            h = t.user_attrs.get("hash")
            if h and t.user_attrs.get("evaluated") and h not in self.by_hash:
                self.by_hash[h] = t

    def lookup(self, h: str):
        if h not in self.by_hash:
            self.refresh()
        return self.by_hash.get(h)


def _as_values(values, n_objectives: int):
    if isinstance(values, (int, float)):
        values = [float(values)]
    values = [float(v) for v in values]
    if len(values) != n_objectives:
        raise SearchError(
            f"The objective returned {len(values)} value(s) but the study has {n_objectives} "
            "direction(s); return one value per direction."
        )
    return values[0] if n_objectives == 1 else values


def _make_sampler(sampler, seed: int | None, n_objectives: int, n_existing: int):
    import optuna

    seed = None if seed is None else seed * 1_000_003 + n_existing  # a resumed run does not replay its draws
    if sampler is None:
        sampler = "tpe" if n_objectives == 1 else "nsga2"
    if isinstance(sampler, str):
        makers = {
            "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed),
            "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, 10)),
            "gp": lambda: optuna.samplers.GPSampler(seed=seed),
        }
        if sampler not in makers:
            raise SearchError(
                f"Unknown sampler {sampler!r}: use one of {sorted(makers)}, an optuna sampler or a "
                "graphhyper.search.searchers.Searcher."
            )
        return makers[sampler]()
    return sampler


def _reclaim_running(study) -> int:
    """Mark every RUNNING trial FAIL and re-queue its parameters (only when no other worker is alive)."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        _optuna.fail_trial(study, _optuna.trial_id(t))
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
        n += 1
    return n


# ----------------------------------------------------------------------------------------------- run
def run(
    space,
    objective: Callable,
    n_trials: int,
    storage=None,
    sampler=None,
    directions: Sequence[str] | str = "maximize",
    study_name: str | None = None,
    seed: int | None = 0,
    progress: bool = True,
    pruner=None,
    timeout: float | None = None,
    heartbeat_interval: int | None = 10,
    grace_period: int | None = None,
    reclaim_running: bool = False,
    catch=(),
    max_failures: int | None = None,
) -> SearchResult:
    """Search ``space`` with ``objective`` until the study holds ``n_trials`` COMPLETE trials.

    Args:
        space: a :class:`~graphhyper.search.space.SearchSpace`.
        objective: ``objective(candidate) -> value or tuple of values`` where ``candidate`` is a
            :class:`Candidate` (``.arch``, ``.module()``, ``.graph()``, ``.report()``, ``.set_constraint()``).
        n_trials: target number of finished (COMPLETE or PRUNED) trials in the study (existing ones count: this
            is how a study resumes). Workers still running a trial when the target is reached finish it.
        storage: ``None`` (``sqlite:///graphhyper-search.db``), an RDB URL (``sqlite:///``, ``postgresql://``),
            a journal path (``journal:x.log``) or an Optuna storage object.
        sampler: ``"tpe"`` (default for one objective), ``"nsga2"`` (default for several), ``"random"``,
            ``"gp"``, an Optuna sampler, or a :class:`~graphhyper.search.searchers.Searcher` (its proposals are
            enqueued as trials; it is told every result, including those already in the storage).
        directions: ``"maximize"`` / ``"minimize"`` or one per objective.
        study_name: defaults to ``"graphhyper-<space name>"``; workers sharing a study use the same name.
        seed: sampler seed (offset by the number of existing trials, so a resumed run draws new points).
        progress: show a tqdm bar of COMPLETE trials.
        pruner: an Optuna pruner, for objectives that call ``candidate.report``.
        heartbeat_interval, grace_period: heartbeat (seconds; ``grace_period`` defaults to twice the interval).
            On RDB storages stale RUNNING trials are failed and re-queued; on every storage a worker waiting for
            another worker's evaluation of the same architecture takes it over once that worker's heartbeat is
            older than ``grace_period``. ``None`` turns the heartbeat off.
        reclaim_running: fail and re-queue every RUNNING trial first (storages without heartbeat).
        catch: exception types that fail a trial instead of stopping the run.
        max_failures: failed trials (the objective raised an exception in ``catch`` or returned NaN) never count
            toward ``n_trials``, so after this many of them in this call the run stops with a
            :class:`~graphhyper.errors.SearchError` naming the last failure. Default ``max(10, 2 * n_trials)``.

    Returns:
        :class:`SearchResult`.
    """
    optuna = require("optuna", purpose="architecture search")
    from graphhyper.search.searchers import Searcher

    directions = [directions] if isinstance(directions, str) else list(directions)
    if n_trials < 1:
        raise SearchError(f"n_trials={n_trials} must be >= 1.")
    check_max_failures(max_failures)
    study = _open_study(optuna, space, storage, directions, study_name, pruner, heartbeat_interval, grace_period)
    if reclaim_running:
        _reclaim_running(study)
    existing = study.get_trials(deepcopy=False)
    searcher = sampler if isinstance(sampler, Searcher) else None
    if searcher is not None and len(directions) > 1:
        raise SearchError("A graphhyper Searcher drives single-objective studies; use 'nsga2' for several.")
    study.sampler = _make_sampler(None if searcher else sampler, seed, len(directions), len(existing))
    dedup = _Dedup(study)
    claims = Claims(study, dedup.lookup, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    failures = _Failures(max(10, 2 * n_trials) if max_failures is None else max_failures, n_trials)
    state = _Run(optuna, study, space, objective, n_trials, directions, searcher, dedup, claims, failures)
    state.bar = _progress(progress, n_trials, study)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar / SearchResult report instead
    try:
        if state.n_complete() < n_trials:
            if searcher is not None:
                _enqueue_next(study, searcher, space)
            study.optimize(state.objective, n_trials=None, timeout=timeout, callbacks=[state.callback], catch=catch)
    finally:
        state.claims.release_all()  # a trial that stopped the run with an exception is stored (FAIL) by now
        optuna.logging.set_verbosity(verbosity)
        if state.bar is not None:
            state.bar.close()
    if state.failures.exhausted:
        raise state.failures.error()
    return SearchResult(study, space, storage_url(storage), state.counts["evaluated"], state.counts["duplicates"])


def _open_study(
    optuna,
    space,
    storage,
    directions: list[str],
    study_name: str | None,
    pruner,
    heartbeat_interval: int | None,
    grace_period: int | None,
):
    """Create or load the study; refuse one that exists with other directions."""
    store = make_storage(storage, heartbeat_interval, grace_period)
    study = optuna.create_study(
        storage=store,
        study_name=study_name or f"graphhyper-{space.name}",
        directions=directions,
        load_if_exists=True,
        pruner=pruner,
    )
    if list(d.name.lower() for d in study.directions) != [d.lower() for d in directions]:
        raise SearchError(
            f"Study {study.study_name!r} exists with directions "
            f"{[d.name.lower() for d in study.directions]}, not {directions}; use another study_name."
        )
    return study


class _Run:
    """The state of one :func:`run` call: the Optuna objective and callback that evaluate, deduplicate, claim
    and count trials."""

    def __init__(
        self,
        optuna,
        study,
        space,
        objective: Callable,
        n_trials: int,
        directions: list[str],
        searcher,
        dedup: _Dedup,
        claims: Claims,
        failures: _Failures,
    ):
        self.optuna, self.study, self.space, self.user_objective = optuna, study, space, objective
        self.n_trials, self.n_obj, self.searcher = n_trials, len(directions), searcher
        self.sign = 1.0 if directions[0].lower() == "maximize" else -1.0
        self.dedup, self.claims, self.failures = dedup, claims, failures
        self.counts = {"evaluated": 0, "duplicates": 0}
        self.bar: Any = None
        if searcher is not None:
            self.dedup.refresh()
            for t in self.dedup.by_hash.values():
                searcher.tell(space.from_params(t.params), self.sign * t.value)

    def duplicate(self, trial, prev):
        from optuna.trial import TrialState

        trial.set_user_attr("duplicate_of", prev.number)
        self.counts["duplicates"] += 1
        if prev.state == TrialState.PRUNED:
            raise self.optuna.TrialPruned(f"duplicate of pruned trial {prev.number}")
        for k, v in _constraints(prev.system_attrs).items():
            trial.set_constraint(k, v)
        return prev.values[0] if self.n_obj == 1 else prev.values

    def objective(self, trial):
        arch = self.space.suggest(trial)
        h, s = self.space.hash(arch), self.space.to_str(arch)
        trial.set_user_attr("arch", s)
        trial.set_user_attr("hash", h)
        prev = self.dedup.lookup(h)
        if prev is None:
            prev = self.claims.acquire(trial, h)
        if prev is not None:
            return self.duplicate(trial, prev)
        trial.set_user_attr("evaluated", True)  # a pruned evaluation counts as evaluated too
        values = self._evaluate(trial, arch, s, h)
        if any(math.isnan(v) for v in ([values] if self.n_obj == 1 else values)):
            trial.set_user_attr(_FAIL_REASON, f"the objective returned {values!r} (NaN fails a trial)")
        self.counts["evaluated"] += 1
        if self.searcher is not None:
            self.searcher.tell(arch, self.sign * values)
        return values

    def _evaluate(self, trial, arch, s: str, h: str):
        try:
            return _as_values(self.user_objective(Candidate(arch, s, h, trial, self.space)), self.n_obj)
        except self.optuna.TrialPruned:
            raise
        except Exception as e:
            trial.set_user_attr(_FAIL_REASON, _clip(f"{type(e).__name__}: {e}"))
            raise

    def n_complete(self) -> int:  # finished trials: COMPLETE, or PRUNED by the pruner
        from optuna.trial import TrialState

        return len(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))

    def callback(self, study_, frozen):
        from optuna.trial import TrialState

        self.claims.release(frozen.number)  # its result is stored now
        if frozen.state == TrialState.FAIL and self.failures.add(frozen):
            study_.stop()
            return
        done = self.n_complete()
        if self.bar is not None:
            self.bar.n = min(done, self.n_trials)
            _postfix(self.bar, study_)
            self.bar.refresh()
        if done >= self.n_trials:
            study_.stop()
        elif self.searcher is not None:
            _enqueue_next(study_, self.searcher, self.space)


_FAIL_REASON = "fail_reason"


def check_max_failures(max_failures: int | None) -> None:
    """Refuse a failure budget below 1 (callers check it before any long preparation)."""
    if max_failures is not None and (
        isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1
    ):
        raise SearchError(
            f"max_failures={max_failures!r} must be an integer >= 1 (the failed trials a run "
            "tolerates; --max-failures N), or None for the default max(10, 2 * n_trials)."
        )


def _clip(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[:n] + "..."


class _Failures:
    """Failed trials of one :func:`run` call: none counts toward ``n_trials``, so ``limit`` of them end the run."""

    def __init__(self, limit: int, n_trials: int):
        self.limit, self.n_trials = limit, n_trials
        self.count = 0
        self.last: Any = None  # the last failed optuna FrozenTrial (set before error() is called)

    @property
    def exhausted(self) -> bool:
        return self.count >= self.limit

    def add(self, frozen) -> bool:
        """Count the failed trial ``frozen``; ``True`` once the budget is spent."""
        self.count += 1
        self.last = frozen
        return self.exhausted

    def error(self) -> SearchError:
        reason = self.last.user_attrs.get(_FAIL_REASON, "see the warning Optuna logged for it")
        arch = _clip(str(self.last.user_attrs.get("arch", "?")), 80)
        return SearchError(
            f"{self.count} trials failed in this run (max_failures={self.limit}) and failed trials do not count "
            f"toward n_trials={self.n_trials}, so the search stopped. Last failure, trial {self.last.number} "
            f"({arch}): {reason}. Fix the objective so that it returns a finite value for every architecture (or "
            "raises only for the few it cannot score), or pass a larger "
            "max_failures= (--max-failures) if that many failures are expected."
        )


def _enqueue_next(study, searcher, space) -> None:
    arch = searcher.ask()
    study.enqueue_trial(space.params(arch), skip_if_exists=False)


def _progress(progress: bool, n_trials: int, study):
    if not progress:
        return None
    from optuna.trial import TrialState
    from tqdm.auto import tqdm

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    return tqdm(total=n_trials, initial=min(done, n_trials), desc=study.study_name, unit="trial")


def _postfix(bar, study) -> None:
    try:
        if len(study.directions) == 1:
            v = study.best_value
            bar.set_postfix(best=f"{v:.4g}" if math.isfinite(v) else v, refresh=False)
        else:
            bar.set_postfix(pareto=len(study.best_trials), refresh=False)
    except ValueError:
        pass
