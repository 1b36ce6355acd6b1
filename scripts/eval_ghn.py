"""Evaluate a GHN: the tables of issue 8's "Must show".

    python scripts/eval_ghn.py --ckpt ghn-tiny-tiled --n-archs 8 --out runs/eval.json          # main tables
    python scripts/eval_ghn.py --on val --n-archs 6 --out runs/eval_val.json    # to choose: validation nets + data
    python scripts/eval_ghn.py --ablation --ablation-steps 60 --out runs/ablation.json    # 4 GHN variants

Main tables, per task (digits, MNIST-1D) and split of held-out architectures (ID, WIDE, DEEP, DENSE, BN-FREE):
mean test accuracy (``--on val``: validation architectures and validation data, for choosing) with GHN-predicted
parameters, with random init, with random init + a fixed SGD budget,
the GHN/SGD ratio; and GHN init + 1 epoch SGD vs random init + 1 epoch SGD.

Ablation: GatedGNN+tiled (GHN-2-like) vs transformer+low-rank, each with and without MIP, trained with the same
(small) budget on digits, then evaluated on held-out ID architectures; loss curves go to a PNG.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch


def _mean(xs):
    return sum(xs) / max(1, len(xs))


def _baseline_cells(r: dict, g: float) -> str:
    """Table cells after the GHN column; the ratio divides by the He-init SGD where it was run (BN-FREE)."""
    if "sgd" not in r:
        return "- | - | - | -"
    rnd, s = _mean(r["random"]), _mean(r["sgd"])
    he = _mean(r["sgd_he"]) if "sgd_he" in r else None
    ref = s if he is None else he
    he_cell = "-" if he is None else f"{100 * he:.1f}%"
    return f"{100 * rnd:.1f}% | {100 * s:.1f}% | {he_cell} | {100 * g / max(ref, 1e-9):.0f}%"


def main_tables(args) -> dict:
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.evaluate import SGDBudget, evaluate_split
    from graphhyper.ghn.tasks import arch_specs, get_task

    ghn = from_pretrained(args.ckpt)
    budget = SGDBudget(steps=args.sgd_steps)
    out = {
        "ckpt": args.ckpt,
        "ckpt_meta": ghn.meta,
        "n_archs": args.n_archs,
        "on": args.on,
        "seed": args.seed,
        "sgd_budget": budget.__dict__,
        "results": {},
    }
    print(
        f"GHN {args.ckpt}: {ghn.num_parameters():,} parameters, trained {ghn.meta.get('steps_done')} steps "
        f"({ghn.meta.get('train_seconds')} s)"
    )
    for tname in args.tasks.split(","):
        task = get_task(tname)
        print(f"\n### {tname}: mean {args.on} accuracy over {args.n_archs} held-out ({args.on}) architectures")
        print(f"| split | GHN predicted | random init | SGD ({budget.steps} steps) | SGD, He init | GHN / SGD |")
        print("|---|---|---|---|---|---|")
        for split in args.splits.split(","):
            t0 = time.time()
            specs = arch_specs(task, split, args.n_archs, seed=args.seed, role=args.on)
            modes = ["ghn", "random", "sgd"]
            if split == "id":
                modes += ["ghn+sgd", "random+sgd"]
            if split == "bn_free":  # PyTorch's default init vanishes without BN: SGD from it stays at chance
                modes += ["sgd_he"]
            if args.ghn_only:
                modes = ["ghn"]
            r = evaluate_split(ghn, task, specs, modes=modes, budget=budget, init_epochs=1.0, split=args.on)
            out["results"][f"{tname}/{split}"] = r
            g = _mean(r["ghn"])
            cells = _baseline_cells(r, g)
            label = split.upper().replace("_", "-")
            print(f"| {label} | {100 * g:.1f}% | {cells} |   ({time.time() - t0:.0f} s)", flush=True)
        r = out["results"][f"{tname}/id"] if "id" in args.splits.split(",") else None
        if r and "ghn+sgd" in r:
            print(
                f"\nInit ({tname}, ID): GHN init + 1 epoch SGD = {100 * _mean(r['ghn+sgd']):.1f}%  vs  "
                f"random init + 1 epoch SGD = {100 * _mean(r['random+sgd']):.1f}%"
            )
    return out


def record(args, res: dict) -> None:
    """Merge the mean accuracies into ``meta.eval`` of the bundled checkpoint's JSON (weights untouched)."""
    from graphhyper.ghn import hub

    js = hub.PRETRAINED_DIR / f"{args.ckpt}.json"
    doc = json.loads(js.read_text())
    ev = doc["meta"].setdefault("eval", {})
    for key, r in res["results"].items():
        ev[key] = {m: round(_mean(v), 4) for m, v in r.items()} | {"n_archs": args.n_archs, "sgd_steps": args.sgd_steps}
    js.write_text(json.dumps(doc, indent=1, sort_keys=True))


ABLATION = {
    "gatedgnn+tiled": dict(encoder="gatedgnn", decoder="tiled", mip=False),
    "gatedgnn+tiled+MIP": dict(encoder="gatedgnn", decoder="tiled", mip=True),
    "transformer+lowrank": dict(encoder="transformer", decoder="lowrank", mip=False),
    "transformer+lowrank+MIP": dict(encoder="transformer", decoder="lowrank", mip=True),
}


def ablation(args) -> dict:
    from graphhyper.ghn.evaluate import evaluate_split
    from graphhyper.ghn.model import GHNConfig
    from graphhyper.ghn.tasks import arch_specs, get_task
    from graphhyper.ghn.train import TrainConfig, Trainer

    task = get_task(args.ablation_task)
    specs = arch_specs(task, "id", args.n_archs, seed=args.seed)
    out = {"task": args.ablation_task, "steps": args.ablation_steps, "n_archs": args.n_archs, "variants": {}}
    print(
        f"\n### Ablation on {args.ablation_task}: {args.ablation_steps} steps x meta-batch "
        f"{args.ablation_meta_batch} each (small, equal budget), hidden {args.hidden}"
    )
    print("| variant | GHN params | final train loss | held-out ID acc (GHN predicted) | train time |")
    print("|---|---|---|---|---|")
    for name, kw in ABLATION.items():
        torch.manual_seed(args.seed)
        cfg = TrainConfig(
            tasks=[args.ablation_task],
            steps=args.ablation_steps,
            meta_batch=args.ablation_meta_batch,
            batch_size=32,
            lr=2e-3,
            warmup=20,
            pool_size=256,
            seed=args.seed,
            log_every=5,
        )
        tr = Trainer(None, cfg, None, ghn_config=GHNConfig(hidden=args.hidden, **kw))
        t0 = time.time()
        tr.fit()
        dt = time.time() - t0
        tr.ghn.eval()
        acc = evaluate_split(tr.ghn, task, specs, modes=("ghn",))["ghn"]
        tail = tr.history[-3:]
        out["variants"][name] = {
            "history": tr.history,
            "acc": acc,
            "seconds": dt,
            "ghn_params": tr.ghn.num_parameters(),
        }
        print(
            f"| {name} | {tr.ghn.num_parameters():,} | {_mean([h['loss'] for h in tail]):.3f} | "
            f"{100 * _mean(acc):.1f}% | {dt:.0f} s |",
            flush=True,
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, v in out["variants"].items():
            ax.plot([h["step"] for h in v["history"]], [h["loss"] for h in v["history"]], label=name)
        ax.set_xlabel("step")
        ax.set_ylabel(f"meta-batch train loss ({args.ablation_task})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"loss curves -> {args.plot}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", default="ghn-tiny-tiled")
    p.add_argument("--tasks", default="digits,mnist1d")
    p.add_argument("--splits", default="id,wide,deep,dense,bn_free")
    p.add_argument(
        "--on",
        choices=("val", "test"),
        default="test",
        help="val: validation architectures and validation data (to choose); test: report once",
    )
    p.add_argument("--n-archs", type=int, default=8)
    p.add_argument("--sgd-steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ablation", action="store_true", help="run the encoder/decoder/MIP ablation instead")
    p.add_argument("--ablation-task", default="digits")
    p.add_argument("--ablation-steps", type=int, default=60)
    p.add_argument("--ablation-meta-batch", type=int, default=2)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--plot", default="runs/ghn_ablation.png")
    p.add_argument("--out", default=None, help="write all numbers as JSON here")
    p.add_argument("--ghn-only", action="store_true", help="only the GHN-predicted accuracy (no baselines)")
    p.add_argument(
        "--record",
        action="store_true",
        help="also record the mean accuracies in the bundled checkpoint's JSON (meta.eval)",
    )
    args = p.parse_args(argv)
    if args.record and args.on != "test":
        p.error("--record writes the reported (test) figures into the checkpoint's JSON; drop it with --on val")
    torch.set_num_threads(args.threads)
    res = ablation(args) if args.ablation else main_tables(args)
    if args.record and not args.ablation:
        record(args, res)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
