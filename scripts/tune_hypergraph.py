#!/usr/bin/env python
"""Tune a hypergraph model's hyper-parameters with Optuna on **validation accuracy only**.

Each trial trains on ``--tune-seeds`` random 50/25/25 splits (seeds 1000, 1001, ...: disjoint from the
evaluation seeds 0..9 of the reproduction harness) and scores the mean best validation accuracy; test
accuracy is never computed here. The best configuration is written to ``<out>/<dataset>__<model>.json`` for
``scripts/reproduce_hypergraph_table.py --tuned <out>``.

    python scripts/tune_hypergraph.py --dataset cora-cc --model hgnn --trials 20 --out results/tuned
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

# search spaces: name -> (kind, args); kinds: cat, float (low, high), logfloat, int
SPACES: dict[str, dict[str, tuple]] = {
    "hgnn": {"hidden_channels": ("cat", [64, 128, 256, 512]), "dropout": ("float", 0.2, 0.8),
             "input_dropout": ("float", 0.0, 0.6), "num_layers": ("cat", [2, 3])},
    "hgnnp": {"hidden_channels": ("cat", [64, 128, 256, 512]), "dropout": ("float", 0.2, 0.8),
              "input_dropout": ("float", 0.0, 0.6), "num_layers": ("cat", [2, 3])},
    "unigcnii": {"hidden_channels": ("cat", [64, 128, 256]), "num_layers": ("cat", [2, 4, 8, 16]),
                 "alpha": ("float", 0.05, 0.5), "lamda": ("float", 0.1, 1.0), "dropout": ("float", 0.0, 0.7),
                 "input_dropout": ("float", 0.0, 0.7)},
    "allset-transformer": {"hidden_channels": ("cat", [64, 128, 256]), "heads": ("cat", [1, 4, 8]),
                           "dropout": ("float", 0.0, 0.6), "num_layers": ("cat", [1, 2])},
    "ed-hnn": {"hidden_channels": ("cat", [128, 256, 512]), "dropout": ("float", 0.0, 0.7),
               "input_dropout": ("float", 0.0, 0.6), "num_layers": ("cat", [1, 2, 4]),
               "alpha": ("float", 0.0, 1.0)},
}
OPTIM = {"lr": ("logfloat", 1e-3, 3e-2), "weight_decay": ("logfloat", 1e-6, 1e-3)}


def suggest(trial, name: str, spec: tuple):
    kind = spec[0]
    if kind == "cat":
        return trial.suggest_categorical(name, spec[1])
    if kind == "float":
        return trial.suggest_float(name, spec[1], spec[2])
    if kind == "logfloat":
        return trial.suggest_float(name, spec[1], spec[2], log=True)
    return trial.suggest_int(name, spec[1], spec[2])


def make_objective(args):
    from graphhyper.data import load_hypergraph
    from graphhyper.hypergraph.models import build_model
    from graphhyper.hypergraph.train import set_seed, train_node_classifier, with_sparse_features

    space = SPACES[args.model]
    datasets = [load_hypergraph(args.dataset, args.root, seed=1000 + k, add_self_loops=True)
                for k in range(args.tune_seeds)]

    def objective(trial) -> float:
        model_kw = {k: suggest(trial, k, v) for k, v in space.items()}
        opt = {k: suggest(trial, k, v) for k, v in OPTIM.items()}
        scores = []
        for k, data in enumerate(datasets):
            set_seed(k)
            model = build_model(args.model, data.num_features, data.num_classes, **model_kw)
            data = with_sparse_features(model, data)
            res = train_node_classifier(model, data, epochs=args.epochs, patience=args.patience, seed=k,
                                        progress=False, **opt)
            scores.append(res.best_val_acc)
            trial.report(statistics.mean(scores), k)
        trial.set_user_attr("model", model_kw)
        return statistics.mean(scores)

    return objective


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", default="hgnn", choices=sorted(SPACES))
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--tune-seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--patience", type=int, default=60)
    p.add_argument("--out", default="results/tuned")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite file in --out, resumable)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--root", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

    import optuna

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{out / 'studies.db'}"
    study = optuna.create_study(study_name=f"{args.dataset}__{args.model}", storage=storage, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=args.seed), load_if_exists=True)
    for key in ("epochs", "patience", "tune_seeds"):  # first call's protocol is the study's protocol
        if key not in study.user_attrs:
            study.set_user_attr(key, getattr(args, key))
    start = time.perf_counter()
    study.optimize(make_objective(args), n_trials=args.trials, timeout=args.timeout)
    best = study.best_trial
    result = {"dataset": args.dataset, "model": args.model, "val_acc": best.value, "trial": best.number,
              "model_kwargs": best.user_attrs["model"], "lr": best.params["lr"],
              "weight_decay": best.params["weight_decay"], "trials": len(study.trials),
              "tune_seeds": [1000 + k for k in range(study.user_attrs["tune_seeds"])],
              "epochs": study.user_attrs["epochs"], "patience": study.user_attrs["patience"],
              "selection": "mean best validation accuracy (test never evaluated)"}
    result["model"] = result.pop("model_kwargs")
    result["model_name"] = args.model
    path = out / f"{args.dataset}__{args.model}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"best val {100 * best.value:.2f} after {len(study.trials)} trials ({time.perf_counter() - start:.0f}s): "
          f"{json.dumps(best.params)} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
