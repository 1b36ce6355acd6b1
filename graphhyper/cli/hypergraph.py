"""`graphhyper hypergraph ...` sub-commands: ``datasets`` (list with statistics), ``export`` (a benchmark as a HIF
file), ``train`` (one model, one split; ``--task enc`` for edge-dependent node labels), ``distill`` (LightHGNN /
LightHGNN+ student from an HGNN teacher), ``tune`` (Optuna on validation, then evaluate), ``table`` (the benchmark
table over datasets x models x seeds), ``edgepred`` (hyperedge prediction). The experiment logic lives in
:mod:`graphhyper.experiments`."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from graphhyper.cli._args import (
    data_root,
    device,
    non_empty,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    random_seed,
    storage_url,
    thread_count,
    writable_dir,
    writable_file,
)
from graphhyper.experiments.config import parse_key_values


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("hypergraph", help="hypergraph datasets, training and distillation")
    sub = parser.add_subparsers(dest="command", metavar="{datasets,export,train,distill,tune,table,edgepred}")

    ls = sub.add_parser("datasets", help="list the benchmark hypergraphs with their statistics")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=_datasets)

    ex = sub.add_parser("export", help="write a benchmark hypergraph as a HIF file (JSON, read by XGI / HyperNetX)")
    ex.add_argument("--dataset", default="cora-ca", type=non_empty)
    ex.add_argument("--root", default=None, type=data_root, help="data root (default $GRAPHHYPER_DATA)")
    ex.add_argument("--format", default="hif", choices=("hif",), help="file format (HIF, the interchange JSON)")
    ex.add_argument("-o", "--out", required=True, type=writable_file, help="output file (.json)")
    ex.add_argument("--node-features", action="store_true", help="write x as nodes[v].attrs.features (large)")
    ex.add_argument("--labels", action="store_true", help="write y as nodes[v].attrs.label")
    ex.add_argument("--validate", action="store_true", help="check the file against the HIF schema (jsonschema)")
    ex.set_defaults(handler=_export)

    tr = sub.add_parser("train", help="train a hypergraph model on a benchmark (50/25/25 split, early stopping)")
    _common(tr)
    tr.add_argument(
        "--model", default="hgnn", type=non_empty, help="model name (see graphhyper.hypergraph.models.list_models)"
    )
    tr.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model hyper-parameter override, e.g. --set hidden_channels=256 (repeatable)",
    )
    _minibatch_arguments(tr)
    tr.add_argument(
        "--task",
        default="node",
        choices=("node", "enc"),
        help="node: node classification; enc: edge-dependent node classification (one label per node-hyperedge "
        "pair, the dataset's given split by hyperedge, micro-/macro-F1; datasets coauth-dblp, stack-biology)",
    )
    tr.add_argument("--feature-dim", type=positive_int, default=None, help="enc: spectral node features (default 44)")
    tr.add_argument(
        "--head-pe", action="store_true", help="enc, node models: the per-incidence head also reads the order encoding"
    )
    tr.add_argument("--eval-every", type=positive_int, default=None, help="enc: evaluate every N epochs (default 1)")
    tr.add_argument(
        "--hedge-sampling",
        type=positive_int,
        default=None,
        help="enc with --batch-size: at most N sampled hyperedges per node of a batch (default 40, the CoNHD scripts')",
    )
    tr.add_argument(
        "--gamma", type=float, default=None, help="enc with --batch-size: lr factor per epoch (default 0.99)"
    )
    tr.add_argument(
        "--adam-eps",
        type=float,
        default=None,
        help="enc with --batch-size: Adam's eps (default 1e-4, the CoNHD scripts'; WHATsNet's train.py: 1e-8)",
    )
    tr.add_argument(
        "--clip-norm",
        type=float,
        default=None,
        help="enc with --batch-size: gradient-norm clip per parameter group, 0 = none (default 1, the CoNHD "
        "scripts'; WHATsNet's train.py: 0)",
    )
    tr.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="PATH",
        help="enc with --batch-size: keep the run's whole state in PATH, written after every epoch; when PATH "
        "exists the run goes on from it (rerun the same command after a stop)",
    )
    tr.add_argument(
        "--node-features",
        type=Path,
        default=None,
        help="enc: node features from a .npy file [V, F] in the dataset's node order (default: spectral)",
    )
    tr.set_defaults(handler=_train)

    di = sub.add_parser("distill", help="LightHGNN(+): distil an HGNN teacher into an MLP")
    _common(di)
    di.add_argument("--only", choices=("lighthgnn", "lighthgnn+"), help="run one variant (default: both)")
    di.add_argument("--seeds", type=positive_int, default=1, help="number of splits (seed, seed+1, ...)")
    di.add_argument("--teacher", default="hgnn", type=non_empty)
    di.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="teacher hyper-parameter")
    di.set_defaults(handler=_distill)

    tu = sub.add_parser("tune", help="tune a model with Optuna on validation only; --evaluate a tuned config")
    add_tune_arguments(tu)
    tu.set_defaults(handler=run_tune)

    ta = sub.add_parser("table", help="the benchmark table: datasets x models x seeds beside the published numbers")
    add_table_arguments(ta)
    ta.set_defaults(handler=run_table)

    ep = sub.add_parser("edgepred", help="hyperedge prediction: sized/motif/clique negatives, AUROC and AP")
    add_edgepred_arguments(ep)
    ep.set_defaults(handler=run_edgepred)


def add_edgepred_arguments(p: argparse.ArgumentParser) -> None:
    from graphhyper.experiments.edgepred import METHODS, EdgePredSettings
    from graphhyper.hypergraph.edgepred import POOLS, STRATEGIES

    d = EdgePredSettings()
    p.add_argument("--dataset", default="cora-ca", type=non_empty)
    p.add_argument(
        "--root", default=None, type=data_root, help="data root (default $GRAPHHYPER_DATA or ~/.cache/graphhyper)"
    )
    p.add_argument("--method", default="hgnn", choices=METHODS, help="encoder + set scorer (see docs/hypergraphs.md)")
    p.add_argument("--negatives", default="sized", choices=STRATEGIES, help="negative sampling (Patil et al. 2020)")
    p.add_argument("--seed", type=random_seed, default=0, help="first split / initialisation seed")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of runs (seed, seed+1, ...)")
    p.add_argument("--epochs", type=positive_int, default=d.epochs)
    p.add_argument("--patience", type=positive_int, default=d.patience)
    p.add_argument("--lr", type=positive_float, default=d.lr)
    p.add_argument("--weight-decay", type=non_negative_float, default=d.weight_decay)
    p.add_argument("--pool", default=d.pool, choices=POOLS, help="set pooling of the scorer")
    p.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print one JSON object per run")


def run_edgepred(args: argparse.Namespace) -> int:
    import statistics

    import torch

    from graphhyper.experiments.edgepred import EdgePredSettings, run_edge_prediction

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = EdgePredSettings(
        epochs=args.epochs, patience=args.patience, lr=args.lr, weight_decay=args.weight_decay, pool=args.pool
    )
    rows = []
    for seed in range(args.seed, args.seed + args.seeds):
        row = run_edge_prediction(args.dataset, args.method, args.negatives, seed, settings, args.root)
        rows.append(row)
        if args.json:
            _print(json.dumps(row))
        else:
            _print(
                f"{row['dataset']} {args.method} {args.negatives} seed {seed}: "
                f"val AUROC {100 * row['best_val_auroc']:.2f} (epoch {row['best_epoch']}), "
                f"test AUROC {100 * row['test_auroc']:.2f}, "
                f"test AP {100 * row['test_ap']:.2f}"
            )
    if len(rows) > 1 and not args.json:
        for key in ("test_auroc", "test_ap"):
            vals = [100 * r[key] for r in rows]
            _print(f"{key}: {statistics.mean(vals):.2f} ± {statistics.stdev(vals):.2f} over {len(vals)} seeds")
    return 0


def add_tune_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``graphhyper hypergraph tune`` (also used by ``scripts/tune_hypergraph.py``)."""
    p.add_argument("--dataset", help="dataset to tune on")
    p.add_argument(
        "--model",
        default="hgnn",
        help="model with a search space: hgnn, hgnnp, unigcnii, appnp, "
        "allset-transformer, ed-hnn (graphhyper.experiments.tuning.SPACES)",
    )
    p.add_argument(
        "--trials",
        type=non_negative_int,
        default=20,
        help="new trials to run (0: only write the best config of the stored study)",
    )
    p.add_argument("--timeout", type=positive_float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--tune-seeds", type=positive_int, default=2, help="tune splits 1000..1000+N-1 (disjoint from 0..9)")
    p.add_argument("--epochs", type=positive_int, default=300)
    p.add_argument("--patience", type=positive_int, default=100)
    p.add_argument("--fix", action="append", default=[], help="pin a searched value or add a model kwarg: key=value")
    p.add_argument("--space", action="append", default=[], help='replace a search range: key=["cat", [1, 2]]')
    p.add_argument("--enqueue", action="append", default=[], help="JSON params of a trial to run first")
    p.add_argument("--startup", type=non_negative_int, default=10, help="random trials before TPE takes over")
    p.add_argument(
        "--out",
        default="results/tuned",
        type=writable_dir,
        help="folder of the best-config JSON and the default storage",
    )
    p.add_argument("--study", default=None, help="study name (default <dataset>__<model>)")
    p.add_argument(
        "--storage",
        default=None,
        type=storage_url,
        help="Optuna storage URL (default: sqlite file in --out, resumable)",
    )
    p.add_argument("--seed", type=random_seed, default=0, help="sampler seed")
    p.add_argument(
        "--tie-break",
        default="first",
        choices=("first", "val_loss"),
        help="among trials with the same best validation accuracy, keep the first or the one with the "
        "lowest validation loss (for small, saturating validation sets)",
    )
    p.add_argument("--evaluate", nargs="+", default=None, metavar="CONFIG", help="evaluate tuned config JSON files")
    p.add_argument(
        "--choose",
        nargs="+",
        default=None,
        metavar="CONFIG",
        help="pick, among tuned configs of one dataset (one per model), the highest validation "
        "accuracy; ties by --tie-break",
    )
    p.add_argument(
        "--write", default=None, type=writable_file, help="with --choose: copy the chosen config to this path"
    )
    p.add_argument("--seeds", type=positive_int, default=10, help="evaluation split seeds 0..N-1")
    p.add_argument("--csv", default=None, type=writable_file, help="append per-seed evaluation rows here")
    p.add_argument("--device", default="cpu", type=device)
    p.add_argument("--threads", type=thread_count, default=1)
    p.add_argument(
        "--root", default=None, type=data_root, help="data root (default $GRAPHHYPER_DATA or ~/.cache/graphhyper)"
    )


def run_tune(args: argparse.Namespace) -> int:
    """Tune or evaluate as ``args`` say (see :mod:`graphhyper.experiments.tuning`)."""
    import warnings

    import torch

    from graphhyper.errors import InvalidInputError
    from graphhyper.experiments import tuning as ht

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    if args.write and not args.choose:
        raise InvalidInputError("--write goes with --choose CONFIG ...: it is where the chosen config is copied.")
    if args.csv and not args.evaluate:
        raise InvalidInputError("--csv goes with --evaluate CONFIG ...: it is where the per-seed rows are appended.")
    if args.choose:
        ht.choose_config(args.choose, args.tie_break, write=args.write, log=_print)
        return 0
    if args.evaluate:
        ht.evaluate_configs(
            args.evaluate, args.seeds, root=args.root, device=args.device, csv_path=args.csv, log=_print
        )
        return 0
    if not args.dataset:
        raise InvalidInputError("--dataset is required for tuning (or pass --evaluate CONFIG.json).")
    _check_fixed(args.model, args.fix)
    ht.tune(
        args.dataset,
        args.model,
        trials=args.trials,
        timeout=args.timeout,
        tune_seeds=args.tune_seeds,
        epochs=args.epochs,
        patience=args.patience,
        fixed=parse_key_values(args.fix, "--fix"),
        space=ht.parse_space(parse_key_values(args.space, "--space")),
        enqueue=[_json_object(e, "--enqueue") for e in args.enqueue],
        startup=args.startup,
        out=args.out,
        study=args.study,
        storage=args.storage,
        seed=args.seed,
        root=args.root,
        tie_break=args.tie_break,
        log=_print,
    )
    return 0


def add_table_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``graphhyper hypergraph table`` (also used by ``scripts/reproduce_hypergraph_table.py``); the
    ones left at ``None`` are filled by :func:`table_settings` from the preset, else the defaults."""
    from graphhyper.experiments.table import DEFAULTS, PRESETS

    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="a named bundle of the flags below")
    p.add_argument("--datasets", default=None, help=f"comma-separated dataset names ({DEFAULTS['datasets']})")
    p.add_argument("--models", default=None, help=f"comma-separated model names ({DEFAULTS['models']})")
    p.add_argument("--seeds", type=positive_int, default=None, help="number of random splits, seeds 0..N-1 (10)")
    p.add_argument("--epochs", type=positive_int, default=None, help="maximum epochs per run (300)")
    p.add_argument(
        "--patience",
        type=non_negative_int,
        default=None,
        help="early stopping: epochs without a better validation accuracy (100; 0 = never stop early)",
    )
    p.add_argument("--out", default="results/hypergraph_table", type=non_empty, help="output prefix for .csv and .md")
    p.add_argument("--tuned", default=None, help="folder of tuned configs from `graphhyper hypergraph tune`")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override: key=value (model kwarg, lr, weight_decay, label_smoothing, feature_norm, epochs, patience)",
    )
    p.add_argument("--threads", type=thread_count, default=None, help="torch threads per run (1)")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="runs trained in parallel, one process each (1 = in this process)",
    )
    p.add_argument("--device", default="cpu", type=device)
    p.add_argument(
        "--root", default=None, type=data_root, help="data root (default $GRAPHHYPER_DATA or ~/.cache/graphhyper)"
    )
    p.add_argument("--fresh", action="store_true", help="ignore runs already in the CSV")
    p.add_argument("--progress", action="store_true")


def table_settings(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the table options left at ``None`` filled from ``--preset``, else the defaults."""
    from graphhyper.experiments.table import with_preset

    for key, value in with_preset(args.preset, vars(args)).items():
        setattr(args, key, value)
    return args


def run_table(args: argparse.Namespace) -> int:
    """Train and write the benchmark table as ``args`` say (see :mod:`graphhyper.experiments.table`)."""
    import sys

    from graphhyper.experiments import table

    table_settings(args)
    overrides = parse_key_values(args.set, "--set")
    with table.worker_settings(args.threads):
        code = table.run_table(
            [d.strip() for d in args.datasets.split(",") if d.strip()],
            [m.strip() for m in args.models.split(",") if m.strip()],
            seeds=args.seeds,
            out=args.out,
            tuned=args.tuned,
            overrides=overrides,
            workers=args.workers,
            threads=args.threads,
            fresh=args.fresh,
            options=table.RunOptions(
                epochs=args.epochs, patience=args.patience, root=args.root, device=args.device, progress=args.progress
            ),
            log=_print,
        )
    out = Path(args.out)
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.md')}", file=sys.stderr)
    return code


def _check_fixed(model: str, items: list[str]) -> None:
    """``--fix`` values that are model hyper-parameters are checked as ``--set`` ones are (kind, then a trial
    build of the model), so a bad one fails now rather than inside the first trial. Searched-only keys (lr, ...)
    and unknown models are left to the tuner, which names them."""
    from graphhyper.hypergraph.models import list_models, model_defaults

    if model not in list_models():
        return
    fixed = checked_overrides(model, items, "--fix")
    build_with_overrides(model, 4, 2, {k: v for k, v in fixed.items() if k in model_defaults(model)}, "--fix")


def _json_object(text: str, option: str) -> dict:
    from graphhyper.errors import InvalidInputError

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{option} {text!r} is not JSON ({exc}); give the trial's params as an object."
        ) from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"{option} {text!r}: give the trial's params as a JSON object.")
    return value


def _print(line: str) -> None:
    print(line, flush=True)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="cora-ca", type=non_empty)
    p.add_argument(
        "--root", default=None, type=data_root, help="data root (default $GRAPHHYPER_DATA or ~/.cache/graphhyper)"
    )
    p.add_argument("--split", default="random", choices=("random", "hypergcn"))
    p.add_argument("--seed", type=random_seed, default=0)
    p.add_argument("--epochs", type=positive_int, default=300)
    p.add_argument("--patience", type=positive_int, default=100)
    p.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="Adam learning rate (default: the model's own, graphhyper.hypergraph.models.train_defaults)",
    )
    p.add_argument(
        "--weight-decay",
        type=non_negative_float,
        default=None,
        help="Adam weight decay (default: the model's own, see train_defaults)",
    )
    p.add_argument("--device", default="cpu", type=device)
    p.add_argument("--no-self-loops", action="store_true", help="do not add a self-loop hyperedge per node")
    p.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _datasets(args: argparse.Namespace) -> int:
    from graphhyper.data import get_card, list_datasets

    rows = []
    for name in list_datasets():
        card = get_card(name)
        st = card.statistics
        best = max(card.published, key=lambda r: r["mean"]) if card.published else None
        rows.append(
            {
                "name": name,
                "nodes": st.get("nodes"),
                "hyperedges": st.get("hyperedges"),
                "features": st.get("features"),
                "classes": st.get("classes"),
                "isolated": st.get("isolated_nodes"),
                "duplicates": st.get("duplicate_hyperedges"),
                "best_published": f"{best['model']} {best['mean']:.2f}" if best else "",
                "license": card.license.split(" ")[0],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = ["name", "nodes", "hyperedges", "features", "classes", "isolated", "duplicates", "best_published"]
    widths = {c: max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(_fmt(r[c]).ljust(widths[c]) for c in cols))
    return 0


def _export(args: argparse.Namespace) -> int:
    """The dataset's hypergraph as stored (no self loops added), weights included, as a HIF document."""
    from graphhyper.data import load_hypergraph
    from graphhyper.hypergraph import hif

    data = load_hypergraph(args.dataset, args.root, add_self_loops=False)
    hg = data.hg
    extra = hif.HIFExtra(list(range(hg.num_nodes)), list(range(hg.num_edges)), metadata={"name": args.dataset})
    if args.labels:
        extra.node_attrs = {v: {"label": int(y)} for v, y in enumerate(data.y.tolist())}
    path = hif.write_hif(
        hg, args.out, extra=extra, node_features=data.x if args.node_features else None, validate=args.validate
    )
    print(
        f"{args.dataset}: {hg.num_nodes} nodes, {hg.num_edges} hyperedges, {hg.nnz} incidences -> {path} "
        f"({path.stat().st_size / 1e6:.2f} MB, HIF)"
    )
    return 0


def _fmt(value) -> str:
    return "?" if value is None else str(value)


def _load(args: argparse.Namespace):
    import torch

    from graphhyper.data import load_hypergraph

    if args.threads:
        torch.set_num_threads(args.threads)
    return load_hypergraph(
        args.dataset, args.root, split=args.split, seed=args.seed, add_self_loops=not args.no_self_loops
    )


def with_train_defaults(args: argparse.Namespace, model: str) -> argparse.Namespace:
    """Fill the optimiser options left unset (``None``) with ``train_defaults(model)``: lr and weight decay differ
    per model (1e-2 for HGNN, 1e-3 for AllSet, ...). Raises :class:`InvalidInputError` for an unknown model."""
    from graphhyper.hypergraph.models import train_defaults

    for key, value in train_defaults(model).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def checked_overrides(model: str, items: list[str], option: str = "--set") -> dict:
    """``--set KEY=VALUE`` items parsed and type-checked against ``model``'s defaults (an int stays an int, a
    float takes a finite number, a flag takes true/false), so a typo fails before any data is loaded."""
    from graphhyper.errors import InvalidInputError
    from graphhyper.hypergraph.models import model_defaults

    overrides = parse_key_values(items, option)
    defaults = model_defaults(model)
    for key, value in overrides.items():
        if key in defaults and not _same_kind(value, defaults[key]):
            raise InvalidInputError(
                f"{option} {key}={json.dumps(value)}: model {model!r} expects "
                f"{_kind_name(defaults[key])} like {json.dumps(defaults[key])}."
            )
    return overrides


def _same_kind(value, default) -> bool:
    import math

    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) == isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(default, str):
        return isinstance(value, str)
    return True


def _kind_name(default) -> str:
    for kind, name in ((bool, "true or false"), (int, "an integer"), (float, "a finite number"), (str, "a name")):
        if isinstance(default, kind):
            return name
    return type(default).__name__


def build_with_overrides(model: str, in_channels: int, num_classes: int, overrides: dict, option: str = "--set"):
    """``build_model`` where a constructor failure caused by the user's ``--set`` values (a negative size, an
    impossible combination) becomes an :class:`InvalidInputError` naming them. Without overrides a failure is a
    bug in the model and keeps its traceback."""
    from graphhyper.errors import GraphhyperError, InvalidInputError
    from graphhyper.hypergraph.models import build_model

    if not overrides:
        return build_model(model, in_channels, num_classes)
    try:
        return build_model(model, in_channels, num_classes, **overrides)
    except GraphhyperError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:
        given = " ".join(f"{k}={json.dumps(v)}" for k, v in overrides.items())
        raise InvalidInputError(
            f"{option} {given}: model {model!r} cannot be built with these values ({exc}); "
            "see graphhyper.hypergraph.models.model_defaults for sensible ones."
        ) from exc


def _minibatch_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "mini-batch training (sampled sub-hypergraphs; under `torchrun --nproc-per-node W` each process takes an "
        "equal shard of every batch, DistributedDataParallel over gloo)"
    )
    g.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="seed nodes per step (--task enc: training hyperedges per step) (default: full batch)",
    )
    g.add_argument("--hops", type=positive_int, default=None, help="hops to sample (default: the model's num_layers)")
    g.add_argument("--max-edges-per-node", type=positive_int, default=None, help="fan-out cap (default: all)")
    g.add_argument("--max-nodes-per-edge", type=positive_int, default=None, help="fan-out cap (default: all)")
    g.add_argument("--checkpoint", type=writable_file, default=None, help="best weights (.safetensors), rank 0")


def _loop_options(args: argparse.Namespace) -> dict:
    """The training-loop options every ``train`` task passes on."""
    return dict(
        epochs=args.epochs,
        lr=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        seed=args.seed,
        progress=not args.quiet,
        device=args.device,
    )


def _refuse_other_task_options(args: argparse.Namespace) -> None:
    """Options of the other ``--task`` are refused by name instead of being ignored."""
    from graphhyper.errors import InvalidInputError

    if args.task == "enc":
        given = [f for f, v in _minibatch_flags(args) if v and f != "--batch-size"]
        fix = "drop them: edge-dependent node classification samples with --batch-size and --hedge-sampling"
        if args.batch_size is None:
            given += [f for f, v in (("--hedge-sampling", args.hedge_sampling), ("--gamma", args.gamma)) if v]
            given += [f for f, v in (("--adam-eps", args.adam_eps), ("--clip-norm", args.clip_norm)) if v is not None]
            given += ["--resume"] if args.resume else []
            fix = "drop them, or give --batch-size N for mini-batches (they set its sampling and optimiser)"
    else:
        enc_only = [("--feature-dim", args.feature_dim), ("--head-pe", args.head_pe)]
        enc_only += [("--hedge-sampling", args.hedge_sampling), ("--node-features", args.node_features)]
        enc_only += [("--resume", args.resume)]
        given = [f for f, v in enc_only if v]
        given += [f for f, v in (("--eval-every", args.eval_every), ("--gamma", args.gamma)) if v is not None]
        given += [f for f, v in (("--adam-eps", args.adam_eps), ("--clip-norm", args.clip_norm)) if v is not None]
        fix = "they apply to --task enc"
    if given:
        raise InvalidInputError(f"{', '.join(given)} with --task {args.task}: {fix}.")


def _minibatch_flags(args: argparse.Namespace) -> list[tuple[str, object]]:
    return [
        ("--batch-size", args.batch_size),
        ("--hops", args.hops),
        ("--max-edges-per-node", args.max_edges_per_node),
        ("--max-nodes-per-edge", args.max_nodes_per_edge),
        ("--checkpoint", args.checkpoint),
    ]


def _fit(args: argparse.Namespace, model, data, overrides: dict):
    from graphhyper.hypergraph.train import train_node_classifier, with_sparse_features

    common = _loop_options(args)
    if args.batch_size is None:
        if any(v for _, v in _minibatch_flags(args)):
            from graphhyper.errors import InvalidInputError

            raise InvalidInputError("--hops, --max-*-per-* and --checkpoint need mini-batches: give --batch-size N.")
        return train_node_classifier(model, with_sparse_features(model, data), **common)
    from graphhyper.hypergraph.minibatch import SamplerConfig, train_node_classifier_minibatch
    from graphhyper.hypergraph.models import model_defaults

    hops = args.hops or int(overrides.get("num_layers", model_defaults(args.model).get("num_layers", 2)))
    cfg = SamplerConfig(args.batch_size, hops, args.max_edges_per_node, args.max_nodes_per_edge)
    return train_node_classifier_minibatch(model, data, cfg, checkpoint=args.checkpoint, **common)


def _train(args: argparse.Namespace) -> int:
    from graphhyper.hypergraph.minibatch import distributed
    from graphhyper.hypergraph.train import set_seed

    _refuse_other_task_options(args)
    if args.task == "enc":
        return _train_enc(args)
    with_train_defaults(args, args.model)
    overrides = checked_overrides(args.model, args.set)
    data = _load(args)
    set_seed(args.seed)
    model = build_with_overrides(args.model, data.num_features, data.num_classes, overrides)
    with distributed() as (rank, _):
        res = _fit(args, model, data, overrides)
    if rank != 0:
        return 0
    print(
        f"{data!r}\nmodel {args.model}: best val acc {100 * res.best_val_acc:.2f} (epoch {res.best_epoch}), "
        f"test acc at that epoch {100 * res.test_acc:.2f}, {res.epochs_run} epochs in {res.train_seconds:.1f}s"
    )
    pub = data.card.published_for(args.model) if data.card else None
    if pub:
        std = f" ± {pub['std']:.2f}" if pub.get("std") is not None else ""
        print(f"published ({pub['source'].split(';')[0]}): {pub['mean']:.2f}{std} [{pub['protocol']}]")
    return 0


def _train_enc(args: argparse.Namespace) -> int:
    """``train --task enc``: edge-dependent node classification on the dataset's given split."""
    import torch

    from graphhyper.data import load_enc_dataset
    from graphhyper.hypergraph import enc
    from graphhyper.hypergraph.train import set_seed

    with_train_defaults(args, args.model)
    overrides = checked_overrides(args.model, args.set)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_enc_dataset(args.dataset, args.root)
    task = enc.prepare_enc(ds, **({"feature_dim": args.feature_dim} if args.feature_dim else {}))
    if args.node_features is not None:
        task = dataclasses.replace(task, x=_node_features(args.node_features, ds.hg.num_nodes))
    set_seed(args.seed)
    model = enc.build_enc_model(args.model, task.x.shape[1], task.num_classes, head_pe=args.head_pe, **overrides)
    every = {"eval_every": args.eval_every} if args.eval_every else {}
    if args.batch_size is None:
        res = enc.train_enc(model, task, **every, **_loop_options(args))
    else:
        res = _train_enc_minibatch(args, model, task, every)
    print(
        f"{ds!r}\nmodel {args.model}: best val micro-F1 {100 * res.val_micro_f1:.2f} macro-F1 "
        f"{100 * res.val_macro_f1:.2f} (epoch {res.best_epoch}); test at that epoch micro-F1 "
        f"{100 * res.test_micro_f1:.2f} macro-F1 {100 * res.test_macro_f1:.2f}; {res.epochs_run} epochs in "
        f"{res.train_seconds:.1f}s"
    )
    return 0


def _node_features(path: Path, num_nodes: int):
    """``[V, F]`` float32 features from a ``.npy`` file (numpy's safe loader: no pickled objects)."""
    import numpy as np
    import torch

    from graphhyper.errors import InvalidInputError

    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        msg = f"--node-features {path}: not a readable .npy array ({exc}); save one with np.save."
        raise InvalidInputError(msg) from exc
    if arr.ndim != 2 or arr.shape[0] != num_nodes or not np.isfinite(arr).all():
        raise InvalidInputError(
            f"--node-features {path}: shape {arr.shape}; give a finite [{num_nodes}, F] array, one row per node in the "
            "dataset's node order (first appearance in hypergraph.txt)."
        )
    return torch.from_numpy(arr.astype(np.float32))


def _train_enc_minibatch(args: argparse.Namespace, model, task, every: dict):
    from graphhyper.hypergraph import enc

    opts = _loop_options(args)
    if opts.pop("device") not in (None, "cpu"):
        from graphhyper.errors import InvalidInputError

        raise InvalidInputError("--task enc --batch-size trains on the CPU; drop --device.")
    gamma = 0.99 if args.gamma is None else args.gamma
    if args.adam_eps is not None and args.adam_eps <= 0 or args.clip_norm is not None and args.clip_norm < 0:
        from graphhyper.errors import InvalidInputError

        raise InvalidInputError(f"--adam-eps {args.adam_eps} / --clip-norm {args.clip_norm}: give eps > 0, clip >= 0.")
    clip = 1.0 if args.clip_norm is None else (args.clip_norm or None)
    return enc.train_enc_minibatch(
        model, task, batch_size=args.batch_size, hedge_sampling=args.hedge_sampling or 40, gamma=gamma,
        adam_eps=1e-4 if args.adam_eps is None else args.adam_eps, clip_norm=clip, resume=args.resume, **every,
        **opts,
    )  # fmt: skip


def _distill(args: argparse.Namespace) -> int:
    import statistics

    from graphhyper.hypergraph.distill import distill
    from graphhyper.hypergraph.train import set_seed, train_node_classifier, with_sparse_features

    with_train_defaults(args, args.teacher)
    overrides = checked_overrides(args.teacher, args.set)

    variants = {"LightHGNN": False, "LightHGNN+": True}
    if args.only:
        variants = {k: v for k, v in variants.items() if k.lower() == args.only.lower()}
    scores: dict[str, list[float]] = {"teacher": [], **{k: [] for k in variants}}
    first_seed = args.seed
    for seed in range(first_seed, first_seed + args.seeds):
        args.seed = seed
        data = _load(args)
        set_seed(seed)
        teacher = build_with_overrides(args.teacher, data.num_features, data.num_classes, overrides)
        data = with_sparse_features(teacher, data)
        t = train_node_classifier(
            teacher,
            data,
            epochs=args.epochs,
            lr=args.lr,
            weight_decay=args.weight_decay,
            patience=args.patience,
            seed=seed,
            progress=not args.quiet,
            device=args.device,
        )
        scores["teacher"].append(100 * t.test_acc)
        line = [f"seed {seed}: teacher {args.teacher} {100 * t.test_acc:.2f}"]
        for name, plus in variants.items():
            res = distill(
                teacher, data, plus=plus, seed=seed, epochs=args.epochs, patience=args.patience, progress=not args.quiet
            )
            scores[name].append(100 * res.student_result.test_acc)
            line.append(
                f"{name} MLP {100 * res.student_result.test_acc:.2f} (gap {100 * res.test_gap:+.2f}, "
                f"deployed in bfloat16 {_bf16_test_acc(res, data):.2f})"
            )
        print(", ".join(line), flush=True)
    for name, vals in scores.items():
        std = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"{name:10s} test {statistics.mean(vals):.2f} ± {std:.2f} over {len(vals)} seed(s)")
    return 0


def _bf16_test_acc(res, data) -> float:
    """Test accuracy (%) of the student exported as a bfloat16 :class:`InferenceMLP` (what a deployment runs)."""
    import torch

    lean = res.inference_model(dtype=torch.bfloat16)
    pred = lean(data.x.cpu()).argmax(-1)
    test = data.split.test.cpu()
    return 100 * float((pred[test] == data.y.cpu()[test]).float().mean())
