r"""Mini-batches of a large hypergraph: sampled sub-hypergraphs around a batch of seed nodes or hyperedges.

:class:`NodeSampler` takes a batch of seed nodes and grows a sub-hypergraph around them, hop by hop; a hop is two
half-steps on the star expansion:

1. *node -> hyperedges*: every node of the frontier keeps up to ``max_edges_per_node`` of its hyperedges (uniform
   without replacement; all of them when the cap is ``None``), with the incidence that joins them;
2. *hyperedge -> nodes*: every hyperedge reached for the first time keeps up to ``max_nodes_per_edge`` of its
   members (same rule), with their incidences. The nodes reached for the first time are the next frontier.

:class:`HyperedgeSampler` starts from a batch of seed hyperedges with half-step 2, then runs ``num_layers - 1``
further hops. The sub-hypergraph (:class:`SampledBatch`) holds exactly the sampled incidences (each once), the
nodes and hyperedges they touch, and per-incidence features, hyperedge weights and node weights restricted to
them. Local ids: the seeds come first, in batch order (``batch.seed_local``), then the other nodes/hyperedges by
hop; ``batch.node_ids[i]`` / ``batch.edge_ids[j]`` are the global ids of local node ``i`` / hyperedge ``j``.

Per-layer trims. Since local ids go by hop and incidences by hyperedge, the part of a :class:`NodeSampler` sample
within ``k`` hops of the seeds is a prefix of its nodes, hyperedges and incidences (:class:`HopPointers`,
:func:`trim`). Models that support it (``trim_safe`` layers: HGNN, HGNN+, UniGCN, UniGCNII) run layer ``l`` of
``L`` on the ``L - l + 1``-hop trim only (:func:`layer_plan`) and return the seeds' logits; without caps this
equals the untrimmed run at the seeds.

Degrees. With ``degrees="global"`` (default) the sub-hypergraph's weighted node degree
:math:`d(v) = \sum_{e \ni v} w_e` is the one of the *whole* hypergraph (:class:`SampledHypergraph`), so a layer
that normalises by it (HGNN's :math:`D_v^{-1/2}`, UniGCN, HCHA, HyperGCN) scales every node as full-batch training
does. Hyperedge sizes :math:`|e|` and all mean aggregations are the sub-hypergraph's own: a mean over the sampled
members, which is the full mean when ``max_nodes_per_edge`` is ``None``. Hence, without caps, an ``L``-layer HGNN
on an ``L``-hop sub-hypergraph gives exactly the full-batch output at the seeds (``tests/hypergraph/
test_sampling.py`` checks it). ``degrees="local"`` uses the sub-hypergraph's own degrees for everything (a plain
:class:`~graphhyper.hypergraph.Hypergraph`). Unweighted counts (``node_degree``/``edge_degree``) are always local:
they define the sub-hypergraph's CSR/CSC layout.

Randomness. The order of the seed pool is a permutation drawn from ``(seed, epoch)`` (the same on every rank) when
``shuffle``; the neighbour choices come from ``(seed, epoch, rank)``. Call :meth:`NodeSampler.set_epoch` before each
epoch, as with ``torch.utils.data.DistributedSampler``. With ``world_size > 1`` each global batch of ``batch_size``
seeds is split into ``world_size`` equal shards (rank ``r`` takes positions ``r, r + W, ...``): the pool is padded
to a multiple of ``W`` by repeating its first entries, and ``batch_size`` must be a multiple of ``W``. Every rank
then runs the same number of steps, each on ``batch_size / W`` seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, NamedTuple

import numpy as np
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.structure import Hypergraph

if TYPE_CHECKING:
    from typing_extensions import Self

DEGREES = ("global", "local")


class SampledHypergraph(Hypergraph):
    """A sub-hypergraph whose :attr:`weighted_node_degree` is given (the whole hypergraph's degree of each local
    node) instead of computed from its own incidences. Made by the samplers; it travels with ``.to(device)`` and
    node transforms like any node field."""

    _global_degree: torch.Tensor
    _global_loop: torch.Tensor | None = None

    @property
    def weighted_node_degree(self) -> torch.Tensor:
        """``[V_sub]`` float: the weighted degree of each node in the hypergraph it was sampled from."""
        return self._global_degree

    def _node_fields(self) -> dict[str, torch.Tensor | None]:
        return {**super()._node_fields(), "global_degree": self._global_degree, "global_loop": self._global_loop}

    def add_self_loops(self) -> Self:
        """Singleton hyperedges as :meth:`Hypergraph.add_self_loops`; the degrees become those of the *whole*
        hypergraph with its self loops: ``+1`` at the nodes that have no singleton hyperedge there (known when the
        sampler recorded it), so a self-loop model (UniGCN) normalises as in full-batch training."""
        out = super().add_self_loops()
        if self._global_loop is not None:
            out._global_degree = self._global_degree + (~self._global_loop).to(self._global_degree.dtype)
            out._global_loop = torch.ones_like(self._global_loop)
        return out


@dataclass(frozen=True)
class SampledBatch:
    """One mini-batch: a sub-hypergraph with local ids and the way back to the global ids.

    Attributes:
        hg: the sub-hypergraph (``V_sub`` nodes, ``E_sub`` hyperedges, local ids).
        node_ids: ``[V_sub]`` global id of each local node.
        edge_ids: ``[E_sub]`` global id of each local hyperedge.
        seed_local: ``[B]`` local id of each seed, in batch order (nodes for :class:`NodeSampler`, hyperedges for
            :class:`HyperedgeSampler`); it is ``arange(B)``: the seeds are the first local ids.
        seeds: ``[B]`` global ids of the seeds.
        incidence_ids: ``[nnz_sub]`` global incidence id (CSR row of the whole hypergraph) of each incidence row
            of ``hg``, to pick per-incidence inputs such as an order encoding (``None`` if not recorded).
    """

    hg: Hypergraph
    node_ids: torch.Tensor
    edge_ids: torch.Tensor
    seed_local: torch.Tensor
    seeds: torch.Tensor
    incidence_ids: torch.Tensor | None = None

    @property
    def num_seeds(self) -> int:
        return int(self.seeds.numel())


def _stream(*keys: int) -> torch.Generator:
    """A torch generator seeded from the tuple ``keys`` (distinct tuples give independent streams)."""
    state = np.random.SeedSequence([int(k) % (2**63) for k in keys]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def _check_cap(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name}={value!r}: give a positive int, or None to keep all of them.")
    return value


def _check_positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name}={value!r}: give a positive int.")
    return value


def sample_segments(
    ptr: torch.Tensor, segments: torch.Tensor, cap: int | None, generator: torch.Generator | None
) -> torch.Tensor:
    """Positions kept when each segment ``s`` of ``segments`` (positions ``ptr[s]:ptr[s+1]``) keeps up to ``cap``
    of its positions, uniform without replacement (all when ``cap`` is ``None`` or the segment is small enough).

    Returns a ``LongTensor`` of positions, grouped by segment in the order of ``segments``, ascending within one.
    """
    start = ptr[segments]
    count = ptr[segments + 1] - start
    total = int(count.sum())
    seg_of = torch.repeat_interleave(torch.arange(segments.numel(), device=ptr.device), count, output_size=total)
    offset = torch.arange(total, device=ptr.device) - torch.repeat_interleave(
        torch.cumsum(count, 0) - count, count, output_size=total
    )
    pos = start[seg_of] + offset
    if cap is None or total == 0 or int(count.max()) <= cap:
        return pos
    # One sort of the keys (segment, random 31 bits): segment s keeps its slots cumsum(count)[s-1]:..., now in a
    # random order, so slot j of the sorted order is that segment's offset[j]-th draw; keep the first cap draws.
    noise = torch.randint(0, 2**31, (total,), generator=generator, device=ptr.device)
    order = torch.sort((seg_of << 31) | noise).indices
    keep = torch.zeros(total, dtype=torch.bool, device=ptr.device)
    keep[order[offset < cap]] = True
    return pos[keep]


class _Grower:
    """The state of one sample: local ids given so far and the incidences kept (global incidence ids)."""

    def __init__(self, hg: Hypergraph) -> None:
        self.hg = hg
        self.node_local = torch.full((hg.num_nodes,), -1, dtype=torch.long)
        self.edge_local = torch.full((hg.num_edges,), -1, dtype=torch.long)
        self.nodes: list[torch.Tensor] = []
        self.edges: list[torch.Tensor] = []
        self.incidences: list[torch.Tensor] = []
        self.num_nodes = 0
        self.num_edges = 0

    def add_nodes(self, ids: torch.Tensor) -> torch.Tensor:
        """Give local ids to the nodes of ``ids`` that have none (ascending global id); returns those nodes."""
        new = torch.unique(ids[self.node_local[ids] < 0])
        self.node_local[new] = torch.arange(self.num_nodes, self.num_nodes + new.numel())
        self.num_nodes += new.numel()
        self.nodes.append(new)
        return new

    def add_edges(self, ids: torch.Tensor) -> torch.Tensor:
        new = torch.unique(ids[self.edge_local[ids] < 0])
        self.edge_local[new] = torch.arange(self.num_edges, self.num_edges + new.numel())
        self.num_edges += new.numel()
        self.edges.append(new)
        return new

    def node_step(self, frontier: torch.Tensor, cap: int | None, gen: torch.Generator | None) -> torch.Tensor:
        """Half-step node -> hyperedges; returns the hyperedges reached for the first time."""
        pos = sample_segments(self.hg.node_ptr, frontier, cap, gen)
        self.incidences.append(self.hg.csc_perm[pos])
        return self.add_edges(self.hg.csc_edge[pos])

    def edge_step(self, frontier: torch.Tensor, cap: int | None, gen: torch.Generator | None) -> torch.Tensor:
        """Half-step hyperedge -> nodes (positions are incidence ids: CSR order); returns the new nodes."""
        pos = sample_segments(self.hg.edge_ptr, frontier, cap, gen)
        self.incidences.append(pos)
        return self.add_nodes(self.hg.inc_node[pos])

    def build(self, seeds: torch.Tensor, degrees: str, hops: bool = False) -> SampledBatch:
        hg = self.hg
        inc = torch.cat(self.incidences) if self.incidences else torch.zeros(0, dtype=torch.long)
        node_ids, edge_ids = torch.cat(self.nodes), torch.cat(self.edges)
        # one sort gives the local CSR order and brings repeats (an incidence drawn from both ends) together
        key, order = torch.sort(self.edge_local[hg.inc_edge[inc]] * self.num_nodes + self.node_local[hg.inc_node[inc]])
        first = torch.ones_like(key, dtype=torch.bool)
        first[1:] = key[1:] != key[:-1]
        key, inc = key[first], inc[order[first]]
        local_node, local_edge = key % max(self.num_nodes, 1), key // max(self.num_nodes, 1)
        fields = {k: (None if v is None else v[inc]) for k, v in hg._incidence_fields().items()}
        fields["hyperedge_weight"] = hg.hyperedge_weight[edge_ids]
        fields["node_weight"] = None if hg._node_weight is None else hg._node_weight[node_ids]
        sub = hg._replace(
            inc_node=local_node, inc_edge=local_edge, num_nodes=self.num_nodes, num_edges=self.num_edges, **fields
        )
        if degrees == "global":
            sub = _with_global_degree(sub, hg.weighted_node_degree[node_ids], _has_singleton(hg)[node_ids])
        if hops:
            _set_hops(sub, self._hop_pointers(local_edge))
        return SampledBatch(sub, node_ids, edge_ids, torch.arange(seeds.numel()), seeds, inc)

    def _hop_pointers(self, local_edge: torch.Tensor) -> HopPointers:
        """Node, hyperedge and incidence counts within ``0, 1, ..., L`` hops (see :func:`trim`)."""
        nodes = [0, *torch.tensor([t.numel() for t in self.nodes]).cumsum(0).tolist()]
        edges = [0, *torch.tensor([t.numel() for t in self.edges], dtype=torch.long).cumsum(0).tolist()]
        incs = torch.searchsorted(local_edge, torch.tensor(edges), right=False).tolist()
        return HopPointers(tuple(nodes), tuple(edges), tuple(incs))


class HopPointers(NamedTuple):
    """Where each hop ends in a :class:`NodeSampler` sample (local ids are ordered by hop).

    ``nodes[k + 1]``: nodes within ``k`` hops of the seeds (``nodes[1]`` = the seeds, ``nodes[-1]`` = all);
    ``edges[k]``: hyperedges reached within ``k`` hops (``edges[0] = 0``); ``incidences[k]``: incidences whose
    hyperedge is among those (a prefix of the CSR order, which is sorted by hyperedge).
    """

    nodes: tuple[int, ...]
    edges: tuple[int, ...]
    incidences: tuple[int, ...]

    @property
    def num_hops(self) -> int:
        return len(self.edges) - 1


def _set_hops(hg: Hypergraph, hops: HopPointers) -> None:
    hg.__dict__["_hops"] = hops


def hop_pointers(hg: Hypergraph) -> HopPointers | None:
    """The :class:`HopPointers` of a :class:`NodeSampler` sub-hypergraph, or ``None`` for any other hypergraph
    (including one transformed since sampling, whose sizes no longer match them)."""
    hops = getattr(hg, "_hops", None)
    if not isinstance(hops, HopPointers):
        return None
    sizes = (hg.num_nodes, hg.num_edges, hg.nnz)
    if sizes != (hops.nodes[-1], hops.edges[-1], hops.incidences[-1]) or type(hg) not in (
        Hypergraph,
        SampledHypergraph,
    ):
        return None
    return hops


def trim(hg: Hypergraph, hops: int) -> SampledHypergraph:
    r"""The part of a :class:`NodeSampler` sample that an ``hops``-hop computation needs: the hyperedges reached
    within ``hops`` hops with all their sampled incidences, on the nodes within ``hops`` hops (prefixes of the
    local ids, so ``x[:trimmed.num_nodes]`` are its node features).

    A layer run on ``trim(hg, k)`` gives, at the nodes within ``k - 1`` hops, the output it gives on ``hg`` when no
    fan-out cap was set: such a node has all its sampled hyperedges in the trim, each with all its sampled members,
    and the weighted node degrees (:attr:`~SampledHypergraph.weighted_node_degree`) are those of ``hg``. With caps,
    the trim also drops the incidences that a later hop's hyperedge drew back to an earlier node (the usual
    layer-wise sampling estimate). Unweighted node counts (``node_degree``) are the trim's own.
    """
    ptr = hop_pointers(hg)
    if ptr is None:
        raise InvalidInputError(
            "trim() needs a NodeSampler sub-hypergraph as sampled (trim=True, untransformed); run the model on the "
            "whole sample instead."
        )
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= ptr.num_hops:
        raise InvalidInputError(f"hops={hops!r}: give an int in 0..{ptr.num_hops} (the hops of this sample).")
    n, e, k = ptr.nodes[hops + 1], ptr.edges[hops], ptr.incidences[hops]
    fields = {name: (None if v is None else v[:k]) for name, v in hg._incidence_fields().items()}
    node_weight, loop = hg._node_weight, getattr(hg, "_global_loop", None)
    out = _with_global_degree(
        hg._replace(
            inc_node=hg.inc_node[:k],
            inc_edge=hg.inc_edge[:k],
            num_nodes=n,
            num_edges=e,
            hyperedge_weight=hg.hyperedge_weight[:e],
            node_weight=None if node_weight is None else node_weight[:n],
            **fields,
        ),
        hg.weighted_node_degree[:n],
        None if loop is None else loop[:n],
    )
    _set_hops(out, HopPointers(ptr.nodes[: hops + 2], ptr.edges[: hops + 1], ptr.incidences[: hops + 1]))
    return out


def layer_plan(hg: Hypergraph, num_layers: int, self_loops: bool = False) -> list[tuple[Hypergraph, int]] | None:
    """Per-layer trimming of a :class:`NodeSampler` sample for a ``num_layers``-layer model: ``[(hg_l, n_l)]``
    where layer ``l`` (0-based) runs on ``hg_l = trim(hg, min(H, L - l))`` (``H`` the sample's hops) and only its
    first ``n_l`` output rows (the nodes within ``min(H, L - 1 - l)`` hops) are needed by the next layer; the last
    layer's ``n`` is the number of seeds. ``None`` when ``hg`` is no such sample.

    ``self_loops``: each trim gets a singleton hyperedge for every node without one, and the weighted node degrees
    of ``hg.add_self_loops()`` (what the untrimmed model would use)."""
    ptr = hop_pointers(hg)
    if ptr is None:
        return None
    H = ptr.num_hops
    trims = [trim(hg, min(H, num_layers - i)) for i in range(num_layers)]
    if self_loops:
        degree = hg.cache("with_self_loops", hg.add_self_loops).weighted_node_degree
        trims = [_with_global_degree(t.add_self_loops(), degree[: t.num_nodes]) for t in trims]
    return [(t, ptr.nodes[min(H, num_layers - 1 - i) + 1]) for i, t in enumerate(trims)]


def _with_global_degree(sub: Hypergraph, degree: torch.Tensor, loop: torch.Tensor | None = None) -> SampledHypergraph:
    """``sub`` as a :class:`SampledHypergraph` with weighted node degrees ``degree`` and, when known, ``loop``:
    whether each node has a singleton hyperedge in the hypergraph the degrees come from."""
    out = object.__new__(SampledHypergraph)
    out.__dict__.update(sub.__dict__)
    out._cache = {}
    out._global_degree = degree
    out._global_loop = loop
    return out


def _has_singleton(hg: Hypergraph) -> torch.Tensor:
    """``[V]`` bool, cached on ``hg``: the node has a singleton hyperedge."""

    def make() -> torch.Tensor:
        out = torch.zeros(hg.num_nodes, dtype=torch.bool, device=hg.device)
        out[hg.inc_node[hg.edge_degree[hg.inc_edge] == 1]] = True
        return out

    return hg.cache("has_singleton", make)


class _Sampler:
    """What both samplers share: the seed pool, its epoch order and sharding, caps and degree mode."""

    _seed_kind = "node"

    def __init__(
        self,
        hg: Hypergraph,
        pool: torch.Tensor | None,
        batch_size: int,
        num_layers: int,
        max_edges_per_node: int | None,
        max_nodes_per_edge: int | None,
        *,
        shuffle: bool,
        drop_last: bool,
        seed: int,
        degrees: str,
        rank: int,
        world_size: int,
    ) -> None:
        if type(hg) is not Hypergraph:
            raise InvalidInputError(
                f"the samplers take a plain Hypergraph, got {type(hg).__name__}; its extra per-incidence roles are "
                "not carried into sub-hypergraphs. Build a Hypergraph from its hyperedge_index to sample it."
            )
        if degrees not in DEGREES:
            raise InvalidInputError(f"degrees={degrees!r}: choose one of {DEGREES}.")
        self.hg = hg.to("cpu")
        self.batch_size = _check_positive(batch_size, "batch_size")
        self.num_layers = _check_positive(num_layers, "num_layers")
        self.max_edges_per_node = _check_cap(max_edges_per_node, "max_edges_per_node")
        self.max_nodes_per_edge = _check_cap(max_nodes_per_edge, "max_nodes_per_edge")
        self.shuffle, self.drop_last, self.seed, self.degrees = shuffle, drop_last, int(seed), degrees
        self.rank, self.world_size = _check_shard(rank, world_size, batch_size)
        self.pool = self._check_pool(pool)
        self.epoch = 0

    def _check_pool(self, pool: torch.Tensor | None) -> torch.Tensor:
        size = self.hg.num_nodes if self._seed_kind == "node" else self.hg.num_edges
        if pool is None:
            return torch.arange(size)
        pool = torch.as_tensor(pool).cpu()
        if pool.dtype == torch.bool:
            pool = torch.nonzero(pool).flatten()
        if pool.dim() != 1 or pool.dtype not in (torch.int32, torch.int64) or pool.numel() == 0:
            raise InvalidInputError(
                f"the seed {self._seed_kind}s must be a non-empty 1-D integer tensor (or a boolean mask), got "
                f"{tuple(pool.shape)} {pool.dtype}; pass e.g. data.split.train."
            )
        pool = pool.long()
        if int(pool.min()) < 0 or int(pool.max()) >= size or torch.unique(pool).numel() != pool.numel():
            raise InvalidInputError(
                f"the seed {self._seed_kind}s must be distinct ids in 0..{size - 1}; remove repeats and out-of-range "
                "ids."
            )
        if pool.numel() < self.world_size:
            raise InvalidInputError(
                f"{pool.numel()} seed {self._seed_kind}(s) cannot be shared by {self.world_size} processes; use fewer "
                "processes or more seeds."
            )
        return pool

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch (the shuffle order and the neighbour choices depend on it)."""
        self.epoch = int(epoch)

    def _epoch_order(self) -> torch.Tensor:
        pool = self.pool
        if self.shuffle:
            pool = pool[torch.randperm(pool.numel(), generator=_stream(self.seed, self.epoch))]
        pad = -pool.numel() % self.world_size
        return torch.cat([pool, pool[:pad]]) if pad else pool

    def __len__(self) -> int:
        n = self.pool.numel() + (-self.pool.numel() % self.world_size)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def seed_batches(self) -> Iterator[torch.Tensor]:
        """This rank's seeds of each step of the current epoch."""
        order = self._epoch_order()
        for step in range(len(self)):
            chunk = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield chunk[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[SampledBatch]:
        gen = _stream(self.seed, self.epoch, self.rank, 1)
        for seeds in self.seed_batches():
            yield self.sample(seeds, gen)

    def sample(self, seeds: torch.Tensor, generator: torch.Generator | None = None) -> SampledBatch:
        raise NotImplementedError


def _check_shard(rank: int, world_size: int, batch_size: int) -> tuple[int, int]:
    world_size = _check_positive(world_size, "world_size")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise InvalidInputError(f"rank={rank!r}: give an int in 0..world_size-1 ({world_size - 1}).")
    if batch_size % world_size:
        raise InvalidInputError(
            f"batch_size={batch_size} is the global batch and must be a multiple of world_size={world_size}, so "
            "every process gets an equal shard; round it to a multiple."
        )
    return rank, world_size


def _seed_tensor(seeds: torch.Tensor, size: int, kind: str) -> torch.Tensor:
    seeds = torch.as_tensor(seeds).long().cpu().flatten()
    if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= size):
        raise InvalidInputError(f"seed {kind} ids must be in 0..{size - 1}.")
    if torch.unique(seeds).numel() != seeds.numel():
        raise InvalidInputError(f"the seed {kind}s of one batch must be distinct; remove the repeats.")
    return seeds


class NodeSampler(_Sampler):
    """Batches of seed nodes, each grown into an ``num_layers``-hop sub-hypergraph (see the module docstring).

    Args:
        hg: the whole hypergraph (kept on CPU; batches are made on CPU).
        nodes: the seed pool (ids or a boolean mask), e.g. ``data.split.train``; default all nodes.
        batch_size: seeds per step, summed over all processes.
        num_layers: hops to grow (one per message-passing layer of the model).
        max_edges_per_node: cap on the hyperedges a frontier node keeps per hop (``None``: all).
        max_nodes_per_edge: cap on the members a newly reached hyperedge keeps (``None``: all).
        shuffle: draw a new seed order each epoch (``False``: pool order).
        drop_last: drop the last, smaller step.
        seed: seeds the shuffle and the neighbour choices (with the epoch and the rank).
        degrees: ``"global"`` (default) or ``"local"`` weighted node degrees in the sub-hypergraphs.
        rank, world_size: this process's shard (see the module docstring); default one process.
        trim: record where each hop ends (:class:`HopPointers`), so that models which support it run layer ``l``
            only on the part of the sample within ``L - l`` hops of the seeds (:func:`layer_plan`) and return
            logits for the seeds only; ``False`` runs every layer on the whole sample.

    Iterating yields :class:`SampledBatch` es; ``len(sampler)`` is the number of steps per epoch.
    """

    def __init__(
        self,
        hg: Hypergraph,
        nodes: torch.Tensor | None = None,
        batch_size: int = 1024,
        num_layers: int = 2,
        max_edges_per_node: int | None = None,
        max_nodes_per_edge: int | None = None,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        degrees: str = "global",
        rank: int = 0,
        world_size: int = 1,
        trim: bool = True,
    ) -> None:
        self.trim = bool(trim)
        super().__init__(
            hg,
            nodes,
            batch_size,
            num_layers,
            max_edges_per_node,
            max_nodes_per_edge,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            degrees=degrees,
            rank=rank,
            world_size=world_size,
        )

    def sample(self, seeds: torch.Tensor, generator: torch.Generator | None = None) -> SampledBatch:
        """The sub-hypergraph around the distinct seed nodes ``seeds [B]`` (local ids ``0..B-1`` are the seeds)."""
        seeds = _seed_tensor(seeds, self.hg.num_nodes, "node")
        grow = _Grower(self.hg)
        grow.node_local[seeds] = torch.arange(seeds.numel())
        grow.num_nodes = seeds.numel()
        grow.nodes.append(seeds)
        frontier = seeds
        for _ in range(self.num_layers):
            new_edges = grow.node_step(frontier, self.max_edges_per_node, generator)
            frontier = grow.edge_step(new_edges, self.max_nodes_per_edge, generator)
        return grow.build(seeds, self.degrees, hops=self.trim)


class HyperedgeSampler(_Sampler):
    """Batches of seed hyperedges with their members (``num_layers=1``), grown by ``num_layers - 1`` further hops.

    Same arguments as :class:`NodeSampler`, with ``edges`` (ids or a mask over the hyperedges; default all) as the
    seed pool. ``batch.seed_local`` are local *hyperedge* ids; ``batch.seeds`` global hyperedge ids.
    """

    _seed_kind = "hyperedge"

    def __init__(
        self,
        hg: Hypergraph,
        edges: torch.Tensor | None = None,
        batch_size: int = 1024,
        num_layers: int = 1,
        max_edges_per_node: int | None = None,
        max_nodes_per_edge: int | None = None,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        degrees: str = "global",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(
            hg,
            edges,
            batch_size,
            num_layers,
            max_edges_per_node,
            max_nodes_per_edge,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            degrees=degrees,
            rank=rank,
            world_size=world_size,
        )

    def sample(self, seeds: torch.Tensor, generator: torch.Generator | None = None) -> SampledBatch:
        """The seed hyperedges ``seeds [B]`` (local ids ``0..B-1``) with their sampled members, grown further."""
        seeds = _seed_tensor(seeds, self.hg.num_edges, "hyperedge")
        grow = _Grower(self.hg)
        grow.edge_local[seeds] = torch.arange(seeds.numel())
        grow.num_edges = seeds.numel()
        grow.edges.append(seeds)
        frontier = grow.edge_step(seeds, self.max_nodes_per_edge, generator)
        for _ in range(self.num_layers - 1):
            new_edges = grow.node_step(frontier, self.max_edges_per_node, generator)
            frontier = grow.edge_step(new_edges, self.max_nodes_per_edge, generator)
        return grow.build(seeds, self.degrees)


__all__ = [
    "DEGREES",
    "HopPointers",
    "HyperedgeSampler",
    "NodeSampler",
    "SampledBatch",
    "SampledHypergraph",
    "hop_pointers",
    "layer_plan",
    "sample_segments",
    "trim",
]
