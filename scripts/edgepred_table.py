"""Hyperedge-prediction table: datasets x negative-sampling strategies x methods x seeds, AUROC and AP.

Each run appends one JSON line to ``--out`` (resumable: finished runs are skipped); ``--markdown`` prints the table
(mean ± std over seeds of the test metrics, chosen by validation AUROC early stopping only) from that file.

    python scripts/edgepred_table.py --out edgepred.jsonl            # run what is missing
    python scripts/edgepred_table.py --out edgepred.jsonl --markdown # print the table
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from graphhyper.errors import GraphhyperError
from graphhyper.experiments.edgepred import METHODS, EdgePredSettings, run_edge_prediction
from graphhyper.hypergraph.edgepred import POOLS, STRATEGIES

DATASETS = ("cora-ca", "citeseer-cc", "cora-cc", "20news")


def _done(path: Path) -> dict[tuple, dict]:
    rows = {}
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            rows[(r["dataset"], r["negatives"], r["method"], r["seed"])] = r
    return rows


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    done = _done(args.out)
    settings = EdgePredSettings(epochs=args.epochs, patience=args.patience, pool=args.pool)
    for seed in args.seeds:  # seed-major: a table stopped early has every cell at the same number of seeds
        for d in args.datasets:
            for s in args.strategies:
                for m in args.methods:
                    if (d, s, m, seed) in done:
                        continue
                    start = time.perf_counter()
                    try:
                        row = run_edge_prediction(d, m, s, seed, settings)
                    except GraphhyperError as exc:  # e.g. no clique negative exists on this data
                        row = {"dataset": d, "method": m, "negatives": s, "seed": seed, "error": str(exc)}
                    row["wall_seconds"] = time.perf_counter() - start
                    with args.out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(
                        d,
                        s,
                        m,
                        seed,
                        row.get("test_auroc", row.get("error")),
                        f"{row['wall_seconds']:.1f}s",
                        flush=True,
                    )


def _cell(rows: list[dict], key: str) -> str:
    """``mean ± std`` over the seeds that ran (their count when fewer than three); why there is none otherwise."""
    vals = [100 * r[key] for r in rows if key in r]
    if not vals:
        return "no negatives" if any("error" in r for r in rows) else "not run"
    if len(vals) == 1:
        return f"{vals[0]:.1f} (1 seed)"
    text = f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals):.1f}"
    return text if len(vals) >= 3 else f"{text} ({len(vals)} seeds)"


def markdown(args: argparse.Namespace) -> None:
    done = list(_done(args.out).values())
    print("| dataset | negatives | " + " | ".join(f"{m} AUROC | {m} AP" for m in args.methods) + " |")
    print("|---|---|" + "---|---|" * len(args.methods))
    for d in args.datasets:
        for s in args.strategies:
            cells = []
            for m in args.methods:
                rows = [r for r in done if (r["dataset"], r["negatives"], r["method"]) == (d, s, m)]
                cells += [_cell(rows, "test_auroc"), _cell(rows, "test_ap")]
            print(f"| {d} | {s} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="JSON-lines file of the runs (appended to)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=EdgePredSettings.epochs)
    p.add_argument("--patience", type=int, default=EdgePredSettings.patience)
    p.add_argument("--pool", default=EdgePredSettings.pool, choices=POOLS, help="set pooling of the scorer")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--markdown", action="store_true", help="print the table from --out instead of running")
    args = p.parse_args(argv)
    markdown(args) if args.markdown else run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
