#!/usr/bin/env python
"""Tune a hypergraph model with Optuna on **validation accuracy only**, then evaluate the chosen config.

The same as ``graphhyper hypergraph tune``; the logic lives in :mod:`graphhyper.experiments.tuning`.

Tuning: each trial trains on ``--tune-seeds`` random 50/25/25 splits (seeds 1000, 1001, ...: disjoint from the
evaluation seeds 0..9) and scores the mean best validation accuracy; test accuracy is never computed. Besides the
model's hyper-parameters the search covers the optimiser (lr, weight decay), label smoothing and the feature
preprocessing (raw or row-normalised). ``--fix key=value`` pins any of them. The best configuration is written to
``<out>/<dataset>__<model>.json``.

Evaluation (``--evaluate CONFIG.json ...``): trains the config on the split seeds ``0..--seeds-1`` with the
protocol of ``scripts/reproduce_hypergraph_table.py`` (self-loop hyperedge per node, early stopping on validation,
test accuracy at the best validation epoch) and prints mean ± std; ``--csv`` appends the per-seed rows.

    python scripts/tune_hypergraph.py --dataset cora-cc --model hgnn --trials 40 --out results/tuned
    python scripts/tune_hypergraph.py --evaluate configs/hypergraph/tuned/cora-cc.json --seeds 10
"""

from __future__ import annotations

import argparse
import sys

from graphhyper.cli.hypergraph import add_tune_arguments, run_tune
from graphhyper.errors import GraphhyperError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_tune_arguments(p)
    args = p.parse_args(argv)
    try:
        return run_tune(args)
    except GraphhyperError as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
