#!/usr/bin/env python
"""Run several GHN training recipes side by side (one process and one thread each), then score each on held-out
architectures with predicted parameters only. For choosing a recipe on a many-core machine before the long run.

    python scripts/ghn_sweep.py --out runs/sweep --minutes 5 --eval-archs 8 \\
        "base=--decoder tiled" "mip=--decoder tiled --mip" "lr5e-3=--decoder tiled --lr 5e-3"

Each ``NAME=ARGS`` is a ``scripts/train_ghn.py`` argument string (``--out``, ``--threads`` and ``--max-minutes``
are set here; ``--common`` is prepended to all). Prints a table and writes ``OUT/sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def evaluate_run(run_dir: Path, task_name: str, n_archs: int) -> dict:
    """Mean held-out ID accuracy (predicted parameters, BN recalibrated) of ``run_dir/last.pt``, on validation
    architectures and the task's validation data: recipes are chosen here, so nothing of the test split is read."""
    import torch

    from graphhyper.ghn.evaluate import evaluate_split
    from graphhyper.ghn.model import GHN, GHNConfig
    from graphhyper.ghn.tasks import arch_specs, get_task

    st = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    ghn = GHN(GHNConfig.from_dict(json.loads(st["ghn_config"])))
    ghn.load_state_dict(st["ghn"])
    ghn.eval()
    task = get_task(task_name)
    res = evaluate_split(ghn, task, arch_specs(task, "id", n_archs, role="val"), modes=("ghn",), split="val")
    hist = st["history"][-5:]
    return {
        "steps": int(st["step"]),
        "train_seconds": round(float(st["train_seconds"]), 1),
        "train_acc_last": sum(h["acc"] for h in hist) / max(1, len(hist)),
        "id_acc": sum(res["ghn"]) / len(res["ghn"]),
        "id_accs": res["ghn"],
        "scored_on": "val",
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="+", help="NAME=ARGS for scripts/train_ghn.py")
    p.add_argument("--out", default="runs/sweep")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--common", default="--tasks digits --steps 1500", help="arguments given to every recipe")
    p.add_argument("--task", default="digits", help="task of the held-out evaluation")
    p.add_argument("--eval-archs", type=int, default=8)
    p.add_argument("--parallel", type=int, default=0, help="recipes trained at once (default: all)")
    p.add_argument("--plot", help="write the loss curves of all recipes to this PNG")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    procs, t0 = {}, time.time()
    for item in args.recipes:
        name, _, rest = item.partition("=")
        while sum(proc.poll() is None for proc, _, _ in procs.values()) >= (args.parallel or len(args.recipes)):
            time.sleep(2)
        cmd = [
            sys.executable,
            str(ROOT / "scripts" / "train_ghn.py"),
            *shlex.split(args.common),
            *shlex.split(rest),
            "--out",
            str(out / name),
            "--threads",
            "1",
            "--max-minutes",
            str(args.minutes),
            "--ckpt-every",
            "500",
        ]
        log = open(out / f"{name}.log", "w")  # noqa: SIM115 - closed after the process ends
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log, rest)
    for name, (proc, log, _) in procs.items():
        proc.wait()
        log.close()
        print(f"{name}: exit {proc.returncode} after {time.time() - t0:.0f} s", flush=True)
    rows = {}
    for name, (_proc, _, rest) in procs.items():
        if (out / name / "last.pt").exists():
            rows[name] = {"args": rest, **evaluate_run(out / name, args.task, args.eval_archs)}
    print(f"\n{'recipe':<14} {'steps':>6} {'train s':>8} {'train acc':>9} {'held-out ID acc':>15}  args")
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["id_acc"]):
        print(
            f"{name:<14} {r['steps']:>6} {r['train_seconds']:>8.0f} {r['train_acc_last']:>9.3f} "
            f"{r['id_acc']:>15.3f}  {r['args']}"
        )
    (out / "sweep.json").write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot_curves(out, list(rows), args.plot)
    return 0


def plot_curves(out: Path, names: list[str], path: str) -> None:
    """Training-loss curves (``history.json`` of each run) against step and against wall time, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name in names:
        hist = json.loads((out / name / "history.json").read_text())["history"]
        for ax, key in zip(axes, ("step", "seconds")):
            ax.plot([h[key] for h in hist], [h["loss"] for h in hist], label=name)
    axes[0].set_xlabel("step")
    axes[1].set_xlabel("training seconds")
    axes[0].set_ylabel("meta-batch train loss")
    axes[0].set_ylim(top=3.0)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"loss curves -> {path}")


if __name__ == "__main__":
    sys.exit(main())
