"""Peak memory of loading a published GHN checkpoint: the published pickle, its conversion, the converted file.

    python scripts/bench/ghn_load_memory.py [--layout ghn3xlm16] [--dir /tmp/ghn-mem] [--keep]

Writes a synthetic checkpoint in the published format (``joblib.dump`` of a state dict with the real names and
shapes of ``--layout``, from tests/ghn/fixtures/ghn_reference_shapes.json, random values), then runs each step in a
fresh process and prints its peak resident memory above the process's baseline, divided by the weights' size:

* ``load_published``: the allow-list unpickler on the joblib file (whole state dict in memory);
* ``convert``: load_published + writing safetensors + JSON (once per published file);
* ``load_converted``: the memory-mapped safetensors, every tensor read once (sum). The issue's target: <= 1.3x.

Peak = ``VmHWM`` after resetting it through /proc/self/clear_refs (Linux), baseline = ``VmRSS`` just before.
ghn3xlm16 (654M parameters) needs ~2.6 GB on disk twice and ~6 GB of RAM while the pickle is written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "ghn" / "fixtures" / "ghn_reference_shapes.json"

_STEP = r"""
import json, sys, time, torch
torch.set_num_threads(1)
from graphhyper.ghn.reference import convert, load_converted, load_published

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

step, src, out = sys.argv[1:4]
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS")
t0 = time.perf_counter()
if step == "load_published":
    sd = load_published(src).state_dict
    total = sum(float(v.sum()) for v in sd.values())
elif step == "convert":
    convert(src, out, overwrite=True)
    total = 0.0
else:
    sd = load_converted(out).state_dict
    total = sum(float(v.sum()) for v in sd.values())
print(json.dumps({"base": base, "peak": status("VmHWM"), "seconds": time.perf_counter() - t0, "sum": total}))
"""


def write_published(layout: dict, path: Path, seed: int = 0) -> int:
    """``joblib.dump`` of a random state dict with ``layout``'s names and shapes; returns the weights' bytes."""
    import joblib
    import torch

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=g) for k, shape in layout["tensors"].items()}
    joblib.dump(state, path)
    return sum(v.numel() * v.element_size() for v in state.values())


def run_step(step: str, src: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-c", _STEP, step, str(src), str(out)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode:
        raise SystemExit(f"{step} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", default="ghn3xlm16", help="a name in ghn_reference_shapes.json")
    parser.add_argument("--dir", default="/tmp/ghn-load-memory", help="where the synthetic files go")
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    args = parser.parse_args()
    layout = json.loads(FIXTURE.read_text())[args.layout]
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    src, out = work / f"{args.layout}.pt", work / f"{args.layout}-converted"
    t0 = time.perf_counter()
    weights = sum(math.prod(s) * 4 for s in layout["tensors"].values())
    if not src.is_file():
        weights = write_published(layout, src)
    print(
        f"{args.layout}: {len(layout['tensors'])} tensors, {weights / 2**30:.3f} GiB of weights, "
        f"published-format file {src.stat().st_size / 2**30:.3f} GiB (ready in {time.perf_counter() - t0:.0f} s)"
    )
    sums = {}
    for step in ("load_published", "convert", "load_converted"):
        r = run_step(step, src, out)
        extra = r["peak"] - r["base"]
        sums[step] = r["sum"]
        print(
            f"{step:15s} peak RSS {r['peak'] / 2**30:6.3f} GiB (baseline {r['base'] / 2**30:.3f}), above baseline "
            f"{extra / 2**30:6.3f} GiB = {extra / weights:.3f} x weights, {r['seconds']:.1f} s"
        )
    print(f"same values after conversion: {sums['load_published'] == sums['load_converted']}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
