"""Run CoNHD's official code (Zheng and Worring, github.com/zhengyijia/CoNHD) on Stack-Biology as an oracle.

The authors' checkout is never imported by the library and never committed: give its path with ``--src`` or
``GRAPHHYPER_CONHD_SRC``. The script

1. lays out WHATsNet's files the way the authors' loader reads them (``dataset/edge_dependent_node_classification/
   StackOverflowBiology/``; ``valid_hindex_0.txt`` / ``test_hindex_0.txt`` under the names ``valid_hindex.txt`` /
   ``test_hindex.txt`` that their ``train.py`` reads by default),
2. runs their preprocessing: ``preprocess/nodecentrality.py`` for the four centralities of ``--vorder_input`` and
   ``preprocess/initialize_by_rw.py`` (hypergraph random walks + gensim Word2Vec, 44 dimensions),
3. runs their ``train.py`` with the arguments of ``script/edge_dependent_node_classification/
   run_StackOverflowBiology.sh`` (CoNHD_GD, UNP blocks), CPU only, ``--epochs`` as given,
4. reads their logs into a JSON summary: validation micro-/macro-F1 every ``valid_epoch`` epochs, the test
   micro-/macro-F1 of the checkpoint of best validation micro-F1 (their rule), seconds per training epoch, and
   writes the features it used in graphhyper's node order (``features.npy``) so our trainer can read them.

``--features spectral`` skips their random walks (their second-order alias tables take hours on one or two cores)
and writes graphhyper's ``spectral_features`` into the file their ``train.py`` reads instead.

Compatibility shims, applied only inside the child processes that run their code (their code is unchanged):
``dgl.dataloading.NodeDataLoader`` (removed in DGL 1.x) -> ``dgl.dataloading.DataLoader``;
``networkx.convert_matrix.from_scipy_sparse_matrix`` (removed in networkx 3) -> ``from_scipy_sparse_array``;
``concurrent.futures.ProcessPoolExecutor`` capped at ``--workers`` processes (their random walks ask for 170);
``numpy.array`` of a ragged list -> an object array (what numpy < 1.24 returned; their random walks build one);
the aliases ``np.int`` / ``np.float`` / ``np.bool`` / ``np.object`` (removed in numpy 1.24) -> the builtins.
Each child runs with ``nice 19`` and one torch thread.

    GRAPHHYPER_CONHD_SRC=/work/ref/zhengyijia+CoNHD PYTHONPATH=/work/ref/deps:$PWD \\
        python scripts/oracle_conhd_enc.py --work /tmp/conhd_oracle --epochs 20 --seed 0 --out oracle.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

DATASET = "StackOverflowBiology"
TASK = "edge_dependent_node_classification"
CENTRALITIES = ("degree", "eigenvec", "pagerank", "kcore")
# run_StackOverflowBiology.sh, CoNHD_GD (UNP) line, without --use_gpu and with --epochs/--seed from our flags
SCRIPT_ARGS = [
    "--dataset_name", DATASET, "--init_feat_type", "rw", "--init_feat_dim", "44", "--feat_scale_transform",
    "--vorder_input", ",".join(f"{c}_nodecentrality" for c in CENTRALITIES),
    "--embedder", "CoNHD_GD", "--att_type_v", "OrderPE", "--att_type_e", "OrderPE", "--num_att_layer", "2",
    "--num_layers", "2", "--scorer", "im", "--scorer_num_layers", "1", "--bs", "64", "--lr", "0.0001",
    "--node_sampling", "-1", "--hedge_sampling", "40", "--dropout", "0.7", "--input_dropout", "0.7",
    "--optimizer", "adam", "--gamma", "0.99", "--dim_hidden", "64", "--valid_epoch", "5", "--evaltype", "test",
    "--save_best_epoch", "--co_rep_dim", "128", "--PE_Block", "UNP",
]  # fmt: skip

SHIM = """
import concurrent.futures as cf, os, runpy, sys
os.nice(19)
import torch
torch.set_num_threads(1)
_workers = int(os.environ.get("ORACLE_WORKERS", "1"))
_PPE = cf.ProcessPoolExecutor
class _Capped(_PPE):
    def __init__(self, max_workers=None, *a, **k):
        super().__init__(min(max_workers or _workers, _workers), *a, **k)
cf.ProcessPoolExecutor = _Capped
import numpy as np
_array = np.array
def _ragged_ok(obj, *a, **k):
    try:
        return _array(obj, *a, **k)
    except ValueError:
        if a or k:
            raise
        return _array(obj, dtype=object)
np.array = _ragged_ok
for _name, _type in (("int", int), ("float", float), ("bool", bool), ("object", object)):
    if not hasattr(np, _name):
        setattr(np, _name, _type)
try:
    import networkx as nx
    if not hasattr(nx.convert_matrix, "from_scipy_sparse_matrix"):
        nx.convert_matrix.from_scipy_sparse_matrix = nx.from_scipy_sparse_array
except ImportError:
    pass
try:
    import dgl.dataloading as dl
    if not hasattr(dl, "NodeDataLoader"):
        dl.NodeDataLoader = dl.DataLoader
except ImportError:
    pass
path = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(path))
runpy.run_path(path, run_name="__main__")
"""


def _run(src: Path, work: Path, script: str, args: list[str], workers: int, log: Path) -> float:
    """Run ``src/script args`` (cwd ``work``) under the shims; stdout+stderr to ``log``; returns wall seconds."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", DGLBACKEND="pytorch")
    env["ORACLE_WORKERS"] = str(workers)
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    start = time.perf_counter()
    cpu0 = _children_cpu()
    with open(log, "w") as fh:
        proc = subprocess.run(
            [sys.executable, "-c", SHIM, str(src / script), *args],
            cwd=work,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"{script} failed (exit {proc.returncode}); log {log}:\n{tail}")
    CHILD_CPU[script] = _children_cpu() - cpu0
    return time.perf_counter() - start


CHILD_CPU: dict[str, float] = {}


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def layout(data: Path, work: Path) -> Path:
    """WHATsNet's files under the names the authors' loader opens; returns the dataset root."""
    root = work / "dataset" / TASK
    folder = root / DATASET
    folder.mkdir(parents=True, exist_ok=True)
    names = {
        "hypergraph.txt": "hypergraph.txt",
        "hypergraph_pos.txt": "hypergraph_pos.txt",
        "valid_hindex.txt": "valid_hindex_0.txt",
        "test_hindex.txt": "test_hindex_0.txt",
    }
    for dst, src in names.items():
        if not (folder / dst).exists():
            shutil.copyfile(data / src, folder / dst)
    return root


def preprocess(src: Path, work: Path, root: Path, workers: int, features: str, data_root: Path) -> dict[str, float]:
    seconds = {}
    for algo in CENTRALITIES:
        if not (root / DATASET / f"{algo}_nodecentrality.txt").exists():
            args = ["--algo", algo, "--inputdir", str(root.relative_to(work)), "--dataset_name", DATASET]
            seconds[algo] = _run(src, work, "preprocess/nodecentrality.py", args, workers, work / f"log_{algo}.txt")
    if features == "spectral":
        seconds["spectral"] = spectral_as_theirs(data_root, work)
        return seconds
    args = ["--inputdir", str(root.relative_to(work)), "--outputdir", f"features/{TASK}", "--dataset_name", DATASET]
    seconds["rw"] = _run(
        src, work, "preprocess/initialize_by_rw.py", [*args, "--feat_dim", "44"], workers, work / "log_rw.txt"
    )
    return seconds


def spectral_as_theirs(data_root: Path, work: Path) -> float:
    """graphhyper's 44-d spectral features written where their ``train.py`` reads the random-walk ones (an
    ``.npy`` plus the node names of its rows); returns seconds."""
    import numpy as np

    from graphhyper.data import load_enc_dataset
    from graphhyper.hypergraph.enc import spectral_features

    start = time.perf_counter()
    ds = load_enc_dataset("stack-biology", data_root)
    feat_dir = work / "features" / TASK / "rw"
    feat_dir.mkdir(parents=True, exist_ok=True)
    np.save(feat_dir / f"{DATASET}_dim_44.npy", spectral_features(ds.hg, 44).numpy())
    (feat_dir / f"{DATASET}_dim_44_origin_index.txt").write_text("".join(f"{n}\n" for n in ds.node_names))
    return time.perf_counter() - start


def _metric_lines(path: Path) -> list[tuple[int, float]]:
    """``(epoch, F1)`` per line of one of their ``log_*_{micro,macro}.txt`` files."""
    rows = []
    for line in path.read_text().splitlines():
        m = re.search(r"(\d+) epoch.*?/F1:([0-9.eE+-]+)", line)
        if m:
            rows.append((int(m.group(1)), float(m.group(2))))
    return rows


def parse(out_dir: Path, stdout: str, epochs: int, valid_epoch: int) -> dict:
    """Their logs -> validation curve, test F1 at the best validation epoch, seconds per training epoch."""
    micro = _metric_lines(out_dir / "log_valid_micro.txt")
    macro = dict(_metric_lines(out_dir / "log_valid_macro.txt"))
    curve = [{"epoch": e, "val_micro": f, "val_macro": macro.get(e)} for e, f in micro]
    test_micro = float(re.findall(r"/F1:([0-9.eE+-]+)", (out_dir / "log_test_micro.txt").read_text())[-1])
    test_macro = float(re.findall(r"/F1:([0-9.eE+-]+)", (out_dir / "log_test_macro.txt").read_text())[-1])
    best = re.findall(r"best eval epoch: (\d+)", stdout)
    times = [float(t) for t in re.findall(r"Time :\s+([0-9.]+)", stdout)]
    # run_epoch prints "Time :" once per training epoch and once more after each validation (epoch % valid_epoch)
    train_t, i = [], 0
    for ep in range(1, epochs + 1):
        if i < len(times):
            train_t.append(times[i])
        i += 1 + (ep % valid_epoch == 0)
    return {
        "val_curve": curve,
        "best_epoch": int(best[-1]) if best else None,
        "test_micro_f1": test_micro,
        "test_macro_f1": test_macro,
        "train_seconds_per_epoch": train_t,
    }


def features_in_our_order(data_root: Path, work: Path, dst: Path) -> None:
    """Their random-walk features (rows in their node order + origin-name file) in graphhyper's node order."""
    import numpy as np

    from graphhyper.data import load_enc_dataset

    feat_dir = work / "features" / TASK / "rw"
    a = np.load(feat_dir / f"{DATASET}_dim_44.npy")
    names = (feat_dir / f"{DATASET}_dim_44_origin_index.txt").read_text().split("\n")
    row = {n.strip(): i for i, n in enumerate(names) if n.strip()}
    ds = load_enc_dataset("stack-biology", data_root)
    np.save(dst, a[[row[n] for n in ds.node_names]].astype("float32"))


def _machine() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
    from _common import machine_line

    return machine_line()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", type=Path, default=os.environ.get("GRAPHHYPER_CONHD_SRC"), help="CoNHD checkout")
    p.add_argument(
        "--data", type=Path, default=Path(os.environ.get("GRAPHHYPER_DATA", "data")), help="graphhyper data root"
    )
    p.add_argument("--work", type=Path, required=True, help="scratch folder (their outputs go there)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="cap on their process pools")
    p.add_argument("--out", type=Path, required=True, help="JSON summary")
    p.add_argument("--skip-train", action="store_true", help="only lay out the files and preprocess")
    p.add_argument(
        "--features",
        choices=("rw", "spectral"),
        default="rw",
        help="rw: their random walks + Word2Vec (hours on 1-2 cores: their second-order alias tables); spectral: "
        "graphhyper's spectral_features fed through their feature file",
    )
    args = p.parse_args()
    if args.src is None or not (args.src / "train.py").exists():
        raise SystemExit("give the CoNHD checkout with --src or GRAPHHYPER_CONHD_SRC (the folder holding train.py)")
    src, work = args.src.resolve(), args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    data = args.data.resolve() / "hypergraph" / "enc" / "stack-biology"
    root = layout(data, work)
    pre = preprocess(src, work, root, args.workers, args.features, args.data.resolve())
    features_in_our_order(args.data.resolve(), work, work / "features.npy")
    summary: dict = {"preprocess_seconds": pre, "settings": SCRIPT_ARGS, "seed": args.seed, "epochs": args.epochs}
    summary["features"] = args.features
    if not args.skip_train:
        shutil.rmtree(work / "results_test", ignore_errors=True)
        log = work / f"log_train_seed{args.seed}.txt"
        train_args = [*SCRIPT_ARGS, "--epochs", str(args.epochs), "--seed", str(args.seed)]
        summary["train_wall_seconds"] = _run(src, work, "train.py", train_args, args.workers, log)
        summary["cpu_seconds"] = CHILD_CPU["train.py"]
        summary["machine"] = _machine()
        out_dir = next((work / "results_test").rglob("log_test_micro.txt")).parent
        summary.update(parse(out_dir, log.read_text(), args.epochs, 5))
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("settings", "val_curve")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
