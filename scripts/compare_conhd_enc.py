"""Our CoNHD on Stack-Biology with the settings of the authors' ENC script, beside the oracle's numbers.

Trains ``build_enc_model("conhd", layer_norm=False)`` (the authors' model: no LayerNorm, shared weights, UNP
blocks, co-representation 128) with :func:`graphhyper.hypergraph.enc.train_enc_minibatch` at its defaults (batch 64
hyperedges, 40 sampled hyperedges per node, Adam lr 1e-4 eps 1e-4 weight decay 1e-4, gamma 0.99, clip 1, trained
node features, validation every 5 epochs), writes a JSON (validation curve, test F1 at the best validation epoch,
seconds per epoch, machine line) and, given the oracle's JSON (``scripts/oracle_conhd_enc.py``), prints both.

    PYTHONPATH=$PWD GRAPHHYPER_DATA=/work/shared/data nice -n 19 python scripts/compare_conhd_enc.py \\
        --features /tmp/conhd_oracle/features.npy --epochs 10 --seed 0 --out ours.json \\
        --oracle tests/hypergraph/fixtures/conhd_enc_oracle_stack_biology.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from _common import machine_line  # noqa: E402

from graphhyper.data import load_enc_dataset  # noqa: E402
from graphhyper.hypergraph import enc  # noqa: E402
from graphhyper.hypergraph.train import set_seed  # noqa: E402


def run_ours(features: Path | None, epochs: int, seed: int) -> dict:
    ds = load_enc_dataset("stack-biology")
    task = enc.prepare_enc(ds)
    if features is not None:
        task = dataclasses.replace(task, x=torch.from_numpy(np.load(features, allow_pickle=False)).float())
    set_seed(seed)
    model = enc.build_enc_model("conhd", task.x.shape[1], task.num_classes, layer_norm=False)
    res = enc.train_enc_minibatch(model, task, epochs=epochs, seed=seed, progress=False)
    curve = [{"epoch": r["epoch"] + 1, "val_micro": r["val_micro"], "val_macro": r["val_macro"]} for r in res.history]
    return {
        "val_curve": curve,
        "best_epoch": res.best_epoch + 1,
        "test_micro_f1": res.test_micro_f1,
        "test_macro_f1": res.test_macro_f1,
        "train_seconds_per_epoch": res.epoch_seconds,
        "cpu_seconds": time.process_time(),
        "epochs": epochs,
        "seed": seed,
        "features": "file" if features is not None else "spectral",
        "machine": machine_line(),
    }


def table(ours: dict, oracle: dict) -> str:
    """A markdown side-by-side: validation curve (1-based epochs), test F1 at the best validation epoch."""
    rows = ["| | " + " | ".join(f"val micro/macro ep {c['epoch']}" for c in oracle["val_curve"]) + " | best ep | "
            "test micro-F1 | test macro-F1 | s/epoch (median) |"]  # fmt: skip
    rows.append("|" + "---|" * (len(oracle["val_curve"]) + 5))
    for name, r in (("authors' code", oracle), ("graphhyper", ours)):
        cells = [f"{100 * c['val_micro']:.2f} / {100 * c['val_macro']:.2f}" for c in r["val_curve"]]
        secs = statistics.median(r["train_seconds_per_epoch"]) if r["train_seconds_per_epoch"] else float("nan")
        rows.append(
            f"| {name} | " + " | ".join(cells) + f" | {r['best_epoch']} | {100 * r['test_micro_f1']:.2f} | "
            f"{100 * r['test_macro_f1']:.2f} | {secs:.0f} |"
        )
    return "\n".join(rows)


def report(ours: dict, out: Path | None, oracle: Path | None) -> None:
    """Write ``ours`` to ``out`` (if given), print the machine line, then the side-by-side table against the
    ``oracle`` JSON, or ``ours`` itself when there is no oracle."""
    if out:
        out.write_text(json.dumps(ours, indent=1) + "\n")
    print(ours["machine"])
    print(table(ours, json.loads(oracle.read_text())) if oracle else json.dumps(ours, indent=1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", type=Path, default=None, help=".npy [V, 44] in our node order (default: spectral)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--oracle", type=Path, default=None, help="JSON of scripts/oracle_conhd_enc.py")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    report(run_ours(args.features, args.epochs, args.seed), args.out, args.oracle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
