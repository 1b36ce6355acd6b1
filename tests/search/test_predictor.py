"""GNN predictor: encodings (dead-node pruning, ArchGraphs), ranking on the NB201 table, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from graphhyper.arch.spaces import nb201
from graphhyper.errors import InvalidInputError
from graphhyper.search import Predictor
from graphhyper.search.predictor import encode, encode_nb201, ranking_loss


def test_dead_nodes_are_removed():
    # edge 3<-1 reads node 1, which only gets 'none': that op node is dead; 'none' nodes have no edges
    cell = ("none", "nor_conv_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
    x = encode_nb201([cell])
    mask = x.mask[0].bool().tolist()
    assert mask == [True, False, True, False, True, False, True, True]
    assert x.adj[0][:, ~x.mask[0].bool()].sum() == 0 and x.adj[0][~x.mask[0].bool()].sum() == 0
    same = ("none", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "none", "nor_conv_3x3")  # 2<-1 reads zero
    assert torch.equal(encode_nb201([same]).adj, x.adj)


def test_ranking_loss_prefers_correct_order():
    y = torch.tensor([0.0, 1.0, 2.0])
    assert ranking_loss(y, y) < ranking_loss(-y, y)


def test_predictor_ranks_nb201_cells(shared_data):
    from graphhyper.search import NB201Table

    table = NB201Table.load()
    test = table.metric("cifar10-test")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(table), 600, replace=False)
    train, held = idx[:100], idx[100:]
    enc = encode_nb201([table.cells[i] for i in idx])
    pred = Predictor(ensemble=1, hidden=32, epochs=100, seed=0).fit(enc[list(range(100))], test[train])
    rho = spearmanr(pred.predict(enc[list(range(100, 600))]), test[held])[0]
    n_params = [nb201.expected_num_params(table.cells[i]) for i in held]
    assert rho > 0.75 > spearmanr(n_params, test[held])[0]  # well above the #params proxy (0.53)


def test_archgraphs_from_traced_modules():
    from graphhyper.search import darts_space

    space = darts_space(cells=(3, 3), widths=(8,))
    graphs = [space.graph(space.sample(seed=s)) for s in range(4)]
    x = encode(graphs)
    assert x.feats is not None and x.ops.shape[0] == 4
    assert x.mask.sum(1).tolist() == [float(g.num_nodes) for g in graphs]
    pred = Predictor(ensemble=1, epochs=5, hidden=16).fit(graphs, [0.1, 0.5, 0.3, 0.9])
    out = pred.predict(graphs)
    assert out.shape == (4,) and np.isfinite(out).all()


def test_errors():
    with pytest.raises(InvalidInputError, match="not trained"):
        Predictor().predict([("none",) * 6])
    with pytest.raises(InvalidInputError, match="one score each"):
        Predictor().fit([("none",) * 6], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="Cannot encode"):
        encode([3.0])
