"""Input checks for :class:`~graphhyper.hypergraph.Hypergraph`; each failure names the problem and the fix."""

from __future__ import annotations

import numbers
from typing import Iterable, Sequence

import torch

from graphhyper.errors import InvalidHypergraphError


def check_count(value, name: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidHypergraphError(f"{name} must be a non-negative int, got {value!r} ({type(value).__name__}).")
    if value < 0:
        raise InvalidHypergraphError(f"{name} must be non-negative, got {value}.")
    return int(value)


def index_from_lists(hyperedges: Sequence[Iterable[int]]) -> tuple[torch.Tensor, int]:
    """``[[0, 1], [2]]`` -> (LongTensor [2, nnz], number of hyperedges)."""
    if isinstance(hyperedges, torch.Tensor) or isinstance(hyperedges, (str, bytes)):
        raise InvalidHypergraphError(
            "`hyperedges` must be a list of node-id lists; pass a [2, nnz] tensor as `hyperedge_index=` instead."
        )
    nodes: list[int] = []
    edges: list[int] = []
    count = 0
    for e, members in enumerate(hyperedges):
        count += 1
        if isinstance(members, torch.Tensor):
            members = members.tolist()
        try:
            members = list(members)
        except TypeError:
            raise InvalidHypergraphError(
                f"Hyperedge {e} is {members!r}, not a list of node ids; wrap single nodes as [v]."
            ) from None
        for v in members:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise InvalidHypergraphError(f"Hyperedge {e} contains {v!r}; node ids must be ints.")
        nodes.extend(int(v) for v in members)
        edges.extend([e] * len(members))
    index = torch.tensor([nodes, edges], dtype=torch.long).reshape(2, -1)
    return index, count


def check_index(index) -> torch.Tensor:
    if not isinstance(index, torch.Tensor):
        raise InvalidHypergraphError(
            f"hyperedge_index must be a torch.LongTensor [2, nnz], got {type(index).__name__}; "
            "convert it with torch.as_tensor(..., dtype=torch.long)."
        )
    if index.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise InvalidHypergraphError(
            f"hyperedge_index must hold integer ids, got dtype {index.dtype}; cast it with .long()."
        )
    if index.dim() != 2 or index.shape[0] != 2:
        raise InvalidHypergraphError(
            f"hyperedge_index must have shape [2, nnz] (row 0 nodes, row 1 hyperedges), got {list(index.shape)}; "
            "transpose an [nnz, 2] array with .t()."
        )
    return index.long()


def infer_num_edges(edges: torch.Tensor, num_edges) -> int:
    if num_edges is not None:
        return check_count(num_edges, "num_edges")
    return int(edges.max()) + 1 if edges.numel() else 0


def check_range(ids: torch.Tensor, limit: int, what: str, arg: str) -> None:
    if ids.numel() == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0:
        raise InvalidHypergraphError(f"Negative {what} id {lo} in the incidences; ids must be in [0, {limit}).")
    if hi >= limit:
        raise InvalidHypergraphError(
            f"{what} id {hi} is out of range for {arg}={limit}; ids must be in [0, {limit}). "
            f"Increase {arg} or fix the incidence index."
        )


def check_no_empty(edge_degree: torch.Tensor) -> None:
    empty = torch.nonzero(edge_degree == 0).flatten()
    if empty.numel():
        shown = empty[:5].tolist()
        raise InvalidHypergraphError(
            f"{empty.numel()} hyperedge(s) have no nodes (e.g. {shown}). Remove them, or pass allow_empty_edges=True "
            "(aggregations over an empty hyperedge give 0)."
        )


def check_weight(weight, size: int, name: str, device: torch.device, positive: bool) -> torch.Tensor:
    if weight is None:
        return torch.ones(size, dtype=torch.float32, device=device)
    if not isinstance(weight, torch.Tensor):
        try:
            weight = torch.as_tensor(weight, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InvalidHypergraphError(f"{name} must be a float tensor of shape [{size}] ({exc}).") from None
    if weight.dtype == torch.bool or weight.is_complex():
        raise InvalidHypergraphError(f"{name} must be real-valued, got dtype {weight.dtype}; cast it with .float().")
    if not weight.is_floating_point():
        weight = weight.float()
    if weight.dim() == 2 and weight.shape[1] == 1:
        weight = weight.flatten()
    if weight.dim() != 1 or weight.shape[0] != size:
        raise InvalidHypergraphError(f"{name} must have shape [{size}], got {list(weight.shape)}.")
    if not bool(torch.isfinite(weight).all()):
        raise InvalidHypergraphError(f"{name} contains NaN or inf; replace them (e.g. torch.nan_to_num) first.")
    if positive and weight.numel() and bool((weight < 0).any()):
        raise InvalidHypergraphError(f"{name} has negative entries; hyperedge weights must be >= 0.")
    return weight.to(device).contiguous()


def check_incidence_features(feats, nnz: int, device: torch.device) -> torch.Tensor | None:
    if feats is None:
        return None
    if not isinstance(feats, torch.Tensor):
        raise InvalidHypergraphError(f"incidence_features must be a tensor [nnz, F], got {type(feats).__name__}.")
    if feats.dim() == 1:
        feats = feats.unsqueeze(1)
    if feats.shape[0] != nnz:
        raise InvalidHypergraphError(
            f"incidence_features has {feats.shape[0]} rows but there are {nnz} incidences; give one row per "
            "column of hyperedge_index (or per node of each hyperedge list, in order)."
        )
    if (feats.is_floating_point() or feats.is_complex()) and not bool(torch.isfinite(feats).all()):
        bad = torch.nonzero(~torch.isfinite(feats))[0].tolist()
        raise InvalidHypergraphError(
            f"incidence_features holds a non-finite value ({feats[tuple(bad)].item()} at row {bad[0]}); replace "
            "NaN/inf before building the Hypergraph (e.g. torch.nan_to_num, or drop those incidences)."
        )
    return feats.to(device)
