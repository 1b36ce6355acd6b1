"""`graphhyper search ...` sub-commands.

* ``graphhyper search nb201 --searcher tpe --budget 100 --seeds 5``: simulated searches on the NAS-Bench-201
  12-epoch table (select on cifar10-val, report cifar10-test).
* ``graphhyper search darts --task digits --n-trials 40``: a real multi-objective search (GHN-predicted accuracy
  vs parameter count) over the DARTS space, stored in SQLite (``optuna-dashboard sqlite:///...`` opens it), with
  the Pareto front and optimisation history written as PNG files.
"""

from __future__ import annotations

import argparse

from graphhyper.cli._args import (
    existing_file,
    finite_float,
    float_in,
    json_cache,
    non_empty,
    positive_float,
    positive_int,
    random_seed,
    storage_url,
    writable_dir,
    writable_file,
)

SEARCHER_CHOICES = ("random", "evolution", "tpe", "optuna-random", "predictor", "predictor-noprior", "proxy")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("search", help="architecture search (NB201 table, DARTS space)")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("nb201", help="simulated searches on the NAS-Bench-201 12-epoch table")
    p.add_argument("--searcher", default="tpe", choices=SEARCHER_CHOICES)
    p.add_argument("--budget", type=positive_int, default=100, help="queries per search")
    p.add_argument("--seeds", type=positive_int, default=5, help="number of seeded searches (seeds 0..N-1)")
    p.add_argument(
        "--table", default=None, type=existing_file, help="path of nb201_minibench_accs.csv (default: $GRAPHHYPER_DATA)"
    )
    p.add_argument("--prior-cache", default=None, type=json_cache, help="JSON cache of the zero-cost prior")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_nb201)

    d = sub.add_parser("darts", help="multi-objective DARTS-space search on a small task")
    d.add_argument("--task", default="digits", choices=("digits", "mnist1d"))
    d.add_argument("--n-trials", type=positive_int, default=40)
    d.add_argument("--storage", default=None, type=storage_url, help="default: sqlite:///<out>/search.db")
    d.add_argument("--study-name", default=None)
    d.add_argument(
        "--objective",
        default="ghn",
        choices=("ghn", "train"),
        help="accuracy with GHN-predicted parameters (no training) or after a short training",
    )
    d.add_argument("--ghn", default="ghn-tiny-tiled", type=non_empty, help="bundled GHN name or checkpoint path")
    d.add_argument("--max-params", type=positive_float, default=None, help="constraint: parameter count <= this")
    d.add_argument(
        "--out", default="runs/search/darts", type=writable_dir, help="folder for the PNG files and the default storage"
    )
    d.add_argument("--seed", type=random_seed, default=0)
    d.add_argument(
        "--max-failures",
        type=positive_int,
        default=None,
        help="stop with an error after this many failed trials (default: max(10, 2 * n-trials))",
    )
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(handler=_darts)

    g = sub.add_parser("generate", help="sample architectures with the guided discrete diffusion model")
    g.add_argument("--space", default="nb201", choices=("nb201", "darts"))
    g.add_argument("--n", type=positive_int, default=100, help="number of architectures to sample")
    g.add_argument(
        "--target", default=None, type=_target, help="'max' or an accuracy; needs --labels table queries (NB201)"
    )
    g.add_argument(
        "--params", type=float_in(1, 1e12, "a parameter count"), default=None, help="aim at this parameter count"
    )
    g.add_argument("--labels", type=positive_int, default=25, help="random NB201 table queries used to fit the guide")
    g.add_argument("--scale", type=float_in(-1e6, 1e6), default=2.0, help="guidance scale")
    g.add_argument("--seed", type=random_seed, default=0)
    g.add_argument("--out", default=None, type=writable_file, help="write one architecture string per line here")
    g.set_defaults(handler=_generate)


def _target(text: str) -> str | float:
    """``max`` or a finite accuracy."""
    return text if text == "max" else finite_float(text)


def nb201_searches(searcher: str, budget: int, seeds: int, table=None, prior_cache=None, progress: bool = True) -> dict:
    """Run ``seeds`` simulated searches; returns ``{budget: [test accuracy per seed]}`` for standard budgets."""
    from tqdm.auto import tqdm

    from graphhyper.search import NB201Table, proxies, searchers, space

    table = table if isinstance(table, NB201Table) else NB201Table.load(table)
    sp = space.nb201_space()
    prior = proxies.nb201_prior(prior_cache, progress=progress) if searcher in ("predictor", "proxy") else None
    budgets = sorted({b for b in (25, 50, 100, 200) if b < budget} | {budget})
    out: dict = {b: [] for b in budgets}
    for seed in tqdm(range(seeds), desc=f"{searcher} searches", disable=not progress):
        s: searchers.Searcher
        if searcher == "predictor":
            s = searchers.PredictorGuided(sp, seed=seed, prior=prior)
        elif searcher == "predictor-noprior":
            s = searchers.PredictorGuided(sp, seed=seed)
        elif searcher == "proxy":
            s = searchers.ProxyGuided(sp, prior, seed=seed)
        else:
            s = searchers.SEARCHERS[searcher](sp, seed=seed)
        bench = table.benchmark()
        searchers.simulate(s, bench, budget)
        for b, v in bench.trajectory(budgets).items():
            out[b].append(v)
    return out


def _nb201(args) -> int:
    import numpy as np

    from graphhyper.search import NB201Table

    table = NB201Table.load(args.table)
    res = nb201_searches(args.searcher, args.budget, args.seeds, table, args.prior_cache, not args.no_progress)
    print(f"{args.searcher}: {args.seeds} seeds, {table.fidelity}; select cifar10-val, report cifar10-test")
    for b, vals in res.items():
        print(f"  {b:>4} queries: {np.mean(vals):.2f} ± {np.std(vals):.2f}")
    print(f"  oracle: {table.oracle():.2f}")
    return 0


def darts_search(
    task: str = "digits",
    n_trials: int = 40,
    storage=None,
    study_name=None,
    objective: str = "ghn",
    ghn: str = "ghn-tiny-tiled",
    max_params=None,
    out="runs/search/darts",
    seed: int = 0,
    progress: bool = True,
    max_failures: int | None = None,
):
    """Multi-objective search (accuracy up, parameter count down) over the DARTS space for a GHN task.

    Returns ``(SearchResult, {"pareto": png, "history": png})``.
    """
    from pathlib import Path

    from graphhyper.ghn.tasks import get_task
    from graphhyper.search import darts_space, run
    from graphhyper.search.objectives import GHNProxy, MultiObjective, TrainEval, num_params
    from graphhyper.search.plots import plot_history
    from graphhyper.search.study import check_max_failures

    check_max_failures(max_failures)  # before the task and the GHN are loaded
    t = get_task(task)
    space = darts_space(**t.darts_kwargs())
    acc = (
        GHNProxy.for_task(task, ghn=ghn, seed=seed)
        if objective == "ghn"
        else TrainEval.for_task(task, epochs=1, seed=seed)
    )
    constraints = {"max_params": (num_params, max_params)} if max_params else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{out / 'search.db'}"
    result = run(
        space,
        MultiObjective([acc, num_params], constraints),
        n_trials,
        storage=storage,
        study_name=study_name or f"darts-{task}-{objective}",
        directions=["maximize", "minimize"],
        seed=seed,
        progress=progress,
        max_failures=max_failures,
    )
    names = [f"{task} accuracy ({'GHN-predicted params' if objective == 'ghn' else '1 epoch'})", "parameters"]
    files = {
        "pareto": result.plot_pareto(out / "pareto.png", names=names),
        "history": plot_history(result.study, out / "history.png", objective=0, name=names[0]),
    }
    return result, files


def _darts(args) -> int:
    result, files = darts_search(
        args.task,
        args.n_trials,
        args.storage,
        args.study_name,
        args.objective,
        args.ghn,
        args.max_params,
        args.out,
        args.seed,
        not args.no_progress,
        args.max_failures,
    )
    print(f"{len(result.trials)} complete trials ({result.evaluated} evaluated now, {result.duplicates} duplicates)")
    print("Pareto front (validation accuracy, parameters):")
    for t in sorted(result.pareto, key=lambda t: t.values[1]):
        print(f"  #{t.number:<4} acc={t.values[0]:.4f} params={int(t.values[1]):>9,d}")
    print(f"wrote {files['pareto']} and {files['history']}")
    if result.dashboard:
        print(f"inspect: {result.dashboard}")
    return 0


def _generate(args) -> int:
    import random

    from graphhyper.errors import SearchError
    from graphhyper.search import NB201Table, generate

    target = args.target
    labelled = None
    if target is not None:
        if args.space != "nb201":
            raise SearchError("--target needs labelled architectures; only the NB201 table provides them here.")
        from graphhyper.arch.spaces import nb201

        table = NB201Table.load()
        val = table.metric("cifar10-val")
        population = nb201.all_cells()
        if args.labels > len(population):
            raise SearchError(
                f"--labels {args.labels}: the NB201 table has only {len(population)} cells; give at most that many."
            )
        cells = random.Random(args.seed).sample(population, args.labels)
        labelled = (cells, [float(val[table.index(c)]) for c in cells])
        print(f"{args.labels} NB201 table queries used to fit the guide ({table.fidelity})")
    archs = generate(
        args.space, args.n, target=target, params=args.params, seed=args.seed, scale=args.scale, labelled=labelled
    )
    lines = [a.to_json() if hasattr(a, "to_json") else _arch_str(a) for a in archs]
    print(f"{len(archs)} valid architectures sampled, {len(set(lines))} distinct")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {args.out}")
    else:
        print("\n".join(lines[:10]) + ("\n..." if len(lines) > 10 else ""))
    return 0


def _arch_str(arch) -> str:
    from graphhyper.arch.spaces import nb201

    return nb201.to_str(arch)
