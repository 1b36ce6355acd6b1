"""The layer base class (uniform repr, default reset, input preparation), HyperGCN's pair-graph helper in ops and
FastHyperGCN's graph cache."""

from __future__ import annotations

import copy
import gc
import inspect
import pickle

import pytest
import torch
from torch import nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import Hypergraph, ops
from graphhyper.hypergraph import nn as hnn

EDGES = [[0, 1, 2], [2, 3], [1, 3, 4, 5], [0, 5], [4, 6, 7], [6, 7], [0, 2, 4, 6], [3]]
WEIGHTS = [1.0, 2.0, 0.5, 1.5, 3.0, 1.0, 0.7, 2.5]


def test_every_layer_derives_from_the_base():
    classes = [c for c in vars(hnn).values() if inspect.isclass(c) and issubclass(c, nn.Module)]
    assert len(classes) >= 19
    for cls in classes:
        if cls is not hnn.Dropout:  # a drop-in for nn.Dropout, not a layer
            assert issubclass(cls, hnn.HypergraphLayer), cls.__name__


def test_repr_comes_from_the_declared_attributes():
    assert repr(hnn.HGNNConv(6, 4)) == "HGNNConv(6, 4)"
    assert repr(hnn.UniGATConv(6, 3, heads=2)) == "UniGATConv(6, 3, heads=2)"
    assert repr(hnn.CoNHDConv(6)) == "CoNHDConv(6, operator='unp', num_blocks=2)"
    appnp = "HypergraphAPPNP(num_steps=2, alpha=0.1, operator='hgnn', dropout=0.0)"
    assert repr(hnn.HypergraphAPPNP(num_steps=2)) == appnp
    assert repr(hnn.MLP(3, 5, 2, num_layers=2)) == "MLP(3, 5, 2, num_layers=2, norm='none')"


class _Toy(hnn.HypergraphLayer):
    repr_kwargs = ("scale",)

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.scale = in_channels, out_channels, 2.0
        self.inner = nn.Sequential(nn.Linear(in_channels, out_channels), nn.ReLU())
        self.mlp = hnn.MLP(out_channels, 4, out_channels)

    def forward(self, x, hg):
        hg = self.prepare(x, hg)
        return ops.v2e(self.mlp(self.inner(x)), hg)


def test_default_reset_reaches_nested_children_and_prepare_wraps_hyperedge_index():
    torch.manual_seed(0)
    toy = _Toy(3, 2)
    before = [p.detach().clone() for p in toy.parameters()]
    toy.reset_parameters()
    assert all(not torch.equal(a, b) for a, b in zip(before, toy.parameters()) if a.numel() > 2)
    assert repr(toy) == "_Toy(3, 2, scale=2.0)"
    hg, x = Hypergraph(8, EDGES), torch.randn(8, 3)
    torch.testing.assert_close(toy(x, hg.hyperedge_index), toy(x, hg))
    with pytest.raises(InvalidInputError, match="channels"):
        toy(torch.randn(8, 4), hg)


def _pairs_by_loop(hg: Hypergraph, first: torch.Tensor, second: torch.Tensor, use_mediator: bool):
    node, w = hg.inc_node.tolist(), hg.hyperedge_weight.double().tolist()
    anchors, mediators = [], []
    for e, (a, b) in enumerate(zip(hg.edge_ptr[:-1].tolist(), hg.edge_ptr[1:].tolist())):
        size = b - a
        if size < 2:
            continue
        i, j = int(first[e]), int(second[e])
        anchors.append((node[i], node[j], w[e] / (2 * size - 3) if use_mediator else w[e] / size))
        if use_mediator:
            mediators += [(p, node[p], w[e] / (2 * size - 3), i, j) for p in range(a, b) if p not in (i, j)]
    src = [a for a, _, _ in anchors] + [node[m[3]] for m in mediators] + [node[m[4]] for m in mediators]
    dst = [b for _, b, _ in anchors] + [m[1] for m in mediators] * 2
    weight = [c for _, _, c in anchors] + [m[2] for m in mediators] * 2
    return torch.tensor(src), torch.tensor(dst), torch.tensor(weight, dtype=torch.float64)


@pytest.mark.parametrize("use_mediator", [True, False])
def test_hypergcn_pairs_match_a_loop(use_mediator):
    hg = Hypergraph(8, EDGES, hyperedge_weight=WEIGHTS)
    ptr = hg.edge_ptr
    first, second = ptr[:-1].clone(), (ptr[1:] - 1).clamp(min=0)  # first and last incidence of each hyperedge
    got = ops.hypergcn_pairs(hg, first, second, use_mediator)
    for a, b in zip(got, _pairs_by_loop(hg, first, second, use_mediator)):
        torch.testing.assert_close(a, b)


def test_fast_hypergcn_cache_is_per_layer_and_dropped_with_the_hypergraph():
    x = torch.randn(8, 5)
    layer = hnn.HyperGCNConv(5, 3, fast=True)
    hg = Hypergraph(8, EDGES)
    torch.manual_seed(1)
    first = layer(x, hg)
    assert len(layer._graphs) == 1
    twin = copy.deepcopy(layer)  # a copy starts with an empty cache (and builds its own graph)
    assert twin._graphs == {} and len(layer._graphs) == 1
    restored = pickle.loads(pickle.dumps(layer))
    assert restored._graphs == {}
    torch.manual_seed(2)
    torch.testing.assert_close(layer(x, hg), first)
    del hg
    gc.collect()
    assert layer._graphs == {}
