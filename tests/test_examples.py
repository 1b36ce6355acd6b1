"""The three examples run as a user would run them (a subprocess each, smallest settings), and the guides' links
resolve (the built docs site is checked by tests/test_docs_site.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, data: str | None = None, timeout: int = 120) -> str:
    env = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="2")
    if data is not None:
        env["GRAPHHYPER_DATA"] = data
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _percent(pattern: str, text: str) -> list[float]:
    values = [float(v) for v in re.findall(pattern, text)]
    assert values, f"no match for {pattern!r} in:\n{text}"
    for v in values:
        assert 0.0 <= v <= 100.0, v
    return values


def test_examples_are_short():
    scripts = sorted((ROOT / "examples").glob("*.py"))
    assert [p.name for p in scripts] == ["architecture_search.py", "hypergraph_learning.py", "predict_parameters.py"]
    for p in scripts:
        assert len(p.read_text().splitlines()) < 50, p.name


def test_predict_parameters():
    out = _run("predict_parameters.py", "--archs", "1")
    m = re.search(r"resnet18: predicted (\d+) tensors \(([\d,]+) parameters\).*unpredicted: none", out)
    assert m, out
    assert int(m.group(2).replace(",", "")) == 11_689_512  # every parameter of torchvision's ResNet-18
    ghn = _percent(r"GHN-predicted accuracy ([\d.]+)%", out)
    rand = _percent(r"random init ([\d.]+)%", out)
    assert len(ghn) == len(rand) == 1


def test_hypergraph_learning_real_data(shared_data):
    if not (shared_data / "hypergraph" / "cora-ca").is_dir():
        pytest.skip("cora-ca not under GRAPHHYPER_DATA")
    out = _run("hypergraph_learning.py", "--epochs", "15", data=str(shared_data))
    assert "dataset cora-ca: 2708 nodes" in out
    (acc,) = _percent(r"test accuracy: ([\d.]+)%", out)
    assert acc > 100 / 7  # better than chance over 7 classes after a few epochs of HGNN


def test_hypergraph_learning_synthetic_fallback(tmp_path):
    out = _run("hypergraph_learning.py", "--epochs", "10", data=str(tmp_path))
    assert "using a synthetic HSBM hypergraph" in out and "dataset hsbm: 1000 nodes" in out
    _percent(r"test accuracy: ([\d.]+)%", out)


def test_architecture_search_table(shared_data):
    if not (shared_data / "nas" / "nb201_minibench_accs.csv").is_file():
        pytest.skip("NB201 table not under GRAPHHYPER_DATA")
    out = _run("architecture_search.py", "--trials", "5", data=str(shared_data))
    assert "trials: 5" in out
    assert re.search(r"best cell: (\|[a-z_0-9x]+~\d)+\|", out), out
    (val,) = _percent(r"best value: ([\d.]+)", out)
    (test,) = _percent(r"cifar10-test accuracy: ([\d.]+)%", out)
    (oracle,) = _percent(r"oracle ([\d.]+)%", out)
    assert val > 10 and oracle > 10


def test_architecture_search_proxy_fallback(tmp_path):
    out = _run("architecture_search.py", "--trials", "3", data=str(tmp_path))
    assert "zero-cost proxy 'jacob_cov'" in out and "trials: 3" in out
    assert re.search(r"best value: -?[\d.]+", out), out


def test_docs_links_resolve():
    """Every relative link of docs/*.md points at a file of the checkout (anchors are not checked)."""
    pages = sorted((ROOT / "docs").glob("*.md"))
    names = {p.name for p in pages}
    assert {
        "index.md",
        "architectures.md",
        "ghn.md",
        "hypergraphs.md",
        "datasets.md",
        "search.md",
        "reliability.md",
    } <= names
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
