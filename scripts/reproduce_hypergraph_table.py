#!/usr/bin/env python
"""Reproduce the hypergraph node-classification table (AllSet / ED-HNN protocol) and compare with the papers.

Protocol: random 50/25/25 train/val/test split per seed, a self-loop hyperedge for every node, full-batch Adam,
early stopping on validation accuracy; the reported number is the test accuracy at the best validation epoch.
Each finished run is appended to ``<out>.csv`` at once, so an interrupted table resumes where it stopped.

    python scripts/reproduce_hypergraph_table.py --datasets cora-ca,cora-cc,citeseer-cc \
        --models hgnn,allset-transformer,ed-hnn --seeds 10 --out results/hypergraph_table

The same as ``graphhyper hypergraph table``; the logic lives in :mod:`graphhyper.experiments.table`.

Hyper-parameters: ``PROTOCOL`` (per model) and ``DATASET_PROTOCOL`` (per dataset, from the reference code) in
:mod:`graphhyper.experiments.protocol`, overridden by ``--tuned DIR`` (JSON files written by
``scripts/tune_hypergraph.py``, one per dataset/model,
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
import os
import sys

from graphhyper.cli.hypergraph import add_table_arguments, run_table, table_settings
from graphhyper.errors import GraphhyperError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_table_arguments(p)
    return table_settings(p.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run_table(args)
    except GraphhyperError as exc:
        print(f"reproduce_hypergraph_table: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "0")
    sys.exit(main())
