#!/usr/bin/env python
"""Tune a hypergraph model with Optuna on **validation accuracy only**, then evaluate the chosen config.

Tuning: each trial trains on ``--tune-seeds`` random 50/25/25 splits (seeds 1000, 1001, ...: disjoint from the
evaluation seeds 0..9) and scores the mean best validation accuracy; test accuracy is never computed. Besides the
model's hyper-parameters the search covers the optimiser (lr, weight decay), label smoothing and the feature
preprocessing (raw or row-normalised). ``--fix key=value`` pins any of them. The best configuration is written to
``<out>/<dataset>__<model>.json``.

Evaluation (``--evaluate CONFIG.json ...``): trains the config on the split seeds ``0..--seeds-1`` with the
protocol of ``scripts/reproduce_hypergraph_table.py`` (self-loop hyperedge per node, early stopping on validation,
test accuracy at the best validation epoch) and prints mean ± std; ``--csv`` appends the per-seed rows.

    python scripts/tune_hypergraph.py --dataset cora-cc --model hgnn --trials 40 --out results/tuned
    python scripts/tune_hypergraph.py --evaluate configs/hypergraph/tuned/cora-cc.json --seeds 10
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

# model search spaces: name -> {kwarg: (kind, args)}; kinds: cat, float (low, high), logfloat, int
SPACES: dict[str, dict[str, tuple]] = {
    "hgnn": {"hidden_channels": ("cat", [64, 128, 256, 512]), "dropout": ("float", 0.2, 0.8),
             "input_dropout": ("float", 0.0, 0.6), "num_layers": ("cat", [2, 3])},
    "hgnnp": {"hidden_channels": ("cat", [64, 128, 256, 512]), "dropout": ("float", 0.2, 0.8),
              "input_dropout": ("float", 0.0, 0.6), "num_layers": ("cat", [2, 3])},
    "unigcnii": {"hidden_channels": ("cat", [64, 128, 256]), "num_layers": ("cat", [2, 4, 8, 16]),
                 "alpha": ("float", 0.05, 0.5), "lamda": ("float", 0.1, 1.0), "dropout": ("float", 0.0, 0.7),
                 "input_dropout": ("float", 0.0, 0.7)},
    "appnp": {"hidden_channels": ("cat", [64, 128, 256, 512]), "num_layers": ("cat", [1, 2, 3]),
              "dropout": ("float", 0.2, 0.8), "input_dropout": ("float", 0.0, 0.7),
              "num_steps": ("cat", [2, 5, 10, 20]), "alpha": ("float", 0.05, 0.5),
              "operator": ("cat", ["hgnn", "hgnnp"]), "edge_dropout": ("float", 0.0, 0.5)},
    "allset-transformer": {"hidden_channels": ("cat", [64, 128, 256]), "heads": ("cat", [1, 4, 8]),
                           "dropout": ("float", 0.0, 0.6), "num_layers": ("cat", [1, 2])},
    "ed-hnn": {"hidden_channels": ("cat", [128, 256, 512]), "dropout": ("float", 0.0, 0.7),
               "input_dropout": ("float", 0.0, 0.7), "num_layers": ("cat", [1, 2, 4]),
               "mlp1_layers": ("cat", [0, 1]), "mlp2_layers": ("cat", [0, 1]), "mlp3_layers": ("cat", [1, 2]),
               "classifier_layers": ("cat", [1, 2]), "alpha": ("float", 0.0, 0.5)},
}
# training and data choices searched for every model
COMMON: dict[str, tuple] = {"lr": ("logfloat", 1e-3, 3e-2), "weight_decay": ("logfloat", 1e-6, 1e-3),
                            "label_smoothing": ("float", 0.0, 0.3), "feature_norm": ("cat", ["none", "row"])}
TRAIN_KEYS = ("lr", "weight_decay", "label_smoothing", "feature_norm")


def suggest(trial, name: str, spec: tuple):
    kind = spec[0]
    if kind == "cat":
        return trial.suggest_categorical(name, spec[1])
    if kind == "float":
        return trial.suggest_float(name, spec[1], spec[2])
    if kind == "logfloat":
        return trial.suggest_float(name, spec[1], spec[2], log=True)
    return trial.suggest_int(name, spec[1], spec[2])


def parse_fixed(items: list[str]) -> dict:
    """``["key=value", ...]`` -> dict (values parsed as JSON when they can be); exits with the reason otherwise."""
    from graphhyper.cli.hypergraph import parse_key_values
    from graphhyper.errors import InvalidInputError

    try:
        return parse_key_values(items, "--fix")
    except InvalidInputError as exc:
        raise SystemExit(str(exc)) from None


def run_config(dataset: str, cfg: dict, seed: int, root=None, device: str = "cpu"):
    """Train ``cfg`` on the random split ``seed`` (the reproduction protocol); returns the ``TrainResult``."""
    from graphhyper.data import load_hypergraph
    from graphhyper.hypergraph.models import build_model
    from graphhyper.hypergraph.train import normalize_features, set_seed, train_node_classifier, with_sparse_features

    data = load_hypergraph(dataset, root, split="random", seed=seed, add_self_loops=True)
    data = normalize_features(data, cfg.get("feature_norm", "none"))
    set_seed(seed)
    model = build_model(cfg["model_name"], data.num_features, data.num_classes, **cfg["model"])
    data = with_sparse_features(model, data)
    return train_node_classifier(model, data, epochs=cfg.get("epochs", 300), lr=cfg["lr"],
                                 weight_decay=cfg["weight_decay"], patience=cfg.get("patience", 100), seed=seed,
                                 progress=False, device=device, label_smoothing=cfg.get("label_smoothing", 0.0))


def parse_space(items: list[str]) -> dict:
    """``["key=[kind, ...]", ...]`` (JSON after ``=``) -> search-space entries that replace or extend the defaults."""
    out = {}
    for key, value in parse_fixed(items).items():
        if not isinstance(value, list) or not value or value[0] not in ("cat", "float", "logfloat", "int"):
            raise SystemExit(f"--space {key}: expected a JSON list [kind, ...] with kind cat/float/logfloat/int")
        out[key] = tuple(value)
    return out


def trial_config(trial, args, fixed: dict) -> dict:
    space = {**SPACES[args.model], **COMMON, **parse_space(args.space)}
    values = {k: fixed[k] if k in fixed else suggest(trial, k, v) for k, v in space.items()}
    model_kw = {k: v for k, v in values.items() if k not in TRAIN_KEYS}
    model_kw.update({k: v for k, v in fixed.items() if k not in space and k not in TRAIN_KEYS})
    cfg = {"model_name": args.model, "model": model_kw, **{k: values[k] for k in TRAIN_KEYS},
           "epochs": args.epochs, "patience": args.patience}
    return cfg


def make_objective(args, fixed: dict):
    def objective(trial) -> float:
        cfg = trial_config(trial, args, fixed)
        trial.set_user_attr("config", cfg)
        scores = []
        for k in range(args.tune_seeds):
            res = run_config(args.dataset, cfg, 1000 + k, args.root)
            scores.append(res.best_val_acc)
            trial.report(statistics.mean(scores), k)
        return statistics.mean(scores)

    return objective


def tune(args) -> int:
    import optuna

    from graphhyper.search.study import make_storage

    fixed = parse_fixed(args.fix)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # make_storage retries the schema-creation race of tuners started together on a new SQLite file
    storage = make_storage(args.storage or f"sqlite:///{out / 'studies.db'}")
    name = args.study or f"{args.dataset}__{args.model}"
    sampler = optuna.samplers.TPESampler(seed=args.seed, n_startup_trials=args.startup)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize", sampler=sampler,
                                load_if_exists=True)
    for item in args.enqueue:  # e.g. the paper's configuration as the first trial
        study.enqueue_trial(json.loads(item), skip_if_exists=True)
    for key in ("epochs", "patience", "tune_seeds"):  # first call's protocol is the study's protocol
        if key not in study.user_attrs:
            study.set_user_attr(key, getattr(args, key))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()

    def log(study, trial):
        if trial.value is not None:
            print(f"[{time.perf_counter() - start:6.0f}s] trial {trial.number}: val {100 * trial.value:.2f} "
                  f"(best {100 * study.best_value:.2f}) {json.dumps(trial.params)}", flush=True)

    study.optimize(make_objective(args, fixed), n_trials=args.trials, timeout=args.timeout, callbacks=[log])
    best = study.best_trial
    result = {"dataset": args.dataset, **best.user_attrs["config"], "val_acc": best.value, "trial": best.number,
              "trials": len(study.trials), "study": name,
              "tune_seeds": [1000 + k for k in range(study.user_attrs["tune_seeds"])],
              "selection": "mean best validation accuracy over the tune seeds (test never evaluated)"}
    path = out / f"{args.dataset}__{args.model}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"best val {100 * best.value:.2f} after {len(study.trials)} trials ({time.perf_counter() - start:.0f}s) "
          f"-> {path}")
    return 0


def evaluate(args) -> int:
    rows = []
    for path in args.evaluate:
        cfg = json.loads(Path(path).read_text())
        accs = []
        for seed in range(args.seeds):
            res = run_config(cfg["dataset"], cfg, seed, args.root, args.device)
            accs.append(100 * res.test_acc)
            rows.append({"config": path, "dataset": cfg["dataset"], "model": cfg["model_name"], "seed": seed,
                         "test_acc": round(100 * res.test_acc, 4), "best_val_acc": round(100 * res.best_val_acc, 4),
                         "best_epoch": res.best_epoch, "seconds": round(res.train_seconds, 2)})
            print(f"{cfg['dataset']:12s} {cfg['model_name']:12s} seed {seed}: test {accs[-1]:.2f} "
                  f"(val {100 * res.best_val_acc:.2f}, epoch {res.best_epoch}, {res.train_seconds:.0f}s)", flush=True)
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{cfg['dataset']:12s} {cfg['model_name']:12s} test {statistics.mean(accs):.2f} ± {std:.2f} "
              f"({len(accs)} seeds) [{path}]", flush=True)
    if args.csv:
        new = not Path(args.csv).exists()
        with open(args.csv, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            if new:
                writer.writeheader()
            writer.writerows(rows)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", help="dataset to tune on")
    p.add_argument("--model", default="hgnn", choices=sorted(SPACES))
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--tune-seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--patience", type=int, default=100)
    p.add_argument("--fix", action="append", default=[], help="pin a searched value or add a model kwarg: key=value")
    p.add_argument("--space", action="append", default=[], help='replace a search range: key=["cat", [1, 2]]')
    p.add_argument("--enqueue", action="append", default=[], help="JSON params of a trial to run first")
    p.add_argument("--startup", type=int, default=10, help="random trials before TPE takes over")
    p.add_argument("--out", default="results/tuned")
    p.add_argument("--study", default=None, help="study name (default <dataset>__<model>)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite file in --out, resumable)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed")
    p.add_argument("--evaluate", nargs="+", default=None, metavar="CONFIG", help="evaluate tuned config JSON files")
    p.add_argument("--seeds", type=int, default=10, help="evaluation split seeds 0..N-1")
    p.add_argument("--csv", default=None, help="append per-seed evaluation rows here")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--root", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    if args.evaluate:
        return evaluate(args)
    if not args.dataset:
        p.error("--dataset is required for tuning (or pass --evaluate CONFIG.json)")
    return tune(args)


if __name__ == "__main__":
    sys.exit(main())
