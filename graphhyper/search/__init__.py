"""Optuna-driven architecture search: spaces -> define-by-run, proxies, predictors, studies, tabular benchmarks.

>>> from graphhyper.search import run, nb201_space
>>> result = run(nb201_space(), objective, n_trials=100)           # doctest: +SKIP

Public API (re-exported here; the modules hold the details):

* :mod:`~graphhyper.search.space`: ``SearchSpace``, ``Choice``, ``Int``, ``Float``, ``Optional``, ``Repeat``,
  ``Shared``, ``nb201_space``, ``darts_space``
* :mod:`~graphhyper.search.study`: ``run``, ``SearchResult``, ``Candidate``, ``make_storage``
* :mod:`~graphhyper.search.searchers`: ``RandomSearch``, ``RegularizedEvolution``, ``OptunaSearcher``,
  ``PredictorGuided``, ``ProxyGuided``, ``simulate``
* :mod:`~graphhyper.search.predictor`: ``Predictor`` (GNN, ranking loss)
* :mod:`~graphhyper.search.proxies`: zero-cost proxies; :mod:`~graphhyper.search.objectives`: objectives
* :mod:`~graphhyper.search.benchmarks`: ``NB201Table`` (12-epoch NB201 table), ``TabularBenchmark``
"""

from graphhyper.search.benchmarks import NB201Table, TabularBenchmark
from graphhyper.search.generation import DiffusionSearcher, GPSurrogate, generate
from graphhyper.search.predictor import Predictor
from graphhyper.search.searchers import (
    OptunaSearcher,
    PredictorGuided,
    ProxyGuided,
    RandomSearch,
    RegularizedEvolution,
    Searcher,
    simulate,
)
from graphhyper.search.space import Choice, Float, Int, Optional, Repeat, SearchSpace, Shared, darts_space, nb201_space
from graphhyper.search.study import Candidate, SearchResult, make_storage, run

__all__ = [
    "run",
    "SearchResult",
    "Candidate",
    "make_storage",
    "SearchSpace",
    "Choice",
    "Int",
    "Float",
    "Optional",
    "Repeat",
    "Shared",
    "nb201_space",
    "darts_space",
    "Searcher",
    "RandomSearch",
    "RegularizedEvolution",
    "OptunaSearcher",
    "PredictorGuided",
    "ProxyGuided",
    "simulate",
    "Predictor",
    "NB201Table",
    "TabularBenchmark",
    "generate",
    "DiffusionSearcher",
    "GPSurrogate",
]
