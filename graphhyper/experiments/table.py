"""The hypergraph node-classification table (AllSet / ED-HNN protocol) beside the papers' numbers.

:func:`run_table` trains datasets x models x seeds with :func:`graphhyper.experiments.protocol.config_for`'s
settings and :func:`graphhyper.experiments.tuning.run_config`, appends each finished run to ``<out>.csv`` at once
(so an interrupted table resumes where it stopped) and writes the summary to ``<out>.md``.

Command line: ``graphhyper hypergraph table`` (or ``python scripts/reproduce_hypergraph_table.py``)::

    graphhyper hypergraph table --datasets cora-ca,cora-cc,citeseer-cc \\
        --models hgnn,allset-transformer,ed-hnn --seeds 10 --out results/hypergraph_table
    graphhyper hypergraph table --preset issue7 --out runs/hg/issue7

The issue-7 table (:data:`PRESETS`: HGNN, AllSetTransformer and HGNN+ on the seven shipped datasets, 10 seeds, up
to 500 epochs with patience 50, two single-threaded worker processes on a 2-core machine). ED-HNN and UniGCNII are
left out of it for cost: on one core they take 1-17 s per epoch on these datasets (ED-HNN's per-incidence MLPs,
UniGCNII's 32 dropout layers), against 0.02-0.4 s for HGNN.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import dataclasses
import json
import math
import multiprocessing as mp
import statistics
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from graphhyper.experiments.config import RunConfig
from graphhyper.experiments.protocol import config_for

# named bundles of table settings (a setting given explicitly wins over the preset)
PRESETS: dict[str, dict[str, Any]] = {
    "issue7": dict(
        datasets="cora-ca,cora-cc,citeseer-cc,zoo,ntu2012,mushroom,20news",
        models="hgnn,allset-transformer,hgnnp",
        seeds=10,
        epochs=500,
        patience=50,
        threads=1,
        workers=2,
    ),
}
DEFAULTS: dict[str, Any] = dict(
    datasets="cora-ca,cora-cc,citeseer-cc",
    models="hgnn,allset-transformer,ed-hnn",
    seeds=10,
    epochs=300,
    patience=100,
    threads=1,
    workers=1,
)
Task = tuple[str, str, int, RunConfig]  # (dataset, model, seed, config) of one run
FIELDS = ["dataset", "model", "seed", "test_acc", "best_val_acc", "best_epoch", "epochs_run", "seconds", "config"]


def with_preset(preset: str | None, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with every ``None`` among :data:`DEFAULTS`' keys filled from the preset, else the default."""
    bundle = PRESETS.get(preset or "", {})
    return {**given, **{k: bundle.get(k, d) for k, d in DEFAULTS.items() if given.get(k) is None}}


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What every run of a table shares (picklable: worker processes receive it)."""

    epochs: int = 300
    patience: int = 100
    root: str | None = None
    device: str = "cpu"
    progress: bool = False


def run_one(dataset: str, model_name: str, seed: int, cfg: RunConfig, options: RunOptions) -> dict:
    """Train one (dataset, model, seed) run; the CSV row (accuracies in %, ``config`` as JSON)."""
    from graphhyper.experiments.tuning import run_config

    res = run_config(
        dataset,
        cfg,
        seed,
        options.root,
        options.device,
        model_name=model_name,
        epochs=options.epochs,
        patience=options.patience,
        progress=options.progress,
    )
    return {
        "dataset": dataset,
        "model": model_name,
        "seed": seed,
        "test_acc": round(100 * res.test_acc, 4),
        "best_val_acc": round(100 * res.best_val_acc, 4),
        "best_epoch": res.best_epoch,
        "epochs_run": res.epochs_run,
        "seconds": round(res.train_seconds, 2),
        "config": json.dumps(cfg.to_dict()),
    }


def init_worker(threads: int) -> None:
    """Per-process setup: thread count, and no NaN scan of every layer input (the loader validated the
    features and the training loop stops on a non-finite loss)."""
    import torch

    from graphhyper.hypergraph import ops

    torch.set_num_threads(threads)
    ops.set_input_checks(False)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


@contextlib.contextmanager
def worker_settings(threads: int) -> Iterator[None]:
    """:func:`init_worker` for this process, undone on exit (thread count and input checks put back)."""
    import torch

    from graphhyper.hypergraph import ops

    before, checks = torch.get_num_threads(), ops.input_checks()
    try:
        init_worker(threads)
        yield
    finally:
        torch.set_num_threads(before)
        ops.set_input_checks(checks)


def load_done(path: Path) -> list[dict]:
    """The rows already in the table's CSV (none if it does not exist)."""
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
            best_pub = max(card.published, key=lambda r: r["mean"])
            row = {
                "dataset": ds,
                "model": m,
                "n": len(accs),
                "mean": mean,
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "published": None,
                "published_std": None,
                "delta": None,
                "verdict": "no published number",
                "best_published": f"{best_pub['model']} {best_pub['mean']:.2f}",
                "seconds_per_run": statistics.mean(
                    float(r["seconds"]) for r in rows if r["dataset"] == ds and r["model"] == m
                ),
            }
            row.update(_verdict(mean, card.published_for(m)))
            out.append(row)
    return out


def _verdict(mean: float, pub: dict | None) -> dict:
    if pub is None:
        return {}
    p_std = pub.get("std") or 0.0
    return {
        "published": pub["mean"],
        "published_std": pub.get("std"),
        "delta": mean - pub["mean"],
        "verdict": "above" if mean >= pub["mean"] else "within 1 std" if mean >= pub["mean"] - p_std else "below",
    }


def markdown(summary: list[dict]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| dataset | model | ours (mean ± std, n) | published (mean ± std) | Δ | verdict | best published | s/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        pub = (
            "—"
            if r["published"] is None
            else (
                f"{r['published']:.2f} ± {r['published_std']:.2f}"
                if r["published_std"] is not None
                else f"{r['published']:.2f}"
            )
        )
        delta = "—" if r["delta"] is None else f"{r['delta']:+.2f}"
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['mean']:.2f} ± {r['std']:.2f} ({r['n']}) | {pub} | "
            f"{delta} | {r['verdict']} | {r['best_published']} | {r['seconds_per_run']:.0f} |"
        )
    return "\n".join(lines)


def _append(csv_path: Path, row: dict) -> None:
    new = not csv_path.exists()
    with open(csv_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _cost(task: Task) -> float:
    """Rough relative cost of a run for scheduling: incidences plus nodes, times 4 for the attention models."""
    from graphhyper.data import get_card

    stats = get_card(task[0]).statistics
    size = stats.get("nnz", 0) + 2 * stats.get("nodes", 0)  # the self-loops add one incidence per node
    return size * (4 if "allset" in task[1] or "ed-hnn" in task[1] else 1)


def _execute(tasks: list[Task], options: RunOptions, workers: int, threads: int) -> Iterator[dict]:
    """Yield the row of every task ``(dataset, model, seed, cfg)``, in this process or in ``workers`` spawned
    single-purpose processes (each trains one run at a time with ``threads`` threads)."""
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_one(*task, options=options)
        return
    tasks = sorted(tasks, key=_cost, reverse=True)  # longest first: the workers finish together
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker, initargs=(threads,)) as pool:
        futures = [pool.submit(run_one, *task, options=options) for task in tasks]
        for fut in cf.as_completed(futures):
            yield fut.result()


def _same(config_json: str) -> str:
    """A stored config in a form where key order does not matter (rows written with another order still match)."""
    try:
        return json.dumps(json.loads(config_json), sort_keys=True)
    except json.JSONDecodeError:
        return config_json


def run_table(
    datasets: list[str],
    models: list[str],
    *,
    seeds: int = 10,
    out: str | Path = "results/hypergraph_table",
    tuned: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    options: RunOptions = RunOptions(),
    workers: int = 1,
    threads: int = 1,
    fresh: bool = False,
    log: Callable[[str], None] = print,
) -> int:
    """Train the table (resuming from ``<out>.csv``), write ``<out>.md``; 0 if no run ended in NaN, else 1.

    Every (dataset, model) config is built first, so a bad override fails before anything trains. Rows of the
    CSV trained with another config stay there but are neither reused nor summarised. The caller sets up this
    process (threads, input checks: :func:`init_worker`)."""
    configs = {(ds, m): config_for(ds, m, tuned, overrides) for ds in datasets for m in models}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out.with_suffix(".csv"), out.with_suffix(".md")
    if fresh and csv_path.exists():
        csv_path.unlink()
    rows = load_done(csv_path)
    done = {(r["dataset"], r["model"], int(r["seed"]), _same(r["config"])) for r in rows}
    current = {key: _same(json.dumps(cfg.to_dict())) for key, cfg in configs.items()}
    tasks: list[Task] = [
        (ds, m, seed, configs[(ds, m)])
        for ds in datasets
        for m in models
        for seed in range(seeds)
        if (ds, m, seed, current[(ds, m)]) not in done
    ]
    log(
        f"{len(tasks)} runs to train ({len(done)} rows already in {csv_path}); {workers} worker(s) x "
        f"{threads} thread(s), up to {options.epochs} epochs, patience {options.patience}"
    )
    start = time.perf_counter()
    for row in _execute(tasks, options, workers, threads):
        rows.append(row)
        _append(csv_path, row)
        log(
            f"[{time.perf_counter() - start:7.0f}s] {row['dataset']:12s} {row['model']:20s} seed {row['seed']}: "
            f"test {row['test_acc']:.2f} (val {row['best_val_acc']:.2f}, best epoch {row['best_epoch']}, "
            f"{row['seconds']:.0f}s)"
        )
    wall = time.perf_counter() - start
    rows = [r for r in rows if current.get((r["dataset"], r["model"])) == _same(r["config"])]
    table = markdown(summarize(rows, datasets, models))
    footer = (
        f"{len(tasks)} runs trained in {wall:.0f} s wall time ({wall / 60:.1f} min) with {workers} "
        f"worker(s) x {threads} thread(s); {len(rows)} runs in the table"
    )
    md_path.write_text(table + "\n\n" + footer + "\n")
    log(table)
    log(footer)
    return 0 if all(not math.isnan(float(r["test_acc"])) for r in rows) else 1


__all__ = [
    "DEFAULTS",
    "FIELDS",
    "PRESETS",
    "RunOptions",
    "init_worker",
    "load_done",
    "markdown",
    "run_one",
    "run_table",
    "summarize",
    "with_preset",
    "worker_settings",
]
