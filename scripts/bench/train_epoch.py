#!/usr/bin/env python
"""Per-epoch time of our hypergraph models on the shipped datasets, against DHG, PyG and the reference codes.

One epoch is what :func:`graphhyper.hypergraph.train.train_node_classifier` does: a training step (forward, cross
entropy on the training nodes, backward, Adam) and an evaluation pass (forward in eval mode without gradients,
arg-max). Every implementation gets the same data as a user would pass it (dense features from the loader,
row-normalised where the reproduction protocol says so, a self-loop hyperedge per node), the same widths and
dropout, and the same optimiser: the fused Adam of our training loop (:func:`graphhyper.hypergraph.train.adam`),
so the table compares the models. Implementations of one (dataset, model) cell run interleaved round-robin in
one process, so background load hits them alike, and the table shows medians.

    python scripts/bench/train_epoch.py                                  # 7 datasets x 5 models (a few minutes)
    python scripts/bench/train_epoch.py --datasets cora-ca --models hgnn --rounds 21
    python scripts/bench/train_epoch.py --peers dhg --threads 1 --json out.json
    export GRAPHHYPER_ALLSET_SRC=$PWD/../AllSet/src GRAPHHYPER_EDHNN_SRC=$PWD/../ED-HNN   # checkouts, see below
    python scripts/bench/train_epoch.py --models unigcnii,allset-transformer,ed-hnn --threads 1 --clock cpu

Models and peers (same settings on both sides):

- ``hgnn``: 2-layer HGNN, width ``--hidden`` (256), dropout 0.5. DHG ``dhg.models.HGNN``; PyG two
  ``HypergraphConv`` layers (PyG normalises ``D^-1 H W B^-1 H^T``: the same cost class, a different matrix).
- ``hgnnp``: 2-layer HGNN+, width ``--hidden``, dropout 0.5. DHG ``dhg.models.HGNNP``.
- ``unigcnii``, ``allset-transformer``, ``ed-hnn``: the reproduction protocol's settings
  (:func:`graphhyper.experiments.protocol.config_for` over the registry defaults); neither DHG nor PyG has them.
  Their peers are the authors' own code, run from a local checkout that is not part of graphhyper (peers
  ``allset`` and ``edhnn``; without a checkout they are skipped with a printed reason):

      git clone https://github.com/jianhao2016/AllSet    # measured at commit 6281a2f; --allset-src AllSet/src
      git clone https://github.com/Graph-COM/ED-HNN       # measured at commit fea3b8f; --edhnn-src ED-HNN

  (or ``GRAPHHYPER_ALLSET_SRC`` / ``GRAPHHYPER_EDHNN_SRC``). ``scripts/_reference_imports.py`` imports them
  unchanged but for a ``torch_scatter`` stand-in over PyG's pure-torch ``scatter`` (the compiled
  ``torch_scatter`` is not installed here; its speed may differ) and one line of AllSet's ``PMA.aggregate``
  for PyG >= 2.5. Each reference model is built from our model's settings and fed the same data laid out as
  its ``train.py`` lays it out (a PyG ``Data``; incidences sorted by node; AllSet's hyperedge ids offset by the
  node count), built once outside the timed step; the timed step is its ``forward(data)`` in our ``_step``.

  - ``allset``/``allset-transformer``: AllSet's ``SetGNN`` with ``PMA=True``: ``MLP_hidden`` = width, ``heads``,
    ``All_num_layers``, ``MLP_num_layers`` (the PMA feed-forward depth), ``Classifier_num_layers`` /
    ``_hidden``, dropout, LayerNorm, no GPR / LearnMask; its input dropout is fixed at 0.2 (ours: 0.2). Same
    parameter count as ours plus two BatchNorms the reference builds and never calls (they only cost Adam).
  - ``allset``/``unigcnii``: AllSet's ``UniGCNII`` (32 layers of width 64, alpha 0.1, lambda 0.5, dropout 0.2),
    with ``degV``/``degE`` computed as its ``train.py`` does. Its input dropout is fixed at 0.2 (ours: 0.6; one
    dropout either way). Same parameter count as ours.
  - ``edhnn``/``unigcnii``: ED-HNN's ``UniGCNII`` (same sizes, ``restart_alpha`` 0.1). It averages (``mean``
    scatters) instead of AllSet's degree scaling: the same cost class, a different matrix.
  - ``edhnn``/``ed-hnn``: ED-HNN's ``EquivSetGNN`` (``EquivSet`` conv): width 256, ``MLP_num_layers`` /
    ``MLP2_`` / ``MLP3_`` 1, 2 layers, restart alpha 0.5, mean, LayerNorm, classifier 2 layers of 64,
    ``AllSet_input_norm=False`` (its default adds a LayerNorm before every conv MLP; ours has none). Two
    differences remain: it applies one conv module at every layer (ours: one per layer, ``share_weights=False``;
    the same arithmetic per step, one conv's parameters fewer for Adam), and its forward drops out the raw input
    features at the model's dropout (0.5; ours: ``input_dropout`` 0.0).

  The references' own loops use ``log_softmax`` + NLL and AllSet's UniGCNII two weight-decay groups; here every
  implementation gets the same cross entropy and fused Adam (``_step``), so the table compares the models.

Peak memory: measured in a child process (the same cells, built the same way) where glibc serves every buffer of
64 KiB or more with its own mmap (``MALLOC_MMAP_THRESHOLD_``), so that freed memory leaves RSS: after a warm-up
epoch, the peak RSS is reset (``/proc/self/clear_refs``) before one training step and read after it, less the RSS
before. The timings run in this process with glibc's default allocator settings, as a user's training runs: with
a fixed mmap threshold every large tensor is a fresh mmap whose pages fault in on first touch, which made a step
2-3x slower and charged each implementation per allocation rather than per unit of work.
Timings depend on load: the machine line (CPU model, threads, load average) is printed with the table; compare
ratios, and measure on a quiet machine. Beside other jobs, ``--threads 1 --clock cpu`` times by the process' CPU
time, which does not count the time other jobs hold the core (cache sharing still slows it).
"""

from __future__ import annotations

import os
import sys

# The memory child (--memory-only): glibc serves buffers >= 64 KiB with mmap so that freed memory leaves RSS (makes
# the peak-RSS probe honest). The timing process keeps the default allocator (see the module docs).
MEMORY_FLAG = "--memory-only"
if __name__ == "__main__" and MEMORY_FLAG in sys.argv and os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
    if sys.platform.startswith("linux"):
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
        os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Callable  # noqa: E402

if __name__ == "__main__":
    os.environ["HOME"] = tempfile.mkdtemp(prefix="graphhyper-bench-home-")  # DHG writes into ~

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _common import machine_line, peak_rss_gb, reset_peak_rss, rss_gb  # noqa: E402

DATASETS = ("cora-ca", "cora-cc", "citeseer-cc", "zoo", "ntu2012", "mushroom", "20news")
MODELS = ("hgnn", "hgnnp", "unigcnii", "allset-transformer", "ed-hnn")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
PEERS = {
    "hgnn": ("dhg", "pyg"),
    "hgnnp": ("dhg",),
    "unigcnii": ("allset", "edhnn"),
    "allset-transformer": ("allset",),
    "ed-hnn": ("edhnn",),
}
WIDTH_MODELS = ("hgnn", "hgnnp")  # --hidden sets their width; the others take the protocol's
REFERENCES = {  # peer -> (option, environment variable, what to pass)
    "allset": ("--allset-src", "GRAPHHYPER_ALLSET_SRC", "the src/ folder of a checkout of jianhao2016/AllSet"),
    "edhnn": ("--edhnn-src", "GRAPHHYPER_EDHNN_SRC", "the root of a checkout of Graph-COM/ED-HNN"),
}


@dataclass
class Cell:
    """One implementation of one (dataset, model): its training step and its evaluation pass."""

    train: Callable[[], Any]
    evaluate: Callable[[], Any]


# ---------------------------------------------------------------------------------------------- data
def load(name: str):
    """The dataset as the reproduction protocol trains it: random split 0, self-loops, its feature norm."""
    from graphhyper.data import load_hypergraph
    from graphhyper.experiments.protocol import config_for
    from graphhyper.hypergraph.train import normalize_features

    data = load_hypergraph(name, split="random", seed=0, add_self_loops=True)
    return normalize_features(data, config_for(name, "hgnn").feature_norm or "none")


def _step(model: torch.nn.Module, forward: Callable[[], torch.Tensor], data, lr: float, wd: float) -> Cell:
    from graphhyper.hypergraph.train import adam

    opt = adam(model, lr, wd)  # every implementation gets the optimiser of our training loop (fused Adam)
    train_idx, y = data.split.train, data.y

    def train() -> float:
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(forward()[train_idx], y[train_idx])
        loss.backward()
        opt.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate() -> torch.Tensor:
        model.eval()
        return forward().argmax(-1)

    return Cell(train, evaluate)


# ---------------------------------------------------------------------------------------------- implementations
def ours(name: str, data, hidden: int) -> Cell:
    from graphhyper.experiments.protocol import config_for
    from graphhyper.hypergraph.models import build_model

    cfg = config_for(data.name, name)
    kw = dict(cfg.model)
    if name in WIDTH_MODELS:
        kw.update(hidden_channels=hidden, dropout=0.5, input_dropout=0.0)
    torch.manual_seed(0)
    model = build_model(name, data.num_features, data.num_classes, **kw)
    x, hg = data.x, data.hg
    return _step(model, lambda: model(x, hg), data, cfg.lr or 0.01, cfg.weight_decay or 0.0)


def dhg_cell(name: str, data, hidden: int) -> Cell:
    import dhg
    import dhg.models

    g = dhg.Hypergraph(data.num_nodes, data.hg.hyperedges())
    kind = dhg.models.HGNN if name == "hgnn" else dhg.models.HGNNP
    torch.manual_seed(0)
    model = kind(data.num_features, hidden, data.num_classes, drop_rate=0.5)
    x = data.x
    return _step(model, lambda: model(x, g), data, 0.01, 5e-4)


class _PygHGNN(torch.nn.Module):
    def __init__(self, f_in: int, hidden: int, classes: int) -> None:
        from torch_geometric.nn import HypergraphConv

        super().__init__()
        self.conv1, self.conv2 = HypergraphConv(f_in, hidden), HypergraphConv(hidden, classes)

    def forward(self, x: torch.Tensor, index: torch.Tensor, num_edges: int) -> torch.Tensor:
        x = F.dropout(F.relu(self.conv1(x, index, num_edges=num_edges)), 0.5, self.training)
        return self.conv2(x, index, num_edges=num_edges)


def pyg_cell(name: str, data, hidden: int) -> Cell:
    torch.manual_seed(0)
    model = _PygHGNN(data.num_features, hidden, data.num_classes)
    index, x, n_e = data.hg.hyperedge_index, data.x, data.hg.num_edges
    return _step(model, lambda: model(x, index, n_e), data, 0.01, 5e-4)


# ---------------------------------------------------------------------------------------------- reference codes
def _settings(data, name: str) -> tuple[dict, Any]:
    """Our model's full hyperparameters (registry defaults, then the protocol's overrides) and its run config."""
    from graphhyper.experiments.protocol import config_for
    from graphhyper.hypergraph.models import model_defaults

    cfg = config_for(data.name, name)
    return {**model_defaults(name), **cfg.model}, cfg


def _incidences(data) -> tuple[torch.Tensor, torch.Tensor]:
    """Node and hyperedge id of every incidence of ``data.hg`` (self-loops included), sorted by node, then
    hyperedge: the order the references' loaders leave (AllSet's ``ExtractV2E``, its UniGCNII's CSR ``H``,
    ED-HNN's ``AddHypergraphSelfLoops`` all sort by node)."""
    v, e = data.hg.hyperedge_index
    order = torch.argsort(v * data.hg.num_edges + e)
    return v[order].contiguous(), e[order].contiguous()


def _reference_imports():
    """``scripts/_reference_imports.py`` (one folder up from this script)."""
    scripts = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if scripts not in sys.path:
        sys.path.append(scripts)
    import _reference_imports

    return _reference_imports


def _reference_norm(norm: str) -> str:
    return {"none": "None"}.get(norm, norm)


def _allset_model(models, name: str, data):
    """AllSet's model for ``name`` and the ``data`` object its ``forward`` takes, built as its ``train.py`` does."""
    from torch_geometric.data import Data

    c, _ = _settings(data, name)
    v, e = _incidences(data)
    n, f, k = data.num_nodes, data.num_features, data.num_classes
    if name == "allset-transformer":  # train.py: ExtractV2E, Add_Self_Loops, norm_contruction("all_one")
        args = argparse.Namespace(
            All_num_layers=c["num_layers"],
            MLP_num_layers=c["mlp_layers"],
            MLP_hidden=c["hidden_channels"],
            heads=c["heads"],
            Classifier_num_layers=c["classifier_layers"],
            Classifier_hidden=c["classifier_hidden"],
            dropout=c["dropout"],
            aggregate="mean",
            normalization=_reference_norm(c["norm"]),
            deepset_input_norm=True,
            GPR=False,
            LearnMask=False,
            PMA=True,
            num_features=f,
            num_classes=k,
        )
        return models.SetGNN(args), Data(x=data.x, edge_index=torch.stack([v, e + n]), norm=torch.ones_like(v))
    if name == "unigcnii":  # train.py: degV = H 1, degE = mean of degV over the hyperedge, both ^-1/2
        deg_v = torch.bincount(v, minlength=n).float().view(-1, 1)
        deg_e = torch.zeros(data.hg.num_edges, 1).index_add_(0, e, deg_v[v])
        deg_e = (deg_e / torch.bincount(e, minlength=data.hg.num_edges).view(-1, 1)).pow(-0.5)
        deg_v = deg_v.pow(-0.5)
        deg_v[torch.isinf(deg_v)] = 1
        args = argparse.Namespace(UniGNN_degV=deg_v, UniGNN_degE=deg_e, UniGNN_use_norm=False)
        return models.UniGCNII(args, f, c["hidden_channels"], k, c["num_layers"], 1, v, e), Data(x=data.x)
    raise ValueError(f"AllSet's code is not a peer of {name!r} here")


def allset_cell(name: str, data, hidden: int, src: str) -> Cell:
    """AllSet's own code (its ``SetGNN`` with PMA, its ``UniGCNII``) on our data and settings."""
    models, _ = _reference_imports().import_allset(src)
    _, cfg = _settings(data, name)
    torch.manual_seed(0)
    model, batch = _allset_model(models, name, data)
    model.reset_parameters()
    return _step(model, lambda: model(batch), data, cfg.lr or 0.01, cfg.weight_decay or 0.0)


def _edhnn_model(edgnn, unigcn2, name: str, data):
    """ED-HNN's model for ``name`` and the ``data`` object its ``forward`` takes, built as its ``train.py`` does."""
    from torch_geometric.data import Data

    c, _ = _settings(data, name)
    v, e = _incidences(data)
    batch = Data(x=data.x, edge_index=torch.stack([v, e]))  # datasets.py: [V; E], hyperedges from 0, self-loops
    if name == "ed-hnn":
        args = argparse.Namespace(
            MLP_hidden=c["hidden_channels"],
            activation=c["act"],
            input_dropout=c["input_dropout"],
            dropout=c["dropout"],
            MLP_num_layers=c["mlp1_layers"],
            MLP2_num_layers=c["mlp2_layers"],
            MLP3_num_layers=c["mlp3_layers"],
            All_num_layers=c["num_layers"],
            edconv_type="EquivSet",
            restart_alpha=c["alpha"],
            aggregate=c["aggr"],
            normalization=_reference_norm(c["norm"]),
            AllSet_input_norm=False,  # our EDHNNConv's MLPs have no input norm
            Classifier_hidden=c["classifier_hidden"],
            Classifier_num_layers=c["classifier_layers"],
        )
        return edgnn.EquivSetGNN(data.num_features, data.num_classes, args), batch
    if name == "unigcnii":
        args = argparse.Namespace(
            All_num_layers=c["num_layers"],
            MLP_hidden=c["hidden_channels"],
            restart_alpha=c["alpha"],
            UniGNN_use_norm=False,
        )
        return unigcn2.UniGCNII(data.num_features, data.num_classes, args), batch
    raise ValueError(f"ED-HNN's code is not a peer of {name!r} here")


def edhnn_cell(name: str, data, hidden: int, src: str) -> Cell:
    """ED-HNN's own code (its ``EquivSetGNN``, its ``UniGCNII``) on our data and settings."""
    edgnn, unigcn2 = _reference_imports().import_edhnn(src)
    _, cfg = _settings(data, name)
    torch.manual_seed(0)
    model, batch = _edhnn_model(edgnn, unigcn2, name, data)
    model.reset_parameters()
    return _step(model, lambda: model(batch), data, cfg.lr or 0.01, cfg.weight_decay or 0.0)


REFERENCE_MAKERS = {"allset": allset_cell, "edhnn": edhnn_cell}


# ---------------------------------------------------------------------------------------------- measurement
def peak_mib(fn: Callable[[], Any]) -> float:
    """Peak extra RSS of one call of ``fn`` in MiB (NaN where the peak cannot be reset)."""
    gc.collect()
    if not reset_peak_rss():
        return float("nan")
    before = rss_gb()
    fn()
    return max(0.0, (peak_rss_gb() - before) * 1e9 / 2**20)


def rounds_for(cells: dict[str, Cell], rounds: int, budget: float) -> int:
    """``rounds``, cut so that one cell takes about ``budget`` seconds at most: at least 3 rounds, or 1 when a
    single round already exceeds the budget (DHG's HGNN on 20News takes seconds per step)."""
    start = time.perf_counter()
    for cell in cells.values():
        cell.train()
        cell.evaluate()
    per_round = time.perf_counter() - start
    if per_round > budget:
        return 1
    return max(3, min(rounds, int(budget / max(per_round, 1e-9))))


def peaks(cells: dict[str, Cell]) -> dict[str, float]:
    """Peak extra MiB of one training step per implementation, after a warm-up epoch (caches, CSR copies)."""
    for cell in cells.values():
        cell.train()
        cell.evaluate()
    return {impl: peak_mib(cell.train) for impl, cell in cells.items()}


def memory_in_child(argv: list[str]) -> dict[str, float]:
    """``{"dataset/model/impl": peak MiB}`` from a child process run with ``--memory-only`` (NaN if it fails)."""
    cmd = [sys.executable, os.path.abspath(__file__), *argv, MEMORY_FLAG]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"memory probe failed (peak MiB shown as nan): {done.stderr.strip()[-500:]}", file=sys.stderr)
        return {}
    result: dict[str, float] = json.loads(lines[-1])
    return result


def measure(
    cells: dict[str, Cell], rounds: int, budget: float, clock: Callable[[], float] = time.perf_counter
) -> dict[str, dict[str, float]]:
    """Interleaved medians (ms by ``clock``) of the training step and the evaluation pass."""
    n = rounds_for(cells, rounds, budget)  # also the warm-up: one-time work (caches, CSR copies) is not counted
    times: dict[str, dict[str, list[float]]] = {impl: {"train": [], "eval": []} for impl in cells}
    for _ in range(n):
        for impl, cell in cells.items():
            for part, fn in (("train", cell.train), ("eval", cell.evaluate)):
                start = clock()
                fn()
                times[impl][part].append(clock() - start)
    return {
        impl: {
            "train_ms": 1e3 * statistics.median(t["train"]),
            "eval_ms": 1e3 * statistics.median(t["eval"]),
            "rounds": n,
        }
        for impl, t in times.items()
    }


def reference_sources(args: argparse.Namespace, peers: list[str]) -> dict[str, str]:
    """The checkout of each requested reference peer (option, else environment variable); a peer without one is
    dropped with a printed reason."""
    found = {}
    for peer, (option, env, what) in REFERENCES.items():
        if peer not in peers:
            continue
        path = getattr(args, option.lstrip("-").replace("-", "_")) or os.environ.get(env)
        if path:
            found[peer] = path
        else:
            print(f"peer {peer} skipped: no checkout given ({option} PATH or ${env}: {what})")
    return found


def makers(sources: dict[str, str]) -> dict[str, Callable[..., Cell]]:
    """Cell builders ``(model, data, hidden) -> Cell`` of ours, DHG, PyG and the reference peers with a checkout."""
    out: dict[str, Callable[..., Cell]] = {"graphhyper": ours, "dhg": dhg_cell, "pyg": pyg_cell}
    for peer, src in sources.items():
        out[peer] = functools.partial(REFERENCE_MAKERS[peer], src=src)
    return out


def run(args: argparse.Namespace, memory: dict[str, float] | None = None) -> list[dict]:
    """Time every cell (peak MiB from ``memory``); with ``memory=None`` only probe the peaks and return them as
    one row ``{"dataset/model/impl": MiB}``."""
    rows: list[dict] = []
    probed: dict[str, float] = {}
    peers = [p for p in args.peers.split(",") if p]
    available = makers(reference_sources(args, peers))
    peers = [p for p in peers if p in available]
    for dataset in args.datasets.split(","):
        data = load(dataset)
        for model in args.models.split(","):
            impls = ["graphhyper"] + [p for p in PEERS.get(model, ()) if p in peers]
            cells = {impl: available[impl](model, data, args.hidden) for impl in impls}
            if memory is None:
                probed.update({f"{dataset}/{model}/{k}": v for k, v in peaks(cells).items()})
                continue
            result = measure(cells, args.rounds, args.budget, CLOCKS[args.clock])
            for impl in impls:
                result[impl]["peak_mib"] = memory.get(f"{dataset}/{model}/{impl}", float("nan"))
            ours_row = result["graphhyper"]
            for impl in impls:
                r = result[impl]
                rows.append(
                    dict(
                        dataset=dataset,
                        model=model,
                        impl=impl,
                        **{k: round(v, 3) for k, v in r.items()},
                        train_ratio=round(ours_row["train_ms"] / r["train_ms"], 3),
                        eval_ratio=round(ours_row["eval_ms"] / r["eval_ms"], 3),
                    )
                )
                print(_line(rows[-1]), flush=True)
            del cells
    return rows if memory is not None else [probed]


def _line(r: dict) -> str:
    ratio = "" if r["impl"] == "graphhyper" else f"{r['train_ratio']:>8.2f} {r['eval_ratio']:>8.2f}"
    return (
        f"{r['dataset']:<12} {r['model']:<19} {r['impl']:<11} {r['train_ms']:>9.1f} {r['eval_ms']:>8.1f} "
        f"{r['peak_mib']:>8.1f} {r['rounds']:>6} {ratio}"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma list of shipped datasets")
    p.add_argument("--models", default=",".join(MODELS), help="comma list: " + ", ".join(MODELS))
    p.add_argument(
        "--peers", default="dhg,pyg,allset,edhnn", help="comma list of peers: dhg, pyg, allset, edhnn (empty: ours)"
    )
    p.add_argument("--allset-src", help="AllSet checkout's src/ folder (default $GRAPHHYPER_ALLSET_SRC)")
    p.add_argument("--edhnn-src", help="ED-HNN checkout's root folder (default $GRAPHHYPER_EDHNN_SRC)")
    p.add_argument("--hidden", type=int, default=256, help="width of HGNN / HGNN+ (ours and the peers)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=11, help="interleaved rounds per cell (at most)")
    p.add_argument("--budget", type=float, default=6.0, help="seconds per cell: fewer rounds (>= 3) for slow cells")
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: time.perf_counter; cpu: this process' CPU time (time.process_time), robust to other jobs "
        "taking the cores; equals wall time only with --threads 1 on an otherwise idle core",
    )
    p.add_argument("--json", help="also write the rows as JSON to this file")
    p.add_argument(MEMORY_FLAG, action="store_true", help=argparse.SUPPRESS)  # the memory child
    args = p.parse_args(argv)
    unknown = sorted(set(args.models.split(",")) - set(MODELS)) + sorted(set(args.datasets.split(",")) - set(DATASETS))
    unknown += sorted(set(args.peers.split(",")) - {"", "dhg", "pyg", *REFERENCES})
    if unknown:
        p.error(
            f"unknown model(s), dataset(s) or peer(s): {unknown}; models: {MODELS}, datasets: {DATASETS}, "
            f"peers: dhg, pyg, {', '.join(REFERENCES)}"
        )
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*is deprecated")
    if args.memory_only:
        probed = run(args, None)[0]
        print(json.dumps(probed))
        return [probed]
    memory = memory_in_child([a for a in (sys.argv[1:] if argv is None else argv) if a != MEMORY_FLAG])
    print(machine_line())
    print("ratio = ours / peer (below 1: ours faster); train = step with backward and Adam, eval = no-grad pass")
    print(f"clock: {args.clock} ({CLOCKS[args.clock].__name__})")
    print(
        f"{'dataset':<12} {'model':<19} {'impl':<11} {'train ms':>9} {'eval ms':>8} {'peak MiB':>8} {'rounds':>6} "
        f"{'train x':>8} {'eval x':>8}"
    )
    rows = run(args, memory)
    print(machine_line())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine_line(), "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
