"""`make demo`: the main job of graphhyper, end to end, on bundled or locally generated data (CPU, no network).

1. trace a torchvision ResNet-18 into an ArchGraph and print its summary;
2. predict all its parameters with the bundled GHN, then compare GHN-predicted vs random parameters on
   held-out DARTS-space architectures for the digits task;
3. train an AllSetTransformer on Cora-CA (falls back to a synthetic HSBM hypergraph when the data is absent);
4. run a 50-trial Optuna search on the NAS-Bench-201 table (12-epoch accuracies) and a 50-trial multi-objective
   search (validation accuracy vs parameters);
5. write PNGs (training curve, Pareto front, optimisation history) into demo-output/.

Usage: python scripts/demo.py [--out demo-output] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch


def _step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def _done(t0: float) -> None:
    print(f"    ({time.perf_counter() - t0:.1f} s)", flush=True)


def trace_resnet():
    import torchvision

    from graphhyper.arch import trace

    t0 = _step("1. Trace torchvision ResNet-18 into an ArchGraph (meta tensors, no forward pass on data)")
    net = torchvision.models.resnet18()
    graph = trace(net, input_shape=(1, 3, 224, 224))
    print(graph.summary())
    _done(t0)
    return net, graph


def predict_parameters(net, graph, quick: bool):
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.evaluate import evaluate_split
    from graphhyper.ghn.tasks import arch_specs, get_task

    t0 = _step("2. Predict parameters with the bundled GHN")
    ghn = from_pretrained()  # the bundled default (ghn-tiny-tiled)
    start = time.perf_counter()
    params = ghn.predict(graph)
    n = sum(p.numel() for p in params.values())
    print(
        f"ResNet-18: predicted {len(params)} tensors ({n:,} parameters) in {time.perf_counter() - start:.2f} s; "
        f"unpredicted: {list(params.unpredicted) or 'none'}"
    )
    net.load_state_dict({k: v.detach() for k, v in params.items()}, strict=False)
    task = get_task("digits")
    specs = arch_specs(task, "id", n=3 if quick else 8, seed=0)
    res = evaluate_split(ghn, task, specs, modes=("ghn", "random"))
    mean = {m: 100 * sum(v) / len(v) for m, v in res.items()}
    print(
        f"digits, {len(specs)} held-out DARTS architectures (ghn-tiny-tiled): GHN-predicted {mean['ghn']:.1f}% "
        f"vs random init {mean['random']:.1f}% mean test accuracy (no training)"
    )
    _done(t0)


def train_hypergraph(out: Path, quick: bool):
    from graphhyper.errors import GraphhyperError
    from graphhyper.hypergraph.models import build_model
    from graphhyper.hypergraph.train import train_node_classifier

    t0 = _step("3. Train an AllSetTransformer on Cora-CA (50/25/25 split, early stopping on validation)")
    try:
        from graphhyper.data import load_hypergraph

        data = load_hypergraph("cora-ca", split="random", seed=0, add_self_loops=True, download=False)
        name = "Cora-CA"
    except GraphhyperError as exc:
        from graphhyper.data import from_tensors
        from graphhyper.hypergraph import hsbm

        print(f"Cora-CA not available ({exc}); using a synthetic HSBM hypergraph instead.")
        hg, x, y = hsbm(2000, 600, 5, 64, 4, seed=0)
        data, name = from_tensors(hg, x, y, seed=0), "HSBM (synthetic)"
    torch.manual_seed(0)
    model = build_model("allset-transformer", data.x.shape[1], data.num_classes)
    res = train_node_classifier(model, data, epochs=60 if quick else 200, patience=50, seed=0)
    print(
        f"{name}: test accuracy {100 * res.test_acc:.2f}% at the best validation epoch {res.best_epoch} "
        f"(validation {100 * res.best_val_acc:.2f}%), {res.train_seconds:.1f} s"
    )
    _plot_curve(res.history, out / "training_curve.png", f"AllSetTransformer on {name}")
    _done(t0)


def _plot_curve(history, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ep = range(len(history))
    ax[0].plot(ep, [h["loss"] for h in history], label="train loss")
    ax[0].set_xlabel("epoch"), ax[0].legend()
    for key in ("train_acc", "val_acc", "test_acc"):
        ax[1].plot(ep, [h[key] for h in history], label=key)
    ax[1].set_xlabel("epoch"), ax[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def search_nb201(out: Path, quick: bool):
    from graphhyper.errors import GraphhyperError
    from graphhyper.search import NB201Table, nb201_space, run
    from graphhyper.search.plots import plot_history, plot_pareto

    t0 = _step("4. Optuna search on NAS-Bench-201 (12-epoch table: select on cifar10-val, report cifar10-test)")
    try:
        table = NB201Table.load()
    except GraphhyperError as exc:
        print(f"NB201 table not available ({exc}); skipping the search step.")
        return
    val, test = table.metric("cifar10-val"), table.metric("cifar10-test")
    space = nb201_space()
    storage = f"sqlite:///{out / 'search.db'}"
    n = 20 if quick else 50
    res = run(
        space,
        lambda c: float(val[table.index(c.arch)]),
        n_trials=n,
        storage=storage,
        study_name="demo-nb201",
        seed=0,
        sampler="tpe",
    )
    best = res.best
    i = table.index(space.from_params(best.params))
    print(
        f"best of {n} trials: {best.user_attrs['arch']}\n"
        f"  cifar10-val {val[i]:.2f}%, cifar10-test {test[i]:.2f}% (12-epoch; oracle {table.oracle():.2f}%)"
    )
    plot_history(res.study, out / "search_history.png", name="cifar10-val (12-epoch)")
    params = {}

    def two_objectives(c):
        k = table.index(c.arch)
        if k not in params:
            params[k] = sum(p.numel() for p in c.module().parameters()) / 1e6
        return float(val[k]), params[k]

    mo = run(
        space,
        two_objectives,
        n_trials=n,
        storage=storage,
        study_name="demo-nb201-pareto",
        seed=0,
        directions=["maximize", "minimize"],
    )
    plot_pareto(mo.study, out / "pareto_front.png", names=["cifar10-val % (12-epoch)", "parameters (M)"])
    print(f"Pareto front: {len(mo.pareto)} architectures; wrote {out / 'pareto_front.png'}")
    print(f"optuna-dashboard {storage}   # browse both studies")
    _done(t0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-output")
    parser.add_argument("--quick", action="store_true", help="smaller budgets (used by the test suite)")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    net, graph = trace_resnet()
    predict_parameters(net, graph, args.quick)
    train_hypergraph(out, args.quick)
    search_nb201(out, args.quick)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; outputs in {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
