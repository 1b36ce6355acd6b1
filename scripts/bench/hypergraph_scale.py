#!/usr/bin/env python
"""Node classification on a 10^7-incidence HSBM hypergraph: full batch vs mini-batches, 1 vs 2 processes.

Each mode runs in a fresh process (``--mode``), so its peak RSS (``VmHWM``) is its own; the driver (no ``--mode``)
generates the hypergraph once into ``--cache`` (a ``.pt`` of plain tensors, read back with ``mmap``), then runs
every mode in turn, watches the summed RSS of the mode's process tree every 0.1 s, kills it above
``--rss-limit-gb`` (reported as such), and prints one table row per mode with the machine line.

Modes (same data, same model: ``build_model(--model, 64, classes)`` with its default widths, Adam lr 0.01):

- ``full``: ``--epochs`` full-batch epochs (training step + evaluation forward pass), as
  :func:`graphhyper.hypergraph.train.train_node_classifier` runs them.
- ``mini``: :func:`graphhyper.hypergraph.minibatch.minibatch_step` on ``--steps`` batches of ``--batch-size`` seed
  nodes (training split), ``--hops`` hops, fan-out caps ``--max-edges-per-node``/``--max-nodes-per-edge``; the
  epoch time is the mean step time times the steps of an epoch (stated as extrapolated), plus the time of one
  evaluation pass over ``--eval-nodes`` validation nodes, scaled to the whole validation split.
- ``mini2``: ``mini`` under ``torchrun --nproc-per-node 2`` (gloo, DDP): same global batch, each rank half of it.

With ``--real-epoch`` the mini modes time one whole epoch of
:func:`graphhyper.hypergraph.minibatch.train_node_classifier_minibatch` instead (its training pass plus its
evaluation of the validation and, at that first epoch, the test nodes).

    python scripts/bench/hypergraph_scale.py                       # all modes, 10^7 incidences, 64 features
    python scripts/bench/hypergraph_scale.py --modes mini --steps 20
    python scripts/bench/hypergraph_scale.py --nodes 20000 --edges 50000 --steps 5   # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

MODES = ("full", "mini", "mini2")


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=2_500_000, help="hyperedges (mean size 4: ~10^7 incidences)")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--classes", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="hgnn")
    p.add_argument("--epochs", type=int, default=2, help="full-batch epochs to time")
    p.add_argument("--steps", type=int, default=30, help="mini-batch steps to time (after 2 warm-up steps)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--hops", type=int, default=2)
    p.add_argument("--max-edges-per-node", type=int, default=5)
    p.add_argument("--max-nodes-per-edge", type=int, default=5)
    p.add_argument(
        "--real-epoch",
        action="store_true",
        help="mini modes: time one whole epoch of train_node_classifier_minibatch instead of extrapolating steps",
    )
    p.add_argument("--no-trim", action="store_true", help="run every layer on the whole sample (no per-layer trims)")
    p.add_argument(
        "--eval-batch-size", type=int, default=None, help="seeds per evaluation batch (default --batch-size)"
    )
    p.add_argument("--eval-nodes", type=int, default=20_000, help="validation nodes of the timed eval pass")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {MODES}")
    p.add_argument("--mode", choices=("prepare", "full", "mini"), help=argparse.SUPPRESS)
    p.add_argument("--cache", default="/tmp/graphhyper_scale")
    p.add_argument("--rss-limit-gb", type=float, default=7.5, help="kill a mode whose process tree exceeds this")
    p.add_argument("--time-limit", type=float, default=900, help="seconds before a mode is killed")
    p.add_argument("--json", default=None, help="also write the rows here")
    return p.parse_args(argv)


def _cache_file(a: argparse.Namespace) -> Path:
    return Path(a.cache) / f"hsbm_{a.nodes}_{a.edges}_{a.features}_{a.classes}_{a.seed}.pt"


def _peak_gb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6
    return float("nan")


def _report(row: dict) -> None:
    print("RESULT " + json.dumps(row), flush=True)


# ---------------------------------------------------------------------------------------------- the modes
def _prepare(a: argparse.Namespace) -> None:
    from graphhyper.hypergraph import hsbm

    t0 = time.perf_counter()
    hg, x, y = hsbm(a.nodes, a.edges, num_classes=a.classes, feature_dim=a.features, mean_edge_size=4, seed=a.seed)
    seconds = time.perf_counter() - t0
    path = _cache_file(a)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"index": hg.hyperedge_index, "x": x, "y": y, "num_nodes": hg.num_nodes, "num_edges": hg.num_edges}, path
    )
    _report(dict(mode="generate (hsbm)", nnz=hg.nnz, seconds=seconds, peak_gb=_peak_gb()))


def _load(a: argparse.Namespace):
    """The cached HSBM as a dataset (50/25/25 random split), without the card statistics (O(E) Python loops)."""
    from graphhyper.data.dataset import HypergraphDataset
    from graphhyper.data.splits import random_split
    from graphhyper.hypergraph import Hypergraph

    blob = torch.load(_cache_file(a), weights_only=True, mmap=True)
    hg = Hypergraph(blob["num_nodes"], hyperedge_index=blob["index"], num_edges=blob["num_edges"])
    split = random_split(hg.num_nodes, a.seed, 0.5, 0.25)
    return HypergraphDataset("hsbm", hg, blob["x"], blob["y"], split, a.classes)


def _model(a: argparse.Namespace):
    from graphhyper.hypergraph.models import build_model

    torch.manual_seed(a.seed)
    return build_model(a.model, a.features, a.classes, feature_layout="dense")


def _full(a: argparse.Namespace) -> None:
    from graphhyper.hypergraph import train as T

    data = _load(a)
    model = _model(a)
    opt = T.adam(model, lr=0.01, weight_decay=5e-4)
    loss = T._cross_entropy(0.0)
    times = []
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        T._train_epoch(model, opt, data, loss, epoch)
        row = T._evaluate(model, data)
        times.append(time.perf_counter() - t0)
    _report(
        dict(
            mode="full batch",
            epoch_s=min(times),
            epochs_timed=a.epochs,
            val_acc=row["val_acc"],
            peak_gb=_peak_gb(),
            nnz=data.hg.nnz,
        )
    )


def _mini(a: argparse.Namespace) -> None:
    from graphhyper.hypergraph import minibatch as M
    from graphhyper.hypergraph.sampling import NodeSampler
    from graphhyper.hypergraph.train import adam

    if a.real_epoch:
        return _mini_epoch(a)
    with M.distributed() as (rank, world):
        data = _load(a)
        model = _model(a)
        net = M.wrap_ddp(model)
        opt = adam(model, lr=0.01, weight_decay=5e-4)
        caps = (a.max_edges_per_node, a.max_nodes_per_edge)
        sampler = NodeSampler(
            data.hg,
            data.split.train,
            a.batch_size,
            a.hops,
            *caps,
            seed=a.seed,
            rank=rank,
            world_size=world,
            trim=not a.no_trim,
        )
        step_s, sample_s, losses, sub = _time_steps(net, opt, sampler, data, a.steps)
        cfg = M.SamplerConfig(a.batch_size, a.hops, *caps, eval_batch_size=a.eval_batch_size, trim=not a.no_trim)
        val = data.split.val[: a.eval_nodes]
        t0 = time.perf_counter()
        acc, _ = M.evaluate_minibatch(model, data, val, cfg, seed=a.seed)
        eval_s = (time.perf_counter() - t0) * data.split.val.numel() / val.numel()
        peaks = [_peak_gb()] * world
        if world > 1:
            torch.distributed.all_gather_object(peaks, _peak_gb())
        if rank == 0:
            _report(
                dict(
                    mode=f"mini-batch, {world} process" + ("es" if world > 1 else ""),
                    step_s=step_s,
                    sample_s=sample_s,
                    steps_per_epoch=len(sampler),
                    epoch_s=step_s * len(sampler) + eval_s,
                    eval_s=eval_s,
                    first_loss=losses[0],
                    last_loss=losses[-1],
                    val_acc_after_steps=acc,
                    peak_gb=max(peaks),
                    peak_gb_ranks=peaks,
                    steps_timed=a.steps,
                    **sub,
                )
            )


def _mini_epoch(a: argparse.Namespace) -> None:
    """One whole epoch of the mini-batch trainer: its training pass, then its evaluation (validation, and test as
    the first epoch is always the best so far)."""
    from graphhyper.hypergraph import minibatch as M

    with M.distributed() as (rank, world):
        data = _load(a)
        model = _model(a)
        caps = (a.max_edges_per_node, a.max_nodes_per_edge)
        cfg = M.SamplerConfig(a.batch_size, a.hops, *caps, eval_batch_size=a.eval_batch_size, trim=not a.no_trim)
        res = M.train_node_classifier_minibatch(
            model, data, cfg, epochs=1, lr=0.01, weight_decay=5e-4, seed=a.seed, progress=False, restore_best=False
        )
        row = res.history[0]
        peaks = [_peak_gb()] * world
        if world > 1:
            torch.distributed.all_gather_object(peaks, _peak_gb())
        if rank == 0:
            _report(
                dict(
                    mode=f"mini-batch, {world} process" + ("es" if world > 1 else "") + ", one whole epoch",
                    epoch_s=row["train_seconds"] + row["eval_seconds"],
                    train_s=row["train_seconds"],
                    eval_s=row["eval_seconds"],
                    loss=row["loss"],
                    val_acc=row["val_acc"],
                    peak_gb=max(peaks),
                    peak_gb_ranks=peaks,
                )
            )


def _time_steps(net, opt, sampler, data, steps: int) -> tuple[float, float, list[float], dict]:
    """Mean seconds per step (sampling included) and of the sampling alone, over ``steps`` steps after 2 warm-up
    steps; the step losses; the mean size of the sub-hypergraphs."""
    from graphhyper.hypergraph.minibatch import minibatch_step

    it = iter(sampler)
    losses, step_t, sample_t, size = [], 0.0, 0.0, torch.zeros(3)
    for i in range(steps + 2):
        t0 = time.perf_counter()
        batch = next(it)
        t1 = time.perf_counter()
        losses.append(minibatch_step(net, opt, batch, data.x, data.y))
        if i >= 2:
            step_t += time.perf_counter() - t0
            sample_t += t1 - t0
            size += torch.tensor([batch.hg.num_nodes, batch.hg.num_edges, batch.hg.nnz], dtype=torch.float)
    sub = dict(zip(("sub_nodes", "sub_edges", "sub_nnz"), (size / steps).round().long().tolist()))
    return step_t / steps, sample_t / steps, losses, sub


# ---------------------------------------------------------------------------------------------- the driver
def _tree_rss_gb(pid: int) -> float:
    """Summed VmRSS of ``pid`` and its descendants (``/proc`` scan)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total / 1e6


def _run(cmd: list[str], a: argparse.Namespace) -> tuple[dict | None, float, str]:
    """Run one mode; returns (its RESULT row or None, the peak summed RSS seen, why it stopped)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    out_path = Path(a.cache) / "mode.log"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    peak, why, start = 0.0, "done", time.perf_counter()
    with open(out_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        while proc.poll() is None:
            peak = max(peak, _tree_rss_gb(proc.pid))
            if peak > a.rss_limit_gb or time.perf_counter() - start > a.time_limit:
                why = f"killed above {a.rss_limit_gb} GB" if peak > a.rss_limit_gb else f"killed after {a.time_limit} s"
                os.killpg(proc.pid, 9)
                proc.wait()
                break
            time.sleep(0.1)
    text = out_path.read_text()
    rows = [json.loads(line[7:]) for line in text.splitlines() if line.startswith("RESULT ")]
    if proc.returncode not in (0, None) and why == "done":
        why = f"exit {proc.returncode}: {text.strip().splitlines()[-1] if text.strip() else ''}"
    return (rows[-1] if rows else None), peak, why


def _drive(a: argparse.Namespace, argv: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import _common

    me = [sys.executable, str(Path(__file__).resolve()), *argv]
    table = []
    if not _cache_file(a).exists():
        table.append(_run([*me, "--mode", "prepare"], a))
    commands = {
        "full": [*me, "--mode", "full"],
        "mini": [*me, "--mode", "mini"],
        "mini2": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            str(Path(__file__).resolve()),
            *argv,
            "--mode",
            "mini",
        ],
    }
    for mode in a.modes.split(","):
        table.append(_run(commands[mode], a))
        print(table[-1], flush=True)
    caps = f"{a.max_edges_per_node}/{a.max_nodes_per_edge}"
    print(
        f"\nHSBM {a.nodes} nodes, {a.edges} hyperedges, {a.features} features, {a.classes} classes, seed {a.seed}; "
        f"model {a.model}; batch {a.batch_size}, hops {a.hops}, caps {caps}, trim {not a.no_trim}"
    )
    print("| mode | epoch (s) | step (s) | peak RSS (GB, own) | peak RSS (GB, process tree) | note |")
    print("|---|---|---|---|---|---|")
    for row, tree_peak, why in table:
        r = row or {}
        print(
            f"| {r.get('mode', '?')} | {_f(r.get('epoch_s', r.get('seconds')))} | {_f(r.get('step_s'))} | "
            f"{_f(r.get('peak_gb'))} | {tree_peak:.2f} | {why} |"
        )
    print(_common.machine_line())
    if a.json:
        Path(a.json).write_text(json.dumps([dict(r or {}, tree_peak_gb=p, status=w) for r, p, w in table], indent=2))


def _f(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    a = _args(argv)
    torch.set_num_threads(1)
    if a.mode is None:
        _drive(a, argv)
    else:
        {"prepare": _prepare, "full": _full, "mini": _mini}[a.mode](a)


if __name__ == "__main__":
    main()
