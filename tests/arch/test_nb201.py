"""NAS-Bench-201: arch strings, all 15,625 cells, parameter formula, isomorphism hashes, predictor graphs."""

from __future__ import annotations

import collections
import csv
import itertools
import random

import numpy as np
import pytest
import torch
from torch import nn

from graphhyper.arch.spaces import nb201
from graphhyper.errors import GraphhyperError, InvalidInputError, UnknownOpError

CELLS = nb201.all_cells()
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _formula(cell) -> int:  # the benchmark's published count, written out independently of the library
    return 73_306 + 5 * (cell.count("nor_conv_3x3") * (9 * 5376 + 224) + cell.count("nor_conv_1x1") * (5376 + 224))


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_all_cells_and_string_round_trip():
    assert len(CELLS) == len(set(CELLS)) == 15_625
    strings = [nb201.to_str(c) for c in CELLS]
    assert len(set(strings)) == 15_625
    assert all(nb201.parse(s) == c for s, c in zip(strings, CELLS))
    assert all(nb201.index(c) == i for i, c in enumerate(CELLS[::97]) for i in [CELLS.index(c)])
    assert nb201.parse(EXAMPLE) == (
        "nor_conv_3x3",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "nor_conv_3x3",
        "skip_connect",
    )
    assert nb201.to_str(nb201.parse(EXAMPLE)) == EXAMPLE


def test_benchmark_file_strings_parse(shared_data):
    path = shared_data / "nas" / "nb201_minibench_accs.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    cells = [nb201.parse(r["cellstr"]) for r in rows]
    assert set(cells) == set(CELLS)
    assert all(nb201.to_str(c) == r["cellstr"] for c, r in zip(cells[:500], rows))


def test_formula_for_all_cells():
    assert all(nb201.expected_num_params(c) == _formula(c) for c in CELLS)
    counts = [nb201.expected_num_params(c) for c in CELLS]
    assert min(counts) == 73_306 and max(counts) == 1_531_546


def test_real_parameter_counts_for_every_count_class():
    """The count depends only on (n3x3, n1x1); build one real network per class (28) plus random cells."""
    by_class = {}
    for c in CELLS:
        by_class.setdefault((c.count("nor_conv_3x3"), c.count("nor_conv_1x1")), c)
    assert len(by_class) == 28
    sample = list(by_class.values()) + random.Random(0).sample(CELLS, 12)
    for cell in sample:
        with torch.device("meta"):
            net = nb201.build(cell)
        assert _count(net) == _formula(cell) == nb201.expected_num_params(cell), nb201.to_str(cell)


def test_per_op_deltas_and_fixed_part():
    for c in (16, 32, 64):
        counts = {op: _count(nb201.make_op(op, c)) for op in nb201.OPS}
        assert counts == {
            "none": 0,
            "skip_connect": 0,
            "avg_pool_3x3": 0,
            "nor_conv_1x1": c * c + 2 * c,
            "nor_conv_3x3": 9 * c * c + 2 * c,
        }
    assert sum(9 * c * c + 2 * c for c in (16, 32, 64)) == 48_608
    assert sum(c * c + 2 * c for c in (16, 32, 64)) == 5_600
    with torch.device("meta"):
        empty = nb201.build(("none",) * 6, in_channels=1, num_classes=7, C=8, N=2)
    assert _count(empty) == nb201.expected_num_params(("none",) * 6, in_channels=1, num_classes=7, C=8, N=2)


def test_network_structure_and_forward():
    cell = nb201.parse(EXAMPLE)
    net = nb201.build(cell)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert len([m for m in net.modules() if isinstance(m, nb201.Cell)]) == 15
    assert len([m for m in net.modules() if isinstance(m, nb201.ResidualReduction)]) == 2
    assert [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)][0] == 16
    small = nb201.build(cell, C=8, N=1, num_classes=4, in_channels=1)
    assert small(torch.randn(2, 1, 8, 8)).shape == (2, 4)


def test_trace_maps_every_parameter():
    cell = nb201.parse(EXAMPLE)
    g = nb201.spec_to_graph(cell)
    assert g.unmapped_parameters() == [] and g.unknown_ops() == []
    assert g.num_params == _formula(cell)
    other = nb201.spec_to_graph(nb201.parse(EXAMPLE.replace("avg_pool_3x3", "nor_conv_1x1")))
    assert other.structural_hash() != g.structural_hash()


def test_hash_modes_against_numeric_evaluation():
    """Equal hash => same function (checked numerically); functional mode is exactly the numeric partition."""
    fp = nb201.numeric_fingerprints(seed=0)
    parts = {}
    for mode in nb201.HASH_MODES:
        groups = collections.defaultdict(set)
        for cell, value in fp.items():
            groups[nb201.cell_hash(cell, mode)].add(value)
        assert all(len(values) == 1 for values in groups.values()), mode  # never merges different functions
        parts[mode] = len(groups)
    assert parts["nb201"] == 6_466  # the published figure, reproduced by the benchmark's own rule
    assert parts["functional"] == len(set(fp.values()))
    assert parts["functional"] < parts["semantic"] < parts["nb201"]
    zero = [c for c in CELLS if fp[c] is None]
    assert len({nb201.cell_hash(c) for c in zero}) == 1 and len(zero) > 0


def test_hash_examples():
    h = nb201.cell_hash
    conv, skip, pool, zero = "nor_conv_3x3", "skip_connect", "avg_pool_3x3", "none"
    # the same conv(x) reached through different edges: node 3 = node 2 = conv(node 1) = conv(x) in both
    assert h((skip, zero, conv, zero, zero, skip)) == h((skip, conv, zero, zero, zero, skip))
    # sums are associative: node 3 = skip(node 2) with node 2 = x + conv(x), versus node 3 = x + conv(x) directly
    assert h((conv, skip, skip, zero, zero, skip)) == h((conv, zero, zero, skip, skip, zero))
    assert h((conv, skip, skip, zero, zero, skip), "nb201") != h((conv, zero, zero, skip, skip, zero), "nb201")
    # dead branches: node 2 is fed only by zero, so what reads it does not matter; the benchmark's rule differs
    identity = (zero, zero, zero, skip, zero, zero)
    for op in (conv, pool):
        assert h((zero, zero, zero, skip, zero, op)) == h(identity)
        assert h((zero, zero, zero, skip, zero, op), "nb201") != h(identity, "nb201")
    # unread node 1 / conv of a zero node: still the identity; different functions stay apart
    assert h((conv,) + identity[1:]) == h((zero, zero, zero, skip, conv, zero)) == h(identity)
    assert (
        len(
            {
                h(identity),
                h((zero, zero, zero, conv, zero, zero)),
                h((zero, zero, zero, pool, zero, zero)),
                h((zero, zero, zero, skip, skip, zero)),
                h((skip, zero, zero, skip, skip, zero)),
            }
        )
        == 4
    )
    assert h((zero, zero, zero, pool, skip, zero), "functional") == h(
        (pool, zero, zero, zero, skip, zero), "functional"
    )
    with pytest.raises(InvalidInputError, match="mode"):
        h(identity, "graph")


def test_cell_graph():
    ops, adj = nb201.cell_graph(EXAMPLE)
    assert ops[0] == "input" and ops[-1] == "output" and ops[1:-1] == list(nb201.parse(EXAMPLE))
    assert adj.shape == (8, 8) and np.array_equal(adj, np.triu(adj, 1))
    assert adj[0].sum() == 3 and adj[:, 7].sum() == 3  # input feeds 1<-0, 2<-0, 3<-0; output reads 3<-*
    assert adj[1, 3] == 1 and adj[1, 5] == 1 and adj[2, 6] == adj[3, 6] == 1  # via node 1 and node 2


def test_sampling():
    a, b = nb201.sample_specs(50, seed=1), nb201.sample_specs(50, seed=1)
    assert a == b and len(set(a)) == 50 and a != nb201.sample_specs(50, seed=2)
    with pytest.raises(InvalidInputError, match="split"):
        nb201.sample_specs(5, split="wide")


@pytest.mark.parametrize(
    "bad,exc,words",
    [
        ("|nor_conv_3x3~0|+|none~0|none~1|", InvalidInputError, ["2 node groups", "|op~0|"]),
        (EXAMPLE.replace("avg_pool_3x3", "max_pool_3x3"), UnknownOpError, ["max_pool_3x3", "avg_pool_3x3"]),
        (EXAMPLE.replace("skip_connect~2", "skip_connect~1"), InvalidInputError, ["op~2"]),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", InvalidInputError, ["expected 2"]),
        (EXAMPLE.strip("|"), InvalidInputError, ["'|'"]),
        (("none",) * 5, InvalidInputError, ["6 edges"]),
        (42, InvalidInputError, ["6-tuple"]),
    ],
)
def test_bad_arch_strings(bad, exc, words):
    with pytest.raises(exc) as info:
        nb201.check_cell(bad)
    assert isinstance(info.value, GraphhyperError)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_index_order_is_product_order():
    assert CELLS[:3] == list(itertools.islice(itertools.product(nb201.OPS, repeat=6), 3))
    assert nb201.index(CELLS[-1]) == 15_624
