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


def _resumable_run(task, path, epochs, seed_init=0, **kw):
    torch.manual_seed(seed_init)
    model = enc.build_enc_model("conhd", 8, 3, hidden_channels=16, dropout=0.3, input_dropout=0.1)
    opts = dict(batch_size=16, hedge_sampling=3, lr=1e-2, gamma=0.9, eval_every=2, progress=False, seed=5)
    return model, enc.train_enc_minibatch(model, task, epochs=epochs, resume=path, **{**opts, **kw})


def test_resumed_run_ends_exactly_where_the_uninterrupted_one_does(tmp_path):
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    whole_model, whole = _resumable_run(task, None, 6)
    path = tmp_path / "run.pt"
    _, part = _resumable_run(task, path, 4)
    assert part.epochs_run == 4 and path.exists()
    # a fresh process: another initialisation and another global random state, both replaced by the file's
    torch.manual_seed(123)
    model, rest = _resumable_run(task, path, 6, seed_init=99)
    assert rest.epochs_run == 6 and len(rest.epoch_seconds) == 6
    drop = ("seconds",)
    assert [{k: v for k, v in h.items() if k not in drop} for h in rest.history] == [
        {k: v for k, v in h.items() if k not in drop} for h in whole.history
    ]
    assert (rest.best_epoch, rest.test_micro_f1, rest.test_macro_f1) == (whole.best_epoch, whole.test_micro_f1,
                                                                         whole.test_macro_f1)  # fmt: skip
    for (k, a), b in zip(whole_model.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert torch.equal(rest.features, whole.features)
    assert not [p.name for p in tmp_path.iterdir() if p.name != "run.pt"]  # no temporary file left behind
    # a finished run given the same file again trains nothing and reports the same kept epoch
    _, again = _resumable_run(task, path, 6)
    assert again.history == rest.history and again.test_micro_f1 == rest.test_micro_f1


def test_resume_refuses_another_run_and_a_corrupt_file(tmp_path):
    from graphhyper.errors import CheckpointError

    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    path = tmp_path / "run.pt"
    _resumable_run(task, path, 2)
    with pytest.raises(CheckpointError, match="lr=0.01 \\(now 0.001\\)"):
        _resumable_run(task, path, 4, lr=1e-3)
    with pytest.raises(CheckpointError, match="parameter shapes"):
        torch.manual_seed(0)
        model = enc.build_enc_model("conhd", 8, 3, hidden_channels=8)
        enc.train_enc_minibatch(model, task, epochs=4, batch_size=16, hedge_sampling=3, lr=1e-2, gamma=0.9,
                                eval_every=2, progress=False, seed=5, resume=path)  # fmt: skip
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="Delete it"):
        _resumable_run(task, path, 4)
    other = tmp_path / "other.pt"
    torch.save({"format": "something else"}, other)
    with pytest.raises(CheckpointError, match="not a mini-batch ENC run state"):
        _resumable_run(task, other, 4)


def test_a_part_ending_between_evaluations_adds_one_evaluation_and_changes_nothing_else(tmp_path):
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    _, whole = _resumable_run(task, None, 6)
    path = tmp_path / "run.pt"
    _resumable_run(task, path, 3)  # evaluates its last epoch, 2, which the whole run does not
    _, rest = _resumable_run(task, path, 6, seed_init=7)
    assert [h["epoch"] for h in rest.history] == [1, 2, 3, 5]
    drop = ("seconds",)
    kept = [{k: v for k, v in h.items() if k not in drop} for h in rest.history if h["epoch"] != 2]
    assert kept == [{k: v for k, v in h.items() if k not in drop} for h in whole.history]
