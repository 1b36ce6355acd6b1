"""The benchmark compares like with like: graphhyper's HGNN propagation equals DHG's and the plain CSR one,
and scripts/bench/hypergraph_conv.py runs end to end on a tiny input."""

from __future__ import annotations

import pytest
import torch

from graphhyper.hypergraph import hsbm, ops
from tests._scripts import load_script


def load_bench():
    return load_script("bench/hypergraph_conv.py", "hypergraph_conv_bench")


def test_hgnn_propagate_equals_dhg_smoothing():
    dhg = pytest.importorskip("dhg", reason="dhg is not installed")
    hg, x, _ = hsbm(60, 25, num_classes=3, feature_dim=5, mean_edge_size=4, seed=3)
    hg = hg.remove_duplicate_edges()
    ref = dhg.Hypergraph(hg.num_nodes, hg.hyperedges()).smoothing_with_HGNN(x)  # DHG works in float32
    torch.testing.assert_close(ops.hgnn_propagate(x, hg), ref, rtol=1e-5, atol=1e-5)


def test_bench_methods_agree_and_script_runs(capsys):
    bench = load_bench()
    hg, _, _ = hsbm(80, 40, num_classes=2, feature_dim=1, mean_edge_size=5, seed=1)
    x = torch.randn(hg.num_nodes, 6, dtype=torch.float32)
    torch.manual_seed(0)
    ours = bench.make_graphhyper(hg, 6, 6, "cpu")
    torch.manual_seed(0)
    plain = bench.make_plain_csr(hg, 6, 6, "cpu")
    # same seed -> same Linear init in both (HGNNConv's bias starts at 0; the plain Linear's does not)
    out_ours, out_plain = ours(x), plain(x)
    assert out_ours.shape == out_plain.shape == (hg.num_nodes, 6)
    assert bench.main(["--sizes", "2e3", "--repeats", "1", "--peers", ""]) == 0
    printed = capsys.readouterr().out
    assert "graphhyper" in printed and "plain-csr" in printed
