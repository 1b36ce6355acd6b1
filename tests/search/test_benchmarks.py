"""The NB201 12-epoch table: checksum, parsing, query counting, reference statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from graphhyper.errors import ChecksumError, SearchError
from graphhyper.search import NB201Table
from graphhyper.search.benchmarks import NB201_FILE


@pytest.fixture(scope="module")
def table(request):
    import os
    from pathlib import Path

    root = os.environ.get("GRAPHHYPER_DATA")
    if not root or not (Path(root) / NB201_FILE).is_file():
        pytest.skip("NB201 table not found: set GRAPHHYPER_DATA to the folder holding nas/nb201_minibench_accs.csv")
    return NB201Table.load()


def test_table_matches_sources_md(table):
    assert len(table) == 15625 and len(set(table.cells)) == 15625
    assert table.oracle() == pytest.approx(89.03)
    assert table.metric("cifar10-test").max() == pytest.approx(89.16)
    rho = spearmanr(table.metric("cifar10-val"), table.metric("cifar10-test"))[0]
    assert rho == pytest.approx(0.960, abs=5e-4)
    assert "12-epoch" in table.fidelity


def test_queries_are_counted_and_test_stays_hidden(table):
    bench = table.benchmark(budget=3)
    cells = table.cells[:4]
    vals = [bench.query(c) for c in cells[:3]]
    assert bench.num_queries == 3
    assert bench.query(cells[0]) == vals[0] and bench.num_queries == 3  # repeat: no new query
    with pytest.raises(SearchError, match="budget"):
        bench.query(cells[3])
    best = int(np.argmax(vals))
    assert bench.report_best() == table.metric("cifar10-test")[table.index(cells[best])]
    assert bench.trajectory([1, 2, 3, 4]) == {1: bench.report_best(1), 2: bench.report_best(2), 3: bench.report_best()}
    with pytest.raises(SearchError, match="not an NB201 cell"):
        bench.query(("conv",) * 6)


def test_checksum_mismatch(tmp_path, table):
    bad = tmp_path / "nb201.csv"
    bad.write_text("arch,cellstr\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
    with pytest.raises(ChecksumError, match="sha256"):
        NB201Table.load(bad)
