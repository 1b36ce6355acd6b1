"""scripts/reliability_report.py renders the table of docs/reliability.md from the reliability suite's dump; checked
here on a small fake dump (the real suite is not run), with the conftest helpers that fill that dump."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from graphhyper.errors import InvalidInputError
from tests._scripts import load_script
from tests.reliability.conftest import _failure, _hypothesis_examples

ROOT = Path(__file__).resolve().parents[1]


report = load_script("reliability_report.py")

DUMP = {
    "rows": [
        {
            "nodeid": "tests/reliability/test_a.py::test_pickle",
            "check": "unpickler: dtype state",
            "tried": "fields past the item size | negative offsets",
            "status": "held",
        },
        {
            "nodeid": "tests/reliability/test_a.py::test_alloc",
            "check": "unpickler: allocation bound",
            "tried": "43-byte pickle asking for 1 GB",
            "status": "FAILED",
        },
        {
            "nodeid": "tests/reliability/test_search_hangs.py::test_claim",
            "check": "claim takeover",
            "tried": "killed worker",
            "status": "FAILED",
        },
        {
            "nodeid": "tests/reliability/test_pg.py::test_load",
            "check": "search: PostgreSQL load",
            "tried": "4 workers x 100 trials",
            "status": "skipped",
        },
    ],
    "tests": [
        {
            "nodeid": "tests/reliability/test_a.py::test_pickle",
            "outcome": "passed",
            "duration": 1.0,
            "hypothesis_examples": 120,
        },
        {
            "nodeid": "tests/reliability/test_a.py::test_alloc",
            "outcome": "failed",
            "kind": "traceback",
            "exception": "MemoryError",
            "duration": 2.0,
            "hypothesis_examples": None,
        },
        {
            "nodeid": "tests/reliability/test_search_hangs.py::test_claim",
            "outcome": "failed",
            "kind": "hang",
            "exception": "Failed",
            "duration": 30.0,
            "hypothesis_examples": None,
        },
        {
            "nodeid": "tests/reliability/test_pg.py::test_load",
            "outcome": "skipped",
            "reason": "no PostgreSQL server",
            "duration": 0.0,
            "hypothesis_examples": None,
        },
        {
            "nodeid": "tests/reliability/test_a.py::test_no_row",
            "outcome": "passed",
            "duration": 0.5,
            "hypothesis_examples": 30,
        },
    ],
}


def test_table_rows_and_figures_from_a_fake_dump():
    rows = report.rows_from_dump(DUMP)
    table = report.render_table(rows).splitlines()
    assert table[:2] == ["| area | check | tried | result |", "|---|---|---|---|"]
    assert table[2:] == [
        "| unpickler | dtype state | fields past the item size \\| negative offsets | held |",
        "| unpickler | allocation bound | 43-byte pickle asking for 1 GB | **FAILED (traceback: MemoryError)** |",
        "| search hangs | claim takeover | killed worker | **FAILED (hang: Failed)** |",
        "| search | PostgreSQL load | 4 workers x 100 trials | skipped (no PostgreSQL server) |",
        "| a | no row | — | held |",
    ]
    t = report.totals_from_dump(DUMP, rows)
    assert (t.tried, t.held, t.failed, t.skipped, t.escaped, t.hangs, t.examples) == (5, 2, 2, 1, 1, 1, 150)
    assert (t.alloc_held, t.alloc_tried) == (0, 1)
    figures = report.render_figures(t, "2026-12-04", "python -m pytest tests/reliability")
    assert "**5 cases tried**, 2 held, 2 failed, 1 skipped; **1 tracebacks escaped**, **1 hangs**" in figures
    assert "150 hypothesis examples run" in figures and "2026-12-04" in figures


def test_section_is_added_once_then_replaced():
    page = "# Reliability\n\ntext\n\n## API reference\n\n[api](api/errors.md)\n"
    rows = report.rows_from_dump(DUMP)
    totals = report.totals_from_dump(DUMP, rows)
    first = report.rewrite(page, report.render_section(rows, totals, "2026-12-04", "cmd"))
    assert first.index(report.HEADING) < first.index(report.START) < first.index("## API reference")
    assert first.startswith("# Reliability\n\ntext\n\n")
    assert first.endswith("## API reference\n\n[api](api/errors.md)\n")
    second = report.rewrite(first, report.render_section(rows[:1], totals, "2026-12-05", "cmd"))
    assert second.count(report.START) == second.count(report.HEADING) == 1
    assert "2026-12-05" in second and "2026-12-04" not in second and "claim takeover" not in second
    assert second.split(report.START)[0] == first.split(report.START)[0]
    assert second.split(report.END)[1] == first.split(report.END)[1]


def test_the_page_has_the_markers():
    text = (ROOT / "docs" / "reliability.md").read_text()
    assert text.count(report.START) == text.count(report.END) == 1 and report.HEADING in text


def test_no_results_leave_the_page_alone(tmp_path):
    doc, dump = tmp_path / "page.md", tmp_path / "empty.json"
    doc.write_text("unchanged\n")
    dump.write_text('{"rows": [], "tests": []}')
    assert report.main(["--from-json", str(dump), "--doc", str(doc)]) == 2
    assert doc.read_text() == "unchanged\n"


def _call(exc: BaseException) -> SimpleNamespace:
    return SimpleNamespace(excinfo=SimpleNamespace(value=exc))


def test_conftest_classifies_failures_and_counts_hypothesis_examples():
    from hypothesis.statistics import describe_statistics

    assert _failure(_call(AssertionError("x")))[0] == "check"
    assert _failure(_call(pytest.fail.Exception("Timeout >5.0s")))[0] == "hang"
    assert _failure(_call(InvalidInputError("x"))) == ("graphhyper", "InvalidInputError")
    assert _failure(_call(RuntimeError("x"))) == ("traceback", "RuntimeError")
    case = {"runtime": 0.001, "drawtime": 0.0, "events": []}
    stats = {
        "generate-phase": {
            "test-cases": [dict(case, status="valid")] * 7 + [dict(case, status="invalid")] * 2,
            "duration-seconds": 0.1,
            "distinct-failures": 0,
        },
        "stopped-because": "settings.max_examples=7",
    }
    assert _hypothesis_examples(SimpleNamespace(hypothesis_statistics=describe_statistics(stats))) == 9
    assert _hypothesis_examples(SimpleNamespace()) is None
