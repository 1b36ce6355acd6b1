"""Reliability suite: every test records what it tried and whether the documented behaviour held.

At the end of the run a table is printed (``Reliability summary``), one row per check.
"""

from __future__ import annotations

import collections

import pytest

_ROWS: dict[str, list] = collections.OrderedDict()


class Recorder:
    """``record(check, tried)`` adds a row; the row holds once the test that wrote it passes."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def __call__(self, check: str, tried: str) -> None:
        _ROWS[self.nodeid] = [check, tried, "?"]


@pytest.fixture
def record(request) -> Recorder:
    return Recorder(request.node.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
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
