"""Our WHATsNet on Stack-Biology with the settings of the authors' script, beside the oracle's numbers.

Trains ``build_enc_model("whatsnet")`` (:data:`~graphhyper.hypergraph.enc.WHATSNET_ENC`: the ``# WHATsNET`` line
of the authors' ``run_StackOverflowBiology.sh``) with :func:`graphhyper.hypergraph.enc.train_enc_minibatch` at
:data:`~graphhyper.hypergraph.enc.WHATSNET_TRAIN` (their ``train.py``: batches of 64 hyperedges, 40 sampled
hyperedges per node, plain Adam lr 1e-4, gamma 0.99, trained node features, validation every 5 epochs), writes a
JSON like ``scripts/compare_conhd_enc.py`` and, given the oracle's JSON (``scripts/oracle_whatsnet_enc.py``),
prints both side by side.

    PYTHONPATH=$PWD GRAPHHYPER_DATA=/work/shared/data nice -n 19 python scripts/compare_whatsnet_enc.py \\
        --features /tmp/whatsnet_oracle/features.npy --centralities /tmp/whatsnet_oracle/dataset/StackOverflowBiology \\
        --epochs 5 --seed 0 --out ours.json \\
        --oracle tests/hypergraph/fixtures/whatsnet_enc_oracle_stack_biology.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from _common import machine_line  # noqa: E402
from compare_conhd_enc import report  # noqa: E402

from graphhyper.data import load_enc_dataset  # noqa: E402
from graphhyper.hypergraph import enc  # noqa: E402
from graphhyper.hypergraph.train import set_seed  # noqa: E402


def their_centralities(ds, folder: Path) -> torch.Tensor:
    """``[V, 4]`` centralities from the oracle's ``{algo}_nodecentrality_0.txt`` files (their
    ``preprocess/nodecentrality.py``: ``node<TAB>value`` per line after a header), in our node order."""
    ours = {str(int(n)): i for i, n in enumerate(ds.node_names)}
    out = torch.zeros(len(ours), 4, dtype=torch.float64)
    for k, algo in enumerate(("degree", "eigenvec", "pagerank", "kcore")):
        for line in (folder / f"{algo}_nodecentrality_0.txt").read_text().splitlines()[1:]:
            name, value = line.split("\t")
            out[ours[str(int(name))], k] = float(value)
    return out


def run_ours(
    features: Path | None, epochs: int, seed: int, centralities: Path | None = None, eval_every: int = 5
) -> dict:
    ds = load_enc_dataset("stack-biology")
    task = enc.prepare_enc(ds)
    if features is not None:
        task = dataclasses.replace(task, x=torch.from_numpy(np.load(features, allow_pickle=False)).float())
    if centralities is not None:
        task = dataclasses.replace(task, pe=enc.order_encoding(ds, their_centralities(ds, centralities)))
    set_seed(seed)
    model = enc.build_enc_model("whatsnet", task.x.shape[1], task.num_classes)
    train = {**enc.WHATSNET_TRAIN, "eval_every": eval_every}
    res = enc.train_enc_minibatch(model, task, epochs=epochs, seed=seed, progress=False, **train)
    curve = [{"epoch": r["epoch"] + 1, "val_micro": r["val_micro"], "val_macro": r["val_macro"]} for r in res.history]
    return {
        "val_curve": curve,
        "best_epoch": res.best_epoch + 1,
        "test_micro_f1": res.test_micro_f1,
        "test_macro_f1": res.test_macro_f1,
        "train_seconds_per_epoch": res.epoch_seconds,
        "cpu_seconds": time.process_time(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": epochs,
        "seed": seed,
        "features": "file" if features is not None else "spectral",
        "centralities": "theirs" if centralities is not None else "ours",
        "machine": machine_line(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", type=Path, default=None, help=".npy [V, 44] in our node order (default: spectral)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=5, help="validate every N epochs (their --test_epoch)")
    p.add_argument(
        "--centralities",
        type=Path,
        default=None,
        help="folder of the oracle's {algo}_nodecentrality_0.txt: build the order encoding from their centralities",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--oracle", type=Path, default=None, help="JSON of scripts/oracle_whatsnet_enc.py")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ours = run_ours(args.features, args.epochs, args.seed, args.centralities, args.eval_every)
    report(ours, args.out, args.oracle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
