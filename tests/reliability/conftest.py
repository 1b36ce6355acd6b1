"""Reliability suite: every test records what it tried and whether the documented behaviour held.

At the end of the run a table is printed (``Reliability summary``), one row per check. With
``GRAPHHYPER_RELIABILITY_JSON=path`` the rows and every test's outcome are also written there as JSON (read by
``scripts/reliability_report.py``, which renders the table of ``docs/reliability.md``).
"""

from __future__ import annotations

import collections
import json
import os
import re

import pytest

from graphhyper.errors import GraphhyperError

_ROWS: dict[str, list] = collections.OrderedDict()
_TESTS: dict[str, dict] = collections.OrderedDict()


class Recorder:
    """``record(check, tried)`` adds a row; the row holds once the test that wrote it passes."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def __call__(self, check: str, tried: str) -> None:
        _ROWS[self.nodeid] = [check, tried, "?"]


@pytest.fixture
def record(request) -> Recorder:
    return Recorder(request.node.nodeid)


def _failure(call) -> tuple[str, str]:
    """(kind, exception type) of a failed phase: ``hang`` (pytest-timeout), ``check`` (an assertion or
    ``pytest.fail``/``raises`` that did not hold), ``graphhyper`` (one of our errors escaped) or ``traceback``."""
    exc = call.excinfo.value if call.excinfo is not None else None
    name = type(exc).__name__
    if isinstance(exc, pytest.fail.Exception) and str(exc).startswith("Timeout"):
        return "hang", name
    if isinstance(exc, (AssertionError, pytest.fail.Exception)):
        return "check", name
    return ("graphhyper" if isinstance(exc, GraphhyperError) else "traceback"), name


def _hypothesis_examples(item) -> int | None:
    """Test cases hypothesis ran for ``item`` (every phase), read from its plugin's statistics; None if not one."""
    stats = getattr(item, "hypothesis_statistics", None)
    if not stats:
        return None
    found = re.findall(r"(\d+) passing, (\d+) failing, and (\d+) invalid", stats)
    return sum(int(a) + int(b) + int(c) for a, b, c in found)


def _note_outcome(item, call, report) -> None:
    test = _TESTS.setdefault(item.nodeid, {"nodeid": item.nodeid, "outcome": "passed", "duration": 0.0})
    test["duration"] += report.duration
    if report.skipped and test["outcome"] == "passed":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        test.update(outcome="skipped", reason=reason.removeprefix("Skipped: "))
    elif report.failed and test["outcome"] != "failed":
        kind, exc = _failure(call)
        test.update(outcome="failed", kind=kind, exception=exc, phase=report.when)
    if report.when == "teardown":
        test["hypothesis_examples"] = _hypothesis_examples(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    _note_outcome(item, call, report)
    row = _ROWS.get(item.nodeid)
    if row is None:
        return
    if report.when == "call" or (report.when == "setup" and report.skipped):
        row[2] = "held" if report.passed else ("skipped" if report.skipped else "FAILED")


def pytest_terminal_summary(terminalreporter):
    if not _ROWS:
        return
    tr = terminalreporter
    tr.section("Reliability summary")
    width = max(len(r[0]) for r in _ROWS.values())
    for check, tried, status in _ROWS.values():
        tr.write_line(f"{check:<{width}}  {status:<7}  {tried}")
    held = sum(r[2] == "held" for r in _ROWS.values())
    tr.write_line(f"{held}/{len(_ROWS)} checks held")


def pytest_sessionfinish(session):
    path = os.environ.get("GRAPHHYPER_RELIABILITY_JSON")
    if not path:
        return
    rows = [{"nodeid": k, "check": c, "tried": t, "status": st} for k, (c, t, st) in _ROWS.items()]
    with open(path, "w") as f:
        json.dump({"rows": rows, "tests": list(_TESTS.values())}, f, indent=1)
