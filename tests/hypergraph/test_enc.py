"""Edge-dependent node classification: metrics, order encoding, centralities, models and the trainer."""

import time

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from graphhyper.data.enc import from_listed
from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import Hypergraph, enc


def planted_enc(num_nodes=120, num_edges=160, seed=0):
    """Hyperedges of 3-5 random nodes; a node's label in a hyperedge is its seniority rank there: 0 for the
    lowest hidden seniority, 2 for the highest, 1 otherwise (author order, as in Coauth-DBLP). Seniority is the
    node degree plus noise, so the order encoding and the structure both carry the signal."""
    gen = torch.Generator().manual_seed(seed)
    weight = torch.rand(num_nodes, generator=gen) ** 3 + 0.05
    nodes, edges = [], []
    for e in range(num_edges):
        k = int(torch.randint(3, 6, (1,), generator=gen))
        members = torch.multinomial(weight, k, replacement=False, generator=gen)
        nodes.append(members)
        edges.append(torch.full((k,), e))
    nodes, edges = torch.cat(nodes), torch.cat(edges)
    senior = torch.bincount(nodes, minlength=num_nodes).float() + 0.1 * torch.rand(num_nodes, generator=gen)
    labels = torch.ones_like(nodes)
    for e in range(num_edges):
        idx = torch.nonzero(edges == e).flatten()
        s = senior[nodes[idx]]
        labels[idx[s.argmin()]], labels[idx[s.argmax()]] = 0, 2
    perm = torch.randperm(num_edges, generator=gen)
    n = num_edges // 4
    return from_listed("planted", num_nodes, nodes, edges, labels, perm[:n], perm[n : 2 * n])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f1_matches_sklearn(seed):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 4, (300,), generator=gen)
    pred = torch.where(torch.rand(300, generator=gen) < 0.6, target, torch.randint(0, 4, (300,), generator=gen))
    if seed == 2:
        pred[pred == 3] = 0  # a class never predicted
    micro, macro = enc.f1_scores(pred, target, 4)
    assert micro == pytest.approx(f1_score(target.numpy(), pred.numpy(), average="micro"))
    assert macro == pytest.approx(f1_score(target.numpy(), pred.numpy(), average="macro", zero_division=0))
    with pytest.raises(InvalidInputError):
        enc.f1_scores(pred[:3], target, 4)


def test_dense_rank_in_groups():
    values = torch.tensor([5.0, 1.0, 5.0, 3.0, 2.0, 2.0])
    groups = torch.tensor([0, 0, 0, 0, 1, 1])
    # group 0: values 5, 1, 5, 3 -> dense ranks 3, 1, 3, 2 over 4 listed; group 1: a tie -> 1, 1 over 2
    assert enc.dense_rank_in_groups(values, groups).tolist() == pytest.approx([0.75, 0.25, 0.75, 0.5, 0.5, 0.5])


def test_centralities_match_networkx_and_kcore_by_hand():
    hg = Hypergraph(6, [[0, 1, 2], [1, 2, 3], [3, 4], [2, 3, 5], [0, 1]])
    g = nx.Graph()
    for e in hg.hyperedges():
        for i, u in enumerate(e):
            for v in e[i + 1 :]:
                w = g.get_edge_data(u, v, {"weight": 0})["weight"]
                g.add_edge(u, v, weight=w + 1)
    a = enc._clique(hg)
    pr = nx.pagerank(g, weight="weight")
    assert enc.pagerank(a) == pytest.approx([pr[v] for v in range(6)], abs=1e-6)
    ev = nx.eigenvector_centrality(g, weight="weight", tol=1e-10, max_iter=1000)
    assert enc.eigenvector_centrality(a, iters=1000) == pytest.approx([ev[v] for v in range(6)], abs=1e-5)
    # peeling 4 lowers 3 (3 -> 2), peeling 5 lowers 2 and 3 (-> 2, 1); then 3 at 1 lowers 1 and 2 to 2, 1, ...:
    # this chain leaves every node at 1
    assert enc.hypergraph_kcore(hg).tolist() == [1] * 6
    # 0 and 1 share three hyperedges: peeling 2 (degree 1) lowers 1 from 4 to 3; 0 and 1 then form a 3-core
    assert enc.hypergraph_kcore(Hypergraph(3, [[0, 1], [0, 1], [0, 1], [1, 2]])).tolist() == [3, 3, 1]
    cent = enc.node_centralities(hg)
    assert cent.shape == (6, 4) and cent[:, 0].tolist() == hg.node_degree.tolist()


def test_order_encoding_counts_repeated_listings():
    # node 1 is listed twice in hyperedge 0: both copies share one incidence and one rank; sizes count listings
    ds = from_listed(
        "toy", 3, torch.tensor([0, 1, 1, 2, 0]), torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 1, 2, 0, 1]),
        torch.tensor([1]), torch.tensor([], dtype=torch.long), num_edges=2,
    )  # fmt: skip
    cent = torch.tensor([[1.0], [5.0], [3.0]])
    pe = enc.order_encoding(ds, cent)
    assert pe.shape == (ds.hg.nnz, 1)
    # CSR order: (e0, v0), (e0, v1), (e1, v0), (e1, v2)
    assert pe.flatten().tolist() == pytest.approx([1 / 3, 2 / 3, 0.5, 1.0])


def test_spectral_features_are_standardised_and_seeded():
    ds = planted_enc()
    x = enc.spectral_features(ds.hg, 8, seed=0)
    assert x.shape == (ds.hg.num_nodes, 8) and torch.isfinite(x).all()
    assert x.mean(0).abs().max() < 1e-4 and (x.std(0) - 1).abs().max() < 1e-3
    assert torch.equal(x, enc.spectral_features(ds.hg, 8, seed=0))
    with pytest.raises(InvalidInputError, match="dim"):
        enc.spectral_features(ds.hg, 10_000)


@pytest.mark.parametrize("name", ["conhd", "hgnn"])
def test_enc_models_give_one_row_per_incidence(name):
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    model = enc.build_enc_model(name, 8, 3, hidden_channels=16, head_pe=True)
    out = model(task.x, task.hg, pe=task.pe)
    assert out.shape == (task.hg.nnz, 3)
    assert enc.incidence_logits(model, task).shape == (task.y.numel(), 3)


def test_conhd_pe_is_required_when_built_with_it():
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    model = enc.build_enc_model("conhd", 8, 3, hidden_channels=16)
    with pytest.raises(InvalidInputError, match="pe_channels"):
        model(task.x, task.hg)
    no_pe = enc.build_enc_model("conhd", 8, 3, hidden_channels=16, pe_channels=0)
    with pytest.raises(InvalidInputError, match="pe_channels=0"):
        no_pe(task.x, task.hg, pe=task.pe)
    # a raw hyperedge_index in shuffled column order gives the same rows, permuted back to those columns
    perm = torch.randperm(task.hg.nnz, generator=torch.Generator().manual_seed(0))
    model.eval()
    ref = model(task.x, task.hg, pe=task.pe)
    raw = model(task.x, task.hg.hyperedge_index[:, perm], pe=task.pe[perm])
    assert torch.allclose(raw, ref[perm], atol=1e-5)


def test_trainer_learns_planted_roles_fast():
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    majority = float(np.bincount(task.y[task.split.test].numpy()).max()) / task.split.test.numel()
    torch.manual_seed(0)
    model = enc.build_enc_model("conhd", 8, 3, hidden_channels=16, dropout=0.1, input_dropout=0.0)
    t0 = time.perf_counter()
    r = enc.train_enc(model, task, epochs=120, lr=1e-2, patience=30, seed=0, progress=False, eval_every=2)
    assert time.perf_counter() - t0 < 20  # about 2.5 s on one loaded CPU thread
    assert r.test_micro_f1 > majority + 0.25 and r.test_macro_f1 > 0.7
    assert 0 <= r.best_epoch < r.epochs_run <= 120
    best = max(r.history, key=lambda h: (h["val_micro"], -h["val_loss"]))
    assert best["test_micro"] == r.test_micro_f1  # reported at the best validation epoch


def test_trainer_refuses_bad_arguments():
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    model = enc.build_enc_model("hgnn", 8, 3, hidden_channels=8)
    with pytest.raises(InvalidInputError):
        enc.train_enc(model, task, epochs=0, progress=False)
    with pytest.raises(InvalidInputError, match="node embeddings"):
        enc.incidence_logits(enc.IncidenceHead(model.node_model, 4, 3), task)
