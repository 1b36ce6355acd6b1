"""Every ```python block of README.md and docs/*.md runs as written: each is extracted, written to a file in a fresh
temporary directory and run in its own interpreter, which must exit 0.

Marks, on the line right before a fence (the Markdown renders them as nothing):

* ``<!-- docs-test: skip: <reason> -->`` the block cannot run here (network, a server, a GPU); reported as skipped.
* ``<!-- docs-test: continue -->`` the block builds on the previous block of the same file; it runs after it, in
  the same interpreter.

The examples run two at a time from the first test on; each test then waits for its own.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARK = re.compile(r"<!--\s*docs-test:\s*(skip|continue)\s*(?::\s*(.*?))?\s*-->")
TIMEOUT_S = 240


@dataclasses.dataclass(frozen=True)
class Block:
    """One runnable example: its place in the docs, its code (previous blocks included for ``continue``)."""

    page: str
    line: int
    code: str
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _mark(lines: list[str], fence: int) -> tuple[str, str] | None:
    """The docs-test mark on the line right before the fence at index ``fence``, as (kind, reason)."""
    if fence == 0:
        return None
    m = MARK.search(lines[fence - 1])
    return (m.group(1), m.group(2) or "") if m else None


def extract_blocks(text: str, page: str) -> list[Block]:
    """The ```python blocks of a Markdown text, in order, with their marks applied."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"{page}:{i + 1}: ```python block is never closed")
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]  # a block inside a list item is indented
        code, skip = "".join(ln.removeprefix(indent) + "\n" for ln in lines[i + 1 : end]), None
        mark = _mark(lines, i)
        if mark and mark[0] == "skip":
            if not mark[1]:
                raise ValueError(f"{page}:{i + 1}: a docs-test skip mark needs a reason")
            skip = mark[1]
        elif mark and mark[0] == "continue":
            if not blocks:
                raise ValueError(f"{page}:{i + 1}: docs-test continue on the first block of the page")
            prev = blocks[-1]
            code = prev.code + code
            skip = prev.skip and f"continues {prev.id}, which is skipped: {prev.skip}"
        blocks.append(Block(page, i + 1, code, skip))
        i = end + 1
    return blocks


def _all_blocks() -> list[Block]:
    return [b for p in PAGES for b in extract_blocks(p.read_text(), p.relative_to(ROOT).as_posix())]


BLOCKS = _all_blocks()


def _env() -> dict[str, str]:
    """The session's environment (``GRAPHHYPER_DATA`` included), one thread, no progress bars, this checkout first
    on the path. The diffusion model that ``generate`` trains on first use (~40 s) is cached across sessions, as
    it is in a user's ``~/.cache/graphhyper``."""
    env = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    env.setdefault("GRAPHHYPER_CACHE", str(Path(tempfile.gettempdir()) / "graphhyper-doc-examples-cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _run(block: Block) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="graphhyper-doc-example-") as tmp:
        script = Path(tmp) / "example.py"
        script.write_text(block.code)
        try:
            return subprocess.run(
                [sys.executable, str(script)], cwd=tmp, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, -1, "", f"ran past {TIMEOUT_S} s")


@pytest.fixture(scope="session")
def example_runs(request) -> dict[str, Future]:
    """The selected examples, started at once two at a time (one thread each, so both cores work)."""
    blocks = [
        item.callspec.params["block"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_doc_example_runs"
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {b.id: pool.submit(_run, b) for b in blocks if not b.skip}
        pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_example_runs(block: Block, example_runs: dict[str, Future]):
    if block.skip:
        pytest.skip(block.skip)
    proc = example_runs[block.id].result()
    assert proc.returncode == 0, f"{block.id} fails as written:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


def test_every_page_is_covered():
    """The pages with examples are found, each python block becomes a test, and no Python hides in another fence
    (```py, ```python3): a block that cannot run here says so with a skip mark."""
    assert {b.page for b in BLOCKS} >= {"README.md", "docs/ghn.md", "docs/hypergraphs.md", "docs/search.md"}
    for page in PAGES:
        text, name = page.read_text(), page.relative_to(ROOT).as_posix()
        fences = [ln.strip() for ln in text.splitlines() if ln.lstrip().startswith("```")]
        assert fences.count("```python") == sum(b.page == name for b in BLOCKS), name
        hidden = [f for f in fences if f in ("```py", "```python3", "```pycon")]
        assert not hidden, f"{name}: {hidden} fences hide Python from this test; use ```python (and a mark)"


def test_marks_are_applied():
    text = "\n".join(
        [
            "```python",
            "a = 1",
            "```",
            "<!-- docs-test: continue -->",
            "```python",
            "assert a == 1",
            "```",
            "<!-- docs-test: skip: needs a PostgreSQL server -->",
            "```python",
            "x",
            "```",
            "<!-- docs-test: continue -->",
            "```python",
            "y",
            "```",
            "```bash",
            "ls",
            "```",
            "1. a step:",
            "",
            "   <!-- docs-test: skip: a server -->",
            "   ```python",
            "   if x:",
            "       y",
            "   ```",
        ]
    )
    a, b, c, d, e = extract_blocks(text, "p.md")
    assert (a.line, a.code, a.skip) == (1, "a = 1\n", None)
    assert (b.code, b.skip) == ("a = 1\nassert a == 1\n", None)
    assert c.skip == "needs a PostgreSQL server"
    assert d.skip and "p.md:9" in d.skip and d.code == "x\ny\n"
    assert (e.line, e.code, e.skip) == (22, "if x:\n    y\n", "a server")
    with pytest.raises(ValueError, match="needs a reason"):
        extract_blocks("<!-- docs-test: skip -->\n```python\nx\n```", "p.md")
