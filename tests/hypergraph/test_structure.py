"""Hypergraph structure: layouts, degrees, validation errors, transforms, expansions, directed variant."""

from __future__ import annotations

import pytest
import torch

from graphhyper.errors import GraphhyperError, InvalidHypergraphError
from graphhyper.hypergraph import DirectedHypergraph, Hypergraph


def dense_h(hg: Hypergraph) -> torch.Tensor:
    h = torch.zeros(hg.num_nodes, hg.num_edges, dtype=torch.float64)
    h[hg.inc_node, hg.inc_edge] = 1.0
    return h


def test_layouts_and_degrees():
    hg = Hypergraph(6, [[3, 1, 2], [2, 0], [5]], hyperedge_weight=[1.0, 2.0, 0.5])
    assert (hg.num_nodes, hg.num_edges, hg.nnz) == (6, 3, 6)
    assert hg.hyperedge_index.tolist() == [[1, 2, 3, 0, 2, 5], [0, 0, 0, 1, 1, 2]]
    assert hg.edge_ptr.tolist() == [0, 3, 5, 6]
    assert hg.node_ptr.tolist() == [0, 1, 2, 4, 5, 5, 6]
    # CSC order: by node, then hyperedge
    assert hg.inc_node[hg.csc_perm].tolist() == [0, 1, 2, 2, 3, 5]
    assert hg.csc_edge.tolist() == [1, 0, 0, 1, 0, 2]
    assert hg.edge_degree.tolist() == [3, 2, 1]
    assert hg.node_degree.tolist() == [1, 1, 2, 1, 0, 1]
    assert hg.weighted_node_degree.tolist() == [2.0, 1.0, 3.0, 1.0, 0.0, 0.5]
    assert hg.hyperedges() == [[1, 2, 3], [0, 2], [5]]
    assert hg.isolated_nodes().tolist() == [4]
    assert hg.node_weight.tolist() == [1.0] * 6


def test_index_input_equals_list_input_and_keeps_incidence_features():
    index = torch.tensor([[2, 0, 1, 3], [1, 0, 0, 1]])
    feats = torch.arange(4.0).unsqueeze(1)
    hg = Hypergraph(4, hyperedge_index=index, incidence_features=feats)
    assert hg == Hypergraph(4, [[0, 1], [2, 3]])
    # feature of incidence (node 2, edge 1) was row 0
    k = int(((hg.inc_node == 2) & (hg.inc_edge == 1)).nonzero())
    assert hg.incidence_features[k].item() == 0.0
    assert hg.incidence_features[:, 0].tolist() == [1.0, 2.0, 0.0, 3.0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_nodes=3, hyperedges=[[0, 3]]), "out of range"),
        (dict(num_nodes=3, hyperedges=[[0, -1]]), "Negative"),
        (dict(num_nodes=3, hyperedges=[[0, 1], []]), "no nodes"),
        (dict(num_nodes=3, hyperedges=[[0, 0, 1]]), "more than once"),
        (dict(num_nodes=3, hyperedges=[[0, 1]], hyperedge_weight=[float("nan")]), "NaN"),
        (dict(num_nodes=3, hyperedges=[[0, 1]], hyperedge_weight=[float("inf")]), "NaN or inf"),
        (dict(num_nodes=3, hyperedges=[[0, 1]], hyperedge_weight=[1.0, 2.0]), "shape"),
        (dict(num_nodes=3, hyperedges=[[0, 1]], hyperedge_weight=[-1.0]), "negative"),
        (dict(num_nodes=3, hyperedges=[[0, 1]], node_weight=[1.0]), "shape"),
        (dict(num_nodes=-1, hyperedges=[[0]]), "non-negative"),
        (dict(num_nodes=2.5, hyperedges=[[0]]), "int"),
        (dict(num_nodes=3, hyperedges=[[0, 1.5]]), "ints"),
        (dict(num_nodes=3, hyperedges=[[0], 1]), "not a list"),
        (dict(num_nodes=3, hyperedge_index=torch.zeros(3, 2, dtype=torch.long)), r"\[2, nnz\]"),
        (dict(num_nodes=3, hyperedge_index=torch.zeros(2, 2)), "integer"),
        (dict(num_nodes=3, hyperedge_index=[[0], [0]]), "LongTensor"),
        (dict(num_nodes=3, hyperedge_index=torch.tensor([[0], [1]]), num_edges=1), "out of range"),
        (dict(num_nodes=3, hyperedges=[[0, 1]], num_edges=2), "num_edges"),
        (dict(num_nodes=3, hyperedges=[[0]], incidence_features=torch.zeros(2, 1)), "rows"),
        (dict(num_nodes=3), "exactly one"),
    ],
)
def test_invalid_input_raises_named_error(kwargs, match):
    with pytest.raises(InvalidHypergraphError, match=match):
        Hypergraph(**kwargs)


def test_explicit_flags_allow_empty_and_duplicates():
    hg = Hypergraph(3, [[0, 1], []], allow_empty_edges=True)
    assert hg.edge_degree.tolist() == [2, 0]
    assert hg.drop_empty_edges().hyperedges() == [[0, 1]]
    hg = Hypergraph(3, [[0, 0, 1]], deduplicate=True)
    assert hg.hyperedges() == [[0, 1]]
    hg = Hypergraph(3, hyperedge_index=torch.tensor([[0], [0]]), num_edges=3, allow_empty_edges=True)
    assert hg.num_edges == 3


def test_errors_are_graphhyper_and_value_errors():
    with pytest.raises(GraphhyperError):
        Hypergraph(2, [[5]])
    with pytest.raises(ValueError):
        Hypergraph(2, [[5]])


def test_transforms_are_explicit_and_carry_fields():
    feats = torch.arange(8.0).unsqueeze(1)
    hg = Hypergraph(
        6,
        [[0, 1], [1, 0], [2], [3, 4, 1]],
        hyperedge_weight=[1.0, 2.0, 3.0, 4.0],
        node_weight=torch.arange(6.0),
        incidence_features=feats,
    )
    assert hg.duplicate_edges().tolist() == [1]
    dedup = hg.remove_duplicate_edges()
    assert dedup.hyperedges() == [[0, 1], [2], [1, 3, 4]]
    assert dedup.hyperedge_weight.tolist() == [1.0, 3.0, 4.0]
    assert dedup.incidence_features.shape == (6, 1)
    assert hg.nnz == 8  # the original is untouched
    single = hg.drop_singletons()
    assert single.hyperedges() == [[0, 1], [0, 1], [1, 3, 4]]
    loops = hg.add_self_loops()
    assert loops.hyperedges()[4:] == [[0], [1], [3], [4], [5]]  # node 2 already has {2}
    assert loops.hyperedge_weight[4:].tolist() == [1.0] * 5
    assert loops.incidence_features.shape == (loops.nnz, 1)
    assert loops.add_self_loops() == loops
    small, mapping = hg.remove_isolated_nodes()
    assert mapping.tolist() == [0, 1, 2, 3, 4]
    assert small.num_nodes == 5 and small.node_weight.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert small.hyperedges() == hg.hyperedges()


def test_remove_isolated_nodes_relabels():
    hg = Hypergraph(5, [[1, 4], [4]])
    small, mapping = hg.remove_isolated_nodes()
    assert mapping.tolist() == [1, 4]
    assert small.hyperedges() == [[0, 1], [1]]


def test_expansions_match_dense_formulas():
    torch.manual_seed(0)
    hg = Hypergraph(7, [[0, 1, 2], [2, 3], [3, 4, 5, 6], [0, 6]], hyperedge_weight=torch.rand(4) + 0.5)
    h = dense_h(hg)
    w = hg.hyperedge_weight.double()
    adj = h @ torch.diag(w) @ h.t()
    adj.fill_diagonal_(0)
    idx, val = hg.clique_expansion()
    got = torch.zeros(7, 7, dtype=torch.float64)
    got[idx[0], idx[1]] = val.double()
    torch.testing.assert_close(got, adj, rtol=1e-6, atol=1e-6)
    idx, val = hg.clique_expansion(normalize=True)
    norm = h @ torch.diag(w / (hg.edge_degree.double() - 1)) @ h.t()
    norm.fill_diagonal_(0)
    got = torch.zeros(7, 7, dtype=torch.float64)
    got[idx[0], idx[1]] = val.double()
    torch.testing.assert_close(got, norm, rtol=1e-6, atol=1e-6)
    star = hg.star_expansion()
    assert star.shape == (2, 2 * hg.nnz) and int(star.max()) == 7 + 4 - 1
    idx, val = hg.line_graph()
    lg = h.t() @ h
    lg.fill_diagonal_(0)
    got = torch.zeros(4, 4, dtype=torch.float64)
    got[idx[0], idx[1]] = val.double()
    torch.testing.assert_close(got, lg)


def test_to_device_and_repr():
    hg = Hypergraph(3, [[0, 1, 2]])
    assert hg.to("cpu") is hg
    assert "num_nodes=3" in repr(hg)
    assert hg.device.type == "cpu"


def test_empty_hypergraph():
    hg = Hypergraph(3, [])
    assert (hg.num_edges, hg.nnz) == (0, 0)
    assert hg.node_degree.tolist() == [0, 0, 0]
    assert hg.hyperedges() == []


def test_directed_hypergraph_roles_and_types():
    d = DirectedHypergraph(5, [([0, 1], [2]), ([3], [0, 4])], node_type=[0, 1, 0, 1, 2], edge_type=[1, 0])
    assert d.heads() == [[2], [0, 4]]
    assert d.tails() == [[0, 1], [3]]
    assert d.num_node_types == 3 and d.num_edge_types == 2
    assert d.is_head.dtype == torch.bool and d.is_head.shape == (d.nnz,)
    idx = torch.tensor([[2, 0, 1], [0, 0, 0]])
    d2 = DirectedHypergraph(3, hyperedge_index=idx, is_head=torch.tensor([True, False, False]))
    assert d2.heads() == [[2]] and d2.tails() == [[0, 1]]
    loops = d.add_self_loops()
    assert isinstance(loops, DirectedHypergraph) and loops.edge_type.shape == (loops.num_edges,)
    assert loops.is_head.shape == (loops.nnz,)
    with pytest.raises(InvalidHypergraphError, match="is_head"):
        DirectedHypergraph(3, hyperedge_index=idx, is_head=torch.tensor([True]))
    with pytest.raises(InvalidHypergraphError, match="node_type"):
        DirectedHypergraph(5, [([0], [1])], node_type=[0, 1])
    with pytest.raises(InvalidHypergraphError, match="pair"):
        DirectedHypergraph(5, [[0, 1, 2]])
