"""Time to trace every torchvision classification model into an ArchGraph, against building the models.

For each model of ``torchvision.models.list_models(module=torchvision.models)`` the script

1. constructs it normally (CPU, random init) -- the reference cost every user pays anyway;
2. traces it with :func:`graphhyper.arch.trace` (meta tensors: no activations) and records the trace time, then
   traces it again under tracemalloc (untimed) for the Python heap peak;
3. optionally (``--forward``) runs one real forward pass at the same input size -- what graph builders that walk
   autograd after a real forward (ghn3 / ppuda style) must pay at least.

and prints per-model rows, totals, the peak memory and the ratio trace / construction.

Usage::

    python scripts/bench/trace_speed.py [--threads 2] [--limit N] [--forward]
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
import warnings

from _common import machine_line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N models (0: all)")
    parser.add_argument("--forward", action="store_true", help="also time one real forward pass per model")
    parser.add_argument("--quiet", action="store_true", help="totals only")
    args = parser.parse_args()

    import torch
    import torchvision

    from graphhyper.arch import trace

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    names = torchvision.models.list_models(module=torchvision.models)
    if args.limit:
        names = names[: args.limit]
    t_build = t_trace = t_fwd = cpu_build = cpu_trace = 0.0
    heap_peak = 0
    activation_bytes = 0
    nodes = 0
    for name in names:
        size = 299 if name.startswith("inception") else 224
        c0, t0 = time.process_time(), time.perf_counter()
        model = torchvision.models.get_model(name)
        c1, t1 = time.process_time(), time.perf_counter()
        graph = trace(model, input_shape=(1, 3, size, size), name=name)
        c2, t2 = time.process_time(), time.perf_counter()
        cpu_build += c1 - c0
        cpu_trace += c2 - c1
        tracemalloc.start()  # second, untimed trace: tracemalloc slows allocation-heavy Python code down
        trace(model, input_shape=(1, 3, size, size), name=name)
        heap_peak = max(heap_peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        fwd = 0.0
        if args.forward:
            model.eval()
            with torch.no_grad():
                t3 = time.perf_counter()
                model(torch.randn(1, 3, size, size))
                fwd = time.perf_counter() - t3
        assert not graph.unmapped_parameters() and not graph.unknown_ops(), name
        t_build += t1 - t0
        t_trace += t2 - t1
        t_fwd += fwd
        nodes += len(graph.nodes)
        activation_bytes += sum(4 * _numel(n.out_shape) for n in graph.nodes if n.out_shape)
        if not args.quiet:
            print(
                f"{name:28s} build {t1 - t0:7.3f}s  trace {t2 - t1:6.3f}s  nodes {len(graph.nodes):5d}"
                + (f"  forward {fwd:6.3f}s" if args.forward else ""),
                flush=True,
            )
        del model, graph
        gc.collect()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n" + machine_line())
    print(f"models: {len(names)}   threads: {args.threads}   graph nodes: {nodes}")
    print(f"construct (CPU, random init): {t_build:8.2f} s wall  {cpu_build:8.2f} s CPU")
    print(
        f"trace (graphhyper, meta):     {t_trace:8.2f} s wall  {cpu_trace:8.2f} s CPU   "
        f"ratio trace/construct = {t_trace / t_build:.3f}x wall, {cpu_trace / cpu_build:.3f}x CPU"
    )
    if args.forward:
        print(f"one real forward (CPU, 1 image): {t_fwd:8.2f} s   ratio trace/forward = {t_trace / t_fwd:.3f}x")
    print(f"peak Python heap while tracing (tracemalloc): {heap_peak / 2**20:.1f} MiB")
    print(
        f"activations a real forward would hold (sum over nodes, fp32, batch 1): {activation_bytes / 2**30:.2f} GiB"
        f" -- allocated by the trace: 0 (meta tensors)"
    )
    print(f"process peak RSS (includes the constructed models): {rss:.0f} MiB")


def _numel(shape) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


if __name__ == "__main__":
    main()
