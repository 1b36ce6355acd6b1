"""Scale: the bundled low-rank GHN predicts every parameter of GPT-2 Large (774 M) on this CPU.

    python scripts/bench/ghn_gpt2_large.py [--ckpt ghn-tiny-tiled] [--threads 2] [--layers 36 --width 1280]

GPT-2 Large is built from a ``transformers`` config on the meta device (no download, no memory), traced, and
all its parameters are predicted. Printed: time (graph construction and prediction), peak resident memory of
the process (reset before the prediction via /proc/self/clear_refs), the GHN's own parameter count beside the
target's, and whether the peak stayed under 3x the target's own size.
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import machine_line, peak_rss_gb, reset_peak_rss, rss_gb


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", default="ghn-tiny-tiled")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=36)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--heads", type=int, default=20)
    p.add_argument("--seq", type=int, default=16)
    a = p.parse_args(argv)

    import torch
    import transformers

    from graphhyper.arch import meta_init, trace
    from graphhyper.ghn import from_pretrained

    torch.set_num_threads(a.threads)
    ghn = from_pretrained(a.ckpt)
    cfg = transformers.GPT2Config(n_layer=a.layers, n_embd=a.width, n_head=a.heads)
    with meta_init():
        model = transformers.GPT2LMHeadModel(cfg)
    n_target = sum(p.numel() for p in model.parameters())
    size_gb = n_target * 4 / 1e9
    t0 = time.perf_counter()
    graph = trace(model, example_inputs={"input_ids": torch.zeros(1, a.seq, dtype=torch.long)})
    t_graph = time.perf_counter() - t0
    base = rss_gb()
    reset_peak_rss()
    t0 = time.perf_counter()
    with torch.no_grad():
        pred = ghn.predict(graph)
    t_pred = time.perf_counter() - t0
    peak = peak_rss_gb()
    expected = dict(model.named_parameters())
    shapes_ok = all(tuple(pred[k].shape) == tuple(v.shape) for k, v in expected.items() if k in pred)
    finite = all(torch.isfinite(v).all() for v in pred.values())
    n_pred = sum(v.numel() for v in pred.values())
    print(machine_line())
    print(
        f"GPT-2 Large ({a.layers} layers, width {a.width}): {n_target / 1e6:.1f} M parameters "
        f"({size_gb:.2f} GB fp32); graph {len(graph.nodes)} nodes"
    )
    print(
        f"GHN {a.ckpt}: {ghn.num_parameters() / 1e6:.3f} M parameters "
        f"(1/{n_target / ghn.num_parameters():.0f} of the target)"
    )
    print(f"graph construction (trace on meta): {t_graph:.2f} s")
    print(f"prediction of all parameters:      {t_pred:.2f} s  ({n_pred / 1e6:.1f} M values)")
    print(
        f"peak RSS during prediction: {peak:.2f} GB (process before: {base:.2f} GB) = "
        f"{peak / size_gb:.2f}x the target's size; under 3x: {peak < 3 * size_gb}"
    )
    print(
        f"unpredicted: {pred.unpredicted or 'none'}; shapes ok: {shapes_ok}; all finite: {finite}; "
        f"unknown ops: {len(pred.unknown_ops)}"
    )
    return 0 if (not pred.unpredicted and shapes_ok and finite) else 1


if __name__ == "__main__":
    sys.exit(main())
