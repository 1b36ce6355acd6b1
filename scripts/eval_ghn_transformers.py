"""LoGAH's claim, measured: GHN init + k steps against random init + k steps on held-out transformers.

    python scripts/eval_ghn_transformers.py --ghn /tmp/ghn-vit-digits --task digits-vit --splits wide,deep \\
        --archs 8 --seeds 0,1,2 --ks 0,100,1000 --split val --out runs/logah_vit_digits.json

For every architecture of each split (held-out WIDE / DEEP draws of the task's space, ``--role test`` draws by
default, ``--role val`` for choosing), every seed and both initialisations, one AdamW trajectory (constant LR after
a warm-up; the same batches for both inits) is evaluated at each k on the ``--split`` data (``val`` to choose,
``test`` once to report): validation loss per token for ``pytext``, accuracy (and loss) for the ViT tasks.

The JSON (written after every architecture; a rerun of the same command skips the pairs already in it) holds the
command, the machine line, the GHN's recorded training meta, the budget, every record and, per split, the paired
summary (:func:`graphhyper.ghn.transformer_eval.summarize`); ``--report FILE`` prints that summary as a Markdown
table. ``--ghn random`` evaluates an untrained GHN (a
control). Use ``--threads 1`` on shared machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def machine_line() -> str:
    """CPU, cores, torch threads, load average, torch version, GPU (the line scripts/bench prints)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
    try:
        import _common

        return _common.machine_line()
    except ImportError:  # pragma: no cover - run from another layout
        return f"{platform.processor()} | torch {torch.__version__}"


def _load_ghn(name: str):
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.model import GHN, GHNConfig

    if name == "random":
        torch.manual_seed(0)
        return GHN(GHNConfig()), {"note": "untrained GHN (control)"}
    ghn = from_pretrained(name)
    return ghn, getattr(ghn, "meta", {})


def markdown(doc: dict) -> str:
    """The summary of an output JSON as a Markdown table: per split and k, mean metric of each init, the paired
    difference (GHN - random) +- its standard error, and the GHN's wins out of the pairs."""
    lines = [
        "| split | k | pairs | metric | GHN init | random init | GHN - random (± s.e.) | GHN wins |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split, per_k in doc.get("summary", {}).items():
        for k, row in per_k.items():
            for m in ("loss", "acc"):
                r = row[m]
                lines.append(
                    f"| {split} | {k} | {row['pairs']} | {m} | {r['ghn']:.3f} | {r['random']:.3f} | "
                    f"{r['diff']:+.3f} ± {r['se']:.3f} | {r['ghn_wins']}/{row['pairs']} |"
                )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", required=True, help="GHN checkpoint (path or bundled name) or 'random'")
    p.add_argument("--task", required=True, choices=["pytext", "digits-vit", "mnist1d-vit"])
    p.add_argument("--splits", default="wide,deep", help="architecture splits: id, wide, deep")
    p.add_argument("--role", default="test", choices=["val", "test"], help="held-out architecture draw")
    p.add_argument("--archs", type=int, default=8)
    p.add_argument("--arch-seed", type=int, default=0)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--ks", default="0,100,1000")
    p.add_argument("--split", default="val", choices=["val", "test"], help="data split of the metric")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument(
        "--attention-nodes", type=int, default=None, help="set the GHN's log-length attention rule (0 = off)"
    )
    return p


def _report(argv: list[str]) -> int:
    """``--report FILE``: print the Markdown table of an existing output JSON."""
    print(markdown(json.loads(Path(argv[1]).read_text())))
    return 0


def main(argv: list[str] | None = None) -> int:
    from graphhyper.ghn.tasks import arch_specs, get_task
    from graphhyper.ghn.transformer_eval import StepBudget, budget_dict, paired_eval, summarize

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--report"] and len(argv) == 2:
        return _report(argv)
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.exists() else {"records": []}
    ghn, meta = _load_ghn(args.ghn)
    ghn.eval()
    if args.attention_nodes is not None:
        ghn.config.attention_nodes = args.attention_nodes
        ghn.config.validate()
    task = get_task(args.task)
    budget = StepBudget(lr=args.lr, warmup=args.warmup, batch_size=args.batch_size)
    seeds, ks = _ints(args.seeds), _ints(args.ks)
    doc.update(
        command="python scripts/eval_ghn_transformers.py " + " ".join(argv),
        machine=machine_line(),
        ghn=args.ghn,
        ghn_meta=meta,
        task=args.task,
        task_extra=task.extra,
        budget=budget_dict(budget),
        seeds=seeds,
        ks=ks,
        data_split=args.split,
        arch_role=args.role,
    )
    done = {(r["split"], r["arch"], r["seed"]) for r in doc["records"]}
    for split in args.splits.split(","):
        specs = arch_specs(task, split, args.archs, seed=args.arch_seed, role=args.role)
        for ai, spec in enumerate(specs):
            todo = [s for s in seeds if (split, ai, s) not in done]
            if not todo:
                continue
            t0 = time.time()
            recs = paired_eval(ghn, task, [spec], seeds=todo, ks=ks, budget=budget, split=args.split)
            for r in recs:
                r.update(split=split, arch=ai)
            doc["records"].extend(recs)
            doc["summary"] = {
                s: summarize([r for r in doc["records"] if r["split"] == s]) for s in args.splits.split(",")
            }
            tmp = out.with_suffix(".tmp")
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(doc, indent=1))
            os.replace(tmp, out)
            m = "loss" if args.task == "pytext" else "acc"
            pairs = {(r["seed"], r["init"]): round(r["k"][str(max(ks))][m], 3) for r in recs}
            print(f"{split} arch {ai} ({time.time() - t0:.0f} s) {m}@{max(ks)}: {pairs}", flush=True)
    print(json.dumps(doc.get("summary", {}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
