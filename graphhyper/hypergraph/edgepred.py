r"""Hyperedge prediction: hyperedge splits, negative sampling, set scorers, AUROC / AP and a training loop.

The task: given the hyperedges of a training split, score candidate node sets so that held-out hyperedges rank
above non-hyperedges ("negatives"). Pieces, each usable alone:

* :func:`split_hyperedges` partitions the distinct hyperedges (as node sets, size >= 2) into train / validation /
  test. The message-passing structure is :attr:`EdgeSplit.train_hg`, built from the training hyperedges only, so a
  held-out hyperedge never shapes the node embeddings.
* :func:`negative_hyperedges` samples node sets that are not hyperedges, by the three strategies of Patil, Sharma
  and Murty, "Negative Sampling for Hyperlink Prediction in Networks" (PAKDD 2020): ``"sized"`` (a uniformly
  random node set of the size of a positive), ``"motif"`` (a connected set of that size in the clique
  expansion, grown by random extension) and ``"clique"`` (a positive with one node swapped for a node adjacent,
  in the clique expansion, to all the remaining ones).
* Scorers: :class:`SetScorer` pools node embeddings over a candidate set (mean, max, or max - min as in NHP,
  Yadati et al. 2020) and maps the pooled vector to a logit with an MLP; :class:`EdgePredictor` puts a node
  encoder (any ``forward(x, hg) -> [V, d]`` model, e.g. ``build_model("hgnn", F, d)``) in front of it and is
  trained end to end. :class:`Propagation` (parameter-free HGNN smoothing) and :class:`CliqueGCN` (a plain GCN on
  the clique expansion, the baseline) are encoders too.
* :func:`auroc` and :func:`average_precision` (the definitions of ``sklearn.metrics.roc_auc_score`` and
  ``average_precision_score``, ties included).
* :func:`train_edge_predictor`: BCE on the training positives against negatives sampled afresh every epoch,
  early stopping on validation AUROC; test AUROC / AP are computed once, for the kept checkpoint.

Candidate node sets travel as a :class:`~graphhyper.hypergraph.Hypergraph` on the same ``V`` nodes (one
hyperedge per candidate), so pooling is one :func:`~graphhyper.hypergraph.ops.v2e` call.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.structure import Hypergraph

STRATEGIES = ("sized", "motif", "clique")
POOLS = ("mean", "max", "minmax")

EdgeKey = tuple[int, ...]


def edge_key(nodes: Sequence[int]) -> EdgeKey:
    """A hyperedge as a hashable set: its sorted node ids."""
    return tuple(sorted(int(v) for v in nodes))


# ---------------------------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class EdgeSplit:
    """Train / validation / test hyperedges of one hypergraph (all on the same ``num_nodes`` node ids).

    ``train``, ``val`` and ``test`` hold the positives as :class:`Hypergraph` candidate sets; ``train_hg`` is the
    structure for message passing and for sampling training negatives (the training hyperedges only, weights
    one); ``full_hg`` holds every distinct hyperedge of size >= 2 (it defines the negatives of the evaluation,
    as in Patil et al., who sample from the whole hypergraph); ``known`` is the set of all of them as keys.
    """

    train: Hypergraph
    val: Hypergraph
    test: Hypergraph
    full_hg: Hypergraph
    known: frozenset[EdgeKey] = field(repr=False)

    @property
    def train_hg(self) -> Hypergraph:
        """Message-passing structure: the training hyperedges only."""
        return self.train

    @property
    def num_nodes(self) -> int:
        return self.full_hg.num_nodes


def distinct_hyperedges(hg: Hypergraph, min_size: int = 2) -> list[EdgeKey]:
    """The hyperedges of ``hg`` as sorted node tuples, repeats (as sets) and those below ``min_size`` dropped,
    in order of first appearance."""
    seen: set[EdgeKey] = set()
    out: list[EdgeKey] = []
    for e in hg.hyperedges():
        key = edge_key(e)
        if len(key) >= min_size and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def split_hyperedges(hg: Hypergraph, val: float = 0.1, test: float = 0.1, seed: int = 0) -> EdgeSplit:
    """Split the distinct hyperedges of ``hg`` (size >= 2) at random into train / validation / test.

    ``round(val * E)`` and ``round(test * E)`` hyperedges (at least one each) are held out, ``E`` the number of
    distinct hyperedges; the rest train. Repeated hyperedges (same node set) are merged first, so a held-out
    hyperedge never sits in the training structure under another id. Node ids and ``num_nodes`` are kept.
    """
    _check_fraction(val, "val")
    _check_fraction(test, "test")
    edges = distinct_hyperedges(hg)
    n = len(edges)
    n_val, n_test = max(1, round(val * n)), max(1, round(test * n))
    if n - n_val - n_test < 1:
        raise InvalidInputError(
            f"the hypergraph has {n} distinct hyperedges of size >= 2, too few for val={val}, test={test} "
            "with at least one hyperedge in each part; use a larger hypergraph or smaller fractions."
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    parts = (perm[n_val + n_test :], perm[:n_val], perm[n_val : n_val + n_test])
    tr, va, te = (_as_candidates([edges[i] for i in sorted(p)], hg.num_nodes) for p in parts)
    full = _as_candidates(edges, hg.num_nodes)
    return EdgeSplit(tr, va, te, full, frozenset(edges))


def _check_fraction(value: float, name: str) -> None:
    if not 0.0 < value < 1.0:
        raise InvalidInputError(f"{name}={value}: give a fraction of the hyperedges in (0, 1), e.g. {name}=0.1.")


def _as_candidates(edges: Sequence[Sequence[int]], num_nodes: int) -> Hypergraph:
    return Hypergraph(num_nodes, [list(e) for e in edges])


# ---------------------------------------------------------------------------------------------- negatives
class _Adjacency:
    """Membership lists of a hypergraph for the samplers: ``edges_of(v)`` and ``nodes_of(e)`` as NumPy slices.

    Two nodes are adjacent in the clique expansion iff they share a hyperedge."""

    def __init__(self, hg: Hypergraph) -> None:
        self.num_nodes = hg.num_nodes
        self.inc_node = hg.inc_node.cpu().numpy()
        self.edge_ptr = hg.edge_ptr.cpu().numpy()
        self.csc_edge = hg.csc_edge.cpu().numpy()
        self.node_ptr = hg.node_ptr.cpu().numpy()
        self.active = np.nonzero(np.diff(self.node_ptr) > 0)[0]
        self._swaps: dict[EdgeKey, tuple[np.ndarray, np.ndarray]] = {}
        self._lists: tuple[list[list[int]], list[list[int]], list[int]] | None = None

    def lists(self) -> tuple[list[list[int]], list[list[int]], list[int]]:
        """``(edges of each node, nodes of each hyperedge, nodes with a hyperedge)`` as Python lists: the motif
        walk draws one scalar at a time, where list indexing is several times faster than NumPy's."""
        if self._lists is None:
            edges = np.split(self.csc_edge, self.node_ptr[1:-1])
            nodes = np.split(self.inc_node, self.edge_ptr[1:-1])
            self._lists = ([a.tolist() for a in edges], [a.tolist() for a in nodes], self.active.tolist())
        return self._lists

    def nodes_of(self, e: int) -> np.ndarray:
        return self.inc_node[self.edge_ptr[e] : self.edge_ptr[e + 1]]

    def edges_of(self, v: int) -> np.ndarray:
        return self.csc_edge[self.node_ptr[v] : self.node_ptr[v + 1]]

    def neighbours(self, v: int) -> np.ndarray:
        """Clique-expansion neighbours of ``v`` (``v`` itself included when it has a hyperedge), sorted."""
        es = self.edges_of(v)
        if es.size == 0:
            return es
        return np.unique(np.concatenate([self.nodes_of(int(e)) for e in es]))

    def swaps(self, template: EdgeKey) -> tuple[np.ndarray, np.ndarray]:
        """Every clique swap of ``template``: pairs ``(u, w)``, ``u`` a member, ``w`` a non-member adjacent to all
        other members. Returns ``(us, ws)``; ``u = -1`` marks a ``w`` adjacent to every member (valid for any ``u``).

        Counts, for every node, how many members it is adjacent to (one pass over the members' neighbourhoods):
        ``k`` means any ``u``, ``k - 1`` the one member it misses. Cached per template (the structure is fixed)."""
        if template in self._swaps:
            return self._swaps[template]
        k, members = len(template), np.asarray(template)
        hoods = [self.neighbours(int(v)) for v in template]
        count = np.bincount(np.concatenate(hoods), minlength=self.num_nodes)
        count[members] = 0
        full = np.nonzero(count == k)[0]
        near = np.nonzero(count == k - 1)[0] if k > 1 else np.zeros(0, dtype=np.int64)
        missed = np.stack([~np.isin(near, h) for h in hoods], 1) if near.size else np.zeros((0, k), dtype=bool)
        us = np.concatenate([np.full(full.size, -1), members[missed.argmax(1)]])
        out = (us, np.concatenate([full, near]))
        self._swaps[template] = out
        return out


def _adjacency(hg: Hypergraph) -> _Adjacency:
    """The sampler's view of ``hg``, made once per hypergraph (clique swaps are cached in it)."""
    return hg.cache("edgepred_adjacency", lambda: _Adjacency(hg))


def negative_hyperedges(
    hg: Hypergraph,
    n: int,
    strategy: str = "sized",
    seed: int = 0,
    *,
    positives: Hypergraph | None = None,
    exclude: frozenset[EdgeKey] | set[EdgeKey] | None = None,
    max_tries: int = 50,
) -> Hypergraph:
    """``n`` node sets that are not hyperedges, as a :class:`Hypergraph` on ``hg.num_nodes`` nodes.

    Each negative copies the size of a template positive (the hyperedges of ``positives``, default ``hg``; with
    ``n`` equal to their number each is used once, in random order, so the sizes match exactly):

    * ``"sized"`` (SNS): ``|e|`` distinct nodes drawn uniformly from the nodes of ``hg`` (those in at least one
      hyperedge: the node set of the hypergraph sampled from. Nodes outside every hyperedge would make the
      negatives trivially easy, and when training on the training structure a model would learn "member of a
      training hyperedge" instead of "hyperedge");
    * ``"motif"`` (MNS): a set connected in the clique expansion of ``hg``: start at a random node that has a
      hyperedge, then repeatedly add a random clique-expansion neighbour of a random member (a random node of a
      random hyperedge of that member) until the set has ``|e|`` nodes;
    * ``"clique"`` (CNS): the template ``e`` with one random node ``u`` replaced by a random node ``w \\notin e``
      adjacent in the clique expansion of ``hg`` to every node of ``e \\ {u}``. A template without any such
      ``(u, w)`` is replaced by another one of the same size (by one of any size when none of that size works).

    A set that equals a hyperedge of ``hg``, of ``positives`` or of ``exclude`` (as sets) is rejected and drawn
    again (at most ``max_tries`` times per negative, then an error that names the fix).
    """
    strategy = _check_strategy(strategy)
    if n < 0:
        raise InvalidInputError(f"n={n}: ask for a non-negative number of negatives.")
    templates = distinct_hyperedges(positives if positives is not None else hg, min_size=2)
    if n > 0 and not templates:
        raise InvalidInputError("no hyperedge of size >= 2 to take sizes from; give positives with such hyperedges.")
    forbidden = set(exclude or ()) | set(distinct_hyperedges(hg, 1)) | set(templates)
    rng = np.random.default_rng(seed)
    sampler = _Sampler(hg, strategy, rng, forbidden, max_tries)
    order = _template_order(len(templates), n, rng)
    negs = [sampler.draw(templates, int(i)) for i in order]
    return _as_candidates(negs, hg.num_nodes) if negs else _empty(hg.num_nodes)


def _empty(num_nodes: int) -> Hypergraph:
    return Hypergraph(num_nodes, hyperedge_index=torch.zeros(2, 0, dtype=torch.long), num_edges=0)


def _check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise InvalidInputError(f"negative sampling strategy {strategy!r} is unknown; use one of {STRATEGIES}.")
    return strategy


def _template_order(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Template indices: whole random permutations of ``range(count)`` repeated, cut at ``n``."""
    reps = -(-n // count) if count else 0
    parts = [rng.permutation(count) for _ in range(reps)]
    return np.concatenate(parts)[:n] if parts else np.zeros(0, dtype=np.int64)


class _Sampler:
    """One strategy's draw of a single negative from a template hyperedge, with rejection of known sets."""

    def __init__(
        self, hg: Hypergraph, strategy: str, rng: np.random.Generator, forbidden: set[EdgeKey], max_tries: int
    ) -> None:
        self.adj = _adjacency(hg)
        self.strategy, self.rng, self.forbidden, self.max_tries = strategy, rng, forbidden, max_tries
        self.walk = random.Random(int(rng.integers(2**62)))
        self._by_size: dict[int, list[EdgeKey]] | None = None
        self.draw_one = {"sized": self._sized, "motif": self._motif, "clique": self._clique}[strategy]

    def draw(self, templates: list[EdgeKey], first: int) -> EdgeKey:
        template = templates[first]
        same = self._same_size(templates, len(template))
        for attempt in range(self.max_tries):
            got = self.draw_one(template)
            if got is not None and got not in self.forbidden:
                return got
            if got is None or attempt % 5 == 4:  # this template does not work: another one, of its size at first
                pool = same if attempt < self.max_tries // 2 else templates
                template = pool[int(self.rng.integers(len(pool)))]
        raise InvalidInputError(
            f"could not draw a {self.strategy!r} negative in {self.max_tries} tries (last template of size "
            f"{len(template)}): the structure has too few sets of that kind that are not hyperedges. Use "
            "strategy='sized', or a larger hypergraph."
        )

    def _same_size(self, templates: list[EdgeKey], k: int) -> list[EdgeKey]:
        if self._by_size is None:
            self._by_size = {}
            for t in templates:
                self._by_size.setdefault(len(t), []).append(t)
        return self._by_size[k]

    def _sized(self, template: EdgeKey) -> EdgeKey | None:
        k, pool = len(template), self.adj.active
        if k > pool.size:
            return None
        return edge_key(pool[self.rng.choice(pool.size, size=k, replace=False)].tolist())

    def _motif(self, template: EdgeKey) -> EdgeKey | None:
        k, walk = len(template), self.walk
        node_edges, edge_nodes, active = self.adj.lists()
        if not active:
            return None
        members = [walk.choice(active)]
        chosen = set(members)
        stale, patience = 0, 20 * k + 100
        while len(members) < k and stale < patience:
            w = walk.choice(edge_nodes[walk.choice(node_edges[walk.choice(members)])])
            if w in chosen:
                stale += 1
                continue
            chosen.add(w)
            members.append(w)
            stale = 0
        return edge_key(members) if len(members) == k else None

    def _clique(self, template: EdgeKey) -> EdgeKey | None:
        """A random swap of ``template`` whose result is not forbidden: ``u`` among the members that have a swap,
        then ``w`` among that ``u``'s options, skipping results that are known sets (for a pair, most swaps
        recreate an existing pair), at most 64 looks per template."""
        us, ws = self.adj.swaps(template)
        if ws.size == 0:
            return None
        members = np.asarray(template)
        usable = members if bool((us == -1).any()) else np.unique(us)
        looks = 0
        for u in self.rng.permutation(usable).tolist():
            rest = [int(v) for v in members if v != u]
            for w in self.rng.permutation(ws[(us == -1) | (us == u)]).tolist():
                key = edge_key([*rest, int(w)])
                if key not in self.forbidden:
                    return key
                looks += 1
                if looks >= 64:
                    return None
        return None


# ---------------------------------------------------------------------------------------------- metrics
def _scores_labels(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    s = torch.as_tensor(scores).detach().flatten().double().cpu()
    y = torch.as_tensor(labels).detach().flatten().cpu()
    if s.numel() != y.numel():
        raise InvalidInputError(f"{s.numel()} scores but {y.numel()} labels; give one label per score.")
    if not torch.isfinite(s).all():
        raise InvalidInputError("the scores contain NaN or inf; check the model output.")
    if not bool(((y == 0) | (y == 1)).all()):
        raise InvalidInputError("labels must be 0 (negative) or 1 (positive).")
    y = y.bool()
    if y.all() or not y.any():
        raise InvalidInputError("AUROC and AP need at least one positive and one negative label.")
    return s, y


def auroc(scores: Tensor, labels: Tensor) -> float:
    r"""Area under the ROC curve: the probability that a random positive outscores a random negative, ties
    counting one half (Mann-Whitney: :math:`(\sum_{i \in P} r_i - |P|(|P|+1)/2) / (|P||N|)` with ``r`` the
    1-based ranks of the scores, tied scores sharing their average rank)."""
    s, y = _scores_labels(scores, labels)
    sorted_s, order = torch.sort(s)
    _, inverse, counts = torch.unique_consecutive(sorted_s, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg_rank = ends - (counts.double() - 1) / 2  # average 1-based rank of each tie group
    ranks = torch.empty_like(s)
    ranks[order] = avg_rank[inverse]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(scores: Tensor, labels: Tensor) -> float:
    r"""Average precision :math:`\sum_k (R_k - R_{k-1}) P_k` over the distinct score thresholds in decreasing
    order (precision ``P_k`` and recall ``R_k`` of predicting positive every score >= threshold ``k``, ``R_0 = 0``):
    the step-wise area under the precision-recall curve, without interpolation (sklearn's definition)."""
    s, y = _scores_labels(scores, labels)
    order = torch.argsort(s, descending=True, stable=True)
    s, y = s[order], y[order].double()
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]  # last position of each group of tied scores
    tp = torch.cumsum(y, 0)[last]
    seen = (torch.nonzero(last).flatten() + 1).double()
    precision, recall = tp / seen, tp / y.sum()
    step = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((step * precision).sum())


# ---------------------------------------------------------------------------------------------- scorers
def pool_nodes(z: Tensor, candidates: Hypergraph, pool: str = "mean") -> Tensor:
    r"""Pool node embeddings ``z [V, d]`` over each candidate set: ``[B, d]``.

    ``mean``: :math:`\frac{1}{|e|}\sum_{v \in e} z_v`; ``max``: elementwise :math:`\max_{v \in e} z_v`;
    ``minmax``: elementwise :math:`\max_{v \in e} z_v - \min_{v \in e} z_v` (the hyperedge score input of NHP,
    Yadati et al. 2020: large when the members disagree).
    """
    if pool == "mean":
        return ops.v2e(z, candidates, "mean")
    if pool == "max":
        return ops.v2e(z, candidates, "max")
    if pool == "minmax":
        return ops.v2e(z, candidates, "max") + ops.v2e(-z, candidates, "max")
    raise InvalidInputError(f"pool={pool!r} is unknown; use one of {POOLS}.")


class SetScorer(nn.Module):
    r"""Score a node set from its members' embeddings: :math:`s(e) = \mathrm{MLP}(\mathrm{pool}_{v \in e} z_v)`.

    Args:
        in_channels: embedding size ``d``.
        hidden_channels: width of the MLP's hidden layers.
        pool: ``"mean"``, ``"max"`` or ``"minmax"`` (see :func:`pool_nodes`).
        num_layers: MLP depth (``1`` = a linear map to the logit).
        dropout: dropout before each MLP layer but the first.

    Shapes: ``z [V, d]``, ``candidates`` a :class:`Hypergraph` on ``V`` nodes with ``B`` hyperedges -> logits
    ``[B]``.
    """

    def __init__(
        self, in_channels: int, hidden_channels: int = 64, pool: str = "mean", num_layers: int = 2, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise InvalidInputError(f"pool={pool!r} is unknown; use one of {POOLS}.")
        if num_layers < 1:
            raise InvalidInputError(f"num_layers={num_layers}: the scorer needs at least one layer.")
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [1]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.pool, self.dropout = pool, dropout

    def reset_parameters(self) -> None:
        for lin in self.lins:
            if isinstance(lin, nn.Linear):
                lin.reset_parameters()

    def forward(self, z: Tensor, candidates: Hypergraph) -> Tensor:
        h = pool_nodes(z, candidates, self.pool)
        for i, lin in enumerate(self.lins):
            if i > 0:
                h = F.dropout(F.relu(h), self.dropout, self.training)
            h = lin(h)
        return h.squeeze(-1)


class Propagation(nn.Module):
    r"""Parameter-free node embeddings: ``steps`` rounds of HGNN smoothing of the features,
    :math:`Z = (D_v^{-1/2} H W D_e^{-1} H^\top D_v^{-1/2})^{k} X` (``[V, F] -> [V, F]``; ``steps=0`` returns the
    features). With it an :class:`EdgePredictor` is set pooling over fixed embeddings: only the scorer learns."""

    def __init__(self, steps: int = 2) -> None:
        super().__init__()
        self.steps = steps

    def forward(self, x: Tensor, hg: Hypergraph) -> Tensor:
        x = x.to_dense() if x.layout != torch.strided else x
        for i in range(self.steps):
            if i == 0:
                x = ops.hgnn_propagate(x, hg)  # checks the features once
            else:
                with ops.trusted_inputs():  # the later inputs are computed from checked ones
                    x = ops.hgnn_propagate(x, hg)
        return x


class CliqueGCN(nn.Module):
    r"""A plain GCN (Kipf & Welling 2017) on the weighted clique expansion of ``hg``, the graph baseline.

    Each layer is :math:`X' = \tilde D^{-1/2} (A + I) \tilde D^{-1/2} X \Theta + b` with
    :math:`A_{uv} = \sum_{e \ni u, v} w_e` for ``u != v`` (the weights of ``hg.clique_expansion()``) and
    :math:`\tilde D = \mathrm{diag}(A \mathbf 1 + 1)`. ``A`` is never built: :math:`A X = H W H^\top X - D_w X`
    with :math:`D_w = \mathrm{diag}(\sum_{e \ni v} w_e)`, two aggregations through :mod:`~graphhyper.hypergraph.ops`
    (so a hyperedge of size ``k`` costs ``k``, not ``k^2``). Singleton hyperedges add nothing. ReLU and dropout
    between layers; ``[V, F] -> [V, out_channels]``.
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2, dropout: float = 0.5
    ) -> None:
        super().__init__()
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for lin in self.lins:
            if isinstance(lin, nn.Linear):
                lin.reset_parameters()

    @staticmethod
    def propagate(x: Tensor, hg: Hypergraph) -> Tensor:
        r""":math:`\tilde D^{-1/2} (A + I) \tilde D^{-1/2} x` for the weighted clique expansion ``A`` of ``hg``."""
        w = hg.hyperedge_weight.to(x.dtype)
        size = hg.edge_degree.to(x.dtype)
        deg = hg.cache(f"cegcn_degree:{x.dtype}", lambda: ops.e2v(w * (size - 1), hg, "sum", edge_weight=False) + 1)
        norm = deg.rsqrt().unsqueeze(-1)
        h = x * norm
        ax = ops.e2v(ops.v2e(h, hg, "sum"), hg, "sum") - hg.weighted_node_degree.to(x.dtype).unsqueeze(-1) * h
        return (ax + h) * norm

    def forward(self, x: Tensor, hg: Hypergraph) -> Tensor:
        x = x.to_dense() if x.layout != torch.strided else x
        for i, lin in enumerate(self.lins):
            if i > 0:
                x = F.dropout(F.relu(x), self.dropout, self.training)
            x = self.propagate(lin(x), hg)
        return x


class EdgePredictor(nn.Module):
    r"""Node encoder + set scorer: :math:`s(e) = \mathrm{scorer}(\mathrm{encoder}(X, G_{train}), e)`.

    ``encoder(x, hg) -> [V, d]`` is any node model (``build_model(name, F, d)``, :class:`CliqueGCN`,
    :class:`Propagation`, or ``None`` for the raw features); ``scorer`` a :class:`SetScorer` over ``d``.
    """

    def __init__(self, encoder: nn.Module | None, scorer: SetScorer) -> None:
        super().__init__()
        self.encoder, self.scorer = encoder, scorer

    def embed(self, x: Tensor, hg: Hypergraph) -> Tensor:
        """Node embeddings ``[V, d]`` (the dense features when there is no encoder)."""
        if self.encoder is None:
            return x.to_dense() if x.layout != torch.strided else x
        return self.encoder(x, hg)

    def forward(self, x: Tensor, hg: Hypergraph, candidates: Hypergraph) -> Tensor:
        return self.scorer(self.embed(x, hg), candidates)


# ---------------------------------------------------------------------------------------------- training
@dataclass
class EdgePredResult:
    """Outcome of :func:`train_edge_predictor` (AUROC / AP in ``[0, 1]``; test only for the kept checkpoint)."""

    best_val_auroc: float
    best_val_ap: float
    test_auroc: float
    test_ap: float
    best_epoch: int
    epochs_run: int
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "history"}


@dataclass(frozen=True)
class EvalSets:
    """Labelled candidate sets of one evaluation split: positives first, then as many negatives."""

    candidates: Hypergraph
    labels: Tensor


def eval_sets(split: EdgeSplit, which: str, strategy: str, seed: int) -> EvalSets:
    """The positives of ``split.val`` / ``split.test`` (``which``) with one ``strategy`` negative each, sampled on
    the full hypergraph (all known hyperedges excluded) with ``seed``: the same sets for every model."""
    pos = {"val": split.val, "test": split.test}[which]
    neg = negative_hyperedges(split.full_hg, pos.num_edges, strategy, seed, positives=pos, exclude=split.known)
    cand = concat_candidates(pos, neg)
    labels = torch.cat([torch.ones(pos.num_edges), torch.zeros(neg.num_edges)])
    return EvalSets(cand, labels)


def concat_candidates(a: Hypergraph, b: Hypergraph) -> Hypergraph:
    """The hyperedges of ``a`` followed by those of ``b`` (same nodes)."""
    ia, ib = a.hyperedge_index, b.hyperedge_index.clone()
    ib[1] += a.num_edges
    return Hypergraph(a.num_nodes, hyperedge_index=torch.cat([ia, ib], 1), num_edges=a.num_edges + b.num_edges)


def train_edge_predictor(
    model: EdgePredictor,
    x: Tensor,
    split: EdgeSplit,
    *,
    strategy: str = "sized",
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    patience: int | None = 50,
    seed: int = 0,
    self_loops: bool = True,
    target_fraction: float = 0.25,
    negatives_per_positive: int = 1,
) -> EdgePredResult:
    """Train ``model`` full batch with Adam on binary cross-entropy, early stopping on validation AUROC.

    Every epoch the training hyperedges are split at random: a ``target_fraction`` of them are this epoch's
    positives (label 1) and are left out of the message passing, which runs on the others. Without that split the
    positives would sit in the structure that embeds their own nodes, which the held-out hyperedges never do,
    and an end-to-end encoder learns to recognise its own input (HGNN on Cora-CA, sized negatives: validation
    AUROC 0.61 with every training hyperedge in the structure). Each positive gets ``negatives_per_positive``
    fresh ``strategy`` negatives, sampled on the whole training structure with the training hyperedges excluded.
    With ``self_loops`` a singleton hyperedge per node is added to every message-passing structure (nodes
    without a hyperedge still see their own features).

    Evaluation embeds with all training hyperedges. Validation and test sets come from :func:`eval_sets`
    (seeds ``seed + 1`` and ``seed + 2``). The kept checkpoint has the best validation AUROC (ties: better
    validation AP); training stops after ``patience`` epochs without one. The test sets are scored once, with the
    kept checkpoint restored into ``model``.
    """
    _check_strategy(strategy)
    _check_fraction(target_fraction, "target_fraction")
    if epochs < 1 or negatives_per_positive < 1:
        raise InvalidInputError("epochs and negatives_per_positive must be >= 1.")
    torch.manual_seed(seed)
    train_edges = distinct_hyperedges(split.train)
    full_mp = _message_passing(train_edges, split.num_nodes, self_loops)
    val = eval_sets(split, "val", strategy, seed + 1)
    fixed = _fixed_embeddings(model, x, full_mp)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    best: tuple[float, float] = (-1.0, -1.0)
    best_epoch, state, history = -1, copy.deepcopy(model.state_dict()), []
    start, epoch = time.perf_counter(), 0
    for epoch in range(epochs):
        mp, batch = _training_batch(split, train_edges, strategy, rng, target_fraction, negatives_per_positive)
        loss = _step(model, opt, x, _message_passing(mp, split.num_nodes, self_loops), batch)
        row = _score(model, x, full_mp, val, fixed)
        history.append({"epoch": epoch, "loss": loss, "val_auroc": row[0], "val_ap": row[1]})
        if row > best:
            best, best_epoch, state = row, epoch, copy.deepcopy(model.state_dict())
        if patience is not None and epoch - best_epoch >= patience:
            break
    seconds = time.perf_counter() - start
    model.load_state_dict(state)
    test = _score(model, x, full_mp, eval_sets(split, "test", strategy, seed + 2), fixed)
    return EdgePredResult(best[0], best[1], test[0], test[1], best_epoch, epoch + 1, seconds, history)


def _message_passing(edges: Sequence[EdgeKey], num_nodes: int, self_loops: bool) -> Hypergraph:
    hg = _as_candidates(edges, num_nodes) if edges else _empty(num_nodes)
    return hg.add_self_loops() if self_loops else hg


def _training_batch(
    split: EdgeSplit,
    train_edges: list[EdgeKey],
    strategy: str,
    rng: np.random.Generator,
    fraction: float,
    ratio: int,
) -> tuple[list[EdgeKey], EvalSets]:
    """This epoch's message-passing hyperedges and its labelled batch (targets, then their negatives)."""
    n_target = min(len(train_edges) - 1, max(1, round(fraction * len(train_edges))))
    perm = rng.permutation(len(train_edges))
    targets = _as_candidates([train_edges[i] for i in perm[:n_target]], split.num_nodes)
    mp = [train_edges[i] for i in perm[n_target:]]
    seed = int(rng.integers(2**62))
    neg = negative_hyperedges(split.train, ratio * n_target, strategy, seed, positives=targets)
    labels = torch.cat([torch.ones(n_target), torch.zeros(neg.num_edges)])
    return mp, EvalSets(concat_candidates(targets, neg), labels)


def _step(model: EdgePredictor, opt: torch.optim.Optimizer, x: Tensor, mp: Hypergraph, batch: EvalSets) -> float:
    model.train()
    opt.zero_grad()
    logits = model(x, mp, batch.candidates)
    loss = F.binary_cross_entropy_with_logits(logits, batch.labels.to(logits.device))
    if not torch.isfinite(loss):
        raise InvalidInputError(f"the training loss became {float(loss)}; lower the learning rate.")
    loss.backward()
    opt.step()
    return float(loss.detach())


@torch.no_grad()
def _fixed_embeddings(model: EdgePredictor, x: Tensor, mp: Hypergraph) -> Tensor | None:
    """The evaluation embeddings, computed once, when the encoder learns nothing (``None`` otherwise)."""
    if model.encoder is not None and any(p.requires_grad for p in model.encoder.parameters()):
        return None
    model.eval()
    return model.embed(x, mp)


@torch.no_grad()
def _score(
    model: EdgePredictor, x: Tensor, mp: Hypergraph, sets: EvalSets, fixed: Tensor | None
) -> tuple[float, float]:
    model.eval()
    s = model(x, mp, sets.candidates) if fixed is None else model.scorer(fixed, sets.candidates)
    return auroc(s, sets.labels), average_precision(s, sets.labels)


__all__ = [
    "POOLS",
    "STRATEGIES",
    "CliqueGCN",
    "EdgePredResult",
    "EdgePredictor",
    "EdgeSplit",
    "EvalSets",
    "Propagation",
    "SetScorer",
    "auroc",
    "average_precision",
    "concat_candidates",
    "distinct_hyperedges",
    "edge_key",
    "eval_sets",
    "negative_hyperedges",
    "pool_nodes",
    "split_hyperedges",
    "train_edge_predictor",
]
