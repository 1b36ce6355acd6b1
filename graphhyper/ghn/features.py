"""Turn :class:`~graphhyper.arch.ArchGraph` objects into the packed tensors a GHN consumes.

A :class:`PackedGraph` is computed once per architecture (it is pure bookkeeping: op indices, continuous
shape descriptors, topological levels, the list of parameters to decode) and many of them are concatenated
into a :class:`GraphBatch` for one GHN forward pass. Nothing here has learnable parameters.

Shape descriptors are *continuous* (log2 of fan-out, fan-in, kernel extent, groups, stride, size): a width
never seen in training still gets its own, nearby, encoding -- there are no lookup buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from graphhyper.errors import InvalidInputError, TraceError

#: Number of raw continuous shape descriptors per node (see :func:`shape_descriptors`).
SHAPE_RAW_DIM = 9

#: Parameter roles; the decoder adds a role embedding and the output normaliser picks a rule per role.
ROLES = ("weight", "bias", "norm_weight", "norm_bias", "embedding", "vector", "scalar")
ROLE_INDEX = {r: i for i, r in enumerate(ROLES)}

_NORM_HINTS = ("norm", "bn", "ln", "gn")
_EMBED_HINTS = ("embed", "pos", "token", "cls")


def _is_norm(op: str) -> bool:
    op = op.lower()
    return any(h in op for h in ("norm", "batchnorm", "layernorm", "groupnorm"))


def _is_embedding(op: str, pname: str) -> bool:
    op = op.lower()
    last = pname.rsplit(".", 1)[-1].lower()
    return "embed" in op or any(
        h in last for h in ("embed", "pos_", "position", "cls_token", "class_token", "wte", "wpe")
    )


def param_role(op: str, pname: str, shape: tuple[int, ...]) -> str:
    """Role of parameter ``pname`` (shape ``shape``) owned by a node of op ``op``.

    The role picks the output normalisation: fan-in scaled weights, bounded norm scales, small biases.
    """
    last = pname.rsplit(".", 1)[-1].lower()
    if len(shape) == 0:
        return "scalar"
    if _is_norm(op) and len(shape) == 1:
        return "norm_bias" if "bias" in last else "norm_weight"
    if len(shape) == 1:
        return "bias" if "bias" in last else "vector"
    if _is_embedding(op, pname):
        return "embedding"
    return "weight"


def _attr_int(attrs: dict, *keys, default=None):
    for k in keys:
        v = attrs.get(k)
        if v is None:
            continue
        if isinstance(v, (tuple, list)):
            if not v:
                continue
            v = v[0]
        try:
            return int(v)
        except (TypeError, ValueError):
            continue
    return default


def primary_param(params: dict) -> tuple[str, tuple[int, ...]] | None:
    """The parameter that describes a node best (most dimensions, then most elements)."""
    if not params:
        return None
    return max(params.items(), key=lambda kv: (len(kv[1]), math.prod(kv[1]) if kv[1] else 1))


def fan_in_of(role: str, shape: tuple[int, ...], attrs: dict) -> int:
    """Fan-in used to scale a predicted weight: attrs' input width when given, else ``prod(shape[1:])``."""
    if len(shape) < 2:
        return max(1, shape[0] if shape else 1)
    in_feat = _attr_int(attrs, "in_features", "in_channels", "in_dim", "nx")
    if in_feat is not None and in_feat in shape:
        groups = _attr_int(attrs, "groups", default=1) or 1
        rest = math.prod(shape[2:]) if len(shape) > 2 else 1
        return max(1, (in_feat // max(groups, 1)) * rest)
    return max(1, math.prod(shape[1:]))


def shape_descriptors(node) -> list[float]:
    """Continuous descriptors of one node: log2 of out, in, kernel h/w, groups, stride, #params, + flags."""
    attrs = getattr(node, "attrs", None) or {}
    prim = primary_param(getattr(node, "params", None) or {})
    out_c = in_c = kh = kw = 0
    numel = 0
    if prim is not None:
        shape = tuple(prim[1])
        numel = sum(math.prod(s) if len(s) else 1 for s in node.params.values())
        if len(shape) >= 1:
            out_c = shape[0]
        if len(shape) >= 2:
            in_c = shape[1]
        if len(shape) >= 3:
            kh = shape[2]
            kw = shape[3] if len(shape) >= 4 else 1
    out_c = out_c or _attr_int(attrs, "out_channels", "out_features", default=0) or 0
    in_c = in_c or _attr_int(attrs, "in_channels", "in_features", default=0) or 0
    groups = _attr_int(attrs, "groups", default=1) or 1
    stride = _attr_int(attrs, "stride", default=1) or 1
    lg = math.log2
    return [
        lg(1 + out_c),
        lg(1 + in_c),
        lg(1 + kh),
        lg(1 + kw),
        lg(max(groups, 1)),
        lg(max(stride, 1)),
        lg(1 + numel) / 2.0,
        float(prim is not None),
        float(len(prim[1]) if prim else 0) / 2.0,
    ]


def _levels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Longest-path depth of every node in the DAG (Kahn's algorithm, one vectorised step per level)."""
    level = np.zeros(n, dtype=np.int64)
    indeg = np.bincount(dst, minlength=n)
    frontier = np.flatnonzero(indeg == 0)
    seen = 0
    depth = 0
    remaining = indeg.copy()
    in_front = np.zeros(n, dtype=bool)
    while frontier.size:
        level[frontier] = depth
        seen += frontier.size
        in_front[:] = False
        in_front[frontier] = True
        outs = dst[in_front[src]]
        if outs.size:
            np.subtract.at(remaining, outs, 1)
            cand = np.unique(outs)
            frontier = cand[remaining[cand] == 0]
        else:
            frontier = np.empty(0, dtype=np.int64)
        depth += 1
    if seen != n:
        raise TraceError(
            f"The architecture graph has a cycle ({n - seen} of {n} nodes are on or after it); a GHN needs a DAG. "
            "Trace the model again (recurrent modules must be unrolled) or report the model to graphhyper."
        )
    return level


@dataclass
class ParamSpec:
    """One parameter to predict: its full name, owning node (local index), shape, role and fan-in."""

    name: str
    node: int
    shape: tuple[int, ...]
    role: str
    fan_in: int
    slot: int


@dataclass
class PackedGraph:
    """Per-architecture tensors, computed once (see :func:`pack_graph`)."""

    op_names: list[str]
    shape_raw: torch.Tensor  # [N, SHAPE_RAW_DIM]
    edge_index: torch.Tensor  # [2, E]
    fwd_level: torch.Tensor  # [N]
    bwd_level: torch.Tensor  # [N]
    in_deg: torch.Tensor
    out_deg: torch.Tensor
    params: list[ParamSpec]
    unpredicted: list[str] = field(default_factory=list)
    unknown_ops: list[str] = field(default_factory=list)
    _spd: torch.Tensor | None = None

    @property
    def num_nodes(self) -> int:
        return int(self.shape_raw.shape[0])

    def spd(self, cutoff: int) -> torch.Tensor:
        """Undirected shortest-path distance ``[N, N]`` clamped to ``cutoff + 1`` (= farther / unreachable)."""
        if self._spd is None or self._spd_cutoff != cutoff:
            from scipy.sparse import coo_matrix
            from scipy.sparse.csgraph import dijkstra

            n = self.num_nodes
            ei = self.edge_index.numpy()
            adj = coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n)).tocsr()
            d = dijkstra(adj, directed=False, unweighted=True, limit=cutoff + 0.5)
            d[~np.isfinite(d)] = cutoff + 1
            self._spd = torch.from_numpy(d.astype(np.int64))
            self._spd_cutoff: int = cutoff
        return self._spd


def _graph_edges(g) -> np.ndarray:
    ei = getattr(g, "edge_index", None)
    if ei is not None:
        ei = ei.numpy() if isinstance(ei, torch.Tensor) else np.asarray(ei)
        if ei.size:
            return ei.reshape(2, -1).astype(np.int64)
    edges = list(getattr(g, "edges", []) or [])
    if not edges:
        return np.zeros((2, 0), dtype=np.int64)
    return np.asarray(edges, dtype=np.int64).T


def pack_graph(g) -> PackedGraph:
    """Pack one :class:`~graphhyper.arch.ArchGraph` (nodes with ``op``, ``params``, ``attrs``; edges)."""
    nodes = list(g.nodes)
    n = len(nodes)
    if n == 0:
        raise InvalidInputError("The architecture graph has no nodes; trace a model with at least one operation.")
    ei = _graph_edges(g)
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        raise InvalidInputError(f"Edge index out of range for a graph of {n} nodes; rebuild the graph with trace().")
    src, dst = ei[0], ei[1]
    fwd = _levels(n, src, dst)
    bwd = _levels(n, dst, src)
    params: list[ParamSpec] = []
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        attrs = getattr(node, "attrs", None) or {}
        for slot, (pname, shape) in enumerate((getattr(node, "params", None) or {}).items()):
            if pname in seen:  # a tied parameter is predicted once, by its first owner
                continue
            seen.add(pname)
            shape = tuple(int(s) for s in shape)
            role = param_role(node.op, pname, shape)
            params.append(ParamSpec(pname, i, shape, role, fan_in_of(role, shape, attrs), min(slot, 7)))
    unmapped = list(g.unmapped_parameters()) if hasattr(g, "unmapped_parameters") else []
    unknown = list(g.unknown_ops()) if hasattr(g, "unknown_ops") else []
    unknown = [u if isinstance(u, str) else str(getattr(u, "target", u)) for u in unknown]
    return PackedGraph(
        op_names=[str(nd.op) for nd in nodes],
        shape_raw=torch.tensor([shape_descriptors(nd) for nd in nodes], dtype=torch.float32),
        edge_index=torch.from_numpy(ei.copy()),
        fwd_level=torch.from_numpy(fwd),
        bwd_level=torch.from_numpy(bwd),
        in_deg=torch.from_numpy(np.bincount(dst, minlength=n)),
        out_deg=torch.from_numpy(np.bincount(src, minlength=n)),
        params=params,
        unpredicted=[str(u) for u in unmapped],
        unknown_ops=unknown,
    )


@dataclass
class LevelSchedule:
    """Edges grouped by the level of their destination, for one message-passing direction."""

    nodes: list[torch.Tensor]  # nodes updated at each level
    src: list[torch.Tensor]  # message sources of the edges into those nodes
    dst_local: list[torch.Tensor]  # destination position within ``nodes[level]``


def level_schedule(edge_index: torch.Tensor, level: torch.Tensor) -> LevelSchedule:
    """Group edges ``src -> dst`` by ``level[dst]`` (levels >= 1), all graphs of a batch at once."""
    src, dst = edge_index
    nodes: list[torch.Tensor] = []
    srcs: list[torch.Tensor] = []
    dsts: list[torch.Tensor] = []
    if src.numel() == 0:
        return LevelSchedule(nodes, srcs, dsts)
    e_lvl = level[dst]
    order = torch.argsort(e_lvl, stable=True)
    src, dst, e_lvl = src[order], dst[order], e_lvl[order]
    bounds = torch.searchsorted(e_lvl, torch.arange(int(level.max()) + 2))
    for lv in range(1, int(level.max()) + 1):
        a, b = int(bounds[lv]), int(bounds[lv + 1])
        if a == b:
            continue
        d = dst[a:b]
        uniq, local = torch.unique(d, return_inverse=True)
        nodes.append(uniq)
        srcs.append(src[a:b])
        dsts.append(local)
    return LevelSchedule(nodes, srcs, dsts)


class GraphBatch:
    """Several packed graphs concatenated along the node axis (no padding)."""

    def __init__(self, packed: list[PackedGraph], op_index: dict[str, int], unknown_index: int):
        self.graphs = packed
        sizes = [p.num_nodes for p in packed]
        self.ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.num_nodes = int(self.ptr[-1])
        self.op_idx = torch.tensor(
            [op_index.get(o, unknown_index) for p in packed for o in p.op_names], dtype=torch.long
        )
        self.shape_raw = torch.cat([p.shape_raw for p in packed])
        self.edge_index = torch.cat([p.edge_index + int(o) for p, o in zip(packed, self.ptr[:-1])], dim=1)
        self.fwd_level = torch.cat([p.fwd_level for p in packed])
        self.bwd_level = torch.cat([p.bwd_level for p in packed])
        self.in_deg = torch.cat([p.in_deg for p in packed])
        self.out_deg = torch.cat([p.out_deg for p in packed])
        self._sched: dict[str, LevelSchedule] = {}

    def schedule(self, direction: str) -> LevelSchedule:
        if direction not in self._sched:
            if direction == "forward":
                self._sched[direction] = level_schedule(self.edge_index, self.fwd_level)
            else:
                self._sched[direction] = level_schedule(self.edge_index.flip(0), self.bwd_level)
        return self._sched[direction]

    def to(self, device) -> GraphBatch:
        """Move the index tensors to ``device`` (in place; returns ``self``)."""
        for name in ("op_idx", "shape_raw", "edge_index", "fwd_level", "bwd_level", "in_deg", "out_deg"):
            setattr(self, name, getattr(self, name).to(device))
        self._sched = {}
        return self
