"""Real multi-objective architecture search over the DARTS space on scikit-learn digits (8x8).

Objectives: accuracy on held-out digits with every parameter predicted by the bundled GHN (no training;
``--objective train`` trains one epoch instead) — maximised; parameter count — minimised. Optuna's NSGA-II
sampler, SQLite storage (resumable: run it again to add trials), duplicates by structural hash evaluated once.
Writes ``<out>/pareto.png`` and ``<out>/history.png``; ``optuna-dashboard sqlite:///<out>/search.db`` opens the
same storage.

    python scripts/search_darts_digits.py --n-trials 40 --out runs/search/darts
    python scripts/search_darts_digits.py --n-trials 40 --max-params 50000     # with a constraint
"""

from __future__ import annotations

import sys

from graphhyper.cli import main

if __name__ == "__main__":
    sys.exit(main(["search", "darts", *sys.argv[1:]]))
