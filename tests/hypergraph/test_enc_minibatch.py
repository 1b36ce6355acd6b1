"""Mini-batch ENC training (graphhyper.hypergraph.enc.train_enc_minibatch) and the oracle fixture of CoNHD's code."""

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import enc
from graphhyper.hypergraph.sampling import HyperedgeSampler
from tests.hypergraph.test_enc import planted_enc

FIXTURE = Path(__file__).parent / "fixtures" / "conhd_enc_oracle_stack_biology.json"


def test_sampled_batch_maps_its_incidences_back():
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    hg = task.hg
    batch = next(iter(HyperedgeSampler(hg, enc.train_hyperedges(task), 16, 2, 2, seed=3, degrees="local")))
    ids = batch.incidence_ids
    assert ids.numel() == batch.hg.nnz == torch.unique(ids).numel()
    assert torch.equal(hg.inc_node[ids], batch.node_ids[batch.hg.inc_node])
    assert torch.equal(hg.inc_edge[ids], batch.edge_ids[batch.hg.inc_edge])
    # every seed hyperedge keeps all its members
    for j, e in enumerate(batch.seeds.tolist()):
        full = hg.inc_node[hg.edge_ptr[e] : hg.edge_ptr[e + 1]]
        sub = batch.node_ids[batch.hg.inc_node[batch.hg.edge_ptr[j] : batch.hg.edge_ptr[j + 1]]]
        assert torch.equal(torch.sort(full).values, torch.sort(sub).values)


def test_uncapped_batch_gives_the_full_graph_logits_at_its_seeds():
    """Without a cap, a 2-step CoNHD on the 2-hop sample equals the whole-graph run at the seed incidences, so
    the sample, the per-incidence order encoding and the label rows are all picked right."""
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    torch.manual_seed(0)
    model = enc.build_enc_model("conhd", 8, 3, hidden_channels=16, layer_norm=False).eval()
    full = enc.incidence_logits(model, task)
    sampler = HyperedgeSampler(task.hg, enc.train_hyperedges(task), 7, 2, None, seed=1, degrees="local")
    seen = []
    for batch in sampler:
        rows, listed = enc.batch_rows(task, batch, task.split.train)
        out = model(task.x[batch.node_ids], batch.hg, pe=task.pe[batch.incidence_ids])
        assert torch.allclose(out[rows], full[listed], atol=1e-5)
        assert torch.isin(task.hg.inc_edge[task.incidence[listed]], batch.seeds).all()
        seen.append(listed)
    assert torch.equal(torch.sort(torch.cat(seen)).values, torch.sort(task.split.train).values)


def test_minibatch_trainer_learns_and_reports_the_best_validation_epoch():
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    majority = float(np.bincount(task.y[task.split.test].numpy()).max()) / task.split.test.numel()
    torch.manual_seed(0)
    model = enc.build_enc_model("conhd", 8, 3, hidden_channels=16, dropout=0.1, input_dropout=0.0)
    t0 = time.perf_counter()
    r = enc.train_enc_minibatch(
        model, task, epochs=24, batch_size=16, hedge_sampling=3, lr=1e-2, gamma=0.9, eval_every=4, progress=False
    )
    assert time.perf_counter() - t0 < 20
    assert r.test_micro_f1 > majority + 0.2
    assert [h["epoch"] for h in r.history] == [3, 7, 11, 15, 19, 23]  # 1-based epochs 4, 8, ...
    assert all(math.isclose(h["lr"], 1e-2 * 0.9 ** h["epoch"], rel_tol=1e-9) for h in r.history)
    vals = [h["val_micro"] for h in r.history]
    kept = r.history[vals.index(max(vals))]  # the first epoch of best validation micro-F1, nothing else compared
    assert (kept["epoch"], kept["test_micro"], kept["test_macro"]) == (r.best_epoch, r.test_micro_f1, r.test_macro_f1)
    # the model and the trained features are those of the kept epoch
    assert r.features is not None and not torch.equal(r.features, task.x)
    again = enc.evaluate_enc(model, dataclasses.replace(task, x=r.features))
    assert again["val_micro"] == r.val_micro_f1 and again["test_micro"] == r.test_micro_f1


def test_minibatch_trainer_with_frozen_features_and_refusals():
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    model = enc.build_enc_model("conhd", 8, 3, hidden_channels=8)
    opts = dict(epochs=2, batch_size=32, train_features=False, eval_every=1, progress=False)
    r = enc.train_enc_minibatch(model, task, **opts)
    assert torch.equal(r.features, task.x) and r.epochs_run == len(r.epoch_seconds) == 2
    with pytest.raises(InvalidInputError, match="gamma"):
        enc.train_enc_minibatch(model, task, epochs=1, gamma=0.0, progress=False)
    with pytest.raises(InvalidInputError):
        enc.train_enc_minibatch(model, task, epochs=0, progress=False)


def test_oracle_fixture_is_consistent():
    """The committed numbers of the authors' code (scripts/oracle_conhd_enc.py) obey their own selection rule."""
    data = json.loads(FIXTURE.read_text())
    curve = data["val_curve"]
    assert [c["epoch"] for c in curve] == list(range(5, 5 * len(curve) + 1, 5))  # validation every 5 epochs
    vals = [c["val_micro"] for c in curve]
    assert data["best_epoch"] == curve[vals.index(max(vals))]["epoch"]  # first best validation micro-F1
    for key in ("test_micro_f1", "test_macro_f1"):
        assert 0.0 < data[key] < 1.0
    assert len(data["train_seconds_per_epoch"]) == data["epochs"]
