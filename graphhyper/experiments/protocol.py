"""The hypergraph benchmark protocol: per-model (:data:`PROTOCOL`) and per-dataset (:data:`DATASET_PROTOCOL`)
training settings, and :func:`config_for`, which layers a tuned file and ``--set`` overrides on top.

Protocol: random 50/25/25 train/val/test split per seed, a self-loop hyperedge for every node, full-batch Adam,
early stopping on validation accuracy; the reported number is the test accuracy at the best validation epoch
(AllSet / ED-HNN protocol; run by :mod:`graphhyper.experiments.table`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphhyper.errors import InvalidInputError
from graphhyper.experiments.config import RunConfig, TunedConfig, read_mapping

R = RunConfig
# per-model training protocol (model kwargs + optimiser); HGNN is the floor config of the issue
PROTOCOL: dict[str, RunConfig] = {
    "hgnn": R(model={"hidden_channels": 256, "dropout": 0.5}, lr=1e-3, weight_decay=5e-4),
    "hgnnp": R(model={"hidden_channels": 256, "dropout": 0.5}, lr=1e-3, weight_decay=5e-4),
    "allset-transformer": R(
        model={
            "hidden_channels": 128,
            "heads": 8,
            "num_layers": 1,
            "classifier_layers": 1,
            "dropout": 0.5,
            "input_dropout": 0.2,
        },
        lr=1e-3,
        weight_decay=0.0,
    ),
    "allset-deepsets": R(model={"hidden_channels": 128, "dropout": 0.5}, lr=1e-3, weight_decay=0.0),
    "ed-hnn": R(model={"hidden_channels": 256, "dropout": 0.5}, lr=1e-3, weight_decay=0.0),
    "unigcnii": R(model={}, lr=1e-2, weight_decay=5e-4),
    "mlp": R(model={"hidden_channels": 256}, lr=1e-3, weight_decay=5e-4),
}
# per-dataset settings of the reference code, on top of PROTOCOL (AllSet: jianhao2016/AllSet
# src/run_AllSetTransformer.sh, MLP_hidden / heads / lr / wd per dataset; everything else as in PROTOCOL)
DATASET_PROTOCOL: dict[tuple[str, str], RunConfig] = {
    ("allset-transformer", "cora-cc"): R(model={"hidden_channels": 256, "heads": 4}),
    ("allset-transformer", "citeseer-cc"): R(model={"hidden_channels": 512, "heads": 8}),
    ("allset-transformer", "pubmed-cc"): R(model={"hidden_channels": 256, "heads": 8}),
    ("allset-transformer", "cora-ca"): R(model={"hidden_channels": 128, "heads": 8}),
    ("allset-transformer", "dblp-ca"): R(model={"hidden_channels": 512, "heads": 8}),
    # Zoo: 1 head and, as in the reference, all 500 epochs: with 1 head, patience 50 ended 39 of 100 runs
    # (seeds 0-99) before epoch 120 at 82.5 on average; 86.6 over those seeds with patience 50, 94.0 with the
    # fixed 500 epochs.
    ("allset-transformer", "zoo"): R(
        model={"hidden_channels": 64, "heads": 1}, lr=1e-2, weight_decay=1e-5, epochs=500, patience=0
    ),
    ("allset-transformer", "20news"): R(model={"hidden_channels": 256, "heads": 8}),
    # Mushroom: the reference's fixed 500 epochs, no early stopping. Validation accuracy reaches 100% within ~100
    # epochs, and patience then ended 4 of 10 runs one test node (of 2,031) short of the paper's 100.00 ± 0.00;
    # all four reach 100% by epoch 500. Costs about 100 s per run instead of 17 s.
    ("allset-transformer", "mushroom"): R(model={"hidden_channels": 128, "heads": 1}, epochs=500, patience=0),
    ("allset-transformer", "ntu2012"): R(model={"hidden_channels": 256, "heads": 1}),
    ("allset-transformer", "modelnet40"): R(model={"hidden_channels": 512, "heads": 8}),
    ("allset-transformer", "house"): R(model={"hidden_channels": 512, "heads": 8}),
    ("allset-transformer", "walmart"): R(model={"hidden_channels": 256, "heads": 8}),
    # Zoo: the reference's Zoo optimiser for the convolutional models too. At lr 1e-3 HGNN's validation accuracy
    # stays at its first value for over 50 epochs on 3 of 10 splits, so patience 50 ends those runs near chance
    # (42-46% test); at 1e-2 none stalls (93.1% over seeds 0-9, probe with patience 50).
    ("hgnn", "zoo"): R(lr=1e-2, weight_decay=1e-5),
    ("hgnnp", "zoo"): R(lr=1e-2, weight_decay=1e-5),
}
del R

# training choices a tuned config carries besides model, lr and weight decay; a run applies all of them
TUNED_TRAIN_KEYS = ("label_smoothing", "feature_norm", "epochs", "patience")
# keys an override may set outside the model's hyper-parameters
SET_TRAIN_KEYS = frozenset(("lr", "weight_decay", *TUNED_TRAIN_KEYS))


def config_for(
    dataset: str, model: str, tuned: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> RunConfig:
    """Protocol config of ``model`` (with the dataset's reference settings), replaced by the tuned file for
    (dataset, model) in the folder ``tuned`` if there is one, then ``overrides`` (``--set`` values, parsed by
    :func:`~graphhyper.experiments.config.parse_key_values`). An override that is neither a training key nor a
    hyper-parameter of ``model`` raises :class:`InvalidInputError`."""
    from graphhyper.hypergraph import models

    base = PROTOCOL.get(model)
    if base is None:  # the model zoo's own optimiser hint when we have no protocol entry
        base = RunConfig(**models.train_defaults(model))
    cfg = base.merged(DATASET_PROTOCOL.get((model, dataset), RunConfig()))
    best = tuned_file(tuned, dataset, model)
    if best is not None:
        cfg = RunConfig(
            model=dict(best.model),
            tuned=True,
            lr=best.lr,
            weight_decay=best.weight_decay,
            **{k: getattr(best, k) for k in TUNED_TRAIN_KEYS},
        )
    return apply_overrides(cfg, model, overrides or {})


def apply_overrides(cfg: RunConfig, model: str, overrides: dict[str, Any]) -> RunConfig:
    """``cfg`` with ``overrides`` applied: training keys to the config, anything else to the model kwargs if
    ``model`` takes it."""
    from graphhyper.hypergraph import models

    model_keys = set(models.model_defaults(model))
    train: dict[str, Any] = {}
    model_kw = dict(cfg.model)
    for key, value in overrides.items():
        if key in ("lr", "weight_decay"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"--set {key}={value}: give a number, e.g. --set {key}=0.001.")
            train[key] = float(value)
        elif key in SET_TRAIN_KEYS:
            train[key] = value
        elif key in model_keys:
            model_kw[key] = value
        else:
            raise InvalidInputError(
                f"--set {key}={value}: {model!r} has no setting {key!r}; accepted: training "
                f"{sorted(SET_TRAIN_KEYS)}, model {sorted(model_keys)}."
            )
    checked = RunConfig.from_dict({**train}, source="--set")
    return RunConfig(**{**cfg.__dict__, "model": model_kw}).merged(checked)


def tuned_file(folder: str | Path | None, dataset: str, model: str) -> TunedConfig | None:
    """The tuned config of (dataset, model) in ``folder``: ``<dataset>__<model>.json`` (written by the tuner) or
    ``<dataset>.json`` whose ``model_name`` is ``model`` (``configs/hypergraph/tuned``); ``None`` if neither."""
    if not folder:
        return None
    for path in (Path(folder) / f"{dataset}__{model}.json", Path(folder) / f"{dataset}.json"):
        if path.exists():
            cfg = TunedConfig.from_dict(read_mapping(path), source=str(path))
            if (cfg.model_name or model) == model:
                return cfg
    return None


__all__ = [
    "DATASET_PROTOCOL",
    "PROTOCOL",
    "SET_TRAIN_KEYS",
    "TUNED_TRAIN_KEYS",
    "apply_overrides",
    "config_for",
    "tuned_file",
]
