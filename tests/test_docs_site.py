"""The docs site builds: ``mkdocs build --strict`` (what ``make docs`` runs) over mkdocs.yml, the guides in docs/
and the API reference that mkdocstrings renders from the docstrings. Strict mode turns every warning into a
failure: a broken link between pages, a stub naming a module that no longer exists, a docstring ``Args:`` entry
that is not a parameter of its function."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None,
    reason="mkdocs / mkdocstrings not installed (pip install -r requirements-dev.txt)",
)
def test_docs_site_builds_strict(tmp_path):
    env = dict(
        os.environ,
        NO_MKDOCS_2_WARNING="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    site = tmp_path / "site"
    for page in [
        "index.html",
        "hypergraphs.html",
        "api/index.html",
        "api/arch.html",
        "api/hypergraph.html",
        "api/search.html",
    ]:
        assert (site / page).is_file(), page
    # mkdocstrings rendered the reference (not just the stub text)
    api = (site / "api" / "hypergraph.html").read_text()
    assert 'id="graphhyper.hypergraph.Hypergraph"' in api and "::: graphhyper" not in api
