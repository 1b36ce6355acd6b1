r"""Mini-batch node classification over sampled sub-hypergraphs, on one process or under ``torchrun`` (DDP).

Each step draws a batch of training seed nodes, grows the :class:`~graphhyper.hypergraph.sampling.NodeSampler`
sub-hypergraph around them, runs the model on it (features ``x[batch.node_ids]``) and takes the cross-entropy at the
seeds only. Memory per step is that of the sub-hypergraph, not of the whole hypergraph, which only has to hold its
index arrays and the features.

Validation and test accuracy come from the same sampler (``shuffle=False``, a fixed seed, so every epoch sees the
same samples) over the validation/test nodes; the test set is evaluated only at epochs whose validation result
becomes the kept checkpoint (the rule of :func:`graphhyper.hypergraph.train.train_node_classifier`), so it never
influences a choice.

Distributed. When ``torch.distributed`` is initialised with ``W > 1`` processes (``torchrun --nproc-per-node W``,
gloo on CPU), the model is wrapped in :class:`torch.nn.parallel.DistributedDataParallel` (parameters broadcast from
rank 0), each global batch of ``batch_size`` seeds is split into ``W`` equal shards (the sampler's
``rank``/``world_size``), and each rank takes the mean loss over its shard; DDP averages the gradients, so a step is
the step of one process on the whole batch (exactly so without fan-out caps, where the seeds' outputs do not depend
on the batch they share). Evaluation counts are summed over the ranks with ``all_reduce``, so every rank takes the
same early-stopping decision; only rank 0 shows progress and writes the checkpoint.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.features import check_finite, remember
from graphhyper.hypergraph.sampling import NodeSampler, SampledBatch
from graphhyper.hypergraph.train import TrainResult, _Best, _check_args, adam, node_logits


@dataclass(frozen=True)
class SamplerConfig:
    """How the sub-hypergraphs are grown (see :class:`~graphhyper.hypergraph.sampling.NodeSampler`).

    ``num_layers`` should be the number of message-passing layers of the model; ``eval_batch_size`` defaults to
    ``batch_size``; ``trim`` lets models that support it run each layer on the part of the sample it needs
    (:func:`~graphhyper.hypergraph.sampling.layer_plan`).
    """

    batch_size: int = 1024
    num_layers: int = 2
    max_edges_per_node: int | None = None
    max_nodes_per_edge: int | None = None
    degrees: str = "global"
    eval_batch_size: int | None = None
    trim: bool = True


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d.get_rank(), d.get_world_size()
    return 0, 1


@contextlib.contextmanager
def distributed(backend: str = "gloo") -> Iterator[tuple[int, int]]:
    """Join the process group that ``torchrun`` describes (``WORLD_SIZE`` > 1 in the environment) for the block,
    and leave it afterwards (a group left open aborts the process at exit); yields ``(rank, world_size)``.
    Without ``torchrun``, or when a group is already initialised, it only yields :func:`dist_info`."""
    d = torch.distributed
    join = int(os.environ.get("WORLD_SIZE", "1")) > 1 and d.is_available() and not d.is_initialized()
    if join:
        d.init_process_group(backend)
    try:
        yield dist_info()
        if join:
            gc.collect()  # a DDP wrapper the block dropped, still in reference cycles, aborts the exit now and then
            d.barrier()  # every rank done before any tears gloo down (a peer mid-teardown aborts with SIGABRT)
    finally:
        if join:
            d.destroy_process_group()


def wrap_ddp(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in :class:`~torch.nn.parallel.DistributedDataParallel` when ``W > 1`` processes run, else itself.

    The wrapper copies ``per_incidence`` so :func:`~graphhyper.hypergraph.train.node_logits` still reads it.
    Parameters and buffers held in shared memory (a model passed to ``torch.multiprocessing`` workers is moved
    there, and every rank then maps the same storage) get private copies first: otherwise each rank's optimizer
    step writes into the one storage, so the step is applied ``W`` times, racily, and leaks into the parent's
    model."""
    if dist_info()[1] == 1 or isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return model
    _unshare(model)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    ddp.__dict__["per_incidence"] = bool(getattr(model, "per_incidence", False))
    return ddp


@torch.no_grad()
def _unshare(model: torch.nn.Module) -> None:
    """Give every CPU parameter and buffer of ``model`` that lives in shared memory a private copy (in place: the
    ``Parameter`` objects, and so optimizers built on them, stay the same)."""
    for t in [*model.parameters(), *model.buffers()]:
        if t.device.type == "cpu" and t.is_shared():
            t.data = t.data.clone()


def _sampler(hg: Any, pool: torch.Tensor, cfg: SamplerConfig, batch: int, **kw: Any) -> NodeSampler:
    return NodeSampler(
        hg,
        pool,
        batch,
        cfg.num_layers,
        cfg.max_edges_per_node,
        cfg.max_nodes_per_edge,
        degrees=cfg.degrees,
        trim=cfg.trim,
        **kw,
    )


def batch_logits(model: torch.nn.Module, x: torch.Tensor, batch: SampledBatch, device: torch.device) -> torch.Tensor:
    """``[B, C]`` logits of the seeds of ``batch``: the model run on the sub-hypergraph, read at ``seed_local``.

    The NaN/inf check of the features runs once on the whole ``x`` (remembered per tensor); the gathered rows are
    marked as checked, so a step does not scan them again."""
    check_finite(x)
    x_sub = x[batch.node_ids].to(device)
    remember(x_sub, "finite", lambda: True)
    return node_logits(model, x_sub, batch.hg.to(device))[batch.seed_local.to(device)]


def minibatch_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batch: SampledBatch,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    device: torch.device | None = None,
) -> float:
    """One optimisation step on the seeds of ``batch``: mean cross-entropy over them; returns the loss."""
    device = device or x.device
    model.train()
    opt.zero_grad()
    logits = batch_logits(model, x, batch, device)
    loss = F.cross_entropy(logits, y[batch.seeds].to(device), label_smoothing=label_smoothing)
    if not torch.isfinite(loss):
        raise InvalidInputError(
            f"the training loss became {float(loss)}; lower the learning rate or check the features for NaN/inf."
        )
    loss.backward()
    opt.step()
    return float(loss.detach())


@torch.no_grad()
def evaluate_minibatch(
    model: torch.nn.Module,
    data: Any,
    nodes: torch.Tensor,
    cfg: SamplerConfig,
    *,
    seed: int = 0,
    device: torch.device | None = None,
) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy)`` over ``nodes``, from fixed samples (same ``seed``: same result).

    Under ``torch.distributed`` every rank evaluates ``nodes[rank::W]`` and the counts are summed over ranks, so all
    ranks return the same numbers. ``(nan, nan)`` for no nodes.
    """
    rank, world = dist_info()
    device = device or data.x.device
    model.eval()
    stats = torch.zeros(3, dtype=torch.float64)  # correct, loss sum, count
    shard = torch.as_tensor(nodes).long().cpu()[rank::world]
    if shard.numel():
        batch = cfg.eval_batch_size or cfg.batch_size
        sampler = _sampler(data.hg, shard, cfg, batch, shuffle=False, seed=seed)
        for b in sampler:
            logits = batch_logits(model, data.x, b, device)
            target = data.y[b.seeds].to(device)
            stats[0] += float((logits.argmax(-1) == target).sum())
            stats[1] += float(F.cross_entropy(logits, target, reduction="sum"))
            stats[2] += b.num_seeds
    if world > 1:
        torch.distributed.all_reduce(stats)
    if stats[2] == 0:
        return float("nan"), float("nan")
    return float(stats[0] / stats[2]), float(stats[1] / stats[2])


def train_node_classifier_minibatch(
    model: torch.nn.Module,
    data: Any,
    sampling: SamplerConfig | None = None,
    *,
    epochs: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 5e-4,
    patience: int | None = None,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    label_smoothing: float = 0.0,
    restore_best: bool = True,
    checkpoint: str | Path | None = None,
    max_steps_per_epoch: int | None = None,
) -> TrainResult:
    """Train ``model`` on mini-batches of sampled sub-hypergraphs with Adam and early stopping on validation.

    Args:
        model: a node classifier (``forward(x, hg) -> [V, C]``), e.g. ``build_model("hgnn", F, C)``.
        data: a :class:`~graphhyper.data.HypergraphDataset` (``x``, ``y``, ``hg``, ``split``), kept on CPU; each
            batch is moved to ``device``.
        sampling: the :class:`SamplerConfig` (batch size, hops, fan-out caps); default ``SamplerConfig()``.
        epochs, lr, weight_decay, patience, label_smoothing, restore_best: as in
            :func:`~graphhyper.hypergraph.train.train_node_classifier` (patience counts evaluated epochs).
        seed: seeds the batch order, the neighbour samples and dropout (evaluation samples use ``seed`` too).
        progress: a tqdm bar over the steps (rank 0 only).
        device: where the model runs (default: its device).
        checkpoint: a ``.safetensors`` path; rank 0 writes the best model's weights there whenever they improve.
        max_steps_per_epoch: stop each epoch after this many steps (benchmarks; default the whole epoch).

    Returns:
        :class:`~graphhyper.hypergraph.train.TrainResult`; each ``history`` row has ``loss`` (mean over the steps),
        ``val_acc``, ``val_loss``, ``train_seconds`` and ``eval_seconds`` of its epoch, and ``test_acc`` where it
        was evaluated.
    """
    cfg = sampling or SamplerConfig()
    _check_args(data, epochs, label_smoothing)
    rank, world = dist_info()
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(dev)
    torch.manual_seed(seed + rank)
    net = wrap_ddp(model)
    opt = adam(model, lr=lr, weight_decay=weight_decay)
    sampler = _sampler(data.hg, data.split.train, cfg, cfg.batch_size, seed=seed, rank=rank, world_size=world)
    best, history = _Best(), []
    start, epoch = time.perf_counter(), 0
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        loss = _train_epoch(net, opt, sampler, data, dev, label_smoothing, max_steps_per_epoch, progress and rank == 0)
        t1 = time.perf_counter()
        val_acc, val_loss = evaluate_minibatch(model, data, data.split.val, cfg, seed=seed, device=dev)
        row = dict(epoch=epoch, loss=loss, val_acc=val_acc, val_loss=val_loss, test_acc=float("nan"))
        if (val_acc, -val_loss) > (best.key[0], -best.key[1]):
            row["test_acc"] = evaluate_minibatch(model, data, data.split.test, cfg, seed=seed, device=dev)[0]
        row.update(train_seconds=t1 - t0, eval_seconds=time.perf_counter() - t1)
        history.append(row)
        previous = best.epoch
        best.update(model, row, epoch, keep_state=restore_best or checkpoint is not None)
        if checkpoint is not None and rank == 0 and best.epoch != previous and best.state is not None:
            _save(best.state, Path(checkpoint))
        if progress and rank == 0:
            print(f"epoch {epoch}: loss {loss:.4f} val acc {val_acc:.4f} val loss {val_loss:.4f}", flush=True)
        if patience is not None and epoch - best.improved_epoch >= patience:
            break
    if restore_best and best.state is not None:
        model.load_state_dict(best.state)
    return TrainResult(best.val, best.test, best.epoch, epoch + 1, time.perf_counter() - start, history)


def _steps(sampler: NodeSampler, limit: int | None) -> Iterator[SampledBatch]:
    for step, batch in enumerate(sampler):
        if limit is not None and step >= limit:
            return
        yield batch


def _train_epoch(
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sampler: NodeSampler,
    data: Any,
    device: torch.device,
    label_smoothing: float,
    limit: int | None,
    progress: bool,
) -> float:
    """One pass over the training seeds (or ``limit`` steps); the mean of the step losses."""
    total = len(sampler) if limit is None else min(limit, len(sampler))
    bar = _bar(total, progress)
    losses = []
    for batch in _steps(sampler, limit):
        losses.append(minibatch_step(net, opt, batch, data.x, data.y, label_smoothing=label_smoothing, device=device))
        if bar is not None:
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            bar.update(1)
    if bar is not None:
        bar.close()
    return sum(losses) / max(len(losses), 1)


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="steps", leave=False)


def _save(state: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path))


__all__ = [
    "SamplerConfig",
    "batch_logits",
    "dist_info",
    "evaluate_minibatch",
    "distributed",
    "minibatch_step",
    "train_node_classifier_minibatch",
    "wrap_ddp",
]
