"""The :class:`Hypergraph` structure: incidences held in CSR (by hyperedge) and CSC (by node) order.

A hypergraph with ``V`` nodes and ``E`` hyperedges is stored as its ``nnz`` incidences (node, hyperedge),
sorted by (hyperedge, node). That order *is* the CSR layout of the ``E x V`` incidence matrix ``H^T``;
``edge_ptr`` indexes it. The CSC layout (by node) is a permutation ``csc_perm`` of the incidence ids
with ``node_ptr``. Both, the degrees and any derived matrices are computed once and cached: a
:class:`Hypergraph` is immutable, every transform returns a new one.

Empty hyperedges are refused unless ``allow_empty_edges=True`` (aggregations over an empty hyperedge give 0).
Repeated (node, hyperedge) incidences are refused unless ``deduplicate=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TypeVar, cast

import torch

from graphhyper.errors import InvalidHypergraphError
from graphhyper.hypergraph import _validate as V
from graphhyper.hypergraph import convert as _convert
from graphhyper.hypergraph import hif as _hif
from graphhyper.hypergraph import transforms as _tf

if TYPE_CHECKING:
    from typing_extensions import Self

T = TypeVar("T")


class Hypergraph:
    r"""A (weighted) hypergraph on ``num_nodes`` nodes.

    Args:
        num_nodes: number of nodes ``V`` (node ids are ``0 .. V-1``).
        hyperedges: list of hyperedges, each a list of node ids (``[[0, 1, 2], [2, 3]]``).
        hyperedge_index: alternatively a ``LongTensor [2, nnz]``: row 0 node ids, row 1 hyperedge ids (PyG layout).
        num_edges: number of hyperedges ``E`` (default: ``max hyperedge id + 1``, or ``len(hyperedges)``).
        hyperedge_weight: ``[E]`` positive finite weights ``w_e`` (default ones).
        node_weight: ``[V]`` finite node weights (default ones).
        incidence_features: optional ``[nnz, F]`` features, one row per incidence in the order given.
        allow_empty_edges: accept hyperedges without nodes (they aggregate to 0). Default ``False``.
        deduplicate: merge repeated (node, hyperedge) incidences instead of raising. Default ``False``.

    Shapes after construction (all on ``hg.device``): ``hyperedge_index [2, nnz]`` sorted by (hyperedge, node),
    ``inc_node``/``inc_edge [nnz]``, ``edge_ptr [E+1]``, ``node_ptr [V+1]``, ``csc_perm [nnz]``.
    """

    def __init__(
        self,
        num_nodes: int,
        hyperedges: Sequence[Iterable[int]] | None = None,
        *,
        hyperedge_index: torch.Tensor | None = None,
        num_edges: int | None = None,
        hyperedge_weight: torch.Tensor | Sequence[float] | None = None,
        node_weight: torch.Tensor | Sequence[float] | None = None,
        incidence_features: torch.Tensor | None = None,
        allow_empty_edges: bool = False,
        deduplicate: bool = False,
    ) -> None:
        num_nodes = _check_size(V.check_count(num_nodes, "num_nodes"), "num_nodes")
        if (hyperedges is None) == (hyperedge_index is None):
            raise InvalidHypergraphError(
                "Give exactly one of `hyperedges` (list of node-id lists) or `hyperedge_index` ([2, nnz] tensor)."
            )
        if hyperedges is not None:
            index, n_from_list = V.index_from_lists(hyperedges)
            if num_edges is not None and V.check_count(num_edges, "num_edges") != n_from_list:
                raise InvalidHypergraphError(
                    f"num_edges={num_edges} but {n_from_list} hyperedges were given; drop num_edges or fix the list."
                )
            num_edges = n_from_list
        else:
            index = V.check_index(hyperedge_index)
        device = index.device
        nodes, edges = index[0], index[1]
        num_edges = _check_size(V.infer_num_edges(edges, num_edges), "num_edges")
        V.check_range(nodes, num_nodes, "node", "num_nodes")
        V.check_range(edges, num_edges, "hyperedge", "num_edges")
        feats = V.check_incidence_features(incidence_features, index.shape[1], device)
        order = _csr_order(nodes, edges, num_nodes, num_edges)
        nodes, edges = nodes[order], edges[order]
        feats = feats[order] if feats is not None else None
        if nodes.numel() > 1:
            repeated = (edges[1:] == edges[:-1]) & (nodes[1:] == nodes[:-1])
            if bool(repeated.any()):
                if not deduplicate:
                    k = int(torch.nonzero(repeated)[0, 0]) + 1
                    raise InvalidHypergraphError(
                        f"Node {int(nodes[k])} appears more than once in hyperedge {int(edges[k])}. "
                        "Remove repeated incidences, or pass deduplicate=True to merge them."
                    )
                keep = torch.cat([torch.ones(1, dtype=torch.bool, device=device), ~repeated])
                nodes, edges = nodes[keep], edges[keep]
                order = order[keep]
                feats = feats[keep] if feats is not None else None
        self._take_input_order(order)
        self._num_nodes = num_nodes
        self._num_edges = num_edges
        self._inc_node = nodes.contiguous()
        self._inc_edge = edges.contiguous()
        self._incidence_features = feats
        self._cache: dict[str, Any] = {}
        if not allow_empty_edges:
            V.check_no_empty(self.edge_degree)
        self._allow_empty = allow_empty_edges
        self._hyperedge_weight = _allocate(
            lambda: V.check_weight(hyperedge_weight, num_edges, "hyperedge_weight", device, positive=True),
            "num_edges",
            num_edges,
        )
        self._node_weight = (
            None
            if node_weight is None
            else V.check_weight(node_weight, num_nodes, "node_weight", device, positive=False)
        )

    # ------------------------------------------------------------------ sizes and raw arrays
    @property
    def num_nodes(self) -> int:
        """Number of nodes ``V``."""
        return self._num_nodes

    @property
    def num_edges(self) -> int:
        """Number of hyperedges ``E``."""
        return self._num_edges

    @property
    def nnz(self) -> int:
        """Number of incidences (node, hyperedge) pairs."""
        return int(self._inc_node.numel())

    @property
    def device(self) -> torch.device:
        return self._inc_node.device

    @property
    def inc_node(self) -> torch.Tensor:
        """``[nnz]`` node id of each incidence, CSR (by hyperedge) order."""
        return self._inc_node

    @property
    def inc_edge(self) -> torch.Tensor:
        """``[nnz]`` hyperedge id of each incidence, CSR order (non-decreasing)."""
        return self._inc_edge

    @property
    def hyperedge_index(self) -> torch.Tensor:
        """``[2, nnz]`` PyG-style index (row 0 node ids, row 1 hyperedge ids), CSR order."""
        return self._cached("hyperedge_index", lambda: torch.stack([self._inc_node, self._inc_edge]))

    @property
    def hyperedge_weight(self) -> torch.Tensor:
        """``[E]`` float hyperedge weights ``w_e``."""
        return self._hyperedge_weight

    @property
    def node_weight(self) -> torch.Tensor:
        """``[V]`` float node weights (ones unless given, made on first use: a large ``V`` costs nothing up front)."""
        if self._node_weight is None:
            return self._cached(
                "node_weight",
                lambda: self._per_node(lambda: torch.ones(self._num_nodes, dtype=torch.float32, device=self.device)),
            )
        return self._node_weight

    @property
    def incidence_features(self) -> torch.Tensor | None:
        """``[nnz, F]`` per-incidence features in CSR order, or ``None``."""
        return self._incidence_features

    @property
    def allow_empty_edges(self) -> bool:
        return self._allow_empty

    # ------------------------------------------------------------------ cached layouts and degrees
    def _cached(self, name: str, fn: Callable[[], T]) -> T:
        if name not in self._cache:
            self._cache[name] = fn()
        value: T = self._cache[name]
        return value

    @property
    def edge_degree(self) -> torch.Tensor:
        """``[E]`` long: number of nodes in each hyperedge ``|e|``."""
        return self._cached(
            "edge_degree",
            lambda: _allocate(
                lambda: torch.bincount(self._inc_edge, minlength=self._num_edges), "num_edges", self._num_edges
            ),
        )

    @property
    def node_degree(self) -> torch.Tensor:
        """``[V]`` long: number of hyperedges containing each node."""
        return self._cached(
            "node_degree", lambda: self._per_node(lambda: torch.bincount(self._inc_node, minlength=self._num_nodes))
        )

    @property
    def weighted_node_degree(self) -> torch.Tensor:
        """``[V]`` float: ``d(v) = sum_{e ∋ v} w_e``."""

        def compute() -> torch.Tensor:
            out = self._per_node(
                lambda: torch.zeros(self._num_nodes, dtype=self._hyperedge_weight.dtype, device=self.device)
            )
            return out.index_add_(0, self._inc_node, self._hyperedge_weight[self._inc_edge])

        return self._cached("weighted_node_degree", compute)

    def _per_node(self, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        return _allocate(make, "num_nodes", self._num_nodes)

    @property
    def edge_ptr(self) -> torch.Tensor:
        """``[E+1]`` CSR row pointer: incidences of hyperedge ``e`` are ``edge_ptr[e]:edge_ptr[e+1]``."""
        return self._cached("edge_ptr", lambda: _ptr(self.edge_degree))

    @property
    def node_ptr(self) -> torch.Tensor:
        """``[V+1]`` CSC pointer: incidences of node ``v`` are ``csc_perm[node_ptr[v]:node_ptr[v+1]]``."""
        return self._cached("node_ptr", lambda: _ptr(self.node_degree))

    @property
    def csc_perm(self) -> torch.Tensor:
        """``[nnz]`` incidence ids sorted by (node, hyperedge)."""
        return self._cached("csc_perm", lambda: torch.sort(self._inc_node, stable=True)[1])

    @property
    def csc_edge(self) -> torch.Tensor:
        """``[nnz]`` hyperedge ids in CSC order (``inc_edge[csc_perm]``)."""
        return self._cached("csc_edge", lambda: self._inc_edge[self.csc_perm].contiguous())

    def cache(self, name: str, fn: Callable[[], T]) -> T:
        """Return ``fn()`` computed once per hypergraph and kept under ``name`` (used by ops and kernels)."""
        return self._cached(name, fn)

    # ------------------------------------------------------------------ views
    def hyperedges(self) -> list[list[int]]:
        """The hyperedges as lists of node ids (sorted within each hyperedge)."""
        nodes = self._inc_node.tolist()
        ptr = self.edge_ptr.tolist()
        return [nodes[ptr[e] : ptr[e + 1]] for e in range(self._num_edges)]

    def isolated_nodes(self) -> torch.Tensor:
        """``LongTensor`` of the nodes that belong to no hyperedge."""
        return torch.nonzero(self.node_degree == 0).flatten()

    def duplicate_edges(self) -> torch.Tensor:
        """``LongTensor`` of hyperedges whose node set equals that of an earlier hyperedge."""
        return _tf.duplicate_edges(self)

    def to(self, device: torch.device | str) -> Hypergraph:
        """A copy on ``device`` (returns ``self`` when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        fields = {**self._incidence_fields(), **self._node_fields(), **self._edge_fields()}
        moved = {k: (None if v is None else v.to(device)) for k, v in fields.items()}
        return self._replace(inc_node=self._inc_node.to(device), inc_edge=self._inc_edge.to(device), **moved)

    def _take_input_order(self, order: torch.Tensor) -> None:
        """Hook for subclasses: ``order[k]`` is the input column that became incidence ``k`` (CSR order)."""

    def _incidence_fields(self) -> dict[str, torch.Tensor | None]:
        """Per-incidence tensors (CSR order) that transforms must subset/extend; subclasses add theirs."""
        return {"incidence_features": self._incidence_features}

    def _node_fields(self) -> dict[str, torch.Tensor | None]:
        return {"node_weight": self._node_weight}

    def _edge_fields(self) -> dict[str, torch.Tensor]:
        return {"hyperedge_weight": self._hyperedge_weight}

    def _replace(self, **fields: Any) -> Self:
        """Shallow copy with some stored fields swapped (caller guarantees validity and CSR order)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._cache = {}
        for name, value in fields.items():
            setattr(new, "_" + name, value)
        return new

    # ------------------------------------------------------------------ transforms (explicit, never implicit)
    def add_self_loops(self) -> Self:
        """Add a singleton hyperedge ``{v}`` (weight 1) for every node that does not have one yet."""
        return _tf.add_self_loops(self)

    def remove_duplicate_edges(self) -> Self:
        """Keep the first of each group of hyperedges with identical node sets (weights of the kept ones)."""
        return _tf.remove_edges(self, self.duplicate_edges())

    def drop_singletons(self) -> Self:
        """Remove hyperedges with fewer than two nodes."""
        return _tf.remove_edges(self, torch.nonzero(self.edge_degree < 2).flatten())

    def drop_empty_edges(self) -> Self:
        """Remove hyperedges without nodes."""
        return _tf.remove_edges(self, torch.nonzero(self.edge_degree == 0).flatten())

    def remove_isolated_nodes(self) -> tuple[Self, torch.Tensor]:
        """Remove nodes in no hyperedge. Returns ``(hg, mapping)``: ``mapping[new_id] = old_id``."""
        return _tf.remove_isolated_nodes(self)

    # ------------------------------------------------------------------ expansions
    def clique_expansion(self, normalize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Graph on the nodes with an edge between every two nodes sharing a hyperedge.

        Returns ``(edge_index [2, M], weight [M])`` (both directions, no self loops, coalesced); the weight of
        ``(u, v)`` is ``sum_{e ∋ u, v} w_e`` (``w_e / (|e| - 1)`` per hyperedge when ``normalize``).
        """
        return _tf.clique_expansion(self, normalize)

    def star_expansion(self) -> torch.Tensor:
        """Bipartite graph: node ``v`` to vertex ``V + e`` for each incidence. ``edge_index [2, 2 nnz]``, both ways."""
        return _tf.star_expansion(self)

    def line_graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Graph on the hyperedges, ``e ~ f`` when they share a node; weight = number of shared nodes."""
        return _tf.line_graph(self)

    # ------------------------------------------------------------------ conversions
    def to_pyg(self) -> torch.Tensor:
        """PyG ``hyperedge_index [2, nnz]``."""
        return self.hyperedge_index

    @classmethod
    def from_pyg(cls, hyperedge_index: torch.Tensor, num_nodes: int | None = None, **kwargs: Any) -> Self:
        """From a PyG ``hyperedge_index``; ``num_nodes`` defaults to ``max node id + 1``."""
        return _convert.from_pyg(cls, hyperedge_index, num_nodes, **kwargs)

    def to_dhg(self) -> Any:
        """``dhg.Hypergraph`` with the same hyperedges and weights."""
        return _convert.to_dhg(self)

    @classmethod
    def from_dhg(cls, hg: Any) -> Self:
        return _convert.from_dhg(cls, hg)

    def to_dgl(self) -> Any:
        """DGL heterograph with node types ``node``/``hyperedge`` and relations ``in``/``contains``."""
        return _convert.to_dgl(self)

    @classmethod
    def from_dgl(cls, g: Any) -> Self:
        return _convert.from_dgl(cls, g)

    def to_networkx(self) -> Any:
        """Bipartite ``networkx.Graph``: nodes ``("v", i)`` (bipartite=0) and ``("e", j)`` (bipartite=1)."""
        return _convert.to_networkx(self)

    @classmethod
    def from_networkx(cls, g: Any) -> Self:
        return _convert.from_networkx(cls, g)

    def to_hypernetx(self) -> Any:
        """``hypernetx.Hypergraph`` with weights (no isolated nodes or empty hyperedges: HyperNetX drops them)."""
        return _convert.to_hypernetx(self)

    @classmethod
    def from_hypernetx(cls, h: Any, unmapped: _hif.Unmapped = "raise") -> Self:
        return _convert.from_hypernetx(cls, h, unmapped)

    def to_xgi(self) -> Any:
        """``xgi.Hypergraph`` (``xgi.DiHypergraph`` when directed), weights as the ``weight`` attribute."""
        return _convert.to_xgi(self)

    @classmethod
    def from_xgi(cls, h: Any, unmapped: _hif.Unmapped = "raise") -> Self:
        return _convert.from_xgi(cls, h, unmapped)

    def to_hif(self, **kwargs: Any) -> dict[str, Any]:
        """HIF document (JSON-ready ``dict``); options (``node_features``, ``extra``, ``metadata``, ``validate``, ...)
        as :func:`graphhyper.hypergraph.hif.to_hif`."""
        return _hif.to_hif(self, **kwargs)

    @classmethod
    def from_hif(cls, doc: dict[str, Any], **kwargs: Any) -> Self:
        """From a HIF document; ``validate``, ``unmapped``, ``deduplicate`` as in
        :func:`graphhyper.hypergraph.hif.from_hif`."""
        return cast("Self", _hif.from_hif(doc, cls, **kwargs))

    def write_hif(self, path: str | Path, **kwargs: Any) -> Path:
        """Write :meth:`to_hif` to ``path`` as JSON; returns the path."""
        return _hif.write_hif(self, path, **kwargs)

    @classmethod
    def read_hif(cls, path: str | Path, **kwargs: Any) -> Self:
        """:meth:`from_hif` of the JSON file at ``path``."""
        return cast("Self", _hif.read_hif(path, cls, **kwargs))

    # ------------------------------------------------------------------ misc
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hypergraph):
            return NotImplemented
        return (
            type(self) is type(other)
            and self._num_nodes == other._num_nodes
            and self._num_edges == other._num_edges
            and torch.equal(self._inc_node.cpu(), other._inc_node.cpu())
            and torch.equal(self._inc_edge.cpu(), other._inc_edge.cpu())
            and torch.equal(self._hyperedge_weight.cpu(), other._hyperedge_weight.cpu())
            and (
                self._node_weight is other._node_weight is None
                or torch.equal(self.node_weight.cpu(), other.node_weight.cpu())
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self._num_nodes}, num_edges={self._num_edges}, nnz={self.nnz}, "
            f"device={self.device})"
        )


_INT64_MAX = 2**63 - 1


def _check_size(count: int, name: str) -> int:
    if count > _INT64_MAX:
        raise InvalidHypergraphError(
            f"{name}={count} is larger than an int64 id can hold (2**63 - 1); give the number actually used."
        )
    return count


def _allocate(make: Callable[[], torch.Tensor], name: str, count: int) -> torch.Tensor:
    """``make()``, which allocates ``count`` entries; an :class:`InvalidHypergraphError` when they do not fit."""
    try:
        return make()
    except (RuntimeError, MemoryError) as exc:
        raise InvalidHypergraphError(
            f"{name}={count}: an array of that many entries cannot be allocated ({str(exc)[:160]}). "
            f"Give the number actually used (ids are 0 .. {name}-1)."
        ) from None


def _csr_order(nodes: torch.Tensor, edges: torch.Tensor, num_nodes: int, num_edges: int) -> torch.Tensor:
    """Permutation sorting the incidences by (hyperedge, node), stable."""
    if num_edges * max(num_nodes, 1) <= _INT64_MAX:
        return torch.sort(edges * max(num_nodes, 1) + nodes, stable=True)[1]
    by_node = torch.sort(nodes, stable=True)[1]  # the combined key would overflow int64: sort twice
    return by_node[torch.sort(edges[by_node], stable=True)[1]]


def _ptr(counts: torch.Tensor) -> torch.Tensor:
    ptr = torch.zeros(counts.numel() + 1, dtype=torch.long, device=counts.device)
    torch.cumsum(counts, 0, out=ptr[1:])
    return ptr
