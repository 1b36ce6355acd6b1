"""Run WHATsNet's official code (Choe et al., KDD 2023, github.com/young917/EdgeDependentNodeLabel) on Stack-Biology.

The authors' checkout is never imported by the library and never committed: give its path with ``--src`` or
``GRAPHHYPER_WHATSNET_SRC``. The script

1. lays out WHATsNet's own Stack-Biology files (``/work/shared/data/hypergraph/enc/stack-biology``, unchanged) where
   their loader opens them (``dataset/StackOverflowBiology/`` beside the working directory ``wd/``),
2. runs their ``preprocess/nodecentrality.py`` for the four centralities of ``--vorder_input`` (files
   ``{algo}_nodecentrality_0.txt``),
3. writes graphhyper's 44-d ``spectral_features`` where their ``train.py`` looks for its random-walk Word2Vec
   features (``StackOverflowBiology_0_wv_44_hyper.npy``, rows in their node order: first appearance in
   ``hypergraph.txt``), so both sides start from the same features (their random walks take hours here),
4. runs their unchanged ``train.py`` with the arguments of the ``# WHATsNET`` line of
   ``run/run_StackOverflowBiology.sh`` (``SCRIPT_ARGS``), CPU only, ``--epochs`` / ``--seed`` from our flags,
5. reads their logs into a JSON summary: validation micro-/macro-F1 every ``--test_epoch`` (5) epochs, the test
   micro-/macro-F1 of the checkpoint of best validation micro-F1 (their rule: the first strictly better one),
   seconds per training epoch, CPU seconds, the machine line; ``features.npy`` (graphhyper's node order) is left
   in ``--work`` for ``scripts/compare_whatsnet_enc.py``.

The child processes run under the shims of ``scripts/oracle_conhd_enc.py`` (DGL 1.x, networkx 3, numpy 2, process
pools capped), ``nice 19`` and one torch thread.

    GRAPHHYPER_WHATSNET_SRC=/work/ref/young917+EdgeDependentNodeLabel PYTHONPATH=/work/ref/deps:$PWD \\
        GRAPHHYPER_DATA=/work/shared/data nice -n 19 python scripts/oracle_whatsnet_enc.py \\
        --work /tmp/whatsnet_oracle --epochs 10 --seed 0 --out oracle.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle_conhd_enc import CHILD_CPU, _machine, _metric_lines, _run, parse  # noqa: E402

DATASET = "StackOverflowBiology"
CENTRALITIES = ("degree", "eigenvec", "pagerank", "kcore")
FILES = ("hypergraph.txt", "hypergraph_pos.txt", "valid_hindex_0.txt", "test_hindex_0.txt")
# run_StackOverflowBiology.sh, "# WHATsNET" line, with --epochs/--seed from our flags
SCRIPT_ARGS = [
    "--dataset_name", DATASET, "--inputdir", "../dataset/",
    "--vorder_input", ",".join(f"{c}_nodecentrality" for c in CENTRALITIES),
    "--embedder", "whatsnet", "--att_type_v", "OrderPE", "--agg_type_v", "PrevQ", "--att_type_e", "OrderPE",
    "--agg_type_e", "PrevQ", "--num_att_layer", "2", "--num_layers", "2", "--scorer", "sm", "--scorer_num_layers",
    "1", "--bs", "64", "--lr", "0.0001", "--sampling", "40", "--dropout", "0.7", "--optimizer", "adam", "--k", "0",
    "--gamma", "0.99", "--dim_hidden", "64", "--dim_edge", "128", "--dim_vertex", "128", "--test_epoch", "5",
    "--evaltype", "test", "--save_epochs", "1", "--fix_seed",
]  # fmt: skip
TEST_EPOCH = 5


def layout(data: Path, work: Path) -> Path:
    """WHATsNet's files in ``work/dataset/StackOverflowBiology``; returns that folder."""
    folder = work / "dataset" / DATASET
    folder.mkdir(parents=True, exist_ok=True)
    (work / "wd").mkdir(exist_ok=True)
    for name in FILES:
        if not (folder / name).exists():
            shutil.copyfile(data / name, folder / name)
    return folder


def centralities(src: Path, work: Path, folder: Path, workers: int) -> dict[str, float]:
    """Their ``nodecentrality.py`` (cwd ``work/wd``: it writes to ``../dataset/<name>/``); seconds per algorithm."""
    seconds = {}
    for algo in CENTRALITIES:
        if not (folder / f"{algo}_nodecentrality_0.txt").exists():
            args = ["--algo", algo, "--dataname", DATASET, "--k", "0"]
            log = work / f"log_{algo}.txt"
            seconds[algo] = _run(src, work / "wd", "preprocess/nodecentrality.py", args, workers, log)
    return seconds


def their_node_order(folder: Path) -> list[str]:
    """Node names in the order their loader numbers them: first appearance in ``hypergraph.txt``."""
    seen: dict[str, None] = {}
    for line in (folder / "hypergraph.txt").read_text().splitlines():
        for name in line.split("\t"):
            seen.setdefault(str(int(name)), None)
    return list(seen)


def spectral_as_theirs(data_root: Path, work: Path, folder: Path) -> None:
    """graphhyper's spectral features where their ``train.py`` reads its Word2Vec ones (their node order), and
    the same features in graphhyper's node order as ``work/features.npy``."""
    import numpy as np

    from graphhyper.data import load_enc_dataset
    from graphhyper.hypergraph.enc import spectral_features

    ds = load_enc_dataset("stack-biology", data_root)
    x = spectral_features(ds.hg, 44).numpy()
    ours = {str(int(n)): i for i, n in enumerate(ds.node_names)}
    order = their_node_order(folder)
    if len(order) != len(ours):
        raise SystemExit(f"their loader would number {len(order)} nodes, graphhyper has {len(ours)}")
    np.save(work / f"{DATASET}_0_wv_44_hyper.npy", x[[ours[n] for n in order]])
    np.save(work / "features.npy", x.astype("float32"))


def summarise(out_dir: Path, stdout: str, epochs: int, test_epoch: int = TEST_EPOCH) -> dict:
    """:func:`oracle_conhd_enc.parse` on their logs, with the best epoch taken as their ``train.py`` takes it."""
    res = parse(out_dir, stdout, epochs, test_epoch)
    best, best_acc = None, 0.0
    for epoch, micro in _metric_lines(out_dir / "log_valid_micro.txt"):
        if best_acc < micro:  # `if best_eval_acc < eval_acc` in their train.py
            best, best_acc = epoch, micro
    res["best_epoch"] = best
    return res


def their_parameters(src: Path) -> dict[str, int]:
    """Parameters of their ``Whatsnet`` and ``sm`` scorer as their ``train.py`` builds them from ``SCRIPT_ARGS``
    (44-d node input, 4 centralities)."""
    sys.path.insert(0, str(src))
    from model.layer import FC
    from model.Whatsnet import Whatsnet, WhatsnetLayer

    flag = {a: SCRIPT_ARGS[i + 1] for i, a in enumerate(SCRIPT_ARGS[:-1]) if a.startswith("--")}
    hidden, vdim, edim = (int(flag[k]) for k in ("--dim_hidden", "--dim_vertex", "--dim_edge"))
    body = Whatsnet(
        WhatsnetLayer, 44, edim, hidden, vdim, edim, weight_dim=len(CENTRALITIES), num_layers=int(flag["--num_layers"]),
        att_type_v=flag["--att_type_v"], agg_type_v=flag["--agg_type_v"], att_type_e=flag["--att_type_e"],
        agg_type_e=flag["--agg_type_e"], num_att_layer=int(flag["--num_att_layer"]), weight_flag=True,
    )  # fmt: skip
    scorer = FC(vdim + edim, edim, 3, int(flag["--scorer_num_layers"]))
    return {
        "embedder": sum(p.numel() for p in body.parameters()),
        "scorer": sum(p.numel() for p in scorer.parameters()),
    }


# ------------------------------------------------------------------------------------------------ toy fixture
TOY = dict(in_channels=6, num_classes=3, hidden_channels=8, att_channels=16, node_channels=8, edge_channels=8,
           edge_in_channels=8, num_layers=2, heads=4, num_inducing=2, num_att_layers=2, pe_channels=4)  # fmt: skip


def _our_name(name: str) -> str:
    """A parameter name of their ``Whatsnet`` -> ours (:class:`graphhyper.hypergraph.nn.whatsnet.Whatsnet`)."""
    n = name.replace("layers.", "convs.").replace("pe_v", "pe_node").replace("pe_e", "pe_edge")
    n = n.replace("enc_v", "within_edge").replace("enc_e", "within_node").replace(".I", ".inducing")
    for j in "01":
        n = n.replace(f"mab{j}.fc_o.0", f"out{j}.fc_o")
        for x in "qkv":
            n = n.replace(f"mab{j}.fc_{x}", f"{x}{j}")
    for side, pool in (("dec_v", "edge_pool"), ("dec_e", "node_pool")):
        n = n.replace(f"{side}.0.fc_o.0", f"{pool}.out.fc_o")
        for x in "qkv":
            n = n.replace(f"{side}.0.fc_{x}", f"{pool}.lin_{x}")
    return n.replace("dec_v.2", "edge_lin").replace("dec_e.2", "node_lin")


def toy_fixture(src: Path, out: Path, seed: int = 0) -> None:
    """Their ``Whatsnet`` + ``sm`` scorer (eval mode, full neighbourhoods through DGL blocks) on a random toy
    hypergraph, written as a safetensors file: the weights under our names (``model.*``), the inputs ``x``,
    ``hyperedge_index`` (columns = incidences), ``pe`` and their logits per incidence ``logits``, with the sizes
    (:data:`TOY`) in the metadata."""
    import functools

    import dgl
    import torch
    from safetensors.torch import save_file

    sys.path.insert(0, str(src))
    from model.layer import FC
    from model.Whatsnet import Whatsnet, WhatsnetLayer

    c, g = TOY, torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    V, E = 12, 8
    pairs = [(v, e) for e in range(E) for v in torch.randperm(V, generator=g)[: 1 + e % 5].tolist()]
    index = torch.tensor(pairs).T
    pe = torch.rand(len(pairs), c["pe_channels"], generator=g)
    x = torch.randn(V, c["in_channels"], generator=g)
    graph = dgl.heterograph(
        {("node", "in", "edge"): (index[0], index[1]), ("edge", "con", "node"): (index[1], index[0])}
    )
    for et in ("in", "con"):
        graph[et].edata["weight"], graph[et].edata["label"] = pe, torch.zeros(len(pairs))
    layer = functools.partial(WhatsnetLayer, dim_hidden=c["att_channels"])  # their Whatsnet leaves it at 128
    theirs = Whatsnet(
        layer, c["in_channels"], c["edge_in_channels"], c["hidden_channels"], c["node_channels"], c["edge_channels"],
        weight_dim=c["pe_channels"], num_layers=c["num_layers"], num_heads=c["heads"], num_inds=c["num_inducing"],
        num_att_layer=c["num_att_layers"], weight_flag=True,
    ).eval()  # fmt: skip
    scorer = FC(c["node_channels"] + c["edge_channels"], c["edge_channels"], c["num_classes"], 1).eval()
    sampler = dgl.dataloading.MultiLayerFullNeighborSampler(2 * c["num_layers"] + 1)
    loader = dgl.dataloading.DataLoader(graph, {"edge": torch.arange(E)}, sampler, batch_size=E, shuffle=False)
    input_nodes, _, blocks = next(iter(loader))
    with torch.no_grad():
        v, e = theirs(blocks, x[input_nodes["node"]], torch.zeros(len(input_nodes["edge"]), c["edge_in_channels"]))
        s, d = blocks[-1].edges(etype="in")
        logits = scorer(torch.cat([e[d], v[s]], 1))
    eid = blocks[-1].edges["in"].data[dgl.EID]  # the incidence (graph edge id) of every row
    tensors = {f"model.{_our_name(k)}": (t[0] if k.endswith(".I") else t) for k, t in theirs.state_dict().items()}
    tensors["model.head.weight"], tensors["model.head.bias"] = (
        scorer.predict_layer[0].weight,
        scorer.predict_layer[0].bias,
    )
    ordered = torch.empty_like(logits)
    ordered[eid] = logits
    tensors.update(x=x, hyperedge_index=index, pe=pe, logits=ordered)
    meta = {"config": json.dumps(c), "source": "young917/EdgeDependentNodeLabel model/Whatsnet.py, model/layer.py"}
    save_file({k: t.detach().contiguous() for k, t in tensors.items()}, str(out), metadata=meta)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", type=Path, default=os.environ.get("GRAPHHYPER_WHATSNET_SRC"), help="WHATsNet checkout")
    p.add_argument(
        "--data", type=Path, default=Path(os.environ.get("GRAPHHYPER_DATA", "data")), help="graphhyper data root"
    )
    p.add_argument("--work", type=Path, default=None, help="scratch folder (their outputs go there)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--test-epoch",
        type=int,
        default=TEST_EPOCH,
        help="their --test_epoch: validate every N epochs (the script's 5; 1 for runs shorter than 5 epochs)",
    )
    p.add_argument("--workers", type=int, default=1, help="cap on their process pools")
    p.add_argument("--out", type=Path, default=None, help="JSON summary")
    p.add_argument("--skip-train", action="store_true", help="only lay out the files and preprocess")
    p.add_argument("--toy-fixture", type=Path, default=None, help="only write their toy-model outputs (safetensors)")
    args = p.parse_args()
    if args.src is None or not (args.src / "model" / "Whatsnet.py").exists():
        raise SystemExit("give the WHATsNet checkout with --src or GRAPHHYPER_WHATSNET_SRC (holding model/Whatsnet.py)")
    if args.toy_fixture is not None:
        toy_fixture(args.src.resolve(), args.toy_fixture, args.seed)
        return 0
    if args.work is None or args.out is None:
        raise SystemExit("give --work (scratch folder) and --out (JSON summary), or --toy-fixture PATH")
    src, work = args.src.resolve(), args.work.resolve()
    folder = layout(args.data.resolve() / "hypergraph" / "enc" / "stack-biology", work)
    summary: dict = {"preprocess_seconds": centralities(src, work, folder, args.workers)}
    summary["parameters"] = their_parameters(src)
    spectral_as_theirs(args.data.resolve(), work, folder)
    summary.update(settings=SCRIPT_ARGS, seed=args.seed, epochs=args.epochs, features="spectral")
    if not args.skip_train:
        shutil.rmtree(work / "wd" / "results_test", ignore_errors=True)
        log = work / f"log_train_seed{args.seed}.txt"
        train_args = [*SCRIPT_ARGS, "--epochs", str(args.epochs), "--seed", str(args.seed)]
        if args.test_epoch != TEST_EPOCH:  # a later --test_epoch overrides the script's in argparse
            train_args += ["--test_epoch", str(args.test_epoch)]
            summary["test_epoch"] = args.test_epoch
        summary["train_wall_seconds"] = _run(src, work / "wd", "train.py", train_args, args.workers, log)
        summary["cpu_seconds"] = CHILD_CPU["train.py"]
        import torch

        torch.set_num_threads(1)  # the machine line then shows what their train.py ran with (the shim's 1 thread)
        summary["machine"] = _machine()
        out_dir = next((work / "wd" / "results_test").rglob("log_test_micro.txt")).parent
        summary.update(summarise(out_dir, log.read_text(), args.epochs, args.test_epoch))
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("settings", "val_curve")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
