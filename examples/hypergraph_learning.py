"""Node classification on a hypergraph: Cora-CA if $GRAPHHYPER_DATA has it, else a synthetic HSBM hypergraph.

Usage: python examples/hypergraph_learning.py [--model hgnn] [--epochs 100] [--dataset cora-ca] [--device cuda]
"""

import argparse

import torch

from graphhyper.data import from_tensors, load_hypergraph
from graphhyper.errors import DatasetError
from graphhyper.hypergraph import hsbm
from graphhyper.hypergraph.models import build_model, list_models, train_defaults
from graphhyper.hypergraph.train import train_node_classifier

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="hgnn", choices=list_models())
parser.add_argument("--dataset", default="cora-ca", help="see `graphhyper hypergraph datasets`")
parser.add_argument("--epochs", type=int, default=100)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--device", default="cpu", help="cuda: the Triton kernels run every aggregation")
args = parser.parse_args()
torch.set_num_threads(2)

try:  # 50/25/25 random split (the AllSet protocol); no download: use what is on disk
    data = load_hypergraph(args.dataset, split="random", seed=args.seed, add_self_loops=True, download=False)
except DatasetError as exc:
    print(f"{args.dataset} not available ({str(exc).splitlines()[0]}); using a synthetic HSBM hypergraph")
    hg, x, y = hsbm(1000, 300, num_classes=4, feature_dim=32, mean_edge_size=4, seed=args.seed)
    data = from_tensors(hg, x, y, name="hsbm", seed=args.seed)
print(f"dataset {data.name}: {data.hg.num_nodes} nodes, {data.hg.num_edges} hyperedges, {data.num_classes} classes")

torch.manual_seed(args.seed)
model = build_model(args.model, data.x.shape[1], data.num_classes)
res = train_node_classifier(
    model,
    data,
    epochs=args.epochs,
    patience=50,
    seed=args.seed,
    progress=False,
    device=args.device,
    **train_defaults(args.model),
)
print(f"{args.model}: best validation accuracy {100 * res.best_val_acc:.2f}% at epoch {res.best_epoch}")
print(f"test accuracy: {100 * res.test_acc:.2f}%")
