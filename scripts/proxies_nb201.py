"""Zero-cost proxies vs the NB201 12-epoch table, on NB201 cells built as real modules.

Each sampled cell is built with ``nb201.build(cell)`` (C=16, N=5, CIFAR-10 head) and scored on one synthetic
3x32x32 batch (Gaussian inputs, random labels; synflow / #params / FLOPs are data-free). The GHN proxy builds the
same cell for the digits task (1x8x8 input), predicts every parameter with the bundled GHN and reports held-out
digits accuracy. Spearman and Kendall correlations against ``cifar10-test`` are printed beside the published
200-epoch values (Abdelfattah et al. 2021, all 15,625 cells): the table here is the 12-epoch one.

Per-cell scores are appended to a JSONL cache, so a killed run resumes and new proxies can be added later.

    python scripts/proxies_nb201.py --n 1000 --seed 0 --threads 1            # ~1 h on one busy core
    python scripts/proxies_nb201.py --n 1000 --proxies ghn --ghn ghn-tiny-tiled    # add the GHN column
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np

PUBLISHED_200EP = {
    "synflow": 0.737,
    "jacob_cov": 0.731,
    "snip": 0.596,
    "grad_norm": 0.594,
    "naswot": None,
    "params": None,
    "flops": None,
    "ghn": None,
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000, help="number of sampled cells (seeded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--proxies", default="synflow,jacob_cov,snip,grad_norm,params,flops")
    p.add_argument("--ghn", default="ghn-tiny-tiled", help="bundled GHN name (for the 'ghn' proxy)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cache", default="runs/search/proxies_nb201.jsonl")
    p.add_argument("--report-only", action="store_true", help="only print the table from the cache")
    return p.parse_args(argv)


def load_cache(path: Path) -> dict:
    scores: dict = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                scores.setdefault(rec["row"], {}).update(rec["scores"])
    return scores


def compute(args, table, rows, cache_path: Path, scores: dict) -> None:
    import torch
    from tqdm import tqdm

    from graphhyper.arch.spaces import nb201
    from graphhyper.search import proxies as P

    torch.set_num_threads(args.threads)
    names = [n for n in args.proxies.split(",") if n]
    batch = P.synthetic_batch((3, 32, 32), num_classes=10, batch_size=args.batch_size, seed=args.seed)
    ghn_score = None
    if "ghn" in names:
        from graphhyper.search.objectives import GHNProxy

        ghn_score = GHNProxy.for_task("digits", ghn=args.ghn, seed=args.seed)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_path, "a") as out:
        for row in tqdm(rows, desc="proxies", mininterval=10):
            todo = [n for n in names if n not in scores.get(row, {})]
            if not todo:
                continue
            cell = table.cells[row]
            torch.manual_seed(args.seed)
            rec = {}
            zc = [n for n in todo if n != "ghn"]
            if zc:
                rec.update(P.compute(nb201.build(cell), batch, zc, seed=args.seed))
            if "ghn" in todo:
                rec["ghn"] = ghn_score(nb201.build(cell, in_channels=1))
            scores.setdefault(row, {}).update(rec)
            out.write(json.dumps({"row": row, "cell": table.arch_strs[row], "scores": rec}) + "\n")
            out.flush()


def report(table, rows, scores) -> None:
    from scipy.stats import kendalltau, spearmanr

    test = table.metric("cifar10-test")
    names = sorted({n for r in rows for n in scores.get(r, {})}, key=list(PUBLISHED_200EP).index)
    print(
        f"\nZero-cost proxies vs cifar10-test, {table.fidelity}; NB201 nets C=16 N=5 on a synthetic 3x32x32 "
        "batch (ghn: bundled GHN, digits accuracy with predicted params)"
    )
    print(f"{'proxy':<10} {'cells':>6} {'Spearman':>9} {'Kendall':>8}   published Spearman (200-epoch table)")
    for n in names:
        have = [r for r in rows if n in scores.get(r, {})]
        if len(have) < 3:
            continue
        s = np.array([scores[r][n] for r in have], dtype=float)
        s = np.nan_to_num(s, nan=-np.inf)
        rho, tau = spearmanr(s, test[have])[0], kendalltau(s, test[have])[0]
        pub = PUBLISHED_200EP.get(n)
        print(f"{n:<10} {len(have):>6} {rho:>9.3f} {tau:>8.3f}   {pub if pub is not None else '-'}")


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GRAPHHYPER_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    from graphhyper.search.benchmarks import NB201Table

    table = NB201Table.load()
    rows = random.Random(f"proxies/{args.seed}").sample(range(len(table)), args.n)
    cache_path = Path(args.cache)
    scores = load_cache(cache_path)
    t0 = time.time()
    if not args.report_only:
        compute(args, table, rows, cache_path, scores)
    report(table, rows, scores)
    print(f"({time.time() - t0:.0f} s; cache {cache_path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
