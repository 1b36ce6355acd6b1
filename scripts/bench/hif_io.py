#!/usr/bin/env python
"""HIF (Hypergraph Interchange Format) reading and writing speed, beside XGI's reader and writer of the same document.

One synthetic HSBM hypergraph (weights on the hyperedges), one process, one thread, interleaved rounds; medians:

- graphhyper: ``to_hif`` (Hypergraph -> dict), ``from_hif`` (dict -> Hypergraph, every record checked), and the
  schema validation (``validate_hif``, needs jsonschema) on its own line;
- XGI (when installed): ``xgi.from_hif_dict`` and ``xgi.to_hif_dict`` on the same document;
- ``json.dumps`` / ``json.loads`` of the document, the floor either library pays for a file.

    python scripts/bench/hif_io.py                          # ~50,000 incidences
    python scripts/bench/hif_io.py --nodes 100000 --edges 200000   # ~1,000,000 incidences
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from typing import Any, Callable

import torch
from _common import machine_line


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5_000)
    p.add_argument("--edges", type=int, default=10_000)
    p.add_argument("--edge-size", type=float, default=5.0, help="mean hyperedge size")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from graphhyper.hypergraph import Hypergraph, hif, hsbm

    hg, _, _ = hsbm(args.nodes, args.edges, num_classes=4, feature_dim=1, mean_edge_size=args.edge_size, seed=0)
    hg = Hypergraph(hg.num_nodes, hyperedge_index=hg.hyperedge_index, hyperedge_weight=torch.rand(hg.num_edges) + 0.5)
    doc = hif.to_hif(hg)
    text = json.dumps(doc)
    print(machine_line())
    print(f"hypergraph: {hg.num_nodes} nodes, {hg.num_edges} hyperedges, {hg.nnz} incidences; {len(text) / 1e6:.1f} MB")
    jobs: dict[str, Callable[[], Any]] = {
        "graphhyper to_hif": lambda: hif.to_hif(hg),
        "graphhyper from_hif": lambda: hif.from_hif(doc),
        "json.dumps": lambda: json.dumps(doc),
        "json.loads": lambda: json.loads(text),
    }
    if importlib.util.find_spec("xgi") is not None:
        import xgi

        h = xgi.from_hif_dict(doc)
        jobs["xgi from_hif_dict"] = lambda: xgi.from_hif_dict(doc)
        jobs["xgi to_hif_dict"] = lambda: xgi.to_hif_dict(h)
    if importlib.util.find_spec("jsonschema") is not None:
        jobs["graphhyper validate_hif"] = lambda: hif.validate_hif(doc)
    assert hif.from_hif(json.loads(text)) == hg
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.rounds):
        for name, job in jobs.items():
            t0 = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, t in med.items():
        print(f"{name:26s} {t * 1e3:9.1f} ms  ({hg.nnz / t / 1e6:.2f} M incidences/s)")
    if "xgi from_hif_dict" in med:
        print(
            f"read:  xgi / graphhyper = {med['xgi from_hif_dict'] / med['graphhyper from_hif']:.2f}x; "
            f"write: xgi / graphhyper = {med['xgi to_hif_dict'] / med['graphhyper to_hif']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
