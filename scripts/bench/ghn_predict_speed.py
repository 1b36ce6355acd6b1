"""GHN prediction speed vs torchvision's random init, same models, same process (CPU).

    python scripts/bench/ghn_predict_speed.py [--ckpt ghn-tiny-tiled] [--threads 2] [--repeat 5] [--all]

ResNet-50: the GHN path is "build on meta + trace (graph construction) + predict every parameter", the
reference is ``torchvision.models.resnet50()`` (CPU tensors + torchvision's own random init). Medians of
``--repeat`` runs after one warm-up run, and the peak resident memory of each path (reset via
/proc/self/clear_refs before each). ``--all`` does the same once for every torchvision classification model
and prints the totals.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _common import machine_line, peak_rss_gb, reset_peak_rss


def ghn_path(ghn, tv, name: str):
    import torch

    from graphhyper.arch import meta_init, trace

    with meta_init():
        model = tv.models.get_model(name)
    size = 299 if name.startswith("inception") else 224
    graph = trace(model, input_shape=(1, 3, size, size))
    with torch.no_grad():
        pred = ghn.predict(graph)
    return pred


def random_path(tv, name: str):
    return tv.models.get_model(name)


def timed(fn, repeat: int):
    fn()  # warm-up
    times, peaks = [], []
    for _ in range(repeat):
        reset_peak_rss()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        peaks.append(peak_rss_gb())
        del out
    return statistics.median(times), max(peaks)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", default="ghn-tiny-tiled")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--model", default="resnet50")
    p.add_argument("--all", action="store_true", help="also time the whole torchvision classification set")
    a = p.parse_args(argv)

    import torch
    import torchvision as tv

    from graphhyper.ghn import from_pretrained

    torch.set_num_threads(a.threads)
    ghn = from_pretrained(a.ckpt)
    t_ghn, m_ghn = timed(lambda: ghn_path(ghn, tv, a.model), a.repeat)
    t_rnd, m_rnd = timed(lambda: random_path(tv, a.model), a.repeat)
    print(machine_line())
    print(f"{a.model} ({a.threads} threads, median of {a.repeat}):")
    print(f"  GHN {a.ckpt} (trace + predict all parameters): {t_ghn:.3f} s, peak RSS {m_ghn:.2f} GB")
    print(f"  torchvision random init:                      {t_rnd:.3f} s, peak RSS {m_rnd:.2f} GB")
    print(f"  ratio GHN / random init: {t_ghn / t_rnd:.2f}x (target <= 1.5x)")
    if a.all:
        names = tv.models.list_models(module=tv.models)
        tot_g = tot_r = 0.0
        for name in names:
            reset_peak_rss()
            t0 = time.perf_counter()
            pred = ghn_path(ghn, tv, name)
            tg = time.perf_counter() - t0
            pg = peak_rss_gb()
            del pred
            reset_peak_rss()
            t0 = time.perf_counter()
            m = random_path(tv, name)
            tr = time.perf_counter() - t0
            pr = peak_rss_gb()
            del m
            tot_g, tot_r = tot_g + tg, tot_r + tr
            print(f"  {name:24s} GHN {tg:7.2f} s ({pg:5.2f} GB)   random init {tr:7.2f} s ({pr:5.2f} GB)", flush=True)
        print(
            f"all {len(names)} torchvision classification models: GHN {tot_g:.1f} s, random init {tot_r:.1f} s, "
            f"ratio {tot_g / tot_r:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
