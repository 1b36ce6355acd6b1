"""Small helpers shared by the hypergraph layers (input checks, hypergraph wrapping, typed linear maps)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.features import remember
from graphhyper.hypergraph.structure import Hypergraph


def as_hypergraph(hg: Hypergraph | Tensor, num_nodes: int | None) -> Hypergraph:
    """Return ``hg`` as a :class:`~graphhyper.hypergraph.Hypergraph` on ``num_nodes`` nodes.

    ``hg`` is either a ``Hypergraph`` (returned as is after a size check) or a PyG-style
    ``hyperedge_index`` ``LongTensor [2, nnz]`` (row 0 node ids, row 1 hyperedge ids), which is wrapped
    (unused hyperedge ids are allowed and become empty hyperedges). ``num_nodes=None`` takes ``max id + 1``.
    """
    if isinstance(hg, Hypergraph):
        if num_nodes is not None and hg.num_nodes != num_nodes:
            raise InvalidInputError(
                f"The hypergraph has {hg.num_nodes} nodes but the feature matrix has {num_nodes} rows; "
                "give one feature row per node (x.size(0) == hg.num_nodes)."
            )
        return hg
    if isinstance(hg, Tensor):
        if hg.dim() != 2 or hg.size(0) != 2:
            raise InvalidInputError(
                f"hyperedge_index must have shape [2, nnz] (row 0 node ids, row 1 hyperedge ids), got "
                f"{tuple(hg.shape)}; transpose it or build a Hypergraph."
            )
        if hg.dtype not in (torch.int64, torch.int32):
            raise InvalidInputError(f"hyperedge_index must hold integer ids, got dtype {hg.dtype}; cast with .long().")
        # like PyG, tolerate unused hyperedge ids (gaps): they become empty hyperedges that aggregate to 0. Built
        # once per index tensor (and version): a model called every epoch with the same index does not re-sort
        # and re-validate it (the copy keeps the remembered Hypergraph from holding on to the index itself)
        index = hg

        def build() -> Hypergraph:
            return Hypergraph.from_pyg(index.long().clone(), num_nodes=num_nodes, allow_empty_edges=True)

        built: Hypergraph = remember(hg, f"hypergraph:{num_nodes}", build)
        return built
    raise InvalidInputError(
        f"Expected a Hypergraph or a hyperedge_index LongTensor [2, nnz], got {type(hg).__name__}; "
        "build one with graphhyper.hypergraph.Hypergraph(num_nodes, hyperedges)."
    )


def csr_order(hyperedge_index: Tensor, num_nodes: int) -> Tensor:
    """Permutation that sorts the columns of a PyG ``hyperedge_index`` into the ``Hypergraph``'s CSR order
    (by hyperedge, then node): ``Hypergraph.from_pyg(index).hyperedge_index == index[:, csr_order(index)]``."""
    index = hyperedge_index.long()
    return torch.sort(index[1] * max(num_nodes, 1) + index[0], stable=True)[1]


def check_features(x: Tensor, channels: int, name: str = "x", rows: int | None = None) -> None:
    """Raise :class:`InvalidInputError` unless ``x`` is a floating ``[rows, channels]`` tensor."""
    if not isinstance(x, Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InvalidInputError(f"{name} must be a 2-D tensor [N, {channels}], got {shape}; reshape it.")
    if not x.is_floating_point():
        raise InvalidInputError(f"{name} must be a floating tensor, got {x.dtype}; cast it with .float().")
    if x.size(1) != channels:
        raise InvalidInputError(
            f"{name} has {x.size(1)} channels but the layer expects {channels}; "
            "fix the layer's in_channels or the features."
        )
    if rows is not None and x.size(0) != rows:
        raise InvalidInputError(f"{name} has {x.size(0)} rows but {rows} are needed (one per node/incidence).")


def prepare(x: Tensor, hg: Hypergraph | Tensor, channels: int) -> Hypergraph:
    """Check node features and wrap ``hg``: the first lines of every layer's ``forward``."""
    check_features(x, channels)
    return as_hypergraph(hg, x.size(0))


def set_ops(group: str) -> tuple[Callable[..., Tensor], Callable[..., Tensor], Callable[..., Tensor]]:
    """``(gather, softmax, reduce)`` of :mod:`~graphhyper.hypergraph.ops` for sets grouped by ``"edge"`` (the
    members of a hyperedge: its nodes) or by ``"node"`` (the members of a node: its hyperedges)."""
    if group == "edge":
        return ops.gather_nodes, ops.softmax_over_edges, ops.reduce_to_edges
    if group == "node":
        return ops.gather_edges, ops.softmax_over_nodes, ops.reduce_to_nodes
    raise InvalidInputError(f"group must be 'edge' or 'node', got {group!r}.")


def incidence_broadcast(out: Tensor, hg: Hypergraph, group: str) -> Tensor:
    """Per-set rows ``[E or V, F]`` -> one row per incidence ``[nnz, F]`` (``gather_edges`` / ``gather_nodes``)."""
    return ops.gather_edges(out, hg) if group == "edge" else ops.gather_nodes(out, hg)


def safe_pow(t: Tensor, p: float) -> Tensor:
    """``t ** p`` with zeros mapped to zero (isolated nodes / empty hyperedges get no inf)."""
    out = t.pow(p)
    return torch.where(t > 0, out, torch.zeros_like(out))


def expand_heads(alpha: Tensor, channels: int) -> Tensor:
    """``[nnz, H]`` attention weights -> ``[nnz, H * channels]`` to scale flattened multi-head messages."""
    return alpha.repeat_interleave(channels, dim=1)


def glorot_(t: Tensor) -> None:
    """Glorot-uniform init over the last two dimensions (works for ``[1, H, C]`` attention vectors)."""
    fan = t.size(-2) + t.size(-1)
    bound = math.sqrt(6.0 / fan)
    with torch.no_grad():
        t.uniform_(-bound, bound)


def typed_linear(x: Tensor, types: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Row-wise ``x_i W_{types[i]} (+ b_{types[i]})`` with ``weight [T, in, out]``, one matmul per present type."""
    out = x.new_zeros(x.size(0), weight.size(-1))
    if x.size(0) == 0:
        return out
    for t in torch.unique(types).tolist():
        rows = torch.nonzero(types == t).flatten()
        y = x.index_select(0, rows) @ weight[t]
        if bias is not None:
            y = y + bias[t]
        out = out.index_copy(0, rows, y)
    return out


def reset_module(module: nn.Module) -> None:
    """Call ``reset_parameters`` on every direct or nested child that has one."""
    for child in module.children():
        reset = getattr(child, "reset_parameters", None)
        if callable(reset):
            reset()
        else:
            reset_module(child)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout`` with the same distribution, but on CPU a cheaper mask (:func:`dropout_mask`): 3-4x faster
    than ``F.dropout``'s per-element Bernoulli sampling there.

    Other devices and non-float inputs use ``F.dropout`` itself.
    """
    if not training or p == 0.0:
        return x
    if not 0.0 <= p <= 1.0:
        raise InvalidInputError(f"dropout probability has to be in [0, 1], got {p}.")
    if p == 1.0 or x.device.type != "cpu" or not x.is_floating_point() or x.layout != torch.strided:
        return torch.nn.functional.dropout(x, p, training)
    return x * dropout_mask(x, p)


_TABLES: dict[tuple[float, torch.dtype], Tensor] = {}


def _dyadic_bits(p: float) -> int | None:
    """The fewest bits ``k`` in (1, 2, 4, 8) with ``p * 2**k`` an integer (p = 0.5: 1 bit), else None."""
    for k in (1, 2, 4, 8):
        if float(p * 2**k).is_integer():
            return k
    return None


def _byte_table(p: float, bits: int, dtype: torch.dtype) -> Tensor:
    """``[256, 8 // bits]``: for each byte value, its ``bits``-bit fields as mask values: ``1/(1-p)`` where the
    field is at least ``p * 2**bits`` (probability ``1 - p``), else 0."""
    key = (p, dtype)
    if key not in _TABLES:
        per = 8 // bits
        fields = (torch.arange(256).unsqueeze(1) >> (torch.arange(per) * bits)) & (2**bits - 1)
        _TABLES[key] = (fields >= round(p * 2**bits)).to(dtype) * (1.0 / (1.0 - p))
    return _TABLES[key]


def dropout_mask(x: Tensor, p: float) -> Tensor:
    """A CPU dropout mask shaped like ``x``: ``1/(1-p)`` with probability ``1 - p``, else 0, in ``x``'s dtype.

    For ``p`` a multiple of ``2**-8`` (0.5, 0.25, ...) each element takes the fewest random bits that express ``p``
    exactly (one bit at ``p = 0.5``), looked up per random byte in a ``[256, 8 / bits]`` table (the low three bytes
    of each 31-bit draw are used); otherwise 15 random bits per element (two per ``int32`` draw) against
    ``round(p * 2**15)``, so the keep probability is ``1 - p`` rounded to a multiple of ``2**-15``.
    """
    n = x.numel()
    bits = _dyadic_bits(p)
    if bits is not None:
        per = 8 // bits
        nbytes = -(-n // per)
        words = torch.empty(-(-nbytes // 3), dtype=torch.int32).random_()  # bits 0-30 random, 31 always 0
        index = words.view(torch.uint8).view(-1, 4)[:, :3].int().view(-1)[:nbytes]
        return torch.index_select(_byte_table(p, bits, x.dtype), 0, index).view(-1)[:n].view(x.shape)
    draws = torch.empty((n + 1) // 2, dtype=torch.int32).random_().view(torch.int16)[:n].view(x.shape)
    keep = draws.bitwise_and_(0x7FFF) >= round(p * 32768)
    return keep.to(x.dtype).mul_(1.0 / (1.0 - p))  # the float mask scaled in place: no bool * float promotion


class Dropout(nn.Module):
    """:func:`dropout` as a module (a drop-in for ``nn.Dropout``)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise InvalidInputError(f"dropout probability has to be in [0, 1], got {p}.")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
