"""Run the reliability suite and rewrite the table "What is tried and what holds" of docs/reliability.md.

Usage: python scripts/reliability_report.py [--doc docs/reliability.md] [--json out.json] [--from-json in.json]
                                            [--timeout 3600] [-- extra pytest arguments]

Runs ``pytest tests/reliability -p no:cacheprovider`` with the checkout's ``.venv`` python (this interpreter when there
is none), reads the rows the ``record`` fixture writes and each test's outcome (``tests/reliability/conftest.py``
dumps them as JSON to ``$GRAPHHYPER_RELIABILITY_JSON``), and replaces what lies between
``<!-- reliability-table:start -->`` and ``<!-- reliability-table:end -->`` with a table
``| area | check | tried | result |`` and a line of figures: date, command, cases tried / held / failed / skipped,
tracebacks escaped (a test failed on an exception that is not a deliberate check or a ``GraphhyperError``), hangs
(pytest-timeout fired), and hypothesis examples run. Every test file in tests/reliability/ is picked up; a test that
records no row still appears, under its own name. ``--from-json`` renders a previous dump without running anything.
Exit status: 0 when every case held or was skipped, 1 when one failed, 2 when the suite produced no results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- reliability-table:start -->", "<!-- reliability-table:end -->"
HEADING = "## What is tried and what holds"
SUITE = "tests/reliability"
ALLOC = re.compile(r"alloc|memory|RLIMIT|\bGB\b|\bMB\b", re.I)


@dataclass(frozen=True)
class Row:
    """One line of the table: a check of the suite and what became of it."""

    area: str
    check: str
    tried: str
    result: str  # "held", "skipped (reason)" or "FAILED (kind: exception)"


@dataclass(frozen=True)
class Totals:
    tried: int
    held: int
    failed: int
    skipped: int
    escaped: int
    hangs: int
    examples: int | None
    alloc_held: int
    alloc_tried: int
    seconds: float


def _file_area(nodeid: str) -> str:
    """``tests/reliability/test_tampered_files.py::x`` -> ``tampered files``."""
    return Path(nodeid.split("::")[0]).stem.removeprefix("test_").replace("_", " ")


def _result(test: dict, status: str | None) -> str:
    if test.get("outcome") == "failed":
        return f"FAILED ({test.get('kind', '?')}: {test.get('exception', '?')})"
    if test.get("outcome") == "skipped":
        return f"skipped ({test.get('reason', '').strip()})"
    return "held" if status in (None, "held") else status


def rows_from_dump(dump: dict) -> list[Row]:
    """Table rows from the conftest's dump: one per recorded check, one per test that recorded none."""
    tests = {t["nodeid"]: t for t in dump.get("tests", [])}
    recorded = {r["nodeid"]: r for r in dump.get("rows", [])}
    rows = []
    for nodeid in dict.fromkeys([*tests, *recorded]):
        test, rec = tests.get(nodeid, {"outcome": "passed"}), recorded.get(nodeid)
        if rec is None:
            name = nodeid.split("::", 1)[-1].removeprefix("test_").replace("_", " ")
            rows.append(Row(_file_area(nodeid), name, "", _result(test, None)))
            continue
        area, sep, check = rec["check"].partition(": ")
        area, check = (area, check) if sep else (_file_area(nodeid), rec["check"])
        rows.append(Row(area, check, rec["tried"], _result(test, rec.get("status"))))
    return rows


def totals_from_dump(dump: dict, rows: list[Row]) -> Totals:
    tests = dump.get("tests", [])
    failed = [t for t in tests if t.get("outcome") == "failed"]
    counts = [t["hypothesis_examples"] for t in tests if t.get("hypothesis_examples") is not None]
    alloc = [r for r in rows if ALLOC.search(f"{r.area} {r.check} {r.tried}")]
    return Totals(
        tried=len(tests),
        held=sum(t.get("outcome") == "passed" for t in tests),
        failed=len(failed),
        skipped=sum(t.get("outcome") == "skipped" for t in tests),
        escaped=sum(t.get("kind") in ("traceback", "graphhyper") for t in failed),
        hangs=sum(t.get("kind") == "hang" for t in failed),
        examples=sum(counts) if counts else None,
        alloc_held=sum(r.result == "held" for r in alloc),
        alloc_tried=len(alloc),
        seconds=sum(t.get("duration", 0.0) for t in tests),
    )


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|") or "—"


def render_table(rows: list[Row]) -> str:
    """The Markdown table, rows grouped by area in the order the areas first appear."""
    order = {a: i for i, a in enumerate(dict.fromkeys(r.area for r in rows))}
    lines = ["| area | check | tried | result |", "|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: order[r.area]):
        result = f"**{r.result}**" if r.result.startswith("FAILED") else r.result
        lines.append(f"| {_cell(r.area)} | {_cell(r.check)} | {_cell(r.tried)} | {_cell(result)} |")
    return "\n".join(lines)


def render_figures(t: Totals, date: str, command: str) -> str:
    examples = f"{t.examples:,} hypothesis examples run" if t.examples is not None else "no hypothesis tests"
    return (
        f"Figures ({date}, `{command}`, {t.seconds / 60:.1f} min of tests): **{t.tried} cases tried**, "
        f"{t.held} held, {t.failed} failed, {t.skipped} skipped; **{t.escaped} tracebacks escaped**, "
        f"**{t.hangs} hangs**; {examples}; allocation and memory bounds: {t.alloc_held} of {t.alloc_tried} "
        "checks held."
    )


def render_section(rows: list[Row], totals: Totals, date: str, command: str) -> str:
    return (
        f"{START}\n<!-- written by scripts/reliability_report.py; edits here are overwritten -->\n\n"
        f"{render_figures(totals, date, command)}\n\n{render_table(rows)}\n\n{END}"
    )


def rewrite(text: str, section: str) -> str:
    """``text`` with the marked section replaced; the heading and markers are added (before the API reference, or
    at the end) when the page has none yet."""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        return head + section + rest.split(END, 1)[1]
    block = f"{HEADING}\n\n{section}\n\n"
    anchor = text.find("\n## API reference")
    if anchor < 0:
        return text.rstrip("\n") + "\n\n" + block.rstrip("\n") + "\n"
    return text[: anchor + 1] + block + text[anchor + 1 :]


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_suite(extra: list[str], timeout: float) -> tuple[dict | None, str]:
    """Run the reliability suite; returns its dump (None if it wrote none) and the command, as a user would type it."""
    args = ["-m", "pytest", SUITE, "-p", "no:cacheprovider", "-q", *extra]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reliability.json"
        env = dict(os.environ, GRAPHHYPER_RELIABILITY_JSON=str(out))
        try:
            subprocess.run([_python(), *args], cwd=ROOT, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"reliability_report: the suite ran past {timeout:.0f} s and was stopped", file=sys.stderr)
        dump = json.loads(out.read_text()) if out.exists() else None
    return dump, " ".join(["python", *args])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doc", type=Path, default=DOC, help="page whose marked section is rewritten")
    parser.add_argument("--json", type=Path, help="also keep the suite's dump here")
    parser.add_argument("--from-json", type=Path, help="render this dump instead of running the suite")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds the whole suite may take")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.from_json:
        dump, command = json.loads(args.from_json.read_text()), f"python -m pytest {SUITE} -p no:cacheprovider"
    else:
        dump, command = run_suite(args.pytest_args, args.timeout)
    if not dump or not dump.get("tests"):
        print("reliability_report: the suite produced no results; the page is unchanged", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1))
    rows = rows_from_dump(dump)
    totals = totals_from_dump(dump, rows)
    section = render_section(rows, totals, datetime.date.today().isoformat(), command)
    args.doc.write_text(rewrite(args.doc.read_text(), section))
    print(render_figures(totals, datetime.date.today().isoformat(), command))
    print(f"wrote {len(rows)} rows to {args.doc}")
    return 1 if totals.failed else 0


if __name__ == "__main__":
    sys.exit(main())
