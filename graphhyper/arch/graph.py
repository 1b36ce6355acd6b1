"""ArchGraph: a neural architecture as a directed acyclic graph of primitive ops.

Nodes are ops of the versioned vocabulary in :mod:`graphhyper.arch.ops` and own the parameters they use; edges are
data flow. The graph offers what graph hypernetworks and predictors need: op ids, a continuous shape encoding,
GHN-2 style shortest-path virtual edges, a stable structural hash (isomorphism-invariant), and conversions to
networkx, PyG and DGL.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch

from graphhyper.arch import ops
from graphhyper.errors import InvalidInputError, require

_FORMAT = "graphhyper.archgraph"
_FORMAT_VERSION = 1


@dataclass
class Node:
    """One op of an architecture.

    Attributes:
        name: unique name: the module path (``"layer1.0.conv1"``) or the traced function's node name.
        op: a word of :data:`graphhyper.arch.ops.VOCAB`.
        target: the original module class or function name (kept so unknown ops can be reported).
        attrs: integer hyper-parameters (``kernel_size``, ``stride``, ``groups``, ``out_channels``, ...).
        params: full dotted parameter names of the traced root module → shape, for the parameters this node owns.
        out_shape: shape of the node's (first) output tensor, or ``None`` when unknown.
        inputs: names of the nodes feeding this one, in operand order (``cat([a, b])``: ``("a", "b")``); set by
            :func:`~graphhyper.arch.trace`, empty for hand-made nodes. Not part of :meth:`label`: the edges carry
            the structure, this only orders them (what an autograd walk such as the published GHNs' follows).
    """

    name: str
    op: str
    target: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)
    out_shape: tuple[int, ...] | None = None
    inputs: tuple[str, ...] = ()

    def label(self) -> str:
        """Name-free label used by the structural hash: op, attrs and parameter shapes."""
        target = self.target if self.op == "unknown" else ""
        attrs = ",".join(f"{k}={self.attrs[k]}" for k in sorted(self.attrs))
        shapes = ",".join(sorted(str(tuple(s)) for s in self.params.values()))
        return f"{self.op}|{target}|{attrs}|{shapes}"


def _prod(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuplify(v) for k, v in value.items()}
    return value


def _listify(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _listify(v) for k, v in value.items()}
    return value


class ArchGraph:
    """A traced architecture: nodes in topological order and data-flow edges.

    Args:
        nodes: the ops; node names must be unique.
        edges: ``(src, dst)`` index pairs; the graph must be acyclic. Nodes given in any order are re-sorted
            into a deterministic topological order (so edges then satisfy ``src < dst``).
        parameters: every parameter of the traced module (full dotted name → shape). Defaults to the union of
            the nodes' parameters.
        meta: free-form, JSON-able information (``trace_path``, ``model``, ``input_shape``, ``notes`` ...).

    Raises:
        InvalidInputError: duplicate node names, an edge index out of range, or a cycle.
    """

    #: Width of :meth:`shape_features`: 8 scalars, each encoded by log1p and 4 Fourier frequencies (sin, cos).
    SHAPE_DIM = 72
    _FREQS = (0.25, 0.5, 1.0, 2.0)

    def __init__(
        self,
        nodes: Sequence[Node],
        edges: Iterable[tuple[int, int]],
        parameters: dict[str, tuple[int, ...]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        nodes = list(nodes)
        edges = sorted({(int(s), int(d)) for s, d in edges})
        n = len(nodes)
        names = [node.name for node in nodes]
        if len(set(names)) != n:
            dup = next(name for name, c in Counter(names).items() if c > 1)
            raise InvalidInputError(f"ArchGraph node names must be unique; '{dup}' appears twice. Rename one node.")
        for s, d in edges:
            if not (0 <= s < n and 0 <= d < n) or s == d:
                raise InvalidInputError(
                    f"edge ({s}, {d}) is invalid for a graph of {n} nodes; edges index nodes 0..{n - 1}, no self loops"
                )
        if any(s >= d for s, d in edges):
            nodes, edges = self._toposort(nodes, edges)
        self.nodes: list[Node] = nodes
        self.edges: list[tuple[int, int]] = edges
        if parameters is None:
            parameters = {k: v for node in nodes for k, v in node.params.items()}
        self.parameters: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in parameters.items()}
        self.meta: dict[str, Any] = dict(meta or {})
        self.meta.setdefault("vocab_version", ops.VOCAB_VERSION)
        self._hash: str | None = None

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _toposort(nodes: list[Node], edges: list[tuple[int, int]]) -> tuple[list[Node], list[tuple[int, int]]]:
        """Kahn's algorithm; ties broken by (label, name) so the result does not depend on the input order."""
        import heapq

        n = len(nodes)
        succ: list[list[int]] = [[] for _ in range(n)]
        indeg = [0] * n
        for s, d in edges:
            succ[s].append(d)
            indeg[d] += 1
        key = [(node.label(), node.name) for node in nodes]
        heap = [(key[i], i) for i in range(n) if indeg[i] == 0]
        heapq.heapify(heap)
        order = []
        while heap:
            _, i = heapq.heappop(heap)
            order.append(i)
            for j in succ[i]:
                indeg[j] -= 1
                if indeg[j] == 0:
                    heapq.heappush(heap, (key[j], j))
        if len(order) != n:
            raise InvalidInputError("ArchGraph edges contain a cycle; an architecture graph must be a DAG (data flow).")
        pos = {old: new for new, old in enumerate(order)}
        return [nodes[i] for i in order], sorted((pos[s], pos[d]) for s, d in edges)

    # ------------------------------------------------------------------ basic views
    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return (
            f"ArchGraph(model={self.meta.get('model')!r}, nodes={len(self.nodes)}, edges={len(self.edges)}, "
            f"params={self.num_params}, trace_path={self.meta.get('trace_path')!r})"
        )

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``N``."""
        return len(self.nodes)

    @property
    def num_params(self) -> int:
        """Total number of scalar parameters of the traced module."""
        return sum(_prod(shape) for shape in self.parameters.values())

    @property
    def edge_index(self) -> torch.Tensor:
        """Data-flow edges as a ``LongTensor [2, E]`` (row 0: source, row 1: target)."""
        if not self.edges:
            return torch.zeros(2, 0, dtype=torch.long)
        return torch.tensor(self.edges, dtype=torch.long).t().contiguous()

    def op_ids(self) -> torch.Tensor:
        """``LongTensor [N]`` of op ids in :data:`graphhyper.arch.ops.VOCAB`."""
        return torch.tensor([ops.op_index(node.op) for node in self.nodes], dtype=torch.long)

    def predecessors(self) -> list[list[int]]:
        """``preds[i]``: indices of the nodes with an edge into node ``i``."""
        preds: list[list[int]] = [[] for _ in self.nodes]
        for s, d in self.edges:
            preds[d].append(s)
        return preds

    def successors(self) -> list[list[int]]:
        """``succ[i]``: indices of the nodes node ``i`` has an edge to."""
        succ: list[list[int]] = [[] for _ in self.nodes]
        for s, d in self.edges:
            succ[s].append(d)
        return succ

    def param_owner(self) -> dict[str, int]:
        """Parameter name → index of the node that owns it."""
        return {name: i for i, node in enumerate(self.nodes) for name in node.params}

    def unmapped_parameters(self) -> list[str]:
        """Parameters of the traced module owned by no node (empty for a complete trace).

        When it is not empty, ``meta['unmapped_reason']`` says why.
        """
        owned = self.param_owner()
        return sorted(name for name in self.parameters if name not in owned)

    def unknown_ops(self) -> list[tuple[str, str]]:
        """The unknown-op report: ``(node name, original target)`` for every node whose op is ``"unknown"``."""
        return [(node.name, node.target) for node in self.nodes if node.op == "unknown"]

    def op_histogram(self) -> dict[str, int]:
        """Op → number of nodes with that op, most frequent first."""
        return dict(Counter(node.op for node in self.nodes).most_common())

    # ------------------------------------------------------------------ features
    def _node_scalars(self, node: Node) -> list[float]:
        a = node.attrs
        fan_in: Any = 0  # ints, tuples or None, as the module's attrs hold them
        fan_out: Any = 0
        weight = max(node.params.values(), key=lambda s: (len(s), _prod(s)), default=None)
        if "in_channels" in a or "in_features" in a:
            fan_in, fan_out = a.get("in_channels", a.get("in_features")), a.get("out_channels", a.get("out_features"))
        elif "num_embeddings" in a:
            fan_in, fan_out = a["num_embeddings"], a.get("embedding_dim", 0)
        elif weight is not None and len(weight) >= 2:
            fan_out, fan_in = weight[0], weight[1]
        elif weight is not None and len(weight) == 1:
            fan_in = fan_out = weight[0]
        else:
            width = a.get("num_features", a.get("embed_dim", a.get("num_channels", 0)))
            fan_in = fan_out = width if isinstance(width, int) else 0
        kernel = a.get("kernel_size")
        if kernel is None and weight is not None and len(weight) >= 3:
            kernel = tuple(weight[2:])
        stride, dilation = a.get("stride", 0), a.get("dilation", 0)
        n_params = sum(_prod(s) for s in node.params.values())
        out = _prod(node.out_shape[1:]) if node.out_shape else 0

        def agg(v: Any, how: Callable[[Iterable[int]], int] = _prod) -> float:
            if isinstance(v, tuple):
                return float(how(max(int(x), 0) for x in v)) if v else 0.0
            return float(max(int(v or 0), 0))

        return [
            agg(fan_in),
            agg(fan_out),
            agg(kernel),
            agg(stride),
            agg(a.get("groups", 0)),
            agg(dilation, max),
            float(n_params),
            float(out),
        ]

    def shape_features(self) -> torch.Tensor:
        """Continuous shape encoding, ``FloatTensor [N, SHAPE_DIM]``.

        For each node 8 scalars ``v`` (fan-in, fan-out, kernel area, stride, groups, dilation, parameter count,
        output size per sample) are encoded without lookup buckets as

        .. math::
            u = \\log(1 + v), \\qquad \\phi(v) = [u / 10,\\ \\sin(f_k u),\\ \\cos(f_k u)]_{k=1..4},
            \\quad f = (0.25, 0.5, 1, 2),

        so nearby sizes get nearby features and unseen sizes still get a meaningful encoding.
        """
        rows = []
        for node in self.nodes:
            row: list[float] = []
            for v in self._node_scalars(node):
                u = math.log1p(v)
                row.append(u / 10.0)
                row.extend(math.sin(f * u) for f in self._FREQS)
                row.extend(math.cos(f * u) for f in self._FREQS)
            rows.append(row)
        if not rows:
            return torch.zeros(0, self.SHAPE_DIM)
        return torch.tensor(rows, dtype=torch.float32)

    def virtual_edges(self, cutoff: int = 5, include_direct: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Shortest-path "virtual" edges as in GHN-2 (Knyazev et al., 2021).

        Every ordered pair ``(i, j)`` with a directed path ``i -> ... -> j`` of length ``d`` (the shortest), with
        ``2 <= d <= cutoff`` (``1 <= d`` when ``include_direct``), becomes an edge. Returns
        ``(edge_index LongTensor [2, E'], distance LongTensor [E'])``; GHN-2 weights messages along them by
        ``1 / d``. For the backward pass, swap the rows of ``edge_index``.
        """
        if cutoff < 1:
            raise InvalidInputError(f"virtual_edges cutoff must be >= 1, got {cutoff}")
        succ = self.successors()
        lo = 1 if include_direct else 2
        src, dst, dist = [], [], []
        for start in range(len(self.nodes)):
            seen = {start: 0}
            queue = deque([start])
            while queue:
                i = queue.popleft()
                d = seen[i]
                if d == cutoff:
                    continue
                for j in succ[i]:
                    if j not in seen:
                        seen[j] = d + 1
                        queue.append(j)
            for j, d in seen.items():
                if d >= lo:
                    src.append(start)
                    dst.append(j)
                    dist.append(d)
        return torch.tensor([src, dst], dtype=torch.long).reshape(2, -1), torch.tensor(dist, dtype=torch.long)

    # ------------------------------------------------------------------ identity
    def structural_hash(self) -> str:
        """Isomorphism-invariant hash of the architecture (names and node order do not matter).

        Weisfeiler-Lehman refinement on the directed graph: node labels (op, attrs, parameter shapes) are
        refined with the multisets of predecessor and successor labels until the partition is stable, and the
        multiset of final labels is hashed. Isomorphic graphs always get the same hash; non-isomorphic graphs
        that WL cannot tell apart are rare (use :meth:`isomorphic` for an exact check).
        """
        if self._hash is None:
            initial = [node.label() for node in self.nodes]
            palette = sorted(set(initial))
            rank = {lab: i for i, lab in enumerate(palette)}
            colors = [rank[lab] for lab in initial]
            preds, succ = self.predecessors(), self.successors()
            certificate = ["|".join(palette)]
            n_classes = len(palette)
            for _ in range(len(self.nodes)):
                sigs = [
                    (colors[i], tuple(sorted(colors[p] for p in preds[i])), tuple(sorted(colors[s] for s in succ[i])))
                    for i in range(len(self.nodes))
                ]
                # colours are ranks of the sorted signatures: canonical, independent of node order
                order = {sig: k for k, sig in enumerate(sorted(set(sigs)))}
                colors = [order[sig] for sig in sigs]
                certificate.append(repr(sorted(sigs)))
                if len(order) == n_classes:
                    break
                n_classes = len(order)
            body = f"{len(self.nodes)}:{len(self.edges)}:" + "#".join(certificate)
            self._hash = _digest(body)
        return self._hash

    def isomorphic(self, other: ArchGraph) -> bool:
        """Exact check: same structural hash and a label-preserving isomorphism exists (networkx VF2++)."""
        if len(self.nodes) != len(other.nodes) or len(self.edges) != len(other.edges):
            return False
        if self.structural_hash() != other.structural_hash():
            return False
        import networkx as nx

        return bool(nx.vf2pp_is_isomorphic(self.to_networkx(), other.to_networkx(), node_label="label"))

    # ------------------------------------------------------------------ conversions
    def to_networkx(self) -> Any:
        """``networkx.DiGraph``; node ``i`` carries name, op, target, attrs, params, out_shape and ``label``."""
        import networkx as nx

        g = nx.DiGraph(**{k: v for k, v in self.meta.items() if isinstance(k, str)})
        for i, node in enumerate(self.nodes):
            g.add_node(
                i,
                name=node.name,
                op=node.op,
                target=node.target,
                attrs=dict(node.attrs),
                params=dict(node.params),
                out_shape=node.out_shape,
                label=node.label(),
            )
        g.add_edges_from(self.edges)
        return g

    def to_pyg(self) -> Any:
        """``torch_geometric.data.Data`` with ``x`` (op ids, ``[N]``), ``shape_features`` (``[N, SHAPE_DIM]``),
        ``edge_index`` (``[2, E]``) and ``num_nodes``."""
        from torch_geometric.data import Data

        return Data(
            x=self.op_ids(), shape_features=self.shape_features(), edge_index=self.edge_index, num_nodes=len(self.nodes)
        )

    def to_dgl(self) -> Any:
        """``dgl.DGLGraph`` with ``ndata['op']`` and ``ndata['shape_features']`` (DGL is imported lazily)."""
        dgl = require("dgl", "dgl", "ArchGraph.to_dgl")
        ei = self.edge_index
        g = dgl.graph((ei[0], ei[1]), num_nodes=len(self.nodes))
        g.ndata["op"] = self.op_ids()
        g.ndata["shape_features"] = self.shape_features()
        return g

    def to_dict(self) -> dict[str, Any]:
        """JSON-able representation; :meth:`from_dict` inverts it."""
        return {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "vocab_version": ops.VOCAB_VERSION,
            "nodes": [
                {
                    "name": n.name,
                    "op": n.op,
                    "target": n.target,
                    "attrs": _listify(n.attrs),
                    "params": _listify(n.params),
                    "out_shape": _listify(n.out_shape),
                    **({"inputs": list(n.inputs)} if n.inputs else {}),
                }
                for n in self.nodes
            ],
            "edges": [list(e) for e in self.edges],
            "parameters": _listify(self.parameters),
            "meta": _listify(self.meta),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchGraph:
        """Rebuild a graph written by :meth:`to_dict`.

        Raises:
            InvalidInputError: not a graphhyper ArchGraph dict, or made with a newer op vocabulary.
        """
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise InvalidInputError(
                "not an ArchGraph dict (missing format='graphhyper.archgraph'); pass the output of ArchGraph.to_dict()"
            )
        if int(data.get("vocab_version", 0)) > ops.VOCAB_VERSION:
            raise InvalidInputError(
                f"graph uses op vocabulary v{data['vocab_version']} but this graphhyper has v{ops.VOCAB_VERSION}; "
                "upgrade graphhyper to read it"
            )
        nodes = [
            Node(
                name=d["name"],
                op=d["op"],
                target=d.get("target", ""),
                attrs={k: _tuplify(v) for k, v in d.get("attrs", {}).items()},
                params={k: tuple(v) for k, v in d.get("params", {}).items()},
                out_shape=None if d.get("out_shape") is None else tuple(d["out_shape"]),
                inputs=tuple(d.get("inputs", ())),
            )
            for d in data["nodes"]
        ]
        params = {k: tuple(v) for k, v in data.get("parameters", {}).items()}
        meta = {k: _tuplify(v) for k, v in data.get("meta", {}).items()}
        return cls(nodes, [tuple(e) for e in data["edges"]], params, meta)

    def summary(self, max_ops: int = 12) -> str:
        """Human-readable summary: size, parameter count, op histogram, unknown ops, unmapped parameters."""
        lines = [
            f"ArchGraph {self.meta.get('model', '')}".rstrip(),
            f"  nodes: {len(self.nodes)}   edges: {len(self.edges)}   params: {self.num_params:,}"
            f" ({len(self.parameters)} tensors)",
            f"  trace path: {self.meta.get('trace_path', '?')}   input shape: {self.meta.get('input_shape')}"
            f"   vocab v{self.meta.get('vocab_version')}   hash: {self.structural_hash()[:16]}",
        ]
        hist = self.op_histogram()
        shown = ", ".join(f"{op}={c}" for op, c in list(hist.items())[:max_ops])
        more = f", ... (+{len(hist) - max_ops} ops)" if len(hist) > max_ops else ""
        lines.append(f"  ops: {shown}{more}")
        unknown = self.unknown_ops()
        lines.append(f"  unknown ops: {len(unknown)}" + "".join(f"\n    {n}: {t}" for n, t in unknown[:20]))
        unmapped = self.unmapped_parameters()
        lines.append(
            f"  unmapped parameters: {len(unmapped)}"
            + (f" ({self.meta.get('unmapped_reason', '')})" if unmapped else "")
        )
        for note in self.meta.get("notes", []) or []:
            lines.append(f"  note: {note}")
        return "\n".join(lines)


def batch_graphs(graphs: Sequence[ArchGraph]) -> Any:
    """Batch many graphs into one ``torch_geometric.data.Batch`` (disjoint union; ``batch`` maps nodes to graphs).

    Raises:
        InvalidInputError: ``graphs`` is empty or holds something that is not an :class:`ArchGraph`.
    """
    from torch_geometric.data import Batch

    graphs = list(graphs)
    if not graphs or not all(isinstance(g, ArchGraph) for g in graphs):
        raise InvalidInputError("batch_graphs needs a non-empty list of ArchGraph objects (from graphhyper.arch.trace)")
    return Batch.from_data_list([g.to_pyg() for g in graphs])


def dedup(graphs: Sequence[ArchGraph], exact: bool = False) -> list[int]:
    """Indices of the first graph of each isomorphism class, in input order.

    Graphs are grouped by :meth:`ArchGraph.structural_hash`; with ``exact=True`` graphs sharing a hash are also
    checked with :meth:`ArchGraph.isomorphic` (slower, guards against WL collisions).
    """
    keep: list[int] = []
    by_hash: dict[str, list[int]] = {}
    for i, g in enumerate(graphs):
        reps = by_hash.setdefault(g.structural_hash(), [])
        if reps and (not exact or any(graphs[r].isomorphic(g) for r in reps)):
            continue
        reps.append(i)
        keep.append(i)
    return keep
