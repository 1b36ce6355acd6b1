"""Simulated architecture searches on the NAS-Bench-201 **12-epoch** table (select on cifar10-val, report
cifar10-test), many seeds and query budgets, printed beside the reference figures of ``nas/SOURCES.md``.

Every distinct cell whose cifar10-val is read counts as one query (``TabularBenchmark``); cifar10-test is read
only to report the cell with the best cifar10-val found within each budget. Searchers:

* ``random``, ``evolution`` (regularized evolution, population 10, tournament 3), ``tpe`` (Optuna TPESampler
  defaults), ``optuna-random``;
* ``predictor``: our GNN predictor refitted on the queried cells, querying the best predicted unqueried cells;
  cold start = 10 cells drawn from the top-100 of a zero-cost prior;
* ``predictor-noprior``: the same with a random cold start;
* ``proxy``: evolution warm-started from and steered by the zero-cost prior (population 10, prior pool 100);
  ``proxy-p5``: population 5, pool 50 (chosen on tuning seeds 100-129; it did not transfer to seeds 0-49).

The prior is jacob_cov (Mellor et al.) of each cell built as a reduced NB201 net (C=8, N=2) on ONE synthetic
3x16x16 batch of 16 Gaussian images: it reads no table entry, so it costs no query. It is computed once per
machine (~6 min on one core) and cached.

Results per (searcher, seed) are cached in a JSONL file, so the script resumes and can be split across runs.

    python scripts/search_nb201.py --searchers random,evolution,tpe,predictor,proxy --seeds 50
    python scripts/search_nb201.py --report-only
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

REFERENCE = {  # nas/SOURCES.md, measured on the same 12-epoch file, 50 seeds
    "random": ("random search", "87.11±1.14", "87.73±0.75", "88.04±0.39", "88.24±0.43"),
    "evolution": ("regularized evolution (10, 3)", "87.32±1.13", "88.06±0.65", "88.40±0.47", "88.66±0.35"),
    "optuna-random": ("Optuna 5.0.0 RandomSampler", "87.15±0.79", "87.82±0.47", "88.03±0.33", "88.26±0.35"),
    "tpe": ("Optuna 5.0.0 TPESampler", "87.66±0.74", "88.35±0.53", "88.76±0.33", "88.89±0.25"),
}
LABELS = {
    "random": "random search",
    "evolution": "regularized evolution (10, 3)",
    "tpe": "Optuna TPE (defaults)",
    "optuna-random": "Optuna RandomSampler",
    "predictor": "GNN predictor-guided + jacob_cov prior (ours)",
    "predictor-noprior": "GNN predictor-guided, random start (ours)",
    "proxy": "proxy-guided evolution, jacob_cov (ours)",
    "proxy-p5": "proxy-guided evol., pop 5/pool 50 (tuned, s100-129)",
    "diffusion": "guided diffusion + edits, GP re-ranking, jacob_cov (ours)",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--searchers", default="random,evolution,optuna-random,tpe,predictor,proxy")
    p.add_argument("--seeds", type=int, default=50, help="seeds 0..N-1")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--budgets", default="25,50,100,200")
    p.add_argument("--results", default="runs/search/search_nb201.jsonl")
    p.add_argument("--prior-cache", default="runs/search/nb201_prior.json")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--progress", action="store_true", help="progress bar over seeds")
    return p.parse_args(argv)


def make_searcher(name: str, space, seed: int, prior):
    from graphhyper.search import searchers as S

    if name == "predictor":
        return S.PredictorGuided(space, seed=seed, prior=prior)
    if name == "predictor-noprior":
        return S.PredictorGuided(space, seed=seed)
    if name == "proxy":
        return S.ProxyGuided(space, prior, seed=seed)
    if name == "diffusion":
        from graphhyper.search.generation import DiffusionSearcher

        return DiffusionSearcher(space, seed=seed, prior=prior)
    if name == "proxy-p5":
        return S.ProxyGuided(space, prior, seed=seed, population=5, prior_pool=50)
    if name not in S.SEARCHERS:
        raise SystemExit(f"unknown searcher {name!r}; choose from {sorted(LABELS)}")
    return S.SEARCHERS[name](space, seed=seed)


def load_results(path: Path) -> dict:
    out: dict = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                out[(r["searcher"], r["seed"])] = r
    return out


def run_all(args, budgets) -> None:
    import torch
    from tqdm import tqdm

    from graphhyper.search import benchmarks, proxies, searchers, space

    torch.set_num_threads(args.threads)
    table = benchmarks.NB201Table.load()
    sp = space.nb201_space()
    names = [s for s in args.searchers.split(",") if s]
    needs_prior = {"predictor", "proxy", "proxy-p5", "diffusion"} & set(names)
    prior = proxies.nb201_prior(args.prior_cache) if needs_prior else None
    path = Path(args.results)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = load_results(path)
    for name in names:
        seeds = [s for s in range(args.first_seed, args.first_seed + args.seeds) if (name, s) not in done]
        for seed in tqdm(seeds, desc=name, disable=not args.progress):
            t0 = time.time()
            bench = table.benchmark()
            searchers.simulate(make_searcher(name, sp, seed, prior), bench, max(budgets))
            rec = {
                "searcher": name,
                "seed": seed,
                "queries": bench.num_queries,
                "seconds": round(time.time() - t0, 1),
                "test": {str(b): v for b, v in bench.trajectory(budgets).items()},
                "fidelity": table.fidelity,
            }
            with open(path, "a") as f:
                f.write(json.dumps(rec) + "\n")


def report(args, budgets) -> None:
    from graphhyper.search import benchmarks

    table = benchmarks.NB201Table.load()
    res = load_results(Path(args.results))
    print(
        f"\nNAS-Bench-201 CIFAR-10, {table.fidelity}: select on cifar10-val, report cifar10-test (%), "
        "mean±std over seeds"
    )
    print(f"oracle (best-val cell): {table.oracle():.2f}; best test overall: {table.metric('cifar10-test').max():.2f}")
    head = f"{'searcher':<48} {'seeds':>5} " + " ".join(f"{b:>12}" for b in budgets)
    print(head)
    print("-" * len(head))
    names = list(dict.fromkeys([n for n in args.searchers.split(",") if n] + sorted({k[0] for k in res})))
    for name in names:
        runs = [r for (n, _), r in res.items() if n == name]
        if not runs:
            continue
        cells = []
        for b in budgets:
            v = np.array([r["test"][str(b)] for r in runs if str(b) in r["test"]])
            cells.append(f"{v.mean():.2f}±{v.std():.2f}" if len(v) else "-")
        print(f"{LABELS.get(name, name):<48} {len(runs):>5} " + " ".join(f"{c:>12}" for c in cells))
        if name in REFERENCE:
            ref = REFERENCE[name]
            print(f"{'  reference: ' + ref[0]:<48} {50:>5} " + " ".join(f"{c:>12}" for c in ref[1:]))
    secs = [r["seconds"] for r in res.values()]
    if secs:
        print(f"(results: {args.results}; {sum(secs):.0f} s of search in total)")


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GRAPHHYPER_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    budgets = [int(b) for b in args.budgets.split(",")]
    if not args.report_only:
        run_all(args, budgets)
    report(args, budgets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
