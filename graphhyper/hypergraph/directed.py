"""Directed and typed hypergraphs (head/tail sets, node and hyperedge types), e.g. for HDHGN."""

from __future__ import annotations

from typing import Iterable, Sequence

import torch

from graphhyper.errors import InvalidHypergraphError
from graphhyper.hypergraph.structure import Hypergraph


class DirectedHypergraph(Hypergraph):
    r"""A hypergraph whose incidences are either *tail* (source) or *head* (target) members of their hyperedge.

    Build it from ``hyperedges=[(tail_nodes, head_nodes), ...]`` or from ``hyperedge_index [2, nnz]`` with
    ``is_head [nnz]`` (bool, per column). Optional types make it heterogeneous: ``node_type [V]`` and
    ``edge_type [E]`` (long, ``0 .. num_*_types - 1``). All other arguments are those of :class:`Hypergraph`.

    Extra attributes: ``is_head [nnz]`` (CSR order), ``node_type [V]``, ``edge_type [E]``,
    ``num_node_types``, ``num_edge_types``; ``head_mask``/``tail_mask`` are aliases of ``is_head`` / ``~is_head``.
    """

    def __init__(
        self,
        num_nodes: int,
        hyperedges: Sequence[tuple[Iterable[int], Iterable[int]]] | None = None,
        *,
        hyperedge_index: torch.Tensor | None = None,
        is_head: torch.Tensor | None = None,
        node_type: torch.Tensor | None = None,
        edge_type: torch.Tensor | None = None,
        num_node_types: int | None = None,
        num_edge_types: int | None = None,
        **kwargs,
    ) -> None:
        if hyperedges is not None:
            if hyperedge_index is not None or is_head is not None:
                raise InvalidHypergraphError("Give either hyperedges=[(tails, heads), ...] or hyperedge_index+is_head.")
            hyperedge_index, is_head = _from_pairs(hyperedges)
            kwargs.setdefault("num_edges", len(hyperedges))
        if hyperedge_index is None:
            raise InvalidHypergraphError(
                "DirectedHypergraph needs hyperedges=[(tails, heads), ...] or hyperedge_index=."
            )
        self._given_is_head = _check_is_head(is_head, hyperedge_index)
        super().__init__(num_nodes, hyperedge_index=hyperedge_index, **kwargs)
        self._node_type, self._num_node_types = _check_types(node_type, num_node_types, self.num_nodes, "node")
        self._edge_type, self._num_edge_types = _check_types(edge_type, num_edge_types, self.num_edges, "edge")
        self._node_type = self._node_type.to(self.device)
        self._edge_type = self._edge_type.to(self.device)

    def _take_input_order(self, order: torch.Tensor) -> None:
        self._is_head = self._given_is_head.to(order.device)[order].contiguous()
        del self._given_is_head

    @property
    def is_head(self) -> torch.Tensor:
        """``[nnz]`` bool: True where the incidence's node is in the hyperedge's head set."""
        return self._is_head

    @property
    def head_mask(self) -> torch.Tensor:
        return self._is_head

    @property
    def tail_mask(self) -> torch.Tensor:
        return ~self._is_head

    @property
    def node_type(self) -> torch.Tensor:
        return self._node_type

    @property
    def edge_type(self) -> torch.Tensor:
        return self._edge_type

    @property
    def num_node_types(self) -> int:
        return self._num_node_types

    @property
    def num_edge_types(self) -> int:
        return self._num_edge_types

    def heads(self) -> list[list[int]]:
        """Head set of each hyperedge."""
        return _split(self, self._is_head)

    def tails(self) -> list[list[int]]:
        """Tail set of each hyperedge."""
        return _split(self, ~self._is_head)

    def _incidence_fields(self) -> dict[str, torch.Tensor | None]:
        return {**super()._incidence_fields(), "is_head": self._is_head}

    def _node_fields(self) -> dict[str, torch.Tensor | None]:
        return {**super()._node_fields(), "node_type": self._node_type}

    def _edge_fields(self) -> dict[str, torch.Tensor]:
        return {**super()._edge_fields(), "edge_type": self._edge_type}

    def __eq__(self, other: object) -> bool:
        base = super().__eq__(other)
        if base is not True or not isinstance(other, DirectedHypergraph):
            return base
        return (
            torch.equal(self._is_head.cpu(), other._is_head.cpu())
            and torch.equal(self._node_type.cpu(), other._node_type.cpu())
            and torch.equal(self._edge_type.cpu(), other._edge_type.cpu())
        )

    __hash__ = None


def _from_pairs(hyperedges) -> tuple[torch.Tensor, torch.Tensor]:
    nodes, edges, head = [], [], []
    for e, pair in enumerate(hyperedges):
        try:
            tails, heads = pair
        except (TypeError, ValueError):
            raise InvalidHypergraphError(f"Directed hyperedge {e} must be a pair (tail_nodes, head_nodes).") from None
        for flag, members in ((False, tails), (True, heads)):
            members = [int(v) for v in members]
            nodes.extend(members)
            edges.extend([e] * len(members))
            head.extend([flag] * len(members))
    return torch.tensor([nodes, edges], dtype=torch.long).reshape(2, -1), torch.tensor(head, dtype=torch.bool)


def _check_is_head(is_head, index) -> torch.Tensor:
    if not isinstance(index, torch.Tensor) or index.dim() != 2:
        raise InvalidHypergraphError("hyperedge_index must be a LongTensor [2, nnz] (row 0 nodes, row 1 hyperedges).")
    nnz = index.shape[1]
    if is_head is None:
        raise InvalidHypergraphError(
            "is_head [nnz] (bool per incidence: head or tail) is required with hyperedge_index."
        )
    is_head = torch.as_tensor(is_head)
    if is_head.dim() != 1 or is_head.numel() != nnz:
        raise InvalidHypergraphError(
            f"is_head must have shape [{nnz}] (one flag per incidence), got {list(is_head.shape)}."
        )
    return is_head.bool()


def _check_types(types, num_types, size: int, what: str) -> tuple[torch.Tensor, int]:
    if types is None:
        return torch.zeros(size, dtype=torch.long), int(num_types or 1)
    types = torch.as_tensor(types)
    if types.is_floating_point() or types.dtype == torch.bool or types.dim() != 1 or types.numel() != size:
        raise InvalidHypergraphError(f"{what}_type must be an integer tensor of shape [{size}].")
    types = types.long()
    if types.numel() and int(types.min()) < 0:
        raise InvalidHypergraphError(f"{what}_type has negative entries; types must be 0 .. num_{what}_types - 1.")
    inferred = int(types.max()) + 1 if types.numel() else 1
    if num_types is not None and inferred > num_types:
        raise InvalidHypergraphError(f"{what}_type has value {inferred - 1} >= num_{what}_types={num_types}.")
    return types, int(num_types if num_types is not None else inferred)


def _split(hg: DirectedHypergraph, mask: torch.Tensor) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(hg.num_edges)]
    for v, e in zip(hg.inc_node[mask].tolist(), hg.inc_edge[mask].tolist()):
        out[e].append(v)
    return out
