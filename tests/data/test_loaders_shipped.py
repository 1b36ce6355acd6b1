"""Loaders on the real raw files in ../shared/data/hypergraph (skipped when absent)."""

import pytest
import torch

from graphhyper.data import get_card, load_hypergraph

SHIPPED = ["cora-ca", "cora-cc", "citeseer-cc", "zoo", "ntu2012", "mushroom", "20news"]
# counts measured on the raw files (SOURCES.md); the cards must agree with both the files and this table
SOURCES_MD = {
    "cora-ca": (2708, 1072, 1433, 7, 320, 102),
    "cora-cc": (2708, 1579, 1433, 7, 1274, 96),
    "citeseer-cc": (3312, 1079, 3703, 6, 1854, 75),
    "zoo": (101, 43, 16, 7, 0, 2),
    "ntu2012": (2012, 2012, 100, 67, 0, 377),
    "mushroom": (8124, 298, 22, 2, 0, 5),
    "20news": (16242, 100, 100, 4, 0, 0),
}
KEYS = ("nodes", "hyperedges", "features", "classes", "isolated_nodes", "duplicate_hyperedges")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_statistics_match_card(name, shared_data):
    ds = load_hypergraph(name, split="random", seed=0)
    card = get_card(name)
    measured = ds.statistics
    for key in card.statistics:
        assert measured[key] == card.statistics[key], key
    assert tuple(measured[k] for k in KEYS) == SOURCES_MD[name]
    assert ds.x.shape == (measured["nodes"], measured["features"]) and ds.x.dtype == torch.float32
    assert torch.isfinite(ds.x).all()
    assert int(ds.y.min()) == 0 and int(ds.y.max()) == measured["classes"] - 1
    assert ds.hg.num_nodes == ds.num_nodes


def test_self_loops_and_random_split(shared_data):
    ds = load_hypergraph("cora-ca", add_self_loops=True, seed=1)
    assert ds.hg.num_edges == 1072 + 2708  # no singleton hyperedges in the raw file
    assert ds.hg.isolated_nodes().numel() == 0
    s = ds.split
    assert (s.train.numel(), s.val.numel(), s.test.numel()) == (1354, 677, 677)
    assert not torch.isin(s.val, s.test).any() and not torch.isin(s.train, s.val).any()


def test_hypergcn_fixed_splits(shared_data):
    ds = load_hypergraph("citeseer-cc", split="hypergcn", seed=0, val_size=500)
    assert ds.train_idx.numel() == 138
    assert ds.val_idx.numel() == 500 and ds.test_idx.numel() == 3312 - 138 - 500
    assert not torch.isin(ds.val_idx, ds.test_idx).any()
    other = load_hypergraph("citeseer-cc", split="hypergcn", seed=1)
    assert not torch.equal(other.train_idx, ds.train_idx)  # split 2 differs from split 1
