"""ArchGraph: hashing, isomorphism, virtual edges, features, conversions, batching, serialisation."""

from __future__ import annotations

import json
import random

import pytest
import torch
from torch import nn

from graphhyper.arch import ArchGraph, Node, batch_graphs, dedup, ops, trace
from graphhyper.errors import InvalidInputError


def _cnn(kernel: int = 3, width: int = 8, residual: bool = True) -> nn.Module:
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, kernel, padding=kernel // 2)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(width, 10)

        def forward(self, x):
            h = torch.relu(self.bn1(self.conv1(x)))
            h = self.conv2(h) + h if residual else self.conv2(h)
            return self.fc(torch.flatten(self.pool(h), 1))

    return Net()


def _shuffled(g: ArchGraph, seed: int) -> ArchGraph:
    perm = list(range(len(g.nodes)))
    random.Random(seed).shuffle(perm)
    new_pos = {old: new for new, old in enumerate(perm)}
    nodes = [g.nodes[old] for old in perm]
    edges = [(new_pos[s], new_pos[d]) for s, d in g.edges]
    random.Random(seed + 1).shuffle(edges)
    return ArchGraph(nodes, edges, g.parameters, g.meta)


@pytest.fixture(scope="module")
def small():
    return trace(_cnn(), input_shape=(2, 3, 16, 16))


def test_nodes_are_topological_and_edges_forward(small):
    assert small.nodes[0].op == "input" and small.nodes[-1].op == "output"
    assert all(s < d for s, d in small.edges)
    assert small.edge_index.shape == (2, len(small.edges)) and small.edge_index.dtype == torch.long
    assert small.op_ids().tolist() == [ops.op_index(n.op) for n in small.nodes]


def test_hash_stable_under_retrace_and_shuffle(small):
    again = trace(_cnn(), input_shape=(2, 3, 16, 16))
    assert again.structural_hash() == small.structural_hash()
    for seed in range(3):
        shuffled = _shuffled(small, seed)
        assert all(s < d for s, d in shuffled.edges)  # re-sorted into a topological order
        assert shuffled.structural_hash() == small.structural_hash()
        assert shuffled.isomorphic(small)


def test_hash_differs_for_different_architectures(small):
    other_kernel = trace(_cnn(kernel=5), input_shape=(2, 3, 16, 16))
    no_residual = trace(_cnn(residual=False), input_shape=(2, 3, 16, 16))
    wider = trace(_cnn(width=16), input_shape=(2, 3, 16, 16))
    hashes = {
        small.structural_hash(),
        other_kernel.structural_hash(),
        no_residual.structural_hash(),
        wider.structural_hash(),
    }
    assert len(hashes) == 4
    assert not small.isomorphic(no_residual)
    assert dedup([small, other_kernel, _shuffled(small, 0), no_residual, _shuffled(no_residual, 5)]) == [0, 1, 3]
    assert dedup([small, _shuffled(small, 2)], exact=True) == [0]


def test_hash_sees_edge_direction():
    nodes = [Node("a", "input"), Node("b", "relu"), Node("c", "sigmoid"), Node("d", "output")]
    g1 = ArchGraph(nodes, [(0, 1), (1, 2), (2, 3)])
    g2 = ArchGraph(nodes, [(0, 2), (2, 1), (1, 3)])
    assert g1.structural_hash() != g2.structural_hash()


def test_virtual_edges_chain():
    nodes = [Node(f"n{i}", "relu") for i in range(5)]
    g = ArchGraph(nodes, [(i, i + 1) for i in range(4)])
    ei, dist = g.virtual_edges(cutoff=3)
    pairs = {(int(s), int(d)): int(k) for (s, d), k in zip(ei.t().tolist(), dist)}
    assert pairs == {(0, 2): 2, (0, 3): 3, (1, 3): 2, (1, 4): 3, (2, 4): 2}
    ei_all, dist_all = g.virtual_edges(cutoff=5, include_direct=True)
    assert int((dist_all == 1).sum()) == 4 and int(dist_all.max()) == 4 and ei_all.shape[1] == 10
    with pytest.raises(InvalidInputError):
        g.virtual_edges(cutoff=0)


def test_virtual_edges_shortest_path_on_diamond():
    nodes = [Node(f"n{i}", "relu") for i in range(4)]
    g = ArchGraph(nodes, [(0, 1), (1, 2), (2, 3), (0, 3)])
    ei, dist = g.virtual_edges(cutoff=5)
    pairs = {(int(s), int(d)): int(k) for (s, d), k in zip(ei.t().tolist(), dist)}
    assert pairs == {(0, 2): 2, (1, 3): 2}  # (0, 3) is a real edge: distance 1, not 3


def test_shape_features_continuous(small):
    feats = small.shape_features()
    assert feats.shape == (len(small.nodes), ArchGraph.SHAPE_DIM) and feats.dtype == torch.float32
    assert torch.isfinite(feats).all()
    conv = next(i for i, n in enumerate(small.nodes) if n.op == "conv")
    relu = next(i for i, n in enumerate(small.nodes) if n.op == "relu")
    assert not torch.allclose(feats[conv], feats[relu])
    wide = trace(_cnn(width=9), input_shape=(2, 3, 16, 16)).shape_features()
    wider = trace(_cnn(width=64), input_shape=(2, 3, 16, 16)).shape_features()
    # nearby widths give nearby encodings
    assert (feats[conv] - wide[conv]).norm() < (feats[conv] - wider[conv]).norm()


def test_param_owner_and_counts(small):
    model = _cnn()
    owner = small.param_owner()
    assert set(owner) == {n for n, _ in model.named_parameters()}
    assert small.num_params == sum(p.numel() for p in model.parameters())
    assert small.nodes[owner["conv1.weight"]].name == "conv1"
    assert small.unmapped_parameters() == [] and small.unknown_ops() == []


def test_networkx_pyg_roundtrip(small):
    nxg = small.to_networkx()
    assert nxg.number_of_nodes() == len(small.nodes) and nxg.number_of_edges() == len(small.edges)
    assert nxg.nodes[1]["op"] == small.nodes[1].op
    data = small.to_pyg()
    assert data.num_nodes == len(small.nodes)
    assert torch.equal(data.edge_index, small.edge_index)
    assert torch.equal(data.x, small.op_ids())
    assert data.shape_features.shape == (len(small.nodes), ArchGraph.SHAPE_DIM)


def test_to_dgl(small):
    try:
        import dgl  # noqa: F401
    except Exception as exc:  # DGL wheels often lag behind torch
        pytest.skip(f"dgl not importable here: {type(exc).__name__}: {exc}")
    g = small.to_dgl()
    assert g.num_nodes() == len(small.nodes) and g.num_edges() == len(small.edges)
    assert torch.equal(g.ndata["op"], small.op_ids())


def test_batching(small):
    other = trace(_cnn(residual=False), input_shape=(1, 3, 8, 8))
    batch = batch_graphs([small, other])
    assert batch.num_graphs == 2
    assert batch.x.shape[0] == len(small.nodes) + len(other.nodes)
    assert batch.edge_index.shape[1] == len(small.edges) + len(other.edges)
    assert int(batch.edge_index[:, len(small.edges) :].min()) >= len(small.nodes)  # offsets applied
    assert batch.batch.bincount().tolist() == [len(small.nodes), len(other.nodes)]
    with pytest.raises(InvalidInputError):
        batch_graphs([])


def test_dict_roundtrip_is_json(small):
    text = json.dumps(small.to_dict())
    back = ArchGraph.from_dict(json.loads(text))
    assert back.structural_hash() == small.structural_hash()
    assert [n.params for n in back.nodes] == [n.params for n in small.nodes]
    assert back.nodes[1].attrs == small.nodes[1].attrs and back.edges == small.edges
    assert back.meta["trace_path"] == small.meta["trace_path"]
    with pytest.raises(InvalidInputError):
        ArchGraph.from_dict({"nodes": []})


def test_invalid_graphs_rejected():
    a, b = Node("a", "relu"), Node("b", "relu")
    with pytest.raises(InvalidInputError, match="cycle"):
        ArchGraph([a, b], [(0, 1), (1, 0)])
    with pytest.raises(InvalidInputError, match="out of range|invalid"):
        ArchGraph([a, b], [(0, 5)])
    with pytest.raises(InvalidInputError, match="unique"):
        ArchGraph([a, Node("a", "relu")], [])


def test_summary_mentions_key_facts(small):
    text = small.summary()
    assert "conv=" in text and "unknown ops: 0" in text and "trace path: fx" in text


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:
    _OPS = ("conv", "relu", "add", "concat", "linear", "batch_norm")

    @st.composite
    def _dags(draw):
        n = draw(st.integers(2, 12))
        labels = [draw(st.sampled_from(_OPS)) for _ in range(n)]
        edges = {(i, j) for j in range(1, n) for i in range(j) if draw(st.booleans())}
        return [Node(f"v{i}", op) for i, op in enumerate(labels)], sorted(edges), draw(st.integers(0, 10_000))

    @settings(max_examples=60, deadline=None)
    @given(_dags())
    def test_hash_invariant_to_node_order_property(dag):
        nodes, edges, seed = dag
        g = ArchGraph(nodes, edges)
        shuffled = _shuffled(g, seed)
        assert shuffled.structural_hash() == g.structural_hash()
        assert shuffled.isomorphic(g)
        if len(edges) < len(nodes) * (len(nodes) - 1) // 2:  # adding an edge changes the architecture
            missing = next((i, j) for j in range(len(nodes)) for i in range(j) if (i, j) not in set(edges))
            assert ArchGraph(nodes, [*edges, missing]).structural_hash() != g.structural_hash()
