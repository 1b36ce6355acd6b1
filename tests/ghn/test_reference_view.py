"""The reference view (the published GHNs' graph of an architecture) built from our trace.

The fixtures are graphs written by the reference's own builder (``ghn3.graph.Graph``) through
``scripts/oracle_ghn_graph.py``; these tests need neither the reference nor networkx' help to build ours.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest
import torch
from torch import nn

from graphhyper.arch import ArchGraph, meta_init, trace
from graphhyper.arch.graph import Node
from graphhyper.errors import InvalidInputError
from graphhyper.ghn.reference import graph as refgraph
from graphhyper.ghn.reference.view import _virtual_edges, reference_graph

FIXTURES = Path(__file__).parent / "fixtures" / "reference_graphs"
MODELS = sorted(p.stem for p in FIXTURES.glob("*.json"))


def _distances(edges: list[tuple[int, int]], n: int, cutoff: int) -> dict[tuple[int, int], int]:
    """Directed shortest-path distances ``1 <= d <= cutoff``, by breadth-first search from every node."""
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        succ[i].append(j)
    out = {}
    for s in range(n):
        seen, queue = {s: 0}, deque([s])
        while queue:
            u = queue.popleft()
            for v in succ[u]:
                if v not in seen and seen[u] < cutoff:
                    seen[v] = seen[u] + 1
                    queue.append(v)
        out.update({(s, v): d for v, d in seen.items() if d > 0})
    return out


# ---------------------------------------------------------------------------------------------------------------
# against the reference's graphs


@pytest.mark.parametrize("name", MODELS)
def test_matches_reference_builder(name):
    tv = pytest.importorskip("torchvision")
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    with meta_init():
        model = tv.models.get_model(name)  # training mode, as the reference's builder runs a fresh model
    rg = reference_graph(model, input_shape=tuple(fixture["input_shape"]), ve_cutoff=fixture["ve_cutoff"])

    assert rg.ops() == fixture["ops"]
    assert rg.names == fixture["names"]
    assert [list(s) if s is not None else None for s in rg.shapes] == fixture["shapes"]
    rows = [
        [r.node, r.param, r.op, list(r.shape) if r.shape else None, r.last_weight, r.last_bias] for r in rg.node_info
    ]
    assert rows == fixture["node_info"]
    real = sorted((i, j) for i, j, w in rg.edges().tolist() if w == 1)
    assert real == sorted((i, j) for i, j, _ in fixture["edges"])
    expected = _distances(real, rg.num_nodes, fixture["ve_cutoff"])
    assert {(i, j): w for i, j, w in rg.edges().tolist()} == expected


def test_fixture_budget():
    assert sum(p.stat().st_size for p in FIXTURES.glob("*.json")) < 1_000_000


def test_archgraph_and_module_give_the_same_view():
    tv = pytest.importorskip("torchvision")
    with meta_init():
        model = tv.models.mobilenet_v3_small()
    graph = trace(model, input_shape=(1, 3, 224, 224))
    again = ArchGraph.from_dict(json.loads(json.dumps(graph.to_dict())))  # Node.inputs survives a round trip
    a, b = reference_graph(model), reference_graph(again)
    assert a.ops() == b.ops() and a.names == b.names
    assert torch.equal(a.adjacency, b.adjacency)


# ---------------------------------------------------------------------------------------------------------------
# the rules on small hand-made modules


class _Block(nn.Module):
    def __init__(self, width: int = 8, groups: int = 1, dilation: int = 1, se: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=dilation, groups=groups, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.se = nn.Conv2d(width, width, 1) if se else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        if self.se is not None:
            y = y * torch.sigmoid(self.se(y.mean((2, 3), keepdim=True)))
        return x + y


class _Net(nn.Module):
    def __init__(self, groups: int = 1, dilation: int = 1, se: bool = False) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.block = _Block(8, groups, dilation, se)
        self.gn = nn.GroupNorm(2, 8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gn(self.block(self.pool(self.stem(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _info(rg: refgraph.ReferenceGraph) -> dict[str, tuple]:
    return {r.param: (r.op, r.shape, r.last_weight, r.last_bias) for r in rg.node_info}


def test_node_per_parameter_naming_and_order():
    rg = reference_graph(_Net(), input_shape=(1, 3, 16, 16), ve_cutoff=1)
    assert rg.ops() == ["input", "conv", "bias", "max_pool", "conv", "bn", "sum", "glob_avg", "conv", "bias"]
    info = _info(rg)
    assert info["stem.weight"] == ("conv", (8, 3, 3, 3), False, False)
    assert info["max_pool"] == ("max_pool", (1, 1, 2, 2), False, False)
    assert info["fc.weight"] == ("conv", (10, 8), True, False)
    assert info["fc.bias"] == ("bias", (10,), False, True)
    assert "block.bn.bias" not in info and "gn.weight" not in info  # norm biases and GroupNorm have no node
    # a chain with one residual: input -> stem -> bias -> pool -> conv -> bn -> sum <- pool; sum -> avg -> fc
    real = sorted((i, j) for i, j, w in rg.edges().tolist())
    assert real == [(0, 1), (1, 2), (2, 3), (3, 4), (3, 6), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9)]


@pytest.mark.parametrize(("groups", "dilation", "op"), [(1, 1, "conv"), (8, 1, "sep_conv"), (8, 2, "dil_conv")])
def test_grouped_and_dilated_convolutions(groups, dilation, op):
    rg = reference_graph(_Net(groups, dilation), input_shape=(1, 3, 16, 16))
    assert _info(rg)["block.conv.weight"][0] == op


def test_squeeze_excitation_product_and_pool():
    """With a sigmoid in the network the SE product is ``cse``; its global mean is dropped (not the head's)."""
    rg = reference_graph(_Net(se=True), input_shape=(1, 3, 16, 16), ve_cutoff=1)
    ops = rg.ops()
    assert ops.count("cse") == 1 and ops.count("glob_avg") == 1
    assert ops.index("cse") < ops.index("sum") < ops.index("glob_avg") == rg.num_nodes - 3


def test_positional_embedding_and_token_shapes():
    class Tokens(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 6)
            self.pos_embedding = nn.Parameter(torch.zeros(1, 16, 6))
            self.ln = nn.LayerNorm(6)
            self.head = nn.Linear(6, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.ln(self.proj(x) + self.pos_embedding).mean(1))

    rg = reference_graph(Tokens(), input_shape=(2, 16, 4), ve_cutoff=1)
    assert rg.ops() == ["input", "conv", "bias", "pos_enc", "sum", "ln", "glob_avg", "conv", "bias"]
    assert _info(rg)["pos_embedding"][:2] == ("pos_enc", (1, 6, 4, 4))  # (1, L, C) -> (1, C, sqrt L, sqrt L)
    real = sorted((i, j) for i, j, w in rg.edges().tolist())
    assert (3, 4) in real and not any(j == 3 for _, j in real)  # the embedding only feeds its sum


def test_classifier_convolution_after_global_pool():
    head = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 10, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    rg = reference_graph(head, input_shape=(1, 3, 8, 8), ve_cutoff=1)
    assert rg.ops()[-3:] == ["glob_avg", "conv", "bias"]
    assert rg.shapes[-2] == (10, 4)  # a 1x1 classifier convolution is sized as a linear layer
    assert rg.node_info[-2].last_weight and rg.node_info[-1].last_bias


def test_single_input_add_is_dropped():
    class AddConst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(self.a(x) + 1.0)

    assert reference_graph(AddConst(), input_shape=(1, 4)).ops() == ["input", "conv", "bias", "conv", "bias"]


def test_virtual_edges_on_a_small_graph():
    # 0 -> 1 -> 2 -> 3 -> 4 and a shortcut 0 -> 3
    adj = torch.zeros(5, 5, dtype=torch.long)
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (0, 3)]:
        adj[i, j] = 1
    full = _virtual_edges(adj, 50)
    assert full[0, 2] == 2 and full[0, 4] == 2 and full[1, 3] == 2 and full[1, 4] == 3 and full[0, 3] == 1
    assert full[4].sum() == 0 and full[2, 0] == 0  # directed
    cut = _virtual_edges(adj, 2)
    assert cut[1, 4] == 0 and cut[0, 4] == 2
    assert torch.equal(_virtual_edges(adj, 1), adj)


def test_hand_made_graph_without_operand_order():
    nodes = [
        Node("x", "input"),
        Node("conv", "conv", "Conv2d", {"groups": 1}, {"conv.weight": (4, 3, 3, 3)}, (1, 4, 8, 8)),
        Node("output", "output"),
    ]
    rg = reference_graph(ArchGraph(nodes, [(0, 1), (1, 2)]))
    assert rg.ops() == ["input", "conv"] and rg.node_info[0].param == "conv.weight"


def test_bad_input():
    with pytest.raises(InvalidInputError, match="nn.Module or an ArchGraph"):
        reference_graph("resnet18")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="output node"):
        reference_graph(ArchGraph([Node("x", "input")], []))
