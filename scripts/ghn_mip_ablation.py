"""MIP ablation: the same GHN trained with and without MIP, equal steps, several seeds (issue 18, item 3).

    python scripts/ghn_mip_ablation.py --steps 200 --seeds 0,1,2 --out runs/mip \\
        --plot docs/bench/ghn_mip_ablation.png --json docs/bench/ghn_mip_ablation.json

Each (variant, seed) run trains a fresh GHN (``GHNConfig(hidden, encoder, decoder, mip)``) for ``--steps`` steps
on digits with one :class:`~graphhyper.ghn.train.TrainConfig` (same seed: same architectures and batches for both
variants), then predicts the parameters of ``--eval-archs`` *validation* architectures and scores them on the
*validation* digits (never test). Runs are saved one JSON each under ``--out`` and skipped when already there, so
the work can be split across processes (``--only MIP`` and ``--only "no MIP"``, or by ``--seeds``) and a final call
with neither only aggregates: the mean and spread over seeds of the training-loss curve (PNG) and of the final
numbers (JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

VARIANTS = {"no MIP": False, "MIP": True}


def run_one(args, variant: str, seed: int) -> dict:
    """Train one GHN and score it on validation architectures / validation digits."""
    from graphhyper.ghn.evaluate import evaluate_split
    from graphhyper.ghn.model import GHNConfig
    from graphhyper.ghn.tasks import arch_specs, get_task
    from graphhyper.ghn.train import TrainConfig, Trainer

    torch.manual_seed(seed)
    cfg = TrainConfig(
        tasks=["digits"],
        steps=args.steps,
        meta_batch=args.meta_batch,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup=args.warmup,
        pool_size=args.pool_size,
        seed=seed,
        log_every=args.log_every,
    )
    gcfg = GHNConfig(hidden=args.hidden, encoder=args.encoder, decoder=args.decoder, mip=VARIANTS[variant])
    tr = Trainer(None, cfg, None, ghn_config=gcfg)
    t0 = time.time()
    tr.fit()
    seconds = time.time() - t0
    tr.ghn.eval()
    task = get_task("digits")
    specs = arch_specs(task, "id", args.eval_archs, seed=0, role="val")
    acc = evaluate_split(tr.ghn, task, specs, modes=("ghn",), split="val")["ghn"]
    return {
        "variant": variant,
        "seed": seed,
        "ghn_config": gcfg.to_dict() | {"vocab": f"{len(gcfg.vocab)} ops"},
        "ghn_params": tr.ghn.num_parameters(),
        "history": tr.history,
        "skipped_steps": tr.skipped,
        "val_acc_per_arch": acc,
        "val_acc": statistics.fmean(acc),
        "train_seconds": round(seconds, 1),
    }


def _tail_loss(history: list[dict], frac: float = 0.1) -> float:
    tail = history[-max(1, int(len(history) * frac)) :]
    return statistics.fmean(h["loss"] for h in tail)


def _roughness(history: list[dict]) -> float:
    """Mean |loss_t - loss_{t-1}| between consecutive logged points of the second half: how jagged the curve is."""
    second = [h["loss"] for h in history[len(history) // 2 :]]
    return statistics.fmean(abs(a - b) for a, b in zip(second[1:], second[:-1])) if len(second) > 1 else 0.0


def _spread(xs: list[float]) -> dict:
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "values": xs}


def aggregate(runs: dict[str, list[dict]], args) -> dict:
    """Per variant: mean / std over seeds of the final numbers, and the mean curve."""
    out: dict = {"protocol": {k: v for k, v in vars(args).items() if k not in ("plot", "json", "out")}, "variants": {}}
    for variant, rs in runs.items():
        steps = [h["step"] for h in rs[0]["history"]]
        curves = [[h["loss"] for h in r["history"]] for r in rs]
        out["variants"][variant] = {
            "seeds": [r["seed"] for r in rs],
            "ghn_params": rs[0]["ghn_params"],
            "val_acc": _spread([r["val_acc"] for r in rs]),
            "final_train_loss": _spread([_tail_loss(r["history"]) for r in rs]),
            "first_step_loss_below_2": [next((h["step"] for h in r["history"] if h["loss"] < 2.0), None) for r in rs],
            "curve_roughness": _spread([_roughness(r["history"]) for r in rs]),
            "skipped_steps": [len(r["skipped_steps"]) for r in rs],
            "train_seconds": _spread([r["train_seconds"] for r in rs]),
            "curve": {"step": steps, "mean": [statistics.fmean(c) for c in zip(*curves)]},
        }
    return out


def plot(runs: dict[str, list[dict]], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for variant, rs in runs.items():
        steps = [h["step"] for h in rs[0]["history"]]
        curves = torch.tensor([[h["loss"] for h in r["history"]] for r in rs])
        mean = curves.mean(0)
        ax.plot(steps, mean, label=f"{variant} (mean of {len(rs)} seeds)")
        ax.fill_between(steps, curves.min(0).values, curves.max(0).values, alpha=0.25)
    ax.set_xlabel("training step")
    ax.set_ylabel("meta-batch training loss (digits)")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--encoder", default="gatedgnn", choices=["gatedgnn", "transformer"])
    p.add_argument("--decoder", default="tiled", choices=["tiled", "lowrank"])
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--meta-batch", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--pool-size", type=int, default=256)
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument("--eval-archs", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", choices=list(VARIANTS), default=None, help="run this variant only (no aggregate)")
    p.add_argument("--out", default="runs/mip_ablation", help="one JSON per (variant, seed) run")
    p.add_argument("--plot", default=None, help="loss curves PNG (mean and min-max band over seeds)")
    p.add_argument("--json", default=None, help="aggregated numbers")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS if args.only in (None, v)}
    for seed in seeds:
        for variant in runs:
            f = out / f"{variant.replace(' ', '_')}_seed{seed}.json"
            if not f.exists():
                f.write_text(json.dumps(run_one(args, variant, seed)))
            r = json.loads(f.read_text())
            runs[variant].append(r)
            print(
                f"{variant:7s} seed {seed}: final train loss {_tail_loss(r['history']):.3f}, "
                f"val acc {100 * r['val_acc']:.1f}% ({r['train_seconds']:.0f} s)",
                flush=True,
            )
    if args.only:
        return 0
    res = aggregate(runs, args)
    print("| variant | val acc (mean ± std, 3 seeds) | final train loss | curve roughness | skipped |")
    print("|---|---|---|---|---|")
    for v, r in res["variants"].items():
        print(
            f"| {v} | {100 * r['val_acc']['mean']:.1f}% ± {100 * r['val_acc']['std']:.1f} | "
            f"{r['final_train_loss']['mean']:.3f} ± {r['final_train_loss']['std']:.3f} | "
            f"{r['curve_roughness']['mean']:.3f} | {sum(r['skipped_steps'])} |"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))
    if args.plot:
        title = f"{args.encoder}+{args.decoder}, hidden {args.hidden}, {args.steps} steps x {args.meta_batch} archs"
        plot(runs, args.plot, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
