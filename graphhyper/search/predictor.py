"""GNN performance predictor: rank architectures from their graphs after seeing a few evaluated ones.

An architecture is encoded as an op-on-node DAG ``(op_ids [N], adjacency [N, N])``:

* NB201 cells (6-tuples or arch strings) use :func:`graphhyper.arch.spaces.nb201.cell_graph` (8 nodes: input,
  the 6 edge ops, output) with **dead nodes removed**: ``none`` ops cut their edges and every op node that is not
  on an input-to-output path is masked out, so cells that compute the same function get the same encoding.
* :class:`~graphhyper.arch.ArchGraph` objects (any traced module) use their op ids and data-flow edges, plus
  their per-node shape features.

The model (:class:`DenseGNN`) is a directed message-passing network on the padded dense adjacency ``A``
(``A[a, b] = 1`` for data flow ``a -> b``), ``L`` residual layers

.. math::
    h^{(l+1)} = m \\odot \\big(h^{(l)} + \\mathrm{ReLU}(W_s h^{(l)} + A^\\top W_f h^{(l)} + A W_b h^{(l)})\\big)

(``m`` the node mask), read out as ``MLP([mean_v h_v, h_out])`` with ``h_out`` the last (output) node. It is
trained with MSE on standardised targets plus a pairwise logistic ranking loss
:math:`\\log(1 + e^{-\\mathrm{sign}(y_i - y_j)(\\hat y_i - \\hat y_j)})`, and :class:`Predictor` averages an ensemble
of such models (different seeds).

>>> from graphhyper.arch.spaces import nb201
>>> pred = Predictor(seed=0).fit(cells[:100], accuracies[:100])     # doctest: +SKIP
>>> scores = pred.predict(cells[100:])                               # doctest: +SKIP
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from graphhyper.errors import InvalidInputError

__all__ = [
    "NB201_VOCAB",
    "Encoded",
    "encode_nb201",
    "encode_archgraphs",
    "encode",
    "DenseGNN",
    "ranking_loss",
    "Predictor",
]

#: NB201 node vocabulary: the 5 ops, then the input and output nodes.
NB201_VOCAB = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "input", "output")


class Encoded:
    """A padded batch of encoded graphs: ``ops [B, N]``, ``adj [B, N, N]``, ``mask [B, N]``, ``feats [B, N, F]``."""

    def __init__(self, ops: torch.Tensor, adj: torch.Tensor, mask: torch.Tensor, feats: torch.Tensor | None = None):
        self.ops, self.adj, self.mask, self.feats = ops, adj, mask, feats

    def __len__(self) -> int:
        return self.ops.shape[0]

    def __getitem__(self, idx) -> Encoded:
        idx = torch.as_tensor(idx, dtype=torch.long)
        return Encoded(self.ops[idx], self.adj[idx], self.mask[idx], None if self.feats is None else self.feats[idx])


def _prune_dead(ops: list[int], adj: np.ndarray, dead_op: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut edges of ``dead_op`` nodes and mask nodes not on a path from node 0 to node N-1."""
    a = adj.astype(np.float32).copy()
    for k, op in enumerate(ops):
        if op == dead_op:
            a[k, :] = 0
            a[:, k] = 0
    n = len(ops)
    reach = np.eye(n, dtype=bool)
    for _ in range(n):
        reach = reach | ((reach.astype(np.float32) @ a) > 0)
    live = reach[0] & reach[:, n - 1]
    return a * live[:, None] * live[None, :], live


def encode_nb201(cells: Sequence) -> Encoded:
    """Encode NB201 cells (6-tuples of op names or arch strings), dead nodes removed (see the module doc)."""
    from graphhyper.arch.spaces import nb201

    ops_l, adj_l, mask_l = [], [], []
    for cell in cells:
        if isinstance(cell, str):
            cell = nb201.parse(cell)
        names, adj = nb201.cell_graph(cell)
        ops = [NB201_VOCAB.index(n) for n in names]
        a, live = _prune_dead(ops, adj, NB201_VOCAB.index("none"))
        ops_l.append(ops)
        adj_l.append(a)
        mask_l.append(live)
    return Encoded(
        torch.tensor(ops_l, dtype=torch.long),
        torch.tensor(np.stack(adj_l)),
        torch.tensor(np.stack(mask_l), dtype=torch.float32),
    )


def encode_archgraphs(graphs: Sequence) -> Encoded:
    """Encode :class:`~graphhyper.arch.ArchGraph` objects (padded to the largest; shape features included)."""
    n_max = max(g.num_nodes for g in graphs)
    feats0 = graphs[0].shape_features()
    B, F = len(graphs), feats0.shape[1]
    ops = torch.zeros(B, n_max, dtype=torch.long)
    adj = torch.zeros(B, n_max, n_max)
    mask = torch.zeros(B, n_max)
    feats = torch.zeros(B, n_max, F)
    for b, g in enumerate(graphs):
        n = g.num_nodes
        ops[b, :n] = g.op_ids()
        ei = g.edge_index
        adj[b, ei[0], ei[1]] = 1.0
        mask[b, :n] = 1.0
        f = g.shape_features().float()
        feats[b, :n] = torch.sign(f) * torch.log1p(f.abs())
        if n < n_max:  # keep the output node last, so the readout finds it at the same index
            ops[b, [n - 1, n_max - 1]] = ops[b, [n_max - 1, n - 1]]
            adj[b, :, [n - 1, n_max - 1]] = adj[b, :, [n_max - 1, n - 1]]
            adj[b, [n - 1, n_max - 1], :] = adj[b, [n_max - 1, n - 1], :]
            mask[b, [n - 1, n_max - 1]] = mask[b, [n_max - 1, n - 1]]
            feats[b, [n - 1, n_max - 1]] = feats[b, [n_max - 1, n - 1]]
    return Encoded(ops, adj, mask, feats)


def encode(items) -> Encoded:
    """Encode NB201 cells, arch strings or ArchGraphs (dispatch on the first item); :class:`Encoded` passes."""
    if isinstance(items, Encoded):
        return items
    items = list(items)
    if not items:
        raise InvalidInputError("Nothing to encode: give at least one architecture.")
    first = items[0]
    if hasattr(first, "op_ids") and hasattr(first, "edge_index"):
        return encode_archgraphs(items)
    if isinstance(first, str) or (isinstance(first, (tuple, list)) and len(first) == 6):
        return encode_nb201(items)
    raise InvalidInputError(
        f"Cannot encode {type(first).__name__} for the predictor: give NB201 cells "
        "(6-tuples / arch strings) or ArchGraphs (graphhyper.arch.trace(module))."
    )


class DenseGNN(nn.Module):
    """Directed residual GNN on padded dense adjacency (see the module docstring for the update rule).

    Args:
        num_ops: size of the op vocabulary (ids ``>= num_ops`` are clamped to the last id).
        hidden: width ``d`` of node states.
        layers: number of message-passing layers ``L``.
        num_feats: width of extra per-node features (0 for none).

    Shapes: ``ops [B, N]``, ``adj [B, N, N]``, ``mask [B, N]``, ``feats [B, N, F]`` -> ``[B]`` scores.
    """

    def __init__(self, num_ops: int, hidden: int = 64, layers: int = 3, num_feats: int = 0):
        super().__init__()
        self.num_ops = num_ops
        self.embed = nn.Embedding(num_ops, hidden)
        self.feat = nn.Linear(num_feats, hidden) if num_feats else None
        self.fwd = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.bwd = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.self_ = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.reset_parameters()

    def forward(self, x: Encoded) -> torch.Tensor:
        m = x.mask.unsqueeze(-1)
        h = self.embed(x.ops.clamp(max=self.num_ops - 1))
        if self.feat is not None and x.feats is not None:
            h = h + self.feat(x.feats)
        h = h * m
        at = x.adj.transpose(1, 2)
        for f, b, s in zip(self.fwd, self.bwd, self.self_):
            h = (h + torch.relu(s(h) + at @ f(h) + x.adj @ b(h))) * m
        pooled = h.sum(1) / m.sum(1).clamp(min=1)
        return self.head(torch.cat([pooled, h[:, -1]], dim=-1)).squeeze(-1)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_ops={self.num_ops}, hidden={self.embed.embedding_dim}, layers={len(self.fwd)})"
        )


def ranking_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pairwise logistic ranking loss over every ordered pair with different targets."""
    d = target[:, None] - target[None, :]
    pd = pred[:, None] - pred[None, :]
    valid = (d != 0).float()
    return (nn.functional.softplus(-torch.sign(d) * pd) * valid).sum() / valid.sum().clamp(min=1)


class Predictor:
    """Ensemble of :class:`DenseGNN` regressors trained with MSE + pairwise ranking loss.

    Args:
        ensemble: number of independently seeded models whose standardised scores are averaged.
        hidden, layers: GNN size. epochs, lr, weight_decay: AdamW training (full batch).
        rank_weight: weight of :func:`ranking_loss` beside the MSE.
        seed: seeds every model (model ``k`` uses ``seed * 1000 + k``).

    ``fit(archs, y)`` then ``predict(archs) -> np.ndarray`` (higher = better). ``fit(..., warm_start=True)``
    continues from the current weights (cheap refits inside a search).
    """

    def __init__(
        self,
        ensemble: int = 3,
        hidden: int = 64,
        layers: int = 3,
        epochs: int = 300,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        rank_weight: float = 1.0,
        seed: int = 0,
    ):
        if ensemble < 1 or epochs < 1:
            raise InvalidInputError("Predictor needs ensemble >= 1 and epochs >= 1.")
        self.ensemble, self.hidden, self.layers = ensemble, hidden, layers
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.rank_weight, self.seed = rank_weight, seed
        self.models: list[DenseGNN] = []
        self._opts: list[torch.optim.Optimizer] = []

    def _build(self, x: Encoded) -> None:
        num_ops = int(x.ops.max()) + 2
        from graphhyper.arch import ops as arch_ops

        if x.feats is not None:  # ArchGraphs: the registry vocabulary bounds every id
            num_ops = max(num_ops, len(arch_ops.VOCAB) + 1)
        else:
            num_ops = max(num_ops, len(NB201_VOCAB))
        nf = 0 if x.feats is None else x.feats.shape[-1]
        self.models, self._opts = [], []
        for k in range(self.ensemble):
            torch.manual_seed(self.seed * 1000 + k)
            model = DenseGNN(num_ops, self.hidden, self.layers, nf)
            self.models.append(model)
            self._opts.append(torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay))

    def fit(self, archs, y, warm_start: bool = False, epochs: int | None = None) -> Predictor:
        """Train on architectures ``archs`` with scores ``y`` (higher = better); returns ``self``."""
        x = encode(archs)
        y = torch.as_tensor(np.asarray(y, dtype=np.float32))
        if len(x) != len(y) or len(y) < 2:
            raise InvalidInputError(f"fit needs >= 2 architectures with one score each (got {len(x)} and {len(y)}).")
        if not torch.isfinite(y).all():
            raise InvalidInputError("fit targets contain NaN/inf; drop failed evaluations before fitting.")
        y = (y - y.mean()) / y.std().clamp(min=1e-8)
        if not (warm_start and self.models):
            self._build(x)
        for k, (model, opt) in enumerate(zip(self.models, self._opts)):
            torch.manual_seed(self.seed * 1000 + k + 7 * len(y))
            model.train()
            for _ in range(epochs or self.epochs):
                p = model(x)
                loss = nn.functional.mse_loss(p, y) + self.rank_weight * ranking_loss(p, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
        return self

    @torch.no_grad()
    def predict(self, archs, batch_size: int = 4096) -> np.ndarray:
        """Ensemble-mean score of each architecture (same scale as the standardised training targets)."""
        if not self.models:
            raise InvalidInputError("The predictor is not trained: call fit(archs, scores) first.")
        x = encode(archs)
        out = np.zeros(len(x), dtype=np.float64)
        for a in range(0, len(x), batch_size):
            part = x[list(range(a, min(a + batch_size, len(x))))]
            out[a : a + len(part)] = np.mean([m(part).numpy() for m in self.models], axis=0)
        return out
