"""Property tests: random valid hypergraphs round-trip through every conversion; random invalid input raises."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphhyper.errors import GraphhyperError, InvalidHypergraphError, MissingDependencyError
from graphhyper.hypergraph import Hypergraph

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def hypergraphs(draw, allow_empty: bool = False, allow_duplicates: bool = True):
    num_nodes = draw(st.integers(1, 12))
    min_size = 0 if allow_empty else 1
    edges = draw(
        st.lists(
            st.lists(st.integers(0, num_nodes - 1), min_size=min_size, max_size=num_nodes, unique=True),
            min_size=0,
            max_size=8,
        )
    )
    if not allow_duplicates:
        seen, unique = set(), []
        for e in edges:
            if frozenset(e) not in seen:
                seen.add(frozenset(e))
                unique.append(e)
        edges = unique
    weights = draw(st.lists(st.floats(0.25, 4.0, width=32), min_size=len(edges), max_size=len(edges)))
    node_w = draw(st.lists(st.floats(-2.0, 2.0, width=32), min_size=num_nodes, max_size=num_nodes))
    return Hypergraph(num_nodes, edges, hyperedge_weight=weights, node_weight=node_w, allow_empty_edges=allow_empty)


@SETTINGS
@given(hypergraphs(allow_empty=True))
def test_pyg_roundtrip(hg):
    back = Hypergraph.from_pyg(
        hg.to_pyg(),
        hg.num_nodes,
        num_edges=hg.num_edges,
        allow_empty_edges=True,
        hyperedge_weight=hg.hyperedge_weight,
        node_weight=hg.node_weight,
    )
    assert back == hg
    # the index alone keeps the structure
    assert (
        Hypergraph(
            hg.num_nodes, hyperedge_index=hg.hyperedge_index, num_edges=hg.num_edges, allow_empty_edges=True
        ).hyperedges()
        == hg.hyperedges()
    )


@SETTINGS
@given(hypergraphs(allow_empty=True))
def test_networkx_roundtrip(hg):
    assert Hypergraph.from_networkx(hg.to_networkx()) == hg


@SETTINGS
@given(hypergraphs(allow_duplicates=False))
def test_dhg_roundtrip(hg):
    pytest.importorskip("dhg", reason="dhg is not installed")
    back = Hypergraph.from_dhg(hg.to_dhg())
    assert back.hyperedges() == hg.hyperedges()
    torch.testing.assert_close(back.hyperedge_weight, hg.hyperedge_weight)
    assert back.num_nodes == hg.num_nodes


def test_dhg_refuses_duplicates_and_empty():
    pytest.importorskip("dhg", reason="dhg is not installed")
    with pytest.raises(InvalidHypergraphError, match="remove_duplicate_edges"):
        Hypergraph(3, [[0, 1], [1, 0]]).to_dhg()
    with pytest.raises(InvalidHypergraphError, match="drop_empty_edges"):
        Hypergraph(3, [[0, 1], []], allow_empty_edges=True).to_dhg()


@pytest.mark.skipif(importlib.util.find_spec("dgl") is None, reason="dgl is not installed")
@SETTINGS
@given(hypergraphs(allow_empty=True))
def test_dgl_roundtrip(hg):
    try:
        g = hg.to_dgl()
    except MissingDependencyError as exc:  # dgl present but unusable with this torch build
        pytest.skip(f"dgl cannot be imported: {exc}")
    assert g.num_nodes("node") == hg.num_nodes and g.num_nodes("hyperedge") == hg.num_edges
    assert Hypergraph.from_dgl(g) == hg


def test_dgl_keeps_incidence_features():
    pytest.importorskip("dgl", reason="dgl is not installed")
    feats = torch.arange(5.0).view(5, 1)
    hg = Hypergraph(4, [[0, 1, 2], [3, 1]], incidence_features=feats)
    try:
        back = Hypergraph.from_dgl(hg.to_dgl())
    except MissingDependencyError as exc:
        pytest.skip(f"dgl cannot be imported: {exc}")
    torch.testing.assert_close(back.incidence_features, hg.incidence_features)


def test_hypernetx_and_xgi_or_named_missing_dependency():
    hg = Hypergraph(4, [[0, 1, 2], [2, 3]])
    for method, package in (("to_hypernetx", "hypernetx"), ("to_xgi", "xgi")):
        if importlib.util.find_spec(package) is None:
            with pytest.raises(MissingDependencyError, match=package):
                getattr(hg, method)()
        else:
            assert getattr(hg, method)() is not None


def test_from_networkx_generic_bipartite():
    nx = pytest.importorskip("networkx")
    g = nx.Graph()
    g.add_nodes_from(["a", "b", "c"], bipartite=0)
    g.add_nodes_from(["E1", "E2"], bipartite=1)
    g.add_edges_from([("a", "E1"), ("b", "E1"), ("c", "E2")])
    assert Hypergraph.from_networkx(g).hyperedges() == [[0, 1], [2]]
    g.add_node("z")
    with pytest.raises(InvalidHypergraphError, match="bipartite"):
        Hypergraph.from_networkx(g)


@st.composite
def invalid_inputs(draw):
    num_nodes = draw(st.integers(1, 6))
    kind = draw(
        st.sampled_from(
            ["range", "negative", "nan_weight", "weight_len", "shape", "dtype", "repeat", "empty", "num_edges"]
        )
    )
    nnz = draw(st.integers(1, 6))
    nodes = draw(st.lists(st.integers(0, num_nodes - 1), min_size=nnz, max_size=nnz))
    edges = list(range(nnz))
    kwargs: dict = {}
    if kind == "range":
        nodes[draw(st.integers(0, nnz - 1))] = num_nodes + draw(st.integers(0, 5))
    elif kind == "negative":
        nodes[draw(st.integers(0, nnz - 1))] = -draw(st.integers(1, 5))
    elif kind == "nan_weight":
        kwargs["hyperedge_weight"] = [float(draw(st.sampled_from(["nan", "inf", "-inf"])))] * nnz
    elif kind == "weight_len":
        kwargs["hyperedge_weight"] = [1.0] * (nnz + draw(st.integers(1, 3)))
    elif kind == "repeat":
        nodes.append(nodes[0])
        edges.append(edges[0])
    elif kind == "empty":
        kwargs["num_edges"] = nnz + draw(st.integers(1, 3))
    elif kind == "num_edges":
        kwargs["num_edges"] = draw(st.integers(0, nnz - 1))
    index = torch.tensor([nodes, edges], dtype=torch.long)
    if kind == "shape":
        index = index.t() if nnz != 2 else index.reshape(1, -1)
    elif kind == "dtype":
        index = index.float()
    return num_nodes, index, kwargs


@settings(max_examples=60, deadline=None)
@given(invalid_inputs())
def test_invalid_incidences_raise_documented_error(case):
    num_nodes, index, kwargs = case
    with pytest.raises(InvalidHypergraphError):
        Hypergraph(num_nodes, hyperedge_index=index, **kwargs)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.integers(-3, 10), st.floats(allow_nan=True), st.text(max_size=2), st.none()), max_size=5))
def test_garbage_hyperedge_lists_never_crash_inside_torch(items):
    try:
        Hypergraph(5, [items])
    except GraphhyperError:
        pass
