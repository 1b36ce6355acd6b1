"""Hyperedge-prediction runs on the benchmark hypergraphs: one function per (dataset, method, negatives, seed), the
one that ``graphhyper hypergraph edgepred`` and ``scripts/edgepred_table.py`` call.

Methods (all score a candidate set with :class:`~graphhyper.hypergraph.edgepred.SetScorer` over node embeddings):

* ``hgnn``: HGNN encoder (``build_model("hgnn", F, embed_channels)``) trained end to end with the scorer;
* ``pool-hgnn``: set pooling over fixed embeddings, ``steps`` rounds of parameter-free HGNN smoothing of the
  features (:class:`~graphhyper.hypergraph.edgepred.Propagation`); only the scorer learns;
* ``pool-features``: set pooling over the raw features (no structure at all; the scorer's MLP is the model);
* ``gcn``: the graph baseline, a 2-layer GCN on the clique expansion
  (:class:`~graphhyper.hypergraph.edgepred.CliqueGCN`) trained end to end with the scorer.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from typing import Any

import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import edgepred as ep

METHODS = ("hgnn", "pool-hgnn", "pool-features", "gcn")


@dataclass(frozen=True)
class EdgePredSettings:
    """Hyper-parameters of a run (the defaults are the ones of the table in docs/hypergraphs.md). ``pool="minmax"``
    was chosen on validation AUROC (Cora-CA, seed 0, sized negatives: higher than ``"mean"`` for hgnn, pool-hgnn
    and pool-features alike); the rest are node-classification defaults, not tuned for this task."""

    epochs: int = 200
    patience: int = 50
    lr: float = 0.01
    weight_decay: float = 5e-4
    hidden_channels: int = 128
    embed_channels: int = 64
    scorer_hidden: int = 64
    pool: str = "minmax"
    steps: int = 2
    dropout: float = 0.5
    val: float = 0.1
    test: float = 0.1
    target_fraction: float = 0.25


def build_edge_predictor(method: str, in_channels: int, s: EdgePredSettings) -> ep.EdgePredictor:
    """The :class:`~graphhyper.hypergraph.edgepred.EdgePredictor` of ``method`` for ``in_channels`` features."""
    from graphhyper.hypergraph.models import build_model

    if method == "hgnn":
        enc: torch.nn.Module | None = build_model(
            "hgnn", in_channels, s.embed_channels, hidden_channels=s.hidden_channels, dropout=s.dropout
        )
        width = s.embed_channels
    elif method == "gcn":
        enc, width = ep.CliqueGCN(in_channels, s.hidden_channels, s.embed_channels, 2, s.dropout), s.embed_channels
    elif method == "pool-hgnn":
        enc, width = ep.Propagation(s.steps), in_channels
    elif method == "pool-features":
        enc, width = None, in_channels
    else:
        raise InvalidInputError(f"edge-prediction method {method!r} is unknown; use one of {METHODS}.")
    return ep.EdgePredictor(enc, ep.SetScorer(width, s.scorer_hidden, pool=s.pool, dropout=0.0))


@functools.lru_cache(maxsize=2)
def _load(dataset: str, root: str | None) -> Any:
    """The dataset, read once per process (a table runs many seeds and methods on it; nothing here mutates it)."""
    from graphhyper.data import load_hypergraph

    return load_hypergraph(dataset, root)


def run_edge_prediction(
    dataset: str,
    method: str,
    strategy: str,
    seed: int,
    settings: EdgePredSettings | None = None,
    root: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Split ``dataset``'s hyperedges with ``seed`` (10% validation, 10% test by default), train ``method`` with
    ``strategy`` negatives and return the validation and test AUROC / AP with the settings that made them."""
    s = settings or EdgePredSettings()
    data = _load(dataset, None if root is None else str(root))
    split = ep.split_hyperedges(data.hg, val=s.val, test=s.test, seed=seed)
    torch.manual_seed(seed)
    model = build_edge_predictor(method, data.num_features, s)
    res = ep.train_edge_predictor(
        model,
        data.x,
        split,
        strategy=strategy,
        epochs=s.epochs,
        lr=s.lr,
        weight_decay=s.weight_decay,
        patience=s.patience,
        seed=seed,
        target_fraction=s.target_fraction,
    )
    sizes = {"train": split.train.num_edges, "val": split.val.num_edges, "test": split.test.num_edges}
    head = {"dataset": data.name, "method": method, "negatives": strategy, "seed": seed, "hyperedges": sizes}
    return head | res.as_dict() | {"settings": asdict(s)}


__all__ = ["METHODS", "EdgePredSettings", "build_edge_predictor", "run_edge_prediction"]
