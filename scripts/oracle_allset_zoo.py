"""Run AllSet's *own* AllSetTransformer code on Zoo, with its published Zoo settings, as an oracle for our numbers.

AllSet (Chien et al., ICLR 2022) reports 97.50 ± 3.59 on Zoo (20 random 50/25/25 splits). This script checks what
the authors' released code gives on the released data, so that a gap between graphhyper and 97.50 can be told
apart from a gap between the paper and its code. It imports the reference model and preprocessing unchanged from a
checkout of https://github.com/jianhao2016/AllSet (``src/``; measured with commit 6281a2f) and reproduces its
training loop (``src/train.py``): Adam, NLL loss, 500 epochs, test accuracy at the first epoch of highest
validation accuracy. The settings are those of ``src/run_AllSetTransformer.sh`` for ``zoo``: 1 layer, MLP hidden
64, 1 head, dropout 0.5 (input dropout 0.2 inside the model), layer norm, PMA, lr 0.01, weight decay 1e-5, self
loops added, ``normtype all_one``.

Two adaptations let the 2023 code run on current libraries; neither changes its arithmetic (both in
``scripts/_reference_imports.py``, shared with ``scripts/bench/train_epoch.py``):
- ``torch_scatter`` (not installed here) is replaced by a stand-in that calls PyG's pure-torch ``scatter``;
- PyG >= 2.5 no longer forwards ``propagate(..., aggr=...)`` to ``aggregate``, so ``PMA.aggregate`` falls back to
  the layer's own ``self.aggr`` (``'add'``, the value the reference passes) instead of raising.

Splits: ``--splits ours`` uses graphhyper's split seeds (``load_hypergraph(..., split="random", seed=s)``), so the
numbers compare one to one with ``graphhyper hypergraph tune --evaluate ... --seeds N``; ``--splits reference``
draws them as the reference does (``numpy.random.permutation`` after ``numpy.random.seed(s)``).

    git clone https://github.com/jianhao2016/AllSet /tmp/AllSet
    GRAPHHYPER_DATA=../shared/data python scripts/oracle_allset_zoo.py --allset /tmp/AllSet/src --seeds 100

Needs ``torch_geometric``. Nothing of the reference code is copied into graphhyper.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _reference_imports import import_allset

ZOO = dict(
    All_num_layers=1,
    MLP_num_layers=2,
    heads=1,
    Classifier_num_layers=1,
    MLP_hidden=64,
    Classifier_hidden=64,
    dropout=0.5,
    aggregate="mean",
    normalization="ln",
    deepset_input_norm=True,
    GPR=False,
    LearnMask=False,
    PMA=True,
    lr=0.01,
    wd=1e-5,
    epochs=500,
)


def zoo_raw(root: Path):
    """Features, labels (1..7, as the reference reads them) and the node-hyperedge incidences of ``zoo``."""
    raw = np.genfromtxt(root / "zoo.content", dtype=str)
    x = torch.tensor(raw[:, 1:-1].astype(np.float32))
    y = torch.tensor(raw[:, -1].astype(float)).long()
    edges = np.genfromtxt(root / "zoo.edges", dtype=np.int64).T
    return x, y, edges


def reference_data(preprocessing, x, y, edges):
    from torch_geometric.data import Data

    n = int(edges[0].max()) + 1
    data = Data(x=x.clone(), edge_index=torch.tensor(np.hstack((edges, edges[::-1, :]))), y=y.clone())
    data.n_x = torch.tensor([n])
    data.num_hyperedges = torch.tensor([int(edges[1].max()) - n + 1])
    data = preprocessing.ExtractV2E(data)
    data = preprocessing.Add_Self_Loops(data)
    return preprocessing.norm_contruction(data, option="all_one")


def split(kind: str, seed: int, n: int):
    if kind == "ours":  # the split load_hypergraph(..., split="random", seed=seed) gives
        from graphhyper.data import random_split

        s = random_split(n, seed)
        return s.train, s.val, s.test
    np.random.seed(seed)
    perm = torch.as_tensor(np.random.permutation(n))
    n_train, n_val = int(n * 0.5), int(n * 0.25)
    return perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]


def run_one(models, data, idx, seed: int) -> tuple[float, float]:
    """The reference loop: train every epoch, evaluate every epoch, test at the first best validation epoch."""
    args = argparse.Namespace(**ZOO, num_features=data.x.shape[1], num_classes=int(data.y.max()) + 1)
    torch.manual_seed(seed)
    model = models.SetGNN(args, data.norm)
    model.reset_parameters()
    opt = torch.optim.Adam(model.parameters(), lr=ZOO["lr"], weight_decay=ZOO["wd"])
    history = []
    for _ in range(ZOO["epochs"]):
        model.train()
        opt.zero_grad()
        F.nll_loss(F.log_softmax(model(data), 1)[idx[0]], data.y[idx[0]]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(data).argmax(1)
        history.append([float((pred[i] == data.y[i]).float().mean()) for i in idx[1:]])
    h = torch.tensor(history)
    best = int(h[:, 0].argmax())
    return 100 * float(h[best, 1]), 100 * float(h[best, 0])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--allset", type=Path, required=True, help="path to a checkout's src/ folder")
    p.add_argument("--root", default=None, help="data root holding hypergraph/zoo (default $GRAPHHYPER_DATA)")
    p.add_argument("--seeds", type=int, default=10, help="split seeds 0..N-1")
    p.add_argument("--splits", choices=["ours", "reference"], default="ours")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from graphhyper.data import ensure_files, get_card

    folder = ensure_files(get_card("zoo"), args.root)  # checksums verified (the files fetched if missing)
    models, preprocessing = import_allset(args.allset)
    x, y, edges = zoo_raw(folder)
    tests = []
    for seed in range(args.seeds):
        idx = split(args.splits, seed, len(y))
        test, val = run_one(models, reference_data(preprocessing, x, y, edges), idx, seed)
        tests.append(test)
        print(f"seed {seed}: test {test:.2f} (val {val:.2f})", flush=True)
    spread = statistics.stdev(tests) if len(tests) > 1 else 0.0
    print(
        f"AllSet reference code, zoo, {args.splits} splits 0..{args.seeds - 1}: "
        f"{statistics.mean(tests):.2f} ± {spread:.2f} (published 97.50 ± 3.59)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
