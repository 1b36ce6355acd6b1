import copy
import gc
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from graphhyper.data import from_tensors
from graphhyper.hypergraph import hsbm
from graphhyper.hypergraph.minibatch import (
    SamplerConfig,
    minibatch_step,
    train_node_classifier_minibatch,
)
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.sampling import NodeSampler
from graphhyper.hypergraph.train import set_seed, train_node_classifier


@pytest.fixture(scope="module")
def planted():
    hg, x, y = hsbm(300, 240, num_classes=3, feature_dim=8, mean_edge_size=5, p_in=0.9, feature_noise=2.0, seed=1)
    return from_tensors(hg.add_self_loops(), x, y, seed=0)


def test_minibatch_training_learns_and_selects_on_validation(planted, tmp_path):
    set_seed(0)
    model = build_model("hgnn", 8, 3, hidden_channels=32)
    cfg = SamplerConfig(batch_size=32, num_layers=2, max_edges_per_node=4, max_nodes_per_edge=4)
    ckpt = tmp_path / "best.safetensors"
    r = train_node_classifier_minibatch(
        model, planted, cfg, epochs=15, lr=1e-2, patience=8, seed=0, progress=False, checkpoint=ckpt
    )
    set_seed(0)
    full = train_node_classifier(
        build_model("hgnn", 8, 3, hidden_channels=32), planted, epochs=150, lr=1e-2, patience=50, seed=0, progress=False
    )
    assert r.test_acc > 0.8 and r.test_acc > full.test_acc - 0.1
    best = max(r.history, key=lambda h: (h["val_acc"], -h["val_loss"]))
    assert r.best_epoch == best["epoch"] and r.test_acc == best["test_acc"]
    assert len(r.history) == r.epochs_run <= 15
    from safetensors.torch import load_file

    saved = load_file(str(ckpt))
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())  # restore_best = the checkpoint


def test_max_steps_per_epoch_and_determinism(planted):
    cfg = SamplerConfig(batch_size=16, num_layers=2, max_edges_per_node=3, max_nodes_per_edge=3)
    runs = []
    for _ in range(2):
        set_seed(3)
        model = build_model("hgnn", 8, 3, hidden_channels=16)
        runs.append(
            train_node_classifier_minibatch(
                model, planted, cfg, epochs=2, seed=5, progress=False, max_steps_per_epoch=3
            )
        )
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]
    assert runs[0].best_val_acc == runs[1].best_val_acc


def _step_state(model, data, seeds, rank, world, seed):
    """Parameters after one SGD step on the shard of `seeds` this rank owns (full fan-out, no dropout). SGD, not
    Adam: Adam's first step moves a parameter by about lr whatever the size of its gradient, so gradients that are
    rounding noise (which differ between one process and two) would move by +-lr and hide the comparison."""
    sampler = NodeSampler(
        data.hg, seeds, batch_size=seeds.numel(), num_layers=2, shuffle=False, seed=seed, rank=rank, world_size=world
    )
    from graphhyper.hypergraph.minibatch import wrap_ddp

    net = wrap_ddp(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    batch = next(iter(sampler))
    minibatch_step(net, opt, batch, data.x, data.y)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank, world, port, model, data, seeds, out, private):
    """`model` arrives in shared memory (torch.multiprocessing moves it there), the parent's storage: `private`
    steps a copy instead; otherwise wrap_ddp must keep the ranks (and the parent) apart."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        state = _step_state(copy.deepcopy(model) if private else model, data, seeds, rank, world, seed=0)
        gc.collect()  # free the DDP wrapper (held in reference cycles) before teardown: see minibatch.distributed
        if rank == 0:
            torch.save(state, out)
        torch.distributed.barrier()  # no rank tears gloo down while its peer still talks (SIGABRT otherwise)
    finally:
        torch.distributed.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_step_equals_one_process_step(planted, tmp_path):
    set_seed(0)
    model = build_model("hgnn", 8, 3, hidden_channels=16, dropout=0.0)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    seeds = planted.split.train[:24]
    one, out = tmp_path / "single.pt", tmp_path / "rank0.pt"
    # both in fresh processes (spawn: no state inherited from this one); the 2 ranks step the shared model itself
    for world, path in ((2, out), (1, one)):
        args = (world, _free_port(), model, planted, seeds, str(path), world == 1)
        mp.start_processes(_worker, args=args, nprocs=world, start_method="spawn")
    single, ddp = torch.load(one, weights_only=True), torch.load(out, weights_only=True)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no rank wrote into this process's model
    assert any(not torch.equal(before[k], single[k]) for k in single)  # the step changed something
    for k in single:
        assert torch.allclose(ddp[k], single[k], atol=1e-6, rtol=1e-5), k
