"""Hyperedge prediction: splits without leakage, the three negative samplers, metrics against sklearn, the
clique-expansion GCN against a dense oracle, and a small end-to-end run that must beat chance."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import Hypergraph, hsbm
from graphhyper.hypergraph import edgepred as ep
from graphhyper.hypergraph.models import build_model


@pytest.fixture(scope="module")
def planted():
    hg, x, y = hsbm(300, 240, num_classes=4, feature_dim=16, mean_edge_size=4.0, p_in=0.9, seed=3)
    return hg, x, y


def _adjacent(hg: Hypergraph) -> list[set[int]]:
    adj: list[set[int]] = [set() for _ in range(hg.num_nodes)]
    ei, _ = hg.clique_expansion()
    for u, v in ei.t().tolist():
        adj[u].add(v)
    return adj


def _keys(cand: Hypergraph) -> list[tuple[int, ...]]:
    return [tuple(e) for e in cand.hyperedges()]


# ---------------------------------------------------------------------------------------------- splits
def test_split_partitions_distinct_hyperedges(planted):
    hg = planted[0]
    split = ep.split_hyperedges(hg, val=0.1, test=0.2, seed=1)
    distinct = ep.distinct_hyperedges(hg)
    tr, va, te = (set(_keys(c)) for c in (split.train, split.val, split.test))
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert tr | va | te == set(distinct) == split.known
    assert len(va) == round(0.1 * len(distinct)) and len(te) == round(0.2 * len(distinct))
    assert split.train_hg.num_nodes == hg.num_nodes
    assert _keys(ep.split_hyperedges(hg, val=0.1, test=0.2, seed=1).test) == _keys(split.test)
    assert _keys(ep.split_hyperedges(hg, val=0.1, test=0.2, seed=2).test) != _keys(split.test)


def test_split_merges_repeats_and_drops_singletons():
    hg = Hypergraph(6, [[0, 1], [1, 0], [2], [2, 3, 4], [4, 5], [0, 5], [1, 3]])
    split = ep.split_hyperedges(hg, val=0.2, test=0.2, seed=0)
    keys = _keys(split.train) + _keys(split.val) + _keys(split.test)
    assert sorted(keys) == sorted({(0, 1), (2, 3, 4), (4, 5), (0, 5), (1, 3)})


@pytest.mark.parametrize("bad", [dict(val=0.0), dict(test=1.0), dict(val=0.5, test=0.5)])
def test_split_refuses_bad_fractions(bad):
    hg = Hypergraph(4, [[0, 1], [1, 2], [2, 3]])
    with pytest.raises(InvalidInputError):
        ep.split_hyperedges(hg, **bad)


# ---------------------------------------------------------------------------------------------- negatives
@pytest.mark.parametrize("strategy", ep.STRATEGIES)
def test_negatives_are_new_sets_of_the_positive_sizes(planted, strategy):
    hg = planted[0]
    split = ep.split_hyperedges(hg, seed=0)
    pos = split.test
    neg = ep.negative_hyperedges(split.full_hg, pos.num_edges, strategy, seed=5, positives=pos, exclude=split.known)
    keys = _keys(neg)
    assert len(keys) == pos.num_edges
    assert not set(keys) & split.known
    sizes, want = Counter(len(k) for k in keys), Counter(len(k) for k in _keys(pos))
    if strategy == "clique":  # a template without a swap is replaced by one of its size where one works
        assert set(sizes) <= set(want) and sum(min(sizes[k], want[k]) for k in want) >= 0.8 * len(keys)
    else:
        assert sizes == want
    assert all(len(set(k)) == len(k) for k in keys)
    again = ep.negative_hyperedges(split.full_hg, pos.num_edges, strategy, seed=5, positives=pos, exclude=split.known)
    assert _keys(again) == keys


def test_sized_negatives_use_the_nodes_of_the_hypergraph():
    hg = Hypergraph(50, [[0, 1, 2], [2, 3], [3, 4, 5], [5, 6]])  # nodes 7..49 are in no hyperedge
    neg = ep.negative_hyperedges(hg, 40, "sized", seed=0)
    assert max(max(k) for k in _keys(neg)) <= 6


def test_motif_negatives_are_connected_in_the_clique_expansion(planted):
    hg = planted[0]
    adj = _adjacent(hg)
    neg = ep.negative_hyperedges(hg, 100, "motif", seed=0)
    for key in _keys(neg):
        seen, todo = {key[0]}, [key[0]]
        while todo:
            v = todo.pop()
            for w in adj[v] & set(key):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        assert seen == set(key)


def test_clique_negatives_swap_one_node_for_a_common_neighbour(planted):
    hg = planted[0]
    adj = _adjacent(hg)
    templates = [set(k) for k in ep.distinct_hyperedges(hg)]
    neg = ep.negative_hyperedges(hg, 150, "clique", seed=0)
    for key in _keys(neg):
        s = set(key)
        ok = False
        for e in templates:
            if len(e) == len(s) and len(e & s) == len(s) - 1:
                (w,) = s - e
                ok = ok or all(w in adj[r] for r in e & s)
        assert ok, key


def test_clique_finds_the_only_swap():
    # dropping 1 from [0, 1] leaves 0, whose only neighbour is 1; dropping 0 leaves 1, adjacent to 2 and 3
    hg = Hypergraph(5, [[0, 1], [1, 2, 3], [3, 4]])
    neg = ep.negative_hyperedges(hg, 20, "clique", seed=0, positives=Hypergraph(5, [[0, 1]]))
    assert set(_keys(neg)) == {(1, 2), (1, 3)}


def test_clique_skips_swaps_that_recreate_known_pairs():
    # from [0, 1], 31 swaps keep 0; 29 of them give an existing pair (0, w), only (0, 31) and (0, 32) are new
    hg = Hypergraph(33, [[0, i] for i in range(1, 31)] + [[0, 31, 32]])
    neg = ep.negative_hyperedges(hg, 50, "clique", seed=0, positives=Hypergraph(33, [[0, 1]]))
    assert set(_keys(neg)) == {(0, 31), (0, 32)}


def test_negatives_fail_clearly_when_none_exist():
    hg = Hypergraph(3, [[0, 1], [1, 2], [0, 2]])
    with pytest.raises(InvalidInputError, match="strategy='sized'"):
        ep.negative_hyperedges(hg, 1, "clique", seed=0)
    with pytest.raises(InvalidInputError, match="unknown"):
        ep.negative_hyperedges(hg, 1, "random", seed=0)


# ---------------------------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_sklearn_with_ties(seed):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(200, generator=g) < 0.3).long()
    s = torch.round(torch.randn(200, generator=g) * 2 + y) / 2  # coarse scores: many ties
    assert ep.auroc(s, y) == pytest.approx(roc_auc_score(y.numpy(), s.numpy()), abs=1e-12)
    assert ep.average_precision(s, y) == pytest.approx(average_precision_score(y.numpy(), s.numpy()), abs=1e-12)


def test_metrics_extremes_and_bad_input():
    y = torch.tensor([0, 0, 1, 1])
    assert ep.auroc(torch.tensor([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    assert ep.auroc(torch.tensor([0.9, 0.8, 0.2, 0.1]), y) == 0.0
    assert ep.average_precision(torch.tensor([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    with pytest.raises(InvalidInputError):
        ep.auroc(torch.ones(3), torch.ones(3))
    with pytest.raises(InvalidInputError):
        ep.average_precision(torch.tensor([0.0, float("nan")]), torch.tensor([0, 1]))


# ---------------------------------------------------------------------------------------------- scorers
def test_pooling_matches_a_loop():
    z = torch.randn(6, 3)
    cand = Hypergraph(6, [[0, 2, 5], [1, 4]])
    for pool, fn in (
        ("mean", lambda m: m.mean(0)),
        ("max", lambda m: m.max(0).values),
        ("minmax", lambda m: m.max(0).values - m.min(0).values),
    ):
        want = torch.stack([fn(z[e]) for e in ([0, 2, 5], [1, 4])])
        torch.testing.assert_close(ep.pool_nodes(z, cand, pool), want)


def test_clique_gcn_propagation_matches_dense_clique_expansion():
    hg = Hypergraph(7, [[0, 1, 2], [2, 3], [1, 2, 4, 5], [6]], hyperedge_weight=[1.0, 2.0, 0.5, 3.0])
    ei, w = hg.clique_expansion()
    a = torch.zeros(7, 7, dtype=torch.float64)
    a[ei[0], ei[1]] = w.double()
    a_hat = a + torch.eye(7, dtype=torch.float64)
    d = a_hat.sum(1).rsqrt()
    x = torch.randn(7, 4, dtype=torch.float64)
    want = d[:, None] * (a_hat @ (d[:, None] * x))
    torch.testing.assert_close(ep.CliqueGCN.propagate(x, hg), want)


# ---------------------------------------------------------------------------------------------- training
class _Recorder(torch.nn.Module):
    """An encoder that remembers every structure it was run on."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x, hg):
        self.seen.append({tuple(e) for e in hg.hyperedges()})
        return self.inner(x, hg)


def test_training_never_passes_messages_over_held_out_hyperedges(planted):
    hg, x, _ = planted
    split = ep.split_hyperedges(hg, seed=0)
    enc = _Recorder(build_model("hgnn", x.shape[1], 8, hidden_channels=8))
    model = ep.EdgePredictor(enc, ep.SetScorer(8, 8))
    ep.train_edge_predictor(model, x, split, strategy="sized", epochs=3, patience=None, seed=0)
    held_out = set(_keys(split.val)) | set(_keys(split.test))
    assert len(enc.seen) >= 3 + 3  # a training and a validation pass per epoch, one test pass
    assert all(not (s & held_out) for s in enc.seen)
    assert any(s >= set(_keys(split.train)) for s in enc.seen)  # evaluation embeds with every training hyperedge


def test_tiny_run_beats_chance(planted):
    hg, x, _ = planted
    split = ep.split_hyperedges(hg, val=0.15, test=0.15, seed=0)
    torch.manual_seed(0)
    model = ep.EdgePredictor(build_model("hgnn", x.shape[1], 32, hidden_channels=32), ep.SetScorer(32, 32))
    res = ep.train_edge_predictor(model, x, split, strategy="sized", epochs=60, patience=None, seed=0)
    assert res.best_val_auroc > 0.75  # planted communities: members of a hyperedge share a class
    assert res.test_auroc > 0.65 and res.test_ap > 0.6
    assert 0 <= res.best_epoch < res.epochs_run == 60


def test_fixed_embeddings_train_only_the_scorer(planted):
    hg, x, _ = planted
    split = ep.split_hyperedges(hg, seed=0)
    model = ep.EdgePredictor(ep.Propagation(2), ep.SetScorer(x.shape[1], 16))
    res = ep.train_edge_predictor(model, x, split, strategy="sized", epochs=40, patience=None, seed=0)
    assert res.test_auroc > 0.6
    assert np.isfinite(res.best_val_ap)


def test_every_table_method_builds_and_scores(planted):
    from graphhyper.experiments.edgepred import METHODS, EdgePredSettings, build_edge_predictor

    hg, x, _ = planted
    cand = Hypergraph(hg.num_nodes, [[0, 1, 2], [3, 4]])
    for method in METHODS:
        model = build_edge_predictor(method, x.shape[1], EdgePredSettings(hidden_channels=8, embed_channels=4))
        assert model(x, hg, cand).shape == (2,)
        assert (model.encoder is None) == (method == "pool-features")
    with pytest.raises(InvalidInputError, match="unknown"):
        build_edge_predictor("node2vec", x.shape[1], EdgePredSettings())
