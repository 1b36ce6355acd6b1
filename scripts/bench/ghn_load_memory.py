"""Peak memory of loading a published GHN checkpoint: the published pickle, its conversion, the converted file.

    python scripts/bench/ghn_load_memory.py [--layout ghn3xlm16] [--dir /tmp/ghn-load-memory] [--keep]
    python scripts/bench/ghn_load_memory.py --layout ghn3xlm16 --converted-only

Writes a synthetic checkpoint in the published format (``joblib.dump`` of a state dict with the real names and
shapes of ``--layout``, from tests/ghn/fixtures/ghn_reference_shapes.json, random values), then runs each step in a
fresh process (this script with ``--step``) and prints its peak resident memory above the process's baseline,
divided by the weights' size:

* ``load_published``: the allow-list unpickler on the joblib file (whole state dict in memory);
* ``convert``: load_published + writing safetensors + JSON (once per published file);
* ``load_converted``: the memory-mapped safetensors, every tensor read once (summed). The issue's target: <= 1.3x.

Peak = ``VmHWM`` after resetting it (``_common.reset_peak_rss``), baseline = ``VmRSS`` just before the step.
Writing the ghn3xlm16 pickle (654M parameters) takes ~2.6 GB on disk twice and ~6 GB of RAM. ``--converted-only``
skips the pickle: it streams a converted checkpoint (safetensors + JSON, random values) to disk in small chunks and
measures ``load_converted`` alone, so the XL layout runs on a machine with little free RAM.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from _common import machine_line, peak_rss_gb, reset_peak_rss, rss_gb

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "ghn" / "fixtures" / "ghn_reference_shapes.json"
STEPS = ("load_published", "convert", "load_converted")


def step(name: str, src: Path, out: Path) -> dict:
    """One step in this process; returns baseline and peak RSS (GB), seconds and the sum of every weight."""
    from graphhyper.ghn.reference.published import convert, load_converted, load_published

    torch.set_num_threads(1)
    reset_peak_rss()
    base, t0, total = rss_gb(), time.perf_counter(), 0.0
    if name == "load_published":
        total = sum(float(v.sum()) for v in load_published(src).state_dict.values())
    elif name == "convert":
        convert(src, out, overwrite=True)
    else:
        total = sum(float(v.sum()) for v in load_converted(out).state_dict.values())
    return {"base": base, "peak": peak_rss_gb(), "seconds": time.perf_counter() - t0, "sum": total}


def write_published(layout: dict, path: Path, seed: int = 0) -> None:
    """``joblib.dump`` of a random state dict with ``layout``'s names and shapes."""
    import joblib

    g = torch.Generator().manual_seed(seed)
    joblib.dump({k: torch.randn(shape, generator=g) for k, shape in layout["tensors"].items()}, path)


def write_converted(layout: dict, base: Path, seed: int = 0) -> None:
    """``base.safetensors`` + ``base.json`` as ``convert`` writes them, streamed (no tensor held whole)."""
    from graphhyper.ghn.reference import published as pub

    g = torch.Generator().manual_seed(seed)
    header, offset = {}, 0
    for name, shape in sorted(layout["tensors"].items()):
        nbytes = math.prod(shape) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    doc = {"format": pub.FORMAT, "format_version": pub.FORMAT_VERSION, "family": "ghn3", "config": None}
    doc["source"] = {"name": None, "file": "synthetic", "url": None, "sha256": "0" * 64}
    doc["tensors"] = {k: {"shape": v["shape"], "dtype": "F32"} for k, v in header.items()}
    header["__metadata__"] = pub._header_meta(doc)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(base.with_suffix(".safetensors"), "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for name in sorted(layout["tensors"]):
            left = math.prod(layout["tensors"][name])
            while left:
                n = min(left, 1 << 24)
                f.write(torch.randn(n, generator=g).numpy().tobytes())
                left -= n
    base.with_suffix(".json").write_text(json.dumps(doc))


def run(name: str, src: Path, out: Path, weights: int) -> dict:
    cmd = [sys.executable, __file__, "--step", name, "--src", str(src), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-2000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    extra = r["peak"] - r["base"]
    print(
        f"{name:15s} peak RSS {r['peak']:6.3f} GB (baseline {r['base']:.3f}), above baseline {extra:6.3f} GB "
        f"= {extra * 1e9 / weights:.3f} x weights, {r['seconds']:.1f} s"
    )
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", default="ghn3xlm16", help="a name in ghn_reference_shapes.json")
    parser.add_argument("--dir", default="/tmp/ghn-load-memory", help="where the synthetic files go")
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    parser.add_argument("--converted-only", action="store_true", help="stream a converted file, measure its load")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # one step, in this process
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, Path(args.src), Path(args.out))))
        return
    torch.set_num_threads(1)
    layout = json.loads(FIXTURE.read_text())[args.layout]
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    src, out = work / f"{args.layout}.pt", work / f"{args.layout}-converted"
    weights = sum(math.prod(s) * 4 for s in layout["tensors"].values())
    print(machine_line())
    t0 = time.perf_counter()
    if args.converted_only:
        write_converted(layout, out)
    elif not src.is_file():
        write_published(layout, src)
    print(
        f"{args.layout}: {len(layout['tensors'])} tensors, {weights / 1e9:.3f} GB of weights "
        f"(files written in {time.perf_counter() - t0:.0f} s)"
    )
    results = {name: run(name, src, out, weights) for name in (STEPS[2:] if args.converted_only else STEPS)}
    if not args.converted_only:
        print(f"same values after conversion: {results['load_published']['sum'] == results['load_converted']['sum']}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
