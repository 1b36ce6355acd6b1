r"""Edge-dependent node classification (ENC): one label per (node, hyperedge) incidence.

A node can play a different role in each hyperedge (first / middle / last author of a paper, asker / answerer
of a question). The task (Choe et al., "Classification of Edge-Dependent Labels of Nodes in Hypergraphs",
KDD 2023; Zheng and Worring, CoNHD, CIKM 2025) predicts the label of every incidence of the validation and test
hyperedges after training on the labels of the training hyperedges; it is scored by micro- and macro-F1 over
those incidences.

Inputs, as the published code builds them (WHATsNet and CoNHD share the pipeline):

* **order encoding** ``pe [nnz, 4]`` (:func:`order_encoding`, their "OrderPE"): for each of four node
  centralities (degree, eigenvector and PageRank on the weighted clique expansion, hypergraph k-core,
  :func:`node_centralities`), the dense rank of the node's value among the nodes listed in the hyperedge, divided
  by the number of nodes listed: :math:`p_{v,e} = \mathrm{rank}_e(c_v) / |e|`.
* **node features** ``x [V, 44]``: the published code embeds nodes by Word2Vec on hypergraph random walks; we use a
  spectral embedding of the same size instead (:func:`spectral_features`, a documented deviation: no gensim, and
  no random-walk sampling to seed).

Models return one row per incidence of ``hg`` (CSR order): CoNHD and WHATsNet natively, node models through
:class:`IncidenceHead` (``MLP([z_v || z_e || p_{v,e}])`` with ``z_e`` the mean of its nodes' embeddings).
:func:`train_enc` trains full-batch with early stopping on validation micro-F1; :func:`train_enc_minibatch` trains
on batches of training hyperedges with sampled neighbourhoods, as the authors' code does.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import enc_resume, ops
from graphhyper.hypergraph.nn.mlp import MLP
from graphhyper.hypergraph.structure import Hypergraph
from graphhyper.hypergraph.train import _progress, adam, resets_patience

CENTRALITIES = ("degree", "eigenvector", "pagerank", "kcore")


# ------------------------------------------------------------------------------------------------ centralities
def _clique(hg: Hypergraph) -> Any:
    """Weighted clique expansion ``A = H H^T - diag`` (``A_uv`` = number of hyperedges holding both) as scipy CSR."""
    import scipy.sparse as sp

    h = sp.csr_matrix(
        (np.ones(hg.nnz), (hg.inc_node.cpu().numpy(), hg.inc_edge.cpu().numpy())), shape=(hg.num_nodes, hg.num_edges)
    )
    a = (h @ h.T).tocsr()
    a.setdiag(0)
    a.eliminate_zeros()
    return a


def pagerank(a: Any, alpha: float = 0.85, iters: int = 100, tol: float = 1e-10) -> np.ndarray:
    """PageRank of the weighted graph ``a`` (scipy CSR, symmetric): power iteration of
    ``r = alpha * (W^T r + d_r / V) + (1 - alpha) / V`` with ``W`` the row-normalised weights and ``d_r`` the mass
    on nodes without edges (spread uniformly, as networkx does)."""
    n = a.shape[0]
    out = np.asarray(a.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    r = np.full(n, 1.0 / n)
    for _ in range(iters):
        dangling = r[out == 0].sum()
        new = alpha * (a.T @ (r * inv) + dangling / n) + (1 - alpha) / n
        done = np.abs(new - r).sum() < tol * n
        r = new
        if done:
            break
    return r


def eigenvector_centrality(a: Any, iters: int = 100) -> np.ndarray:
    """Leading eigenvector of ``a`` by power iteration on ``A + I`` (networkx's iteration), unit l2 norm."""
    x = np.ones(a.shape[0])
    for _ in range(iters):
        x = x + a @ x
        x /= np.linalg.norm(x) or 1.0
    return x


def hypergraph_kcore(hg: Hypergraph) -> np.ndarray:
    """Core number of every node in the hypergraph: nodes are peeled in increasing order of their current value
    (initially the degree); peeling ``v`` lowers by one, once per not-yet-peeled hyperedge of ``v``, every member
    whose value is still above ``v``'s (the hypergraph core decomposition of the WHATsNet preprocessing)."""
    import heapq

    ptr, inc_node = hg.edge_ptr.tolist(), hg.inc_node.tolist()
    csc_edge, node_ptr = hg.csc_edge.tolist(), hg.node_ptr.tolist()
    value = hg.node_degree.long().tolist()
    heap = [(d, v) for v, d in enumerate(value)]
    heapq.heapify(heap)
    done, used = [False] * hg.num_nodes, [False] * hg.num_edges
    while heap:
        d, v = heapq.heappop(heap)
        if done[v] or d != value[v]:
            continue
        done[v] = True
        for e in csc_edge[node_ptr[v] : node_ptr[v + 1]]:
            if used[e]:
                continue
            used[e] = True
            for u in inc_node[ptr[e] : ptr[e + 1]]:
                if value[u] > d:
                    value[u] -= 1
                    heapq.heappush(heap, (value[u], u))
    return np.asarray(value, dtype=np.float64)


def node_centralities(hg: Hypergraph, degree: Tensor | None = None) -> Tensor:
    """``[V, 4]`` float64 centralities in the order of :data:`CENTRALITIES`: degree (``degree`` if given, e.g.
    counting repeated listings, else ``hg.node_degree``), eigenvector and PageRank on the weighted clique
    expansion, hypergraph k-core (:func:`hypergraph_kcore`)."""
    a = _clique(hg)
    deg = (hg.node_degree if degree is None else degree).double().cpu().numpy()
    cols = [deg, eigenvector_centrality(a), pagerank(a), hypergraph_kcore(hg)]
    return torch.from_numpy(np.stack(cols, axis=1))


def dense_rank_in_groups(values: Tensor, groups: Tensor, size: Tensor | None = None) -> Tensor:
    """``rank / size`` of each value within its group: the dense rank (1 = smallest, equal values share a rank) of
    ``values[i]`` among the entries with ``groups[i]``, divided by the group's number of entries (or ``size``).

    ``values`` is compared in float32, so centralities equal up to round-off share a rank."""
    vals = values.float().cpu().numpy()
    grp = groups.cpu().numpy()
    order = np.lexsort((vals, grp))
    g, v = grp[order], vals[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    step = new_group.copy()
    step[1:] |= v[1:] != v[:-1]
    csum = np.cumsum(step)
    first = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.float64)
    rank[order] = csum - csum[first] + 1
    count = np.bincount(grp) if size is None else size.cpu().numpy()
    return torch.from_numpy(rank / count[grp]).float()


def order_encoding(ds: Any, centralities: Tensor | None = None) -> Tensor:
    """CoNHD's / WHATsNet's OrderPE for ``ds`` (an :class:`~graphhyper.data.EncDataset`): ``[nnz, 4]`` in the
    CSR order of ``ds.hg``, column ``k`` = dense rank of centrality ``k`` of the node among the nodes listed in
    the hyperedge, over the number listed (repeated listings of a pair get the same value)."""
    hg = ds.hg
    listed_node = hg.inc_node[ds.incidence]
    if centralities is None:
        centralities = node_centralities(hg, torch.bincount(listed_node, minlength=hg.num_nodes))
    cols = [dense_rank_in_groups(centralities[listed_node, k], ds.listed_edge) for k in range(centralities.shape[1])]
    pe = torch.zeros(hg.nnz, len(cols))
    pe[ds.incidence] = torch.stack(cols, dim=1)
    return pe


def spectral_features(hg: Hypergraph, dim: int = 44, seed: int = 0) -> Tensor:
    r"""``[V, dim]`` node features: the top ``dim`` left singular vectors of the normalised incidence matrix
    :math:`D_v^{-1/2} H D_e^{-1/2}` (randomised SVD, seeded), each column standardised to mean 0, std 1. Stands in
    for the published Word2Vec random-walk embedding (both place nodes by the hyperedges they share)."""
    if not 1 <= dim < min(hg.num_nodes, hg.num_edges):
        limit = min(hg.num_nodes, hg.num_edges)
        raise InvalidInputError(f"dim={dim}: use 1 <= dim < min(nodes, hyperedges) = {limit}.")
    dv = hg.node_degree.double().clamp(min=1).rsqrt()
    de = hg.edge_degree.double().clamp(min=1).rsqrt()
    vals = dv[hg.inc_node] * de[hg.inc_edge]
    index = torch.stack([hg.inc_node, hg.inc_edge])
    m = torch.sparse_coo_tensor(index, vals, (hg.num_nodes, hg.num_edges), check_invariants=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        u, s, _ = torch.svd_lowrank(m.coalesce(), q=min(dim + 10, hg.num_nodes, hg.num_edges), niter=4)
    x = u[:, :dim]
    x = (x - x.mean(0)) / x.std(0).clamp(min=1e-12)
    return x.float()


# ------------------------------------------------------------------------------------------------ task and metrics
@dataclass
class EncTask:
    """Everything a model and the trainer need: ``hg``, node features ``x [V, F]``, order encoding
    ``pe [nnz, P]`` (CSR order), the listed incidences' labels ``y [M]`` and CSR ids ``incidence [M]``, and
    ``split``: indices into the ``M`` listed incidences of the train / val / test hyperedges."""

    name: str
    hg: Hypergraph
    x: Tensor
    pe: Tensor
    y: Tensor
    incidence: Tensor
    split: Any
    num_classes: int

    def to(self, device: torch.device | str) -> EncTask:
        from graphhyper.data.splits import Split

        s = self.split
        return EncTask(
            self.name,
            self.hg.to(device),
            self.x.to(device),
            self.pe.to(device),
            self.y.to(device),
            self.incidence.to(device),
            Split(s.train.to(device), s.val.to(device), s.test.to(device)),
            self.num_classes,
        )


def prepare_enc(ds: Any, feature_dim: int = 44, seed: int = 0) -> EncTask:
    """The :class:`EncTask` of an :class:`~graphhyper.data.EncDataset`: spectral node features of size
    ``feature_dim`` (:func:`spectral_features`) and the order encoding (:func:`order_encoding`)."""
    x = spectral_features(ds.hg, feature_dim, seed)
    return EncTask(ds.name, ds.hg, x, order_encoding(ds), ds.y, ds.incidence, ds.incidence_split(), ds.num_classes)


def f1_scores(pred: Tensor, target: Tensor, num_classes: int) -> tuple[float, float]:
    r"""``(micro-F1, macro-F1)`` of single-label predictions. Micro-F1 pools the counts of every class (for one
    label per item it equals accuracy); macro-F1 is the mean over the classes present in ``target`` or ``pred``
    of :math:`F1_c = 2\,TP_c / (2\,TP_c + FP_c + FN_c)` (sklearn's ``f1_score(average=...)``)."""
    if pred.shape != target.shape or pred.numel() == 0:
        raise InvalidInputError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must be equal, non-empty.")
    pred, target = pred.long().cpu(), target.long().cpu()
    tp = torch.bincount(target[pred == target], minlength=num_classes).double()
    n_pred = torch.bincount(pred, minlength=num_classes).double()
    n_true = torch.bincount(target, minlength=num_classes).double()
    denom = n_pred + n_true
    present = denom > 0
    macro = float((2 * tp[present] / denom[present]).mean())
    micro = float(tp.sum() / target.numel())
    return micro, macro


# ------------------------------------------------------------------------------------------------ models
class IncidenceHead(nn.Module):
    r"""Per-incidence classifier on top of a node model: ``z = node_model(x, hg)`` ``[V, H]``,
    :math:`\mathbf{z}_e = \frac{1}{|e|}\sum_{v \in e} \mathbf{z}_v`, and for every incidence
    :math:`\hat{y}_{v,e} = \mathrm{MLP}([\mathbf{z}_v \,\Vert\, \mathbf{z}_e \,\Vert\, \mathbf{p}_{v,e}])`
    (the order encoding only with ``pe_channels > 0``).

    ``forward(x [V, F], hg, pe=None) -> [nnz, num_classes]`` in the CSR order of ``hg``.
    """

    def __init__(
        self,
        node_model: nn.Module,
        hidden_channels: int,
        num_classes: int,
        pe_channels: int = 0,
        mlp_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.node_model, self.hidden_channels, self.pe_channels = node_model, hidden_channels, pe_channels
        self.mlp = MLP(2 * hidden_channels + pe_channels, hidden_channels, num_classes, mlp_layers, dropout)

    def reset_parameters(self) -> None:
        from graphhyper.hypergraph.nn import reset_module

        reset_module(self)

    def forward(self, x: Tensor, hg: Hypergraph, pe: Tensor | None = None) -> Tensor:
        z = self.node_model(x, hg)
        if z.dim() != 2 or z.shape != (hg.num_nodes, self.hidden_channels):
            raise InvalidInputError(
                f"the node model returned shape {tuple(z.shape)}; IncidenceHead needs node embeddings "
                f"[{hg.num_nodes}, {self.hidden_channels}] (build the node model with num_classes=hidden_channels)."
            )
        parts = [ops.gather_nodes(z, hg), ops.gather_edges(ops.v2e(z, hg, aggr="mean"), hg)]
        if self.pe_channels:
            if pe is None or pe.shape != (hg.nnz, self.pe_channels):
                raise InvalidInputError(f"pass pe [{hg.nnz}, {self.pe_channels}] (built with pe_channels>0).")
            parts.append(pe.to(z.dtype))
        return self.mlp(torch.cat(parts, dim=-1))


#: CoNHD's ENC settings in the authors' run scripts (co-representation 128, 2 diffusion steps, 2 set blocks per
#: operator, dropout and input dropout 0.7, order encoding of the 4 centralities).
CONHD_ENC = dict(
    hidden_channels=128, num_layers=2, num_blocks=2, dropout=0.7, input_dropout=0.7, operator="unp", pe_channels=4
)

#: WHATsNet's settings in the ``# WHATsNET`` line of the authors' ``run_StackOverflowBiology.sh``: 2 layers of
#: width 64 between them, attention 128 wide (their layer default), 2 induced set attention blocks per side (4
#: heads, 4 inducing points), PrevQ pooling, node and hyperedge outputs 128, dropout 0.7, OrderPE of the 4
#: centralities on both sides, the ``sm`` scorer.
WHATSNET_ENC = dict(
    hidden_channels=64, att_channels=128, node_channels=128, edge_channels=128, edge_in_channels=128, num_layers=2,
    heads=4, num_inducing=4, num_att_layers=2, dropout=0.7, pe_channels=4, layer_norm=False,
)  # fmt: skip

#: How the authors' ``train.py`` trains WHATsNet on Stack-Biology, as :func:`train_enc_minibatch` arguments:
#: batches of 64 hyperedges, 40 sampled hyperedges per node, plain Adam (lr 1e-4, torch's eps 1e-8, no weight
#: decay, no clipping), lr x 0.99 per epoch, validation every 5 epochs, stop after 6 validations without a new best.
WHATSNET_TRAIN = dict(
    batch_size=64, hedge_sampling=40, lr=1e-4, gamma=0.99, weight_decay=0.0, adam_eps=1e-8, clip_norm=None,
    eval_every=5, patience=30,
)  # fmt: skip

_NATIVE: dict[str, dict[str, Any]] = {"conhd": CONHD_ENC, "whatsnet": WHATSNET_ENC}


def build_enc_model(
    name: str,
    in_channels: int,
    num_classes: int,
    *,
    hidden_channels: int | None = None,
    head_pe: bool = False,
    pe_channels: int = 4,
    **overrides: Any,
) -> nn.Module:
    """An ENC model: ``"conhd"`` with :data:`CONHD_ENC` or ``"whatsnet"`` with :data:`WHATSNET_ENC` (overridable;
    ``hidden_channels`` default 128 and 64), or any node model of :func:`~graphhyper.hypergraph.models.build_model`
    producing ``hidden_channels`` (default 64) embeddings under an :class:`IncidenceHead` (which also reads the
    order encoding when ``head_pe``). ``pe_channels``: size of the order encoding (4 centralities; 0 builds CoNHD
    or WHATsNet without it)."""
    from graphhyper.hypergraph.models import build_model

    if name in _NATIVE:
        if hidden_channels is not None:
            overrides["hidden_channels"] = hidden_channels
        settings = {**_NATIVE[name], "pe_channels": pe_channels, **overrides}
        return build_model(name, in_channels, num_classes, **settings)
    hidden_channels = hidden_channels or 64
    node = build_model(name, in_channels, hidden_channels, hidden_channels=hidden_channels, **overrides)
    return IncidenceHead(node, hidden_channels, num_classes, pe_channels if head_pe else 0)


def incidence_logits(model: nn.Module, task: EncTask) -> Tensor:
    """``[M, C]`` logits of the listed incidences: the model's ``[nnz, C]`` rows picked by ``task.incidence``."""
    uses_pe = bool(getattr(model, "pe_channels", 0))
    out = model(task.x, task.hg, pe=task.pe if uses_pe else None)
    if out.dim() != 2 or out.shape[0] != task.hg.nnz:
        raise InvalidInputError(
            f"{type(model).__name__} returned shape {tuple(out.shape)}; ENC needs one row per incidence "
            f"[{task.hg.nnz}, C] (CoNHD, or a node model under IncidenceHead)."
        )
    return out[task.incidence]


# ------------------------------------------------------------------------------------------------ training
@dataclass
class EncResult:
    """Outcome of :func:`train_enc` (F1 scores are fractions in ``[0, 1]``, test ones at the best validation epoch)."""

    val_micro_f1: float
    val_macro_f1: float
    test_micro_f1: float
    test_macro_f1: float
    best_epoch: int
    epochs_run: int
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list, repr=False)
    features: Tensor | None = field(default=None, repr=False)  # the trained node features (mini-batch trainer)
    epoch_seconds: list[float] = field(default_factory=list, repr=False)  # training seconds of every epoch (idem)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("history", "features", "epoch_seconds")}


@torch.no_grad()
def evaluate_enc(model: nn.Module, task: EncTask) -> dict[str, float]:
    """Micro-/macro-F1 on val and test and the validation loss, model in eval mode."""
    model.eval()
    logits = incidence_logits(model, task)
    pred, s = logits.argmax(-1), task.split
    row = {"val_loss": float(F.cross_entropy(logits[s.val], task.y[s.val]))}
    for part in ("val", "test"):
        idx = getattr(s, part)
        row[f"{part}_micro"], row[f"{part}_macro"] = f1_scores(pred[idx], task.y[idx], task.num_classes)
    return row


@dataclass
class _Keep:
    key: tuple[float, float] = (-1.0, float("inf"))
    row: dict[str, float] = field(default_factory=dict)
    epoch: int = -1
    improved: int = -1
    state: dict[str, Any] | None = None

    def update(self, model: nn.Module, row: dict[str, float], epoch: int) -> None:
        if resets_patience(row["val_micro"], row["val_loss"], self.key):
            self.improved = epoch
        if (row["val_micro"], -row["val_loss"]) > (self.key[0], -self.key[1]):
            self.key, self.row, self.epoch = (row["val_micro"], row["val_loss"]), row, epoch
            self.state = copy.deepcopy(model.state_dict())


def _check_task(task: EncTask, epochs: int, eval_every: int) -> None:
    if epochs < 1 or eval_every < 1:
        raise InvalidInputError(f"epochs={epochs}, eval_every={eval_every}: both must be >= 1.")
    if task.split.train.numel() == 0 or task.split.val.numel() == 0:
        raise InvalidInputError("the split needs training and validation hyperedges (early stopping reads val).")


def train_enc(
    model: nn.Module,
    task: EncTask,
    *,
    epochs: int = 300,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int | None = 50,
    seed: int | None = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    eval_every: int = 1,
) -> EncResult:
    """Train ``model`` (``forward(x, hg, pe=None) -> [nnz, C]``) full-batch with Adam and cross-entropy on the
    incidences of the training hyperedges; keep the epoch with the best validation micro-F1 (ties: lower
    validation loss), stop after ``patience`` epochs without one, load its weights into ``model`` and report its
    validation and test micro-/macro-F1. ``eval_every``: evaluate every that many epochs (and at the last one);
    patience still counts epochs. The test scores never influence any choice."""
    _check_task(task, epochs, eval_every)
    if device is not None:
        model, task = model.to(device), task.to(device)
    if seed is not None:
        torch.manual_seed(seed)
    opt = adam(model, lr=lr, weight_decay=weight_decay)
    keep, history, bar = _Keep(), [], _progress(epochs, progress)
    start, epoch = time.perf_counter(), 0
    tr = task.split.train
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(incidence_logits(model, task)[tr], task.y[tr])
        if not torch.isfinite(loss):
            raise InvalidInputError(f"the training loss became {float(loss)} at epoch {epoch}; lower the lr.")
        loss.backward()
        opt.step()
        if bar is not None:
            bar.update(1)
        if (epoch + 1) % eval_every and epoch != epochs - 1:
            continue
        row = {"epoch": epoch, "loss": float(loss.detach()), **evaluate_enc(model, task)}
        history.append(row)
        keep.update(model, row, epoch)
        if bar is not None:
            bar.set_postfix(loss=f"{row['loss']:.3f}", val=f"{row['val_micro']:.3f}", refresh=False)
        if patience is not None and epoch - keep.improved >= patience:
            break
    if bar is not None:
        bar.close()
    if keep.state is not None:
        model.load_state_dict(keep.state)
    r = keep.row
    return EncResult(
        r["val_micro"], r["val_macro"], r["test_micro"], r["test_macro"], keep.epoch, epoch + 1,
        time.perf_counter() - start, history,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ mini-batches
def train_hyperedges(task: EncTask) -> Tensor:
    """Ids of the hyperedges whose listed incidences are in ``task.split.train`` (ascending)."""
    return torch.unique(task.hg.inc_edge[task.incidence[task.split.train]])


def batch_rows(task: EncTask, batch: Any, pool: Tensor) -> tuple[Tensor, Tensor]:
    """``(rows, listed)``: for the listed incidences ``pool`` (indices into the ``M`` listed ones) whose hyperedge
    is a seed of ``batch`` (a :class:`~graphhyper.hypergraph.sampling.SampledBatch` with ``incidence_ids``), their
    row in the sub-hypergraph's incidences and their index into the listed incidences (labels ``task.y[listed]``)."""
    hg = task.hg
    is_seed = torch.zeros(hg.num_edges, dtype=torch.bool)
    is_seed[batch.seeds] = True
    listed = pool[is_seed[hg.inc_edge[task.incidence[pool]]]]
    local = torch.full((hg.nnz,), -1, dtype=torch.long)
    local[batch.incidence_ids] = torch.arange(batch.incidence_ids.numel())
    return local[task.incidence[listed]], listed


def _clip_groups(model: nn.Module, extra: list[nn.Parameter]) -> list[list[nn.Parameter]]:
    """Parameter groups clipped separately, as the authors clip their feature table, encoder and scorer: the
    trainable features, the model's ``head`` (if it has one) and the rest of the model."""
    head = getattr(model, "head", None)
    head_ids = {id(p) for p in head.parameters()} if isinstance(head, nn.Module) else set()
    body = [p for p in model.parameters() if id(p) not in head_ids]
    groups: list[list[nn.Parameter]] = [extra, [p for p in model.parameters() if id(p) in head_ids], body]
    return [g for g in groups if g]


@dataclass
class _MinibatchRun:
    """What one epoch of :func:`train_enc_minibatch` needs."""

    model: nn.Module
    task: EncTask
    feat: Tensor
    sampler: Any
    pool: Tensor
    opt: torch.optim.Optimizer
    groups: list[list[nn.Parameter]]
    clip_norm: float | None

    def step(self, batch: Any) -> tuple[float, int]:
        rows, listed = batch_rows(self.task, batch, self.pool)
        uses_pe = bool(getattr(self.model, "pe_channels", 0))
        pe = self.task.pe[batch.incidence_ids] if uses_pe else None
        out = self.model(self.feat[batch.node_ids], batch.hg, pe=pe)
        loss = F.cross_entropy(out[rows], self.task.y[listed])
        if not torch.isfinite(loss):
            raise InvalidInputError(f"the training loss became {float(loss)}; lower the lr.")
        self.opt.zero_grad()
        loss.backward()
        if self.clip_norm is not None:
            for g in self.groups:
                torch.nn.utils.clip_grad_norm_(g, self.clip_norm)
        self.opt.step()
        return float(loss.detach()) * rows.numel(), rows.numel()

    def epoch(self, epoch: int) -> float:
        """One pass over the training hyperedges; returns the mean loss per incidence."""
        self.model.train()
        self.sampler.set_epoch(epoch)
        total, count = 0.0, 0
        for batch in self.sampler:
            s, n = self.step(batch)
            total, count = total + s, count + n
        return total / max(count, 1)


def train_enc_minibatch(
    model: nn.Module,
    task: EncTask,
    *,
    epochs: int = 100,
    batch_size: int = 64,
    hedge_sampling: int | None = 40,
    num_layers: int | None = None,
    lr: float = 1e-4,
    gamma: float = 0.99,
    weight_decay: float = 1e-4,
    adam_eps: float = 1e-4,
    clip_norm: float | None = 1.0,
    train_features: bool = True,
    eval_every: int = 5,
    patience: int | None = 30,
    seed: int = 0,
    progress: bool = True,
    resume: str | os.PathLike | None = None,
) -> EncResult:
    r"""Train ``model`` on mini-batches of training hyperedges, with the settings of CoNHD's ENC scripts as defaults.

    Each step takes ``batch_size`` training hyperedges (a new shuffle every epoch) and the sub-hypergraph that a
    ``num_layers``-step model needs around them (:class:`~graphhyper.hypergraph.sampling.HyperedgeSampler`): the
    seed hyperedges with all their members, then for every member node at most ``hedge_sampling`` of its
    hyperedges (uniform without replacement; ``None``: all) with all *their* members, and so on for
    ``num_layers - 1`` hops (default: ``model.sampling_hops`` -- WHATsNet's ``num_layers + 1`` --, else
    ``model.num_layers``, else 2). The loss is the mean cross-entropy over the
    listed incidences of the seed hyperedges. As in the authors' ``train.py``: Adam (``eps=adam_eps``,
    ``weight_decay``), the gradient norm clipped to ``clip_norm`` separately for the node features, the model's
    ``head`` and the rest (their feature table, scorer and encoder), the lr multiplied by ``gamma`` after every
    epoch, and the node features trained as a free table initialised with ``task.x`` (``train_features``).

    Every ``eval_every`` epochs (1-based epochs ``eval_every, 2 eval_every, ...`` and the last) the model is
    evaluated on the whole hypergraph (every neighbourhood complete, :func:`evaluate_enc`); the kept epoch is the
    first one of best validation micro-F1 (nothing else is compared), and training stops after ``patience`` epochs
    without a new best (30 = the authors' 5 validations). Test scores are read at the kept epoch only; the model
    keeps the weights of that epoch and ``result.features`` its node features (evaluate with
    ``dataclasses.replace(task, x=result.features)``); ``result.epoch_seconds`` lists the training seconds of every
    epoch. Epochs in ``EncResult`` and its history are 0-based; history rows carry ``seconds`` (training time of
    that epoch) and ``lr``. Runs on the CPU (the task is moved there; keep the model there too).

    ``resume``: a file that holds the run's whole state, written after every epoch; when it exists, the run goes on
    from it and trains exactly as the uninterrupted run would (:mod:`graphhyper.hypergraph.enc_resume`; a file of
    another run is refused). A part that ends between two evaluations still evaluates its last epoch, which adds
    that row to the history (and may become the kept epoch); end parts on multiples of ``eval_every`` to get the
    uninterrupted run's result exactly. ``epochs`` and ``patience`` may change between the parts; a run that stopped
    on patience stays stopped.
    """
    from graphhyper.hypergraph.sampling import HyperedgeSampler

    _check_task(task, epochs, eval_every)
    if not 0 < gamma <= 1:
        raise InvalidInputError(f"gamma={gamma}: the per-epoch lr factor must be in (0, 1].")
    task = task.to("cpu")
    torch.manual_seed(seed)
    feat = nn.Parameter(task.x.detach().clone(), requires_grad=train_features)
    layers = num_layers or int(getattr(model, "sampling_hops", getattr(model, "num_layers", 2)))
    sampler = HyperedgeSampler(
        task.hg, train_hyperedges(task), batch_size, layers, hedge_sampling, shuffle=True, seed=seed, degrees="local"
    )
    extra = [feat] if train_features else []
    opt = torch.optim.Adam([*extra, *model.parameters()], lr=lr, eps=adam_eps, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
    run = _MinibatchRun(model, task, feat, sampler, task.split.train, opt, _clip_groups(model, extra), clip_norm)
    settings = dict(batch_size=batch_size, hedge_sampling=hedge_sampling, layers=layers, lr=lr, gamma=gamma,
                    weight_decay=weight_decay, adam_eps=adam_eps, clip_norm=clip_norm, train_features=train_features,
                    eval_every=eval_every, seed=seed)  # fmt: skip
    shape = [task.hg.num_nodes, task.hg.num_edges, task.hg.nnz, int(task.y.numel()), int(task.x.shape[1])]
    saver = _Saver(resume, enc_resume.fingerprint(settings, model, shape))
    return _minibatch_loop(run, sched, epochs, eval_every, patience, progress, saver)


@dataclass
class _Saver:
    """Where (if anywhere) the run's state goes after every epoch, and what it must match to be resumed."""

    path: str | os.PathLike | None
    finger: str

    def start(self, run: _MinibatchRun, sched: Any) -> enc_resume.LoopState:
        if self.path is not None and Path(self.path).exists():
            return enc_resume.load(Path(self.path), run, sched, self.finger)
        return enc_resume.LoopState()

    def save(self, run: _MinibatchRun, sched: Any, loop: enc_resume.LoopState) -> None:
        if self.path is not None:
            enc_resume.save(Path(self.path), run, sched, loop, self.finger)


def _minibatch_loop(
    run: _MinibatchRun, sched: Any, epochs: int, eval_every: int, patience: int | None, progress: bool, saver: _Saver
) -> EncResult:
    loop = saver.start(run, sched)
    first = loop.next_epoch if not loop.stopped else epochs
    bar, start = _progress(max(epochs - first, 0), progress), time.perf_counter() - loop.seconds
    for epoch in range(first, epochs):
        loss, seconds, lr = _train_epoch(run, sched, epoch)
        loop.epoch_seconds.append(seconds)
        if bar is not None:
            bar.update(1)
        if not (epoch + 1) % eval_every or epoch == epochs - 1:
            row = _evaluate_epoch(run, loop.best, epoch, {"loss": loss, "seconds": seconds, "lr": lr})
            loop.history.append(row)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.3f}", val=f"{row['val_micro']:.3f}", refresh=False)
            loop.stopped = patience is not None and epoch - loop.best["epoch"] >= patience
        loop.next_epoch, loop.seconds = epoch + 1, time.perf_counter() - start
        saver.save(run, sched, loop)
        if loop.stopped:
            break
    if bar is not None:
        bar.close()
    return _kept_result(run, loop)


def _train_epoch(run: _MinibatchRun, sched: Any, epoch: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    loss = run.epoch(epoch)
    seconds, lr = time.perf_counter() - t0, run.opt.param_groups[0]["lr"]
    sched.step()
    return loss, seconds, lr


def _evaluate_epoch(run: _MinibatchRun, best: dict[str, Any], epoch: int, info: dict[str, float]) -> dict:
    """Whole-graph validation (and test) scores of this epoch; ``best`` keeps the first epoch of best val micro-F1."""
    evaluated = dataclasses.replace(run.task, x=run.feat.detach())
    row = {"epoch": epoch, **info, **evaluate_enc(run.model, evaluated)}
    if row["val_micro"] > best["val_micro"]:
        state = copy.deepcopy(run.model.state_dict())
        best.update(val_micro=row["val_micro"], epoch=epoch, state=state, feat=run.feat.detach().clone(), row=row)
    return row


def _kept_result(run: _MinibatchRun, loop: enc_resume.LoopState) -> EncResult:
    """Load the kept epoch's weights and features into the run and report that epoch."""
    best = loop.best
    if best["state"] is None:
        raise InvalidInputError("the run has not been evaluated yet; give more epochs than the resumed state has.")
    run.model.load_state_dict(best["state"])
    run.feat.data.copy_(best["feat"])
    r = best["row"]
    return EncResult(
        r["val_micro"], r["val_macro"], r["test_micro"], r["test_macro"], best["epoch"], loop.next_epoch,
        loop.seconds, loop.history, run.feat.detach().clone(), loop.epoch_seconds,
    )  # fmt: skip


__all__ = [
    "CENTRALITIES",
    "CONHD_ENC",
    "WHATSNET_ENC",
    "WHATSNET_TRAIN",
    "EncResult",
    "EncTask",
    "IncidenceHead",
    "build_enc_model",
    "dense_rank_in_groups",
    "eigenvector_centrality",
    "evaluate_enc",
    "f1_scores",
    "hypergraph_kcore",
    "incidence_logits",
    "node_centralities",
    "order_encoding",
    "pagerank",
    "prepare_enc",
    "spectral_features",
    "batch_rows",
    "train_enc",
    "train_enc_minibatch",
    "train_hyperedges",
]
