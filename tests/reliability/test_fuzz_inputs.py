"""Bad-input fuzzing of the public constructors and parsers: only documented errors may come out."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphhyper.errors import GraphhyperError, InvalidHypergraphError, InvalidInputError

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
ints = st.integers(min_value=-5, max_value=40)


@FUZZ
@given(
    num_nodes=st.integers(-2, 30),
    pairs=st.lists(st.tuples(ints, ints), max_size=40),
    weight=st.one_of(st.none(), st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=12)),
)
def test_hypergraph_from_index(num_nodes, pairs, weight, record):
    record("Hypergraph(hyperedge_index=random)", "random ids (negative, out of range), NaN/inf weights")
    from graphhyper.hypergraph import Hypergraph

    index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t()
    try:
        hg = Hypergraph(num_nodes, hyperedge_index=index, hyperedge_weight=weight)
    except InvalidHypergraphError as exc:
        assert str(exc)
        return
    # whatever was accepted is internally consistent
    assert hg.nnz == index.shape[1]
    assert (int(hg.inc_node.max()) if hg.nnz else -1) < hg.num_nodes
    assert torch.isfinite(hg.hyperedge_weight).all()


@FUZZ
@given(num_nodes=st.integers(0, 20), edges=st.lists(st.lists(ints, max_size=6), max_size=10))
def test_hypergraph_from_lists(num_nodes, edges, record):
    record("Hypergraph(hyperedges=random lists)", "random node-id lists incl. empty and negative ids")
    from graphhyper.hypergraph import Hypergraph

    try:
        hg = Hypergraph(num_nodes, edges)
    except InvalidHypergraphError:
        return
    assert hg.num_edges == len(edges)
    assert sorted(map(sorted, hg.hyperedges())) == sorted(sorted(set(e)) for e in edges)


@FUZZ
@given(text=st.text(max_size=80))
def test_nb201_arch_string(text, record):
    from graphhyper.arch.spaces import nb201

    record("nb201.parse(random text)", "hypothesis text -> parse; only GraphhyperError or a valid 6-op cell")
    try:
        cell = nb201.parse(text)
    except GraphhyperError:
        return
    assert len(cell) == 6 and all(op in nb201.OPS for op in cell)


@FUZZ
@given(text=st.text(max_size=200))
def test_darts_spec_json(text, record):
    record("DartsSpec.from_json(random text)", "hypothesis text -> only GraphhyperError")
    from graphhyper.arch.spaces import darts

    try:
        darts.DartsSpec.from_json(text)
    except GraphhyperError:
        pass


@FUZZ
@given(data=st.binary(max_size=200))
def test_safe_unpickler_random_bytes(data, record):
    record("safe_loads(random bytes)", "hypothesis bytes -> only GraphhyperError")
    from graphhyper.data import safe_loads

    try:
        safe_loads(data)
    except GraphhyperError:
        pass


@FUZZ
@given(name=st.text(max_size=30))
def test_unknown_dataset_and_model_names(name, tmp_path_factory, record):
    record("load_hypergraph/build_model(random name)", "unknown names -> GraphhyperError listing known ones")
    from graphhyper.data import list_datasets, load_hypergraph
    from graphhyper.hypergraph.models import build_model, list_models

    root = tmp_path_factory.mktemp("empty")
    if name.strip().lower() not in list_datasets():
        with pytest.raises(GraphhyperError):
            load_hypergraph(name, root=root, download=False)
    if name.strip().lower() not in list_models():
        with pytest.raises(GraphhyperError):
            build_model(name, 4, 2)


@pytest.mark.parametrize("obj", [None, 3, "resnet18", torch.zeros(2), [torch.nn.Linear(2, 2)]])
def test_trace_rejects_non_modules(obj, record):
    from graphhyper.arch import trace

    record("trace(non-module)", f"trace({type(obj).__name__}) -> GraphhyperError naming the fix")
    with pytest.raises(GraphhyperError) as exc:
        trace(obj, input_shape=(1, 2))
    assert "nn.Module" in str(exc.value)


def test_trace_input_shape_mismatch_names_module(record):
    from graphhyper.arch import trace

    record("trace(wrong input shape)", "Conv2d(3,..) given 5 channels -> error naming the failing module path")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with pytest.raises(GraphhyperError) as exc:
        trace(net, input_shape=(1, 5, 3, 3))
    assert "0" in str(exc.value)


@FUZZ
@given(bad=st.sampled_from([math.nan, math.inf, -math.inf]), pos=st.integers(0, 11))
def test_ops_refuse_nonfinite_features(bad, pos, record):
    record("ops.v2e(NaN/inf features)", "one non-finite entry anywhere -> InvalidInputError")
    from graphhyper.hypergraph import Hypergraph, ops

    hg = Hypergraph(4, [[0, 1, 2], [2, 3]])
    x = torch.ones(4, 3)
    x.view(-1)[pos] = bad
    with pytest.raises(InvalidInputError):
        ops.v2e(x, hg)
