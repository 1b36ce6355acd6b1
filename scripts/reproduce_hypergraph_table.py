#!/usr/bin/env python
"""Reproduce the hypergraph node-classification table (AllSet / ED-HNN protocol) and compare with the papers.

Protocol: random 50/25/25 train/val/test split per seed, a self-loop hyperedge for every node, full-batch Adam,
early stopping on validation accuracy; the reported number is the test accuracy at the best validation epoch.
Each finished run is appended to ``<out>.csv`` at once, so an interrupted table resumes where it stopped.

    python scripts/reproduce_hypergraph_table.py --datasets cora-ca,cora-cc,citeseer-cc \
        --models hgnn,allset-transformer,ed-hnn --seeds 10 --out results/hypergraph_table

Hyper-parameters: ``PROTOCOL`` below (per model) and ``DATASET_PROTOCOL`` (per dataset, from the reference
code), overridden by ``--tuned DIR`` (JSON files written by ``scripts/tune_hypergraph.py``, one per dataset/model,
or ``configs/hypergraph/tuned``; every training choice in them is applied: model kwargs, lr, weight decay, label
smoothing, feature normalisation, epochs and patience) and by ``--set key=value``.

The issue-7 table (HGNN, AllSetTransformer and HGNN+ on the seven shipped datasets, 10 seeds, up to 500 epochs
with patience 50, two single-threaded worker processes on a 2-core machine; prints the table and its wall time).
ED-HNN and UniGCNII are left out of it for cost: on one core they take 1-17 s per epoch on these datasets (ED-HNN's
per-incidence MLPs, UniGCNII's 32 dropout layers), against 0.02-0.4 s for HGNN; add them with ``--models``.

    python scripts/reproduce_hypergraph_table.py --preset issue7 --out runs/hg/issue7

A preset only fills the flags you do not give (``--preset issue7 --seeds 3`` runs 3 seeds).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from graphhyper.cli.hypergraph import parse_key_values
from graphhyper.errors import InvalidInputError

# per-model training protocol (model kwargs + optimiser); HGNN is the floor config of the issue
PROTOCOL: dict[str, dict] = {
    "hgnn": {"model": {"hidden_channels": 256, "dropout": 0.5}, "lr": 1e-3, "weight_decay": 5e-4},
    "hgnnp": {"model": {"hidden_channels": 256, "dropout": 0.5}, "lr": 1e-3, "weight_decay": 5e-4},
    "allset-transformer": {"model": {"hidden_channels": 128, "heads": 8, "num_layers": 1, "classifier_layers": 1,
                                     "dropout": 0.5, "input_dropout": 0.2}, "lr": 1e-3, "weight_decay": 0.0},
    "allset-deepsets": {"model": {"hidden_channels": 128, "dropout": 0.5}, "lr": 1e-3, "weight_decay": 0.0},
    "ed-hnn": {"model": {"hidden_channels": 256, "dropout": 0.5}, "lr": 1e-3, "weight_decay": 0.0},
    "unigcnii": {"model": {}, "lr": 1e-2, "weight_decay": 5e-4},
    "mlp": {"model": {"hidden_channels": 256}, "lr": 1e-3, "weight_decay": 5e-4},
}
# per-dataset settings of the reference code, on top of PROTOCOL (AllSet: jianhao2016/AllSet
# src/run_AllSetTransformer.sh, MLP_hidden / heads / lr / wd per dataset; everything else as in PROTOCOL)
DATASET_PROTOCOL: dict[tuple[str, str], dict] = {
    ("allset-transformer", "cora-cc"): {"model": {"hidden_channels": 256, "heads": 4}},
    ("allset-transformer", "citeseer-cc"): {"model": {"hidden_channels": 512, "heads": 8}},
    ("allset-transformer", "pubmed-cc"): {"model": {"hidden_channels": 256, "heads": 8}},
    ("allset-transformer", "cora-ca"): {"model": {"hidden_channels": 128, "heads": 8}},
    ("allset-transformer", "dblp-ca"): {"model": {"hidden_channels": 512, "heads": 8}},
    # Zoo: 1 head and all 500 epochs, both as in the reference: with 1 head, patience 50 ended 39 of 100 runs
    # (seeds 0-99) before epoch 120 at 82.5 on average; 86.6 over those seeds with patience 50, 94.0 with the fixed
    # 500 epochs.
    ("allset-transformer", "zoo"): {"model": {"hidden_channels": 64, "heads": 1}, "lr": 1e-2, "weight_decay": 1e-5,
                                    "epochs": 500, "patience": 0},
    ("allset-transformer", "20news"): {"model": {"hidden_channels": 256, "heads": 8}},
    # Mushroom: the reference's fixed 500 epochs, no early stopping. Validation accuracy reaches 100% within ~100
    # epochs, and patience then ended 4 of 10 runs one test node (of 2,031) short of the paper's 100.00 ± 0.00;
    # all four reach 100% by epoch 500. Costs about 100 s per run instead of 17 s.
    ("allset-transformer", "mushroom"): {"model": {"hidden_channels": 128, "heads": 1}, "epochs": 500, "patience": 0},
    ("allset-transformer", "ntu2012"): {"model": {"hidden_channels": 256, "heads": 1}},
    ("allset-transformer", "modelnet40"): {"model": {"hidden_channels": 512, "heads": 8}},
    ("allset-transformer", "house"): {"model": {"hidden_channels": 512, "heads": 8}},
    ("allset-transformer", "walmart"): {"model": {"hidden_channels": 256, "heads": 8}},
    # Zoo: the reference's Zoo optimiser for the convolutional models too. At lr 1e-3 HGNN's validation accuracy
    # stays at its first value for over 50 epochs on 3 of 10 splits, so patience 50 ends those runs near chance
    # (42-46% test); at 1e-2 none stalls (93.1% over seeds 0-9, probe with patience 50).
    ("hgnn", "zoo"): {"lr": 1e-2, "weight_decay": 1e-5},
    ("hgnnp", "zoo"): {"lr": 1e-2, "weight_decay": 1e-5},
}
# named bundles of flags (a flag given on the command line wins over the preset)
PRESETS: dict[str, dict] = {
    "issue7": dict(datasets="cora-ca,cora-cc,citeseer-cc,zoo,ntu2012,mushroom,20news",
                   models="hgnn,allset-transformer,hgnnp", seeds=10, epochs=500, patience=50, threads=1, workers=2),
}
DEFAULTS = dict(datasets="cora-ca,cora-cc,citeseer-cc", models="hgnn,allset-transformer,ed-hnn", seeds=10,
                epochs=300, patience=100, threads=1, workers=1)
FIELDS = ["dataset", "model", "seed", "test_acc", "best_val_acc", "best_epoch", "epochs_run", "seconds", "config"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="a named bundle of the flags below")
    p.add_argument("--datasets", default=None, help=f"comma-separated dataset names ({DEFAULTS['datasets']})")
    p.add_argument("--models", default=None, help=f"comma-separated model names ({DEFAULTS['models']})")
    p.add_argument("--seeds", type=int, default=None, help="number of random splits, seeds 0..N-1 (10)")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs per run (300)")
    p.add_argument("--patience", type=int, default=None,
                   help="early stopping: epochs without a better validation accuracy (100; 0 = never stop early)")
    p.add_argument("--out", default="results/hypergraph_table", help="output prefix for .csv and .md")
    p.add_argument("--tuned", default=None, help="folder of tuned configs from scripts/tune_hypergraph.py")
    p.add_argument("--set", action="append", default=[], help="override: key=value (model kwarg, lr, weight_decay)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run (1)")
    p.add_argument("--workers", type=int, default=None,
                   help="runs trained in parallel, one process each (1 = in this process)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--root", default=None, help="data root (default $GRAPHHYPER_DATA or ~/.cache/graphhyper)")
    p.add_argument("--fresh", action="store_true", help="ignore runs already in the CSV")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    preset = PRESETS.get(args.preset, {})
    for key, default in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, preset.get(key, default))
    if args.workers < 1 or args.threads < 1 or args.seeds < 1 or args.epochs < 1 or args.patience < 0:
        p.error("--workers, --threads, --seeds and --epochs must be >= 1 and --patience >= 0")
    return args


def config_for(dataset: str, model: str, tuned: str | None, overrides: list[str]) -> dict:
    """Protocol config of ``model``, then the tuned file for (dataset, model) if any, then ``--set`` overrides."""
    from graphhyper.hypergraph import models

    base = PROTOCOL.get(model)
    if base is None:  # the model zoo's own optimiser hint when we have no protocol entry
        hint = models.train_defaults(model) if hasattr(models, "train_defaults") else {"lr": 1e-2, "weight_decay": 5e-4}
        base = {"model": {}, **hint}
    cfg = json.loads(json.dumps(base))
    extra = DATASET_PROTOCOL.get((model, dataset), {})
    cfg["model"].update(extra.get("model", {}))
    cfg.update({k: v for k, v in extra.items() if k != "model"})
    best = _tuned_file(tuned, dataset, model)
    if best is not None:
        cfg = {"model": best["model"], "tuned": True,
               **{k: best[k] for k in ("lr", "weight_decay", *TUNED_TRAIN_KEYS) if k in best}}
    model_keys = set(models.model_defaults(model))
    for key, value in parse_key_values(overrides, "--set").items():
        if key in ("lr", "weight_decay"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"--set {key}={value}: give a number, e.g. --set {key}=0.001.")
            cfg[key] = float(value)
        elif key in SET_TRAIN_KEYS:
            cfg[key] = value
        elif key in model_keys:
            cfg["model"][key] = value
        else:
            raise InvalidInputError(f"--set {key}={value}: {model!r} has no setting {key!r}; accepted: training "
                                    f"{sorted(SET_TRAIN_KEYS)}, model {sorted(model_keys)}.")
    return cfg


# training choices a tuned JSON carries besides model, lr and weight decay; a run applies all of them
TUNED_TRAIN_KEYS = ("label_smoothing", "feature_norm", "epochs", "patience")
# keys --set may override outside the model's hyper-parameters
SET_TRAIN_KEYS = frozenset(("lr", "weight_decay", *TUNED_TRAIN_KEYS))


def _tuned_file(folder: str | None, dataset: str, model: str) -> dict | None:
    """The tuned config of (dataset, model) in ``folder``: ``<dataset>__<model>.json`` (written by
    ``tune_hypergraph.py``) or ``<dataset>.json`` whose ``model_name`` is ``model`` (``configs/hypergraph/tuned``)."""
    if not folder:
        return None
    for path in (Path(folder) / f"{dataset}__{model}.json", Path(folder) / f"{dataset}.json"):
        if path.exists():
            cfg = json.loads(path.read_text())
            if cfg.get("model_name", model) == model:
                return cfg
    return None


def run_one(dataset: str, model_name: str, seed: int, cfg: dict, args) -> dict:
    from graphhyper.search.hypergraph_tuning import run_config

    res = run_config(dataset, cfg, seed, args.root, args.device, model_name=model_name, epochs=args.epochs,
                     patience=args.patience, progress=args.progress)
    return {"dataset": dataset, "model": model_name, "seed": seed, "test_acc": round(100 * res.test_acc, 4),
            "best_val_acc": round(100 * res.best_val_acc, 4), "best_epoch": res.best_epoch,
            "epochs_run": res.epochs_run, "seconds": round(res.train_seconds, 2), "config": json.dumps(cfg)}


def _init_worker(threads: int) -> None:
    """Per-process setup: thread count, and no NaN scan of every layer input (the loader validated the
    features and the training loop stops on a non-finite loss)."""
    from graphhyper.hypergraph import ops

    torch.set_num_threads(threads)
    ops.set_input_checks(False)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def load_done(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as fh:
        return list(csv.DictReader(fh))


def summarize(rows: list[dict], datasets: list[str], models: list[str]) -> list[dict]:
    """Mean and std of the test accuracy per (dataset, model), with the published numbers beside them."""
    from graphhyper.data import get_card

    out = []
    for ds in datasets:
        card = get_card(ds)
        for m in models:
            accs = [float(r["test_acc"]) for r in rows if r["dataset"] == ds and r["model"] == m]
            if not accs:
                continue
            mean = statistics.mean(accs)
            std = statistics.stdev(accs) if len(accs) > 1 else 0.0
            pub = card.published_for(m)
            best_pub = max(card.published, key=lambda r: r["mean"])
            row = {"dataset": ds, "model": m, "n": len(accs), "mean": mean, "std": std,
                   "published": None, "published_std": None, "delta": None, "verdict": "no published number",
                   "best_published": f"{best_pub['model']} {best_pub['mean']:.2f}",
                   "seconds_per_run": statistics.mean(float(r["seconds"]) for r in rows
                                                      if r["dataset"] == ds and r["model"] == m)}
            if pub is not None:
                p_std = pub.get("std") or 0.0
                row.update(published=pub["mean"], published_std=pub.get("std"), delta=mean - pub["mean"])
                row["verdict"] = ("above" if mean >= pub["mean"] else
                                  "within 1 std" if mean >= pub["mean"] - p_std else "below")
            out.append(row)
    return out


def markdown(summary: list[dict]) -> str:
    lines = ["| dataset | model | ours (mean ± std, n) | published (mean ± std) | Δ | verdict | best published "
             "| s/run |", "|---|---|---|---|---|---|---|---|"]
    for r in summary:
        pub = "—" if r["published"] is None else (
            f"{r['published']:.2f} ± {r['published_std']:.2f}" if r["published_std"] is not None
            else f"{r['published']:.2f}")
        delta = "—" if r["delta"] is None else f"{r['delta']:+.2f}"
        lines.append(f"| {r['dataset']} | {r['model']} | {r['mean']:.2f} ± {r['std']:.2f} ({r['n']}) | {pub} | "
                     f"{delta} | {r['verdict']} | {r['best_published']} | {r['seconds_per_run']:.0f} |")
    return "\n".join(lines)


def _append(csv_path: Path, row: dict) -> None:
    new = not csv_path.exists()
    with open(csv_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _cost(task: tuple) -> float:
    """Rough relative cost of a run for scheduling: incidences plus nodes, times 4 for the attention models."""
    from graphhyper.data import get_card

    stats = get_card(task[0]).statistics
    size = stats.get("nnz", 0) + 2 * stats.get("nodes", 0)  # the self-loops add one incidence per node
    return size * (4 if "allset" in task[1] or "ed-hnn" in task[1] else 1)


def _execute(tasks: list[tuple], args):
    """Yield the row of every task ``(dataset, model, seed, cfg)``, in this process or in ``args.workers``
    spawned single-purpose processes (each trains one run at a time with ``args.threads`` threads)."""
    if args.workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_one(*task, args)
        return
    tasks = sorted(tasks, key=_cost, reverse=True)  # longest first: the workers finish together
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker,
                                initargs=(args.threads,)) as pool:
        futures = [pool.submit(run_one, *task, args) for task in tasks]
        for fut in cf.as_completed(futures):
            yield fut.result()


def main(argv=None) -> int:
    from graphhyper.errors import GraphhyperError
    from graphhyper.hypergraph import ops

    args = parse_args(argv)
    threads, checks = torch.get_num_threads(), ops._default.get("check_finite", True)
    try:
        _init_worker(args.threads)
        return _main(args)
    except GraphhyperError as exc:
        print(f"reproduce_hypergraph_table: error: {exc}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
        ops.set_input_checks(checks)


def _main(args) -> int:
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    configs = {(ds, m): config_for(ds, m, args.tuned, args.set) for ds in datasets for m in models}  # checks --set
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out.with_suffix(".csv"), out.with_suffix(".md")
    if args.fresh and csv_path.exists():
        csv_path.unlink()
    rows = load_done(csv_path)  # runs with another config stay in the CSV but are not reused or summarised
    done = {(r["dataset"], r["model"], int(r["seed"]), r["config"]) for r in rows}
    current: dict[tuple[str, str], str] = {}
    tasks = []
    for ds in datasets:
        for m in models:
            cfg = configs[(ds, m)]
            current[(ds, m)] = json.dumps(cfg)
            tasks += [(ds, m, seed, cfg) for seed in range(args.seeds) if (ds, m, seed, json.dumps(cfg)) not in done]
    print(f"{len(tasks)} runs to train ({len(done)} rows already in {csv_path}); {args.workers} worker(s) x "
          f"{args.threads} thread(s), up to {args.epochs} epochs, patience {args.patience}", flush=True)
    start = time.perf_counter()
    for row in _execute(tasks, args):
        rows.append(row)
        _append(csv_path, row)
        print(f"[{time.perf_counter() - start:7.0f}s] {row['dataset']:12s} {row['model']:20s} seed {row['seed']}: "
              f"test {row['test_acc']:.2f} (val {row['best_val_acc']:.2f}, best epoch {row['best_epoch']}, "
              f"{row['seconds']:.0f}s)", flush=True)
    wall = time.perf_counter() - start
    rows = [r for r in rows if current.get((r["dataset"], r["model"])) == r["config"]]
    table = markdown(summarize(rows, datasets, models))
    footer = (f"{len(tasks)} runs trained in {wall:.0f} s wall time ({wall / 60:.1f} min) with {args.workers} "
              f"worker(s) x {args.threads} thread(s); {len(rows)} runs in the table")
    md_path.write_text(table + "\n\n" + footer + "\n")
    print(table)
    print(footer)
    print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return 0 if all(not math.isnan(float(r["test_acc"])) for r in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "0")
    sys.exit(main())
