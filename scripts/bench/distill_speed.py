#!/usr/bin/env python
"""Inference speed of a LightHGNN student (MLP on features) against its HGNN teacher (full propagation).

Same input, one process, one thread count, interleaved rounds: a synthetic HSBM hypergraph with ~55,000 nodes
(LightHGNN's scale). Models are untrained: inference cost does not depend on the weights. Every model runs in eval
mode under ``torch.inference_mode``; each round times, back to back:

- the teacher (graphhyper's HGNN) on a hypergraph whose CSR/degree caches are warm (propagation only: the
  teacher at its best), and on a freshly built hypergraph (what serving a new or updated hypergraph costs);
- the student as trained (``build_model("mlp")``, its plain ``forward``), and the same student exported with
  :meth:`InferenceMLP.from_module` (fused oneDNN Linear+ReLU, row blocks that stay in cache) -- the deployed
  LightHGNN. Both compute the same logits (checked). Also the export in bfloat16 (``dtype=torch.bfloat16``),
  reported on its own line; the headline and the target stay float32 against float32.

The medians over rounds give the speed-ups; the headline is the warm teacher against the deployed student.

    python scripts/bench/distill_speed.py            # prints the times and the ratios
"""

from __future__ import annotations

import argparse
import statistics

import torch
from _common import interleaved, machine_line


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=55_000)
    p.add_argument("--edges", type=int, default=110_000)
    p.add_argument("--edge-size", type=float, default=20.0, help="mean hyperedge size")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--hidden", type=int, default=128, help="hidden size of teacher and student")
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds (medians are reported)")
    p.add_argument("--student-calls", type=int, default=5, help="student calls per round (averaged)")
    p.add_argument("--chunk-rows", type=int, default=4096, help="row block of the deployed student")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--target", type=float, default=50.0, help="speed-up the issue asks for (reported, not enforced)")
    args = p.parse_args(argv)
    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(before)


def _run(args) -> int:
    from graphhyper.hypergraph import Hypergraph, hsbm, ops
    from graphhyper.hypergraph.distill import InferenceMLP
    from graphhyper.hypergraph.models import build_model

    hg, x, _ = hsbm(
        args.nodes,
        args.edges,
        num_classes=args.classes,
        feature_dim=args.features,
        mean_edge_size=args.edge_size,
        seed=0,
    )
    hg = hg.add_self_loops()
    index = hg.hyperedge_index.clone()
    x = x.contiguous()
    print(machine_line())
    print(
        f"hypergraph: {hg.num_nodes} nodes, {hg.num_edges} hyperedges (with self-loops), {hg.nnz} incidences; "
        f"features {args.features}, hidden {args.hidden}, {torch.get_num_threads()} thread(s)"
    )
    torch.manual_seed(0)
    teacher = build_model("hgnn", args.features, args.classes, hidden_channels=args.hidden).eval()
    student = build_model("mlp", args.features, args.classes, hidden_channels=args.hidden).eval()
    lean = InferenceMLP.from_module(student, chunk_rows=args.chunk_rows)
    lean16 = InferenceMLP.from_module(student, chunk_rows=args.chunk_rows, dtype=torch.bfloat16)

    def fresh():
        return teacher(x, Hypergraph(hg.num_nodes, hyperedge_index=index, num_edges=hg.num_edges))

    fns = {
        "teacher (warm)": lambda: teacher(x, hg),
        "teacher (fresh)": fresh,
        "student (plain forward)": lambda: student(x),
        "student (InferenceMLP)": lambda: lean(x),
        "student (InferenceMLP bf16)": lambda: lean16(x),
    }
    inner = {name: (args.student_calls if name.startswith("student") else 1) for name in fns}
    checks = ops.input_checks()
    ops.set_input_checks(False)  # the teacher at its best: no NaN scan of its inputs (the student does none)
    try:
        with torch.inference_mode():
            diff = (student(x) - lean(x)).abs().max().item()
            diff16 = ((student(x) - lean16(x).float()).abs().max() / student(x).abs().max()).item()
            times = interleaved(fns, args.rounds, inner)
    finally:
        ops.set_input_checks(checks)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, t in med.items():
        print(f"{name:<28}: median {1e3 * t:9.2f} ms  (min {1e3 * min(times[name]):9.2f}, {args.rounds} rounds)")
    print(
        f"deployed student == plain student: max |diff| {diff:.1e}; bfloat16 copy: max |diff| / max |logit| "
        f"{diff16:.1e}"
    )
    warm, cold = med["teacher (warm)"], med["teacher (fresh)"]
    plain, deployed = med["student (plain forward)"], med["student (InferenceMLP)"]
    print(
        f"speed-up, deployed student: {warm / deployed:.1f}x (warm teacher), {cold / deployed:.1f}x (fresh structure)"
    )
    print(f"speed-up, plain student   : {warm / plain:.1f}x (warm teacher), {cold / plain:.1f}x (fresh structure)")
    print(
        f"speed-up, bfloat16 student: {warm / med['student (InferenceMLP bf16)']:.1f}x (warm teacher; float32 "
        "teacher, check the student's accuracy in bfloat16 before deploying it)"
    )
    round_ratios = [t / s for t, s in zip(times["teacher (warm)"], times["student (InferenceMLP)"])]
    print(f"per-round warm/deployed ratios: {', '.join(f'{r:.0f}' for r in round_ratios)}")
    verdict = "met" if warm / deployed >= args.target else "NOT met"
    print(f"target >= {args.target:.0f}x (warm teacher vs deployed student): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
