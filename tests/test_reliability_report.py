"""scripts/reliability_report.py renders the table of docs/reliability.md from the reliability suite's dump; checked
here on a small fake dump (the real suite is not run), by running the script as its users do
(``--from-json DUMP --doc PAGE``), and with the conftest helpers that fill that dump."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from graphhyper.errors import InvalidInputError
from tests.reliability.conftest import _failure, _hypothesis_examples

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "reliability_report.py"
START, END = "<!-- reliability-table:start -->", "<!-- reliability-table:end -->"
HEADING = "## What is tried and what holds"
PAGE = "# Reliability\n\ntext\n\n## API reference\n\n[api](api/errors.md)\n"


def render(tmp_path: Path, dump: dict, page: str) -> tuple[subprocess.CompletedProcess, str]:
    """Run the script on ``dump`` against a copy of ``page``; the process and the page it wrote."""
    dump_file, doc = tmp_path / "dump.json", tmp_path / "page.md"
    dump_file.write_text(json.dumps(dump))
    doc.write_text(page)
    cmd = [sys.executable, str(SCRIPT), "--from-json", str(dump_file), "--doc", str(doc)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return done, doc.read_text()


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


def test_table_rows_and_figures_from_a_fake_dump(tmp_path):
    done, page = render(tmp_path, DUMP, PAGE)
    assert done.returncode == 1, done.stderr  # two checks failed
    table = page.split(START)[1].split(END)[0]
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert lines[:2] == ["| area | check | tried | result |", "|---|---|---|---|"]
    assert lines[2:] == [
        "| unpickler | dtype state | fields past the item size \\| negative offsets | held |",
        "| unpickler | allocation bound | 43-byte pickle asking for 1 GB | **FAILED (traceback: MemoryError)** |",
        "| search hangs | claim takeover | killed worker | **FAILED (hang: Failed)** |",
        "| search | PostgreSQL load | 4 workers x 100 trials | skipped (no PostgreSQL server) |",
        "| a | no row | — | held |",
    ]
    figures = done.stdout
    assert "**5 cases tried**, 2 held, 2 failed, 1 skipped; **1 tracebacks escaped**, **1 hangs**" in figures
    assert "150 hypothesis examples run" in figures and "wrote 5 rows" in figures


def test_section_is_added_once_then_replaced(tmp_path):
    done, first = render(tmp_path, DUMP, PAGE)
    assert first.index(HEADING) < first.index(START) < first.index("## API reference")
    assert first.startswith("# Reliability\n\ntext\n\n")
    assert first.endswith("## API reference\n\n[api](api/errors.md)\n")
    smaller = copy.deepcopy(DUMP)
    smaller["rows"], smaller["tests"] = smaller["rows"][:1], smaller["tests"][:1]
    done, second = render(tmp_path, smaller, first)
    assert done.returncode == 0, done.stderr
    assert second.count(START) == second.count(HEADING) == 1
    assert "dtype state" in second and "claim takeover" not in second
    assert second.split(START)[0] == first.split(START)[0]
    assert second.split(END)[1] == first.split(END)[1]


def test_the_page_has_the_markers():
    text = (ROOT / "docs" / "reliability.md").read_text()
    assert text.count(START) == text.count(END) == 1 and HEADING in text


def test_no_results_leave_the_page_alone(tmp_path):
    done, page = render(tmp_path, {"rows": [], "tests": []}, "unchanged\n")
    assert done.returncode == 2 and "no results" in done.stderr
    assert page == "unchanged\n"


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
