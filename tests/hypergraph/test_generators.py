"""HSBM generator: seeded, valid, planted structure visible, vectorised at scale."""

from __future__ import annotations

import time

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import Hypergraph, hsbm, random_hypergraph


def test_hsbm_is_seeded_and_valid():
    hg, x, y = hsbm(300, 120, num_classes=3, feature_dim=8, mean_edge_size=5, seed=7)
    hg2, x2, y2 = hsbm(300, 120, num_classes=3, feature_dim=8, mean_edge_size=5, seed=7)
    assert hg == hg2 and torch.equal(x, x2) and torch.equal(y, y2)
    hg3, _, _ = hsbm(300, 120, num_classes=3, feature_dim=8, mean_edge_size=5, seed=8)
    assert hg3 != hg
    assert isinstance(hg, Hypergraph) and x.shape == (300, 8) and x.dtype == torch.float32
    assert y.shape == (300,) and set(y.tolist()) <= {0, 1, 2}
    assert int(hg.edge_degree.min()) >= 2
    assert 3.5 < hg.nnz / hg.num_edges < 6.5


def test_hsbm_plants_classes():
    hg, x, y = hsbm(600, 400, num_classes=4, feature_dim=16, mean_edge_size=6, p_in=0.9, seed=1)
    labels = y[hg.inc_node]
    majority = torch.zeros(hg.num_edges)
    for e in range(hg.num_edges):
        members = labels[hg.inc_edge == e]
        majority[e] = torch.bincount(members, minlength=4).max() / members.numel()
    assert majority.mean() > 0.75  # near p_in; 1/4 at random
    hg0, _, y0 = hsbm(600, 400, num_classes=4, feature_dim=16, mean_edge_size=6, p_in=0.0, seed=1)
    labels0 = y0[hg0.inc_node]
    same = [(labels0[hg0.inc_edge == e] == labels0[hg0.inc_edge == e][0]).float().mean() for e in range(50)]
    assert torch.stack(same).mean() < 0.7
    # class means separate the features
    means = torch.stack([x[y == c].mean(0) for c in range(4)])
    assert torch.cdist(means, means).fill_diagonal_(1e9).min() > 1.0


def test_hsbm_scales_to_a_million_incidences_quickly():
    start = time.perf_counter()
    hg, x, _ = hsbm(100_000, 50_000, num_classes=5, feature_dim=4, mean_edge_size=20, seed=0)
    assert hg.nnz > 900_000
    assert time.perf_counter() - start < 30  # vectorised: a few seconds even on a busy 2-core box


def test_random_hypergraph_weighted():
    hg = random_hypergraph(50, 20, 3.0, seed=2, weighted=True)
    assert hg.num_edges == 20 and bool((hg.hyperedge_weight > 0.4).all())
    assert int(hg.edge_degree.min()) >= 1


@pytest.mark.parametrize("kwargs", [dict(p_in=1.5), dict(mean_edge_size=0.5), dict(num_classes=0), dict(num_nodes=-1)])
def test_hsbm_rejects_bad_arguments(kwargs):
    args = dict(num_nodes=10, num_edges=5, num_classes=2, feature_dim=3)
    args.update(kwargs)
    with pytest.raises(InvalidInputError):
        hsbm(**args)
