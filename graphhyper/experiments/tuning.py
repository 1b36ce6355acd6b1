"""Tune a hypergraph model with Optuna on **validation accuracy only**, then evaluate the chosen config.

Tuning: each trial trains on ``tune_seeds`` random 50/25/25 splits (seeds 1000, 1001, ...: disjoint from the
evaluation seeds 0..9) and scores the mean best validation accuracy; test accuracy is never computed. Besides the
model's hyper-parameters the search covers the optimiser (lr, weight decay), label smoothing and the feature
preprocessing (raw or row-normalised). ``fix`` pins any of them. The best configuration is written to
``<out>/<dataset>__<model>.json``; the study lives in an Optuna storage (default ``<out>/studies.db``) and resumes.

Evaluation (:func:`evaluate_configs`): trains a config on the split seeds ``0..seeds-1`` with the protocol of
the benchmark table (:mod:`graphhyper.experiments.table`; self-loop hyperedge per node, early stopping on
validation, test accuracy at the best validation epoch) and reports mean ± std.

Command line: ``graphhyper hypergraph tune`` (or ``python scripts/tune_hypergraph.py``)::

    graphhyper hypergraph tune --dataset cora-cc --model appnp --trials 40 --out results/tuned
    graphhyper hypergraph tune --choose results/tuned/cora-cc__*.json --write results/cora-cc.json
    graphhyper hypergraph tune --evaluate configs/hypergraph/tuned/cora-cc.json --seeds 10

:func:`choose_config` (``--choose``) picks among the per-family configs of one dataset by validation accuracy,
ties by ``--tie-break``.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from graphhyper.errors import InvalidInputError
from graphhyper.experiments.config import RunConfig, TunedConfig, read_mapping

# model search spaces: name -> {kwarg: (kind, args)}; kinds: cat, float (low, high), logfloat, int
SPACES: dict[str, dict[str, tuple]] = {
    "hgnn": {
        "hidden_channels": ("cat", [64, 128, 256, 512]),
        "dropout": ("float", 0.2, 0.8),
        "input_dropout": ("float", 0.0, 0.6),
        "num_layers": ("cat", [2, 3]),
    },
    "hgnnp": {
        "hidden_channels": ("cat", [64, 128, 256, 512]),
        "dropout": ("float", 0.2, 0.8),
        "input_dropout": ("float", 0.0, 0.6),
        "num_layers": ("cat", [2, 3]),
    },
    "unigcnii": {
        "hidden_channels": ("cat", [64, 128, 256]),
        "num_layers": ("cat", [2, 4, 8, 16]),
        "alpha": ("float", 0.05, 0.5),
        "lamda": ("float", 0.1, 1.0),
        "dropout": ("float", 0.0, 0.7),
        "input_dropout": ("float", 0.0, 0.7),
    },
    "appnp": {
        "hidden_channels": ("cat", [64, 128, 256, 512]),
        "num_layers": ("cat", [1, 2, 3]),
        "dropout": ("float", 0.2, 0.8),
        "input_dropout": ("float", 0.0, 0.7),
        "num_steps": ("cat", [2, 5, 10, 20]),
        "alpha": ("float", 0.05, 0.5),
        "operator": ("cat", ["hgnn", "hgnnp"]),
        "edge_dropout": ("float", 0.0, 0.5),
    },
    "allset-transformer": {
        "hidden_channels": ("cat", [64, 128, 256]),
        "heads": ("cat", [1, 4, 8]),
        "dropout": ("float", 0.0, 0.6),
        "num_layers": ("cat", [1, 2]),
    },
    "ed-hnn": {
        "hidden_channels": ("cat", [128, 256, 512]),
        "dropout": ("float", 0.0, 0.7),
        "input_dropout": ("float", 0.0, 0.7),
        "num_layers": ("cat", [1, 2, 4]),
        "mlp1_layers": ("cat", [0, 1]),
        "mlp2_layers": ("cat", [0, 1]),
        "mlp3_layers": ("cat", [1, 2]),
        "classifier_layers": ("cat", [1, 2]),
        "alpha": ("float", 0.0, 0.5),
    },
}
# training and data choices searched for every model
COMMON: dict[str, tuple] = {
    "lr": ("logfloat", 1e-3, 3e-2),
    "weight_decay": ("logfloat", 1e-6, 1e-3),
    "label_smoothing": ("float", 0.0, 0.3),
    "feature_norm": ("cat", ["none", "row"]),
}
TRAIN_KEYS = ("lr", "weight_decay", "label_smoothing", "feature_norm")
KINDS = ("cat", "float", "logfloat", "int")
TUNE_SEED0 = 1000
TIE_BREAKS = ("first", "val_loss")


def suggest(trial, name: str, spec: tuple):
    """Draw ``name`` from ``trial`` according to ``spec = (kind, *args)``."""
    kind = spec[0]
    if kind == "cat":
        return trial.suggest_categorical(name, spec[1])
    if kind == "float":
        return trial.suggest_float(name, spec[1], spec[2])
    if kind == "logfloat":
        return trial.suggest_float(name, spec[1], spec[2], log=True)
    return trial.suggest_int(name, spec[1], spec[2])


def parse_space(overrides: dict) -> dict:
    """``{key: [kind, ...]}`` -> search-space entries that replace or extend the defaults."""
    out = {}
    for key, value in overrides.items():
        if not isinstance(value, list) or not value or value[0] not in KINDS:
            raise InvalidInputError(
                f"--space {key}: expected a JSON list [kind, ...] with kind one of {KINDS}, "
                f"e.g. --space 'num_layers=[\"cat\", [1, 2]]'."
            )
        out[key] = tuple(value)
    return out


def run_config(
    dataset: str,
    cfg: RunConfig | Mapping[str, Any],
    seed: int,
    root=None,
    device: str = "cpu",
    *,
    model_name: str | None = None,
    epochs: int = 300,
    patience: int | None = 100,
    progress: bool = False,
):
    """Train ``cfg`` on the random split ``seed`` with the reproduction protocol (self-loop hyperedge per node,
    early stopping on validation); returns the ``TrainResult``.

    ``cfg`` (a :class:`~graphhyper.experiments.config.RunConfig` or its mapping; unknown keys are refused) holds
    ``model`` kwargs, ``lr`` and ``weight_decay`` and may hold ``model_name``, ``feature_norm``,
    ``label_smoothing``, ``epochs`` and ``patience`` (those two fall back to the arguments; a patience of 0 or
    ``None`` trains every epoch). Shared by the tuner and the benchmark table."""
    from graphhyper.data import load_hypergraph
    from graphhyper.hypergraph.models import build_model
    from graphhyper.hypergraph.train import normalize_features, set_seed, train_node_classifier, with_sparse_features

    run = _as_run_config(cfg)
    name = model_name or run.model_name
    if name is None or run.lr is None or run.weight_decay is None:
        raise InvalidInputError("a run config needs model_name (or the model_name argument), lr and weight_decay.")
    data = load_hypergraph(dataset, root, split="random", seed=seed, add_self_loops=True)
    data = normalize_features(data, run.feature_norm or "none")
    set_seed(seed)
    model = build_model(name, data.num_features, data.num_classes, **run.model)
    data = with_sparse_features(model, data)  # same math, skips the zeros of bag-of-words features
    return train_node_classifier(
        model,
        data,
        epochs=run.epochs if run.epochs is not None else epochs,
        lr=run.lr,
        weight_decay=run.weight_decay,
        patience=(run.patience if run.patience is not None else patience) or None,
        seed=seed,
        progress=progress,
        device=device,
        label_smoothing=run.label_smoothing or 0.0,
    )


def _as_run_config(cfg: RunConfig | Mapping[str, Any]) -> RunConfig:
    if isinstance(cfg, TunedConfig):
        return cfg.run_config()
    if isinstance(cfg, RunConfig):
        return cfg
    return TunedConfig.from_dict(cfg, source="run config").run_config()


def trial_config(trial, model: str, fixed: dict, space: dict, epochs: int, patience: int) -> dict:
    """The training config of one trial: searched values, with ``fixed`` pinning or adding keys."""
    values = {k: fixed[k] if k in fixed else suggest(trial, k, v) for k, v in space.items()}
    model_kw = {k: v for k, v in values.items() if k not in TRAIN_KEYS}
    model_kw.update({k: v for k, v in fixed.items() if k not in space and k not in TRAIN_KEYS})
    return {
        "model_name": model,
        "model": model_kw,
        **{k: values[k] for k in TRAIN_KEYS},
        "epochs": epochs,
        "patience": patience,
    }


def make_objective(
    dataset: str, model: str, *, fixed: dict, space: dict, tune_seeds: int, epochs: int, patience: int, root=None
) -> Callable:
    """The Optuna objective: mean best validation accuracy over the tune splits (pruning-ready reports). The mean
    validation loss at those epochs is kept as the trial's ``val_loss`` attribute (``tie_break`` of :func:`tune`)."""

    def objective(trial) -> float:
        cfg = trial_config(trial, model, fixed, space, epochs, patience)
        trial.set_user_attr("config", cfg)
        scores, losses = [], []
        for k in range(tune_seeds):
            res = run_config(dataset, cfg, TUNE_SEED0 + k, root)
            scores.append(res.best_val_acc)
            losses.append(res.history[res.best_epoch]["val_loss"])
            trial.report(statistics.mean(scores), k)
        trial.set_user_attr("val_loss", statistics.mean(losses))
        return statistics.mean(scores)

    return objective


def tune(
    dataset: str,
    model: str = "hgnn",
    *,
    trials: int = 20,
    timeout: float | None = None,
    tune_seeds: int = 2,
    epochs: int = 300,
    patience: int = 100,
    fixed: dict | None = None,
    space: dict | None = None,
    enqueue: list[dict] | None = None,
    startup: int = 10,
    out: str | Path = "results/tuned",
    study: str | None = None,
    storage: str | None = None,
    seed: int = 0,
    root=None,
    tie_break: str = "first",
    log: Callable[[str], None] = print,
) -> dict:
    """Run (or resume) the Optuna study of ``model`` on ``dataset`` and write the best config as JSON.

    Args:
        space: ``{key: (kind, ...)}`` entries that replace or extend the model's default space.
        fixed: values pinned instead of searched (or extra model kwargs).
        enqueue: parameter dicts tried first (e.g. the paper's configuration).
        storage: an Optuna storage URL (default: SQLite in ``out``); tuners started together share it safely.
        tie_break: how to choose among trials with the same best validation accuracy: ``"first"`` (default) or
            ``"val_loss"`` (see :func:`select_trial`).

    Returns:
        the written config (``model_name``, ``model``, training keys, ``val_acc``, ``trial``, ``tune_seeds``, ...).
    """
    import optuna

    from graphhyper.search.study import make_storage

    if tie_break not in TIE_BREAKS:
        raise InvalidInputError(f"tie_break={tie_break!r} is unknown; use one of {TIE_BREAKS}.")
    if model not in SPACES:
        raise InvalidInputError(
            f"No search space for model {model!r}; choose one of {sorted(SPACES)} (or "
            "extend graphhyper.experiments.tuning.SPACES)."
        )
    fixed, out = dict(fixed or {}), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # make_storage retries the schema-creation race of tuners started together on a new SQLite file
    store = make_storage(storage or f"sqlite:///{out / 'studies.db'}")
    name = study or f"{dataset}__{model}"
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    st = optuna.create_study(study_name=name, storage=store, direction="maximize", sampler=sampler, load_if_exists=True)
    for params in enqueue or []:
        st.enqueue_trial(params, skip_if_exists=True)
    for key, value in (("epochs", epochs), ("patience", patience), ("tune_seeds", tune_seeds)):
        if key not in st.user_attrs:  # the first call's protocol is the study's protocol
            st.set_user_attr(key, value)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objective = make_objective(
        dataset,
        model,
        fixed=fixed,
        space={**SPACES[model], **COMMON, **(space or {})},
        tune_seeds=tune_seeds,
        epochs=epochs,
        patience=patience,
        root=root,
    )
    start = time.perf_counter()
    st.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[_trial_logger(start, log)])
    return _write_best(st, dataset, model, out, name, start, log, tie_break)


def _trial_logger(start: float, log: Callable[[str], None]):
    def callback(study, trial) -> None:
        if trial.value is not None:
            log(
                f"[{time.perf_counter() - start:6.0f}s] trial {trial.number}: val {100 * trial.value:.2f} "
                f"(best {100 * study.best_value:.2f}) {json.dumps(trial.params)}"
            )

    return callback


def select_trial(trials, tie_break: str = "first"):
    """The trial with the highest value; among equal values the first one (``"first"``, Optuna's choice) or the
    one with the lowest mean validation loss (``"val_loss"``; trials without the attribute rank last). Validation
    accuracy saturates on small sets (Zoo: 14 of 59 trials at 100%), and the loss still ranks them."""
    done = [t for t in trials if t.value is not None]
    ranked = _ranked(done, lambda t: t.value, lambda t: t.user_attrs.get("val_loss"), tie_break)
    return ranked[0] if ranked else None


def _ranked(items: list, value: Callable, loss: Callable, tie_break: str) -> list:
    """``items`` best first: the highest ``value``; equal values in the given order (``"first"``) or by the lower
    ``loss`` (``"val_loss"``; a missing loss ranks last). Shared by trial and config selection."""
    if tie_break not in TIE_BREAKS:
        raise InvalidInputError(f"tie_break={tie_break!r} is unknown; use one of {TIE_BREAKS}.")

    def key(i: int) -> tuple:
        tie = _or_inf(loss(items[i])) if tie_break == "val_loss" else 0.0
        return (-value(items[i]), tie, i)

    return [items[i] for i in sorted(range(len(items)), key=key)]


def _or_inf(loss) -> float:
    return float("inf") if loss is None else loss


def _write_best(
    st, dataset: str, model: str, out: Path, name: str, start: float, log, tie_break: str = "first"
) -> dict:
    best = select_trial(st.trials, tie_break)
    if best is None:
        raise InvalidInputError(f"study {name!r} has no finished trial yet; run it with trials >= 1.")
    rule = "mean best validation accuracy over the tune seeds"
    if tie_break == "val_loss":
        rule += ", ties broken by the lower mean validation loss"
    result = {
        "dataset": dataset,
        **best.user_attrs["config"],
        "val_acc": best.value,
        "val_loss": best.user_attrs.get("val_loss"),
        "trial": best.number,
        "trials": len(st.trials),
        "study": name,
        "tune_seeds": [TUNE_SEED0 + k for k in range(st.user_attrs["tune_seeds"])],
        "selection": f"{rule} (test never evaluated)",
    }
    path = out / f"{dataset}__{model}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    log(f"best val {100 * best.value:.2f} after {len(st.trials)} trials ({time.perf_counter() - start:.0f}s) -> {path}")
    return result


def choose_config(
    paths: list[str | Path],
    tie_break: str = "first",
    *,
    write: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """The config, among tuned JSON files of one dataset (one per model family), with the highest validation
    accuracy; equal accuracies go to the first file (``"first"``) or the lowest validation loss (``"val_loss"``).

    The files must come from the same tune splits, or their validation accuracies would not be comparable.
    ``write`` copies the winner there, with the ranking it won in ``chosen_from``."""
    ranked = _ranked(
        _comparable_configs(paths), lambda pc: pc[1]["val_acc"], lambda pc: pc[1].get("val_loss"), tie_break
    )
    for rank, (path, c) in enumerate(ranked):
        log(
            f"{rank + 1}. {c['model_name']:20s} val {100 * c['val_acc']:.2f}  "
            f"val loss {_or_inf(c.get('val_loss')):.4f}  [{path}]"
        )
    winner = dict(ranked[0][1])
    winner["chosen_from"] = [
        {"config": path, "model_name": c["model_name"], "val_acc": c["val_acc"], "val_loss": c.get("val_loss")}
        for path, c in ranked
    ]
    winner["choice"] = "highest validation accuracy across families" + (
        ", ties by the lower validation loss" if tie_break == "val_loss" else ", ties by the order given"
    )
    if write:
        Path(write).parent.mkdir(parents=True, exist_ok=True)
        Path(write).write_text(json.dumps(winner, indent=2) + "\n")
        log(f"chosen: {winner['model_name']} -> {write}")
    return winner


def _comparable_configs(paths) -> list[tuple[str, dict]]:
    cfgs = [(str(p), _read_config(p)) for p in paths]
    for key in ("dataset", "tune_seeds"):
        values = {json.dumps(c.get(key)) for _, c in cfgs}
        if len(values) > 1:
            raise InvalidInputError(
                f"the configs differ in {key} ({', '.join(sorted(values))}); compare configs "
                "tuned on the same dataset and the same tune splits."
            )
    if any(c.get("val_acc") is None for _, c in cfgs):
        raise InvalidInputError("a config has no val_acc; give JSON files written by `graphhyper hypergraph tune`.")
    return cfgs


def evaluate_configs(
    paths: list[str | Path],
    seeds: int = 10,
    *,
    root=None,
    device: str = "cpu",
    csv_path: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train each tuned config JSON on the split seeds ``0..seeds-1``; returns the per-seed rows (test %)."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        cfg = _read_config(path)
        accs = []
        for seed in range(seeds):
            res = run_config(cfg["dataset"], cfg, seed, root, device)
            accs.append(100 * res.test_acc)
            rows.append(
                {
                    "config": str(path),
                    "dataset": cfg["dataset"],
                    "model": cfg["model_name"],
                    "seed": seed,
                    "test_acc": round(100 * res.test_acc, 4),
                    "best_val_acc": round(100 * res.best_val_acc, 4),
                    "best_epoch": res.best_epoch,
                    "seconds": round(res.train_seconds, 2),
                }
            )
            log(
                f"{cfg['dataset']:12s} {cfg['model_name']:12s} seed {seed}: test {accs[-1]:.2f} "
                f"(val {100 * res.best_val_acc:.2f}, epoch {res.best_epoch}, {res.train_seconds:.0f}s)"
            )
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        log(
            f"{cfg['dataset']:12s} {cfg['model_name']:12s} test {statistics.mean(accs):.2f} ± {std:.2f} "
            f"({len(accs)} seeds) [{path}]"
        )
    if csv_path and rows:
        _append_csv(Path(csv_path), rows)
    return rows


def _read_config(path) -> dict:
    """The tuned config at ``path`` as a mapping (JSON or TOML; unknown keys refused by
    :class:`~graphhyper.experiments.config.TunedConfig`)."""
    cfg = read_mapping(path, "tuned config")
    missing = {"dataset", "model_name", "model", "lr", "weight_decay"} - set(cfg)
    if missing:
        raise InvalidInputError(f"{path} is not a tuned config: it lacks {sorted(missing)}.")
    TunedConfig.from_dict(cfg, source=str(path))
    return cfg


def _append_csv(path: Path, rows: list[dict]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


__all__ = [
    "COMMON",
    "SPACES",
    "TIE_BREAKS",
    "TRAIN_KEYS",
    "choose_config",
    "evaluate_configs",
    "make_objective",
    "parse_space",
    "run_config",
    "select_trial",
    "suggest",
    "trial_config",
    "tune",
]
