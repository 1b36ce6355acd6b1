"""Searchers with one ask/tell interface, so tabular simulations, real studies and new strategies plug together.

A :class:`Searcher` proposes architectures of a :class:`~graphhyper.search.space.SearchSpace` (``ask``) and
learns from their scores (``tell``; higher is better). Every searcher avoids proposing an architecture whose
structural hash it has already been told, so a query is never spent twice on the same architecture.

================================ ==================================================================================
:class:`RandomSearch`            uniform samples
:class:`RegularizedEvolution`    aging evolution (Real et al. 2019): tournament of ``sample_size`` among the last
                                 ``population`` members, mutate the winner
:class:`OptunaSearcher`          any Optuna sampler (TPE by default) through ``study.ask`` / ``study.tell``
:class:`PredictorGuided`         refits a GNN :class:`~graphhyper.search.predictor.Predictor` on everything told
                                 and queries the best-predicted untold candidates; an optional zero-cost
                                 ``prior`` (costs no queries) picks the cold-start architectures
:class:`ProxyGuided`             evolution warm-started from the best ``prior`` scores, mutations filtered by it
================================ ==================================================================================

:func:`simulate` runs a searcher against a :class:`~graphhyper.search.benchmarks.TabularBenchmark`.

>>> from graphhyper.search import benchmarks, space
>>> bench = benchmarks.NB201Table.load().benchmark(budget=100)
>>> simulate(RandomSearch(space.nb201_space(), seed=0), bench, 100)      # doctest: +SKIP
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from graphhyper.errors import SearchError

if TYPE_CHECKING:
    from graphhyper.search.predictor import Encoded

__all__ = [
    "Searcher",
    "RandomSearch",
    "RegularizedEvolution",
    "OptunaSearcher",
    "PredictorGuided",
    "ProxyGuided",
    "SEARCHERS",
    "simulate",
]

_MAX_TRIES = 1000


class Searcher(ABC):
    """Base class: ``ask() -> arch``, ``tell(arch, value)``; keeps the history and the told hashes.

    Subclasses implement :meth:`propose`; :meth:`ask` retries it until the proposal is new (by hash).
    """

    name = "searcher"

    def __init__(self, space, seed: int = 0):
        self.space = space
        self.seed = seed
        self.rng = random.Random(seed)
        self.history: list[tuple] = []  # (arch, value) in tell order
        self.told: dict[str, float] = {}
        self._pending: set[str] = set()

    def is_new(self, arch) -> bool:
        h = self.space.hash(arch)
        return h not in self.told and h not in self._pending

    def random_new(self):
        for _ in range(_MAX_TRIES):
            arch = self.space.sample(rng=self.rng)
            if self.is_new(arch):
                return arch
        raise SearchError(
            f"{self.name}: no unseen architecture found in {_MAX_TRIES} draws; the space is (nearly) exhausted."
        )

    @abstractmethod
    def propose(self):
        """One candidate architecture (may repeat; :meth:`ask` filters repeats)."""

    def ask(self):
        for _ in range(_MAX_TRIES):
            arch = self.propose()
            if self.is_new(arch):
                self._pending.add(self.space.hash(arch))
                return arch
        arch = self.random_new()
        self._pending.add(self.space.hash(arch))
        return arch

    def tell(self, arch, value: float) -> None:
        h = self.space.hash(arch)
        self._pending.discard(h)
        self.told[h] = float(value)
        self.history.append((arch, float(value)))

    def best(self):
        """``(arch, value)`` with the highest told value."""
        if not self.history:
            raise SearchError(f"{self.name} has not been told any result yet.")
        return max(self.history, key=lambda t: t[1])


class RandomSearch(Searcher):
    """Uniformly sampled architectures (never the same twice)."""

    name = "random"

    def propose(self):
        return self.space.sample(rng=self.rng)


class RegularizedEvolution(Searcher):
    """Aging evolution: random until ``population`` are told, then mutate the tournament winner among
    ``sample_size`` random members of the ``population`` most recent ones."""

    name = "evolution"

    def __init__(self, space, seed: int = 0, population: int = 10, sample_size: int = 3):
        super().__init__(space, seed)
        self.population, self.sample_size = population, sample_size

    def initial(self):
        return self.space.sample(rng=self.rng)

    def propose(self):
        if len(self.history) < self.population:
            return self.initial()
        alive = self.history[-self.population :]
        parent = max(self.rng.sample(alive, min(self.sample_size, len(alive))), key=lambda t: t[1])[0]
        return self.mutation(parent)

    def mutation(self, parent):
        return self.space.mutate(parent, self.rng)


class OptunaSearcher(Searcher):
    """Wraps an Optuna sampler (``"tpe"`` with defaults, ``"random"``, or a sampler instance).

    Proposals whose hash was already told get the stored value back immediately (no query), so the sampler
    sees them as completed and moves on.
    """

    name = "optuna"

    def __init__(self, space, seed: int = 0, sampler="tpe"):
        super().__init__(space, seed)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if sampler == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        elif sampler == "random":
            sampler = optuna.samplers.RandomSampler(seed=seed)
        elif isinstance(sampler, str):
            raise SearchError(f"Unknown sampler {sampler!r}: use 'tpe', 'random' or an optuna sampler instance.")
        self.name = f"optuna-{type(sampler).__name__}"
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self._trials: dict[str, list] = {}

    def propose(self):
        for _ in range(_MAX_TRIES):
            trial = self.study.ask()
            arch = self.space.suggest(trial)
            h = self.space.hash(arch)
            if h in self.told:
                self.study.tell(trial, self.told[h])
                continue
            self._trials.setdefault(h, []).append(trial)
            return arch
        return self.random_new()

    def tell(self, arch, value: float) -> None:
        h = self.space.hash(arch)
        for trial in self._trials.pop(h, []):
            self.study.tell(trial, value)
        super().tell(arch, value)


class _Pool:
    """Candidate architectures for model-guided searchers: the whole space when it is small enough (one
    representative per hash), else a fresh random sample plus mutations of the best told architectures."""

    def __init__(self, space, size: int, rng: random.Random, enumerate_limit: int = 50_000):
        self.space, self.size, self.rng = space, size, rng
        try:
            archs = space.enumerate(limit=enumerate_limit)
            self.fixed = True
        except SearchError:
            archs, self.fixed = [], False
        reps: dict[str, object] = {}
        for a in archs:
            reps.setdefault(space.hash(a), a)
        self.archs = list(reps.values())
        self.hashes = list(reps.keys())
        self._encoded: Encoded | None = None

    def refresh(self, parents) -> None:
        if self.fixed:
            return
        cand: dict[str, Any] = {}
        for p in parents:
            for _ in range(20):
                a = self.space.mutate(p, self.rng)
                cand.setdefault(self.space.hash(a), a)
        while len(cand) < self.size:
            a = self.space.sample(rng=self.rng)
            cand.setdefault(self.space.hash(a), a)
        self.hashes, self.archs = list(cand.keys()), list(cand.values())
        self._encoded = None

    def encoded(self):
        from graphhyper.search.predictor import encode

        if self._encoded is None:
            self._encoded = encode([self.space.graph(a) for a in self.archs])
        return self._encoded


def _standardize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    lo = np.nanmin(x) if np.isfinite(x).any() else 0.0
    x = np.nan_to_num(x, nan=lo)
    return (x - x.mean()) / (x.std() + 1e-12)


class PredictorGuided(Searcher):
    """Predictor-guided search: fit the GNN predictor on all told results, query the top predicted candidates.

    Args:
        space: the search space (enumerable spaces use every architecture as a candidate).
        seed: seeds sampling and the predictor.
        n_init: cold-start size before the first fit. With ``prior`` the cold start is the ``n_init`` best prior
            candidates (one drawn from each of ``n_init`` consecutive slices of the top ``prior_pool``); without,
            it is random.
        prior: optional zero-cost score per architecture (``callable(arch) -> float``, or ``{hash: score}``);
            it costs no queries. After the cold start it is blended into the predictor's ranking with weight
            ``prior_weight * n_init / n_told`` (fading as evidence accumulates).
        batch_frac: after each refit, query ``max(1, batch_frac * n_told)`` candidates before refitting
            (``late_batch_frac`` once ``late_after`` results are told: refits get rarer as evidence grows).
        predictor: a :class:`~graphhyper.search.predictor.Predictor` (default: 2-model ensemble); refits after
            the first continue from the previous weights for ``refit_epochs``.
        pool_size: candidates per round when the space is too large to enumerate.
    """

    name = "predictor"

    def __init__(
        self,
        space,
        seed: int = 0,
        n_init: int = 10,
        prior=None,
        prior_pool: int = 100,
        prior_weight: float = 1.0,
        batch_frac: float = 0.125,
        late_batch_frac: float = 0.3,
        late_after: int = 50,
        predictor=None,
        refit_epochs: int = 40,
        pool_size: int = 2000,
    ):
        super().__init__(space, seed)
        from graphhyper.search.predictor import Predictor

        self.n_init, self.prior_pool, self.prior_weight = n_init, prior_pool, prior_weight
        self.batch_frac, self.refit_epochs = batch_frac, refit_epochs
        self.late_batch_frac, self.late_after = late_batch_frac, late_after
        self.predictor = predictor or Predictor(ensemble=2, epochs=150, seed=seed)
        self.pool = _Pool(space, pool_size, self.rng)
        self._prior_fn = prior
        self._prior: np.ndarray | None = None
        self._queue: deque = deque()
        self._cold: list | None = None

    def _prior_scores(self) -> np.ndarray | None:
        if self._prior_fn is None:
            return None
        if self._prior is None or len(self._prior) != len(self.pool.archs):
            fn = self._prior_fn
            if isinstance(fn, dict):
                raw = [fn.get(h, np.nan) for h in self.pool.hashes]
            else:
                raw = [fn(a) for a in self.pool.archs]
            self._prior = _standardize(np.array(raw, dtype=np.float64))
        return self._prior

    def _cold_start(self):
        if self._cold is None:
            prior = self._prior_scores()
            if prior is None:
                self._cold = []
            else:
                top = list(np.argsort(-prior, kind="stable")[: max(self.prior_pool, self.n_init)])
                k = len(top) // self.n_init
                self._cold = [self.pool.archs[self.rng.choice(top[i * k : (i + 1) * k])] for i in range(self.n_init)]
        while self._cold:
            arch = self._cold.pop(0)
            if self.is_new(arch):
                return arch
        return self.random_new()

    def _refit(self) -> None:
        archs = [a for a, _ in self.history]
        values = [v for _, v in self.history]
        self.pool.refresh([a for a, _ in sorted(self.history, key=lambda t: -t[1])[:5]])
        warm = bool(self.predictor.models)
        graphs = [self.space.graph(a) for a in archs]
        self.predictor.fit(graphs, values, warm_start=warm, epochs=self.refit_epochs if warm else None)
        scores = _standardize(self.predictor.predict(self.pool.encoded()))
        prior = self._prior_scores()
        if prior is not None:
            scores = scores + self.prior_weight * self.n_init / len(self.history) * prior
        frac = self.batch_frac if len(self.history) < self.late_after else self.late_batch_frac
        n = max(1, int(frac * len(self.history)))
        for i in np.argsort(-scores, kind="stable"):
            if len(self._queue) >= n:
                break
            if self.pool.hashes[i] not in self.told and self.pool.hashes[i] not in self._pending:
                self._queue.append(self.pool.archs[i])

    def propose(self):
        if len(self.history) < self.n_init:
            return self._cold_start()
        while self._queue:
            arch = self._queue.popleft()
            if self.is_new(arch):
                return arch
        self._refit()
        return self._queue.popleft() if self._queue else self.random_new()


class ProxyGuided(RegularizedEvolution):
    """Evolution steered by a zero-cost prior: the first population is drawn from the ``prior_pool`` best prior
    candidates, and each mutation step keeps the best-prior of ``n_mutations`` mutants of the tournament winner."""

    name = "proxy"

    def __init__(
        self,
        space,
        prior,
        seed: int = 0,
        population: int = 10,
        sample_size: int = 3,
        n_mutations: int = 8,
        prior_pool: int = 100,
    ):
        super().__init__(space, seed, population, sample_size)
        self._prior_fn, self.n_mutations, self.prior_pool = prior, n_mutations, prior_pool
        self.pool = _Pool(space, 2000, self.rng)
        self._top: list | None = None

    def score(self, arch) -> float:
        if isinstance(self._prior_fn, dict):
            v = self._prior_fn.get(self.space.hash(arch), -np.inf)
        else:
            v = self._prior_fn(arch)
        return float(v) if np.isfinite(v) else -np.inf

    def initial(self):
        if self._top is None:
            ranked = sorted(
                self.pool.archs or [self.space.sample(rng=self.rng) for _ in range(2000)], key=self.score, reverse=True
            )
            self._top = ranked[: max(self.prior_pool, self.population)]
        return self.rng.choice(self._top)

    def mutation(self, parent):
        mutants = [self.space.mutate(parent, self.rng) for _ in range(self.n_mutations)]
        mutants = [m for m in mutants if self.is_new(m)] or mutants
        return max(mutants, key=self.score)


SEARCHERS: dict[str, Callable] = {
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "tpe": lambda space, seed=0, **kw: OptunaSearcher(space, seed, "tpe"),
    "optuna-random": lambda space, seed=0, **kw: OptunaSearcher(space, seed, "random"),
    "predictor": PredictorGuided,
    "proxy": ProxyGuided,
}


def simulate(searcher: Searcher, benchmark, budget: int) -> Searcher:
    """Run ``searcher`` against a tabular ``benchmark`` for ``budget`` queries (each ask is one new cell)."""
    while benchmark.num_queries < budget:
        arch = searcher.ask()
        searcher.tell(arch, benchmark.query(arch))
    return searcher
