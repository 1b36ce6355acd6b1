"""Step time of GHN meta-batch training in 1 process vs N data-parallel processes (DDP, gloo on CPU).

    python scripts/bench/ghn_ddp_step.py --runs "1x1 2x1 2x1:static" --steps 20 --rounds 3

Each run ``PxT`` is ``P`` processes of ``T`` torch threads, launched with ``torchrun --standalone`` (``P = 1``:
no process group, the plain single-process path); ``:static`` builds DDP with ``find_unused_parameters=False``
instead of ``True`` to price the autograd-graph traversal. Every run trains the same GHN on the same global
meta-batches (``--meta-batch`` architectures, split over the processes) from a fresh start: ``--warmup`` steps
(they build the networks) are not timed, then the median wall time of ``--steps`` steps is printed with the
machine line. Runs are interleaved ``--rounds`` times so that a change of load hits all of them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch


def _worker(args: argparse.Namespace) -> None:
    from graphhyper.ghn import GHNConfig
    from graphhyper.ghn.train import TrainConfig, Trainer, distributed

    torch.set_num_threads(args.threads)
    if args.static:
        from torch.nn.parallel import DistributedDataParallel

        def wrap(self, ghn):
            if self.dist is None:
                return ghn
            return DistributedDataParallel(ghn, find_unused_parameters=False)

        Trainer._wrap = wrap  # type: ignore[method-assign]
    cfg = TrainConfig(
        tasks=["digits"],
        steps=args.warmup + args.steps,
        meta_batch=args.meta_batch,
        batch_size=args.batch_size,
        pool_size=2 * args.meta_batch,
        warmup=1,
        seed=0,
    )
    with distributed("cpu"):
        torch.manual_seed(0)
        tr = Trainer(None, cfg, None, ghn_config=GHNConfig(hidden=args.hidden, layers=args.layers, rank=8))
        for _ in range(args.warmup):
            tr.train_step()
        pool = tr.pools[0]
        for i in range(len(pool.specs)):  # build every network now: the timed steps measure training only
            pool.get(i, tr.device)
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            tr.train_step()
            times.append(time.perf_counter() - t0)
        if tr.rank == 0:
            print("RESULT " + json.dumps({"median_s": statistics.median(times), "loss": tr.history or None}))


def _launch(run: str, args: argparse.Namespace) -> float:
    shape, _, mode = run.partition(":")
    procs, threads = (int(v) for v in shape.split("x"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}", __file__]
    cmd += ["--worker", "--threads", str(threads), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    cmd += ["--meta-batch", str(args.meta_batch), "--batch-size", str(args.batch_size)]
    cmd += ["--hidden", str(args.hidden), "--layers", str(args.layers)] + (["--static"] if mode == "static" else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TQDM_DISABLE="1")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])["median_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="1x1 2x1 2x1:static")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--meta-batch", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--static", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(args)
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _common

    runs = args.runs.split()
    results: dict[str, list[float]] = {r: [] for r in runs}
    print(_common.machine_line(), "(before)")
    for _ in range(args.rounds):
        for run in runs:
            results[run].append(_launch(run, args))
    print(_common.machine_line(), "(after)")
    base = statistics.median(results[runs[0]])
    print(f"meta-batch {args.meta_batch}, batch {args.batch_size}, GHN hidden {args.hidden} layers {args.layers}")
    print("| run (processes x threads) | median step time per round | vs " + runs[0] + " |")
    print("|---|---|---|")
    for run in runs:
        med = statistics.median(results[run])
        each = ", ".join(f"{1000 * t:.0f}" for t in results[run])
        print(f"| {run} | {1000 * med:.0f} ms ({each}) | {base / med:.2f}x |")


if __name__ == "__main__":
    main()
