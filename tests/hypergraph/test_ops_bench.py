"""The benchmark compares like with like: graphhyper's HGNN propagation equals DHG's and the plain CSR one,
and scripts/bench/hypergraph_conv.py runs end to end on a tiny input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graphhyper.hypergraph import hsbm, ops

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "hypergraph_conv.py"


def test_hgnn_propagate_equals_dhg_smoothing():
    dhg = pytest.importorskip("dhg", reason="dhg is not installed")
    hg, x, _ = hsbm(60, 25, num_classes=3, feature_dim=5, mean_edge_size=4, seed=3)
    hg = hg.remove_duplicate_edges()
    ref = dhg.Hypergraph(hg.num_nodes, hg.hyperedges()).smoothing_with_HGNN(x)  # DHG works in float32
    torch.testing.assert_close(ops.hgnn_propagate(x, hg), ref, rtol=1e-5, atol=1e-5)


def test_bench_script_runs_as_a_user_runs_it(tmp_path):
    """``python scripts/bench/hypergraph_conv.py`` in a fresh process, as the README shows it: a table with our
    row and the plain-CSR baseline, the machine line every figure is printed with, and the JSON rows."""
    out_json = tmp_path / "rows.json"
    env = dict(os.environ, HOME=str(tmp_path), OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(BENCH), "--sizes", "2e3", "--repeats", "1", "--peers", "", "--json", str(out_json)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "machine: " in done.stdout and "load average" in done.stdout
    assert "graphhyper" in done.stdout and "plain-csr" in done.stdout
    rows = json.loads(out_json.read_text())
    assert {r["method"] for r in rows} == {"graphhyper", "plain-csr"}
    assert all(r["median_s"] > 0 and r["nnz"] > 0 for r in rows)
