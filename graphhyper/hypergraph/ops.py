r"""Aggregation over a :class:`~graphhyper.hypergraph.Hypergraph` — the one entry point for every layer.

Node → hyperedge (``v2e``), hyperedge → node (``e2v``) and node → node (``v2v``) aggregation with ``sum``,
``mean``, ``max`` and ``softmax`` (attention-weighted sum), plus the per-incidence building blocks
(``gather_*``, ``reduce_to_*``, ``softmax_over_*``) and the fused HGNN propagation.

Semantics (for a segment ``s`` — a hyperedge in ``v2e``, a node in ``e2v`` — with members ``k`` and per-incidence
weights ``a_k``, default 1):

* ``sum``: :math:`\sum_k a_k x_k`
* ``mean``: :math:`\sum_k a_k x_k / \sum_k a_k` (divides by the weight sum; 0 when the sum is 0 or ``s`` is empty)
* ``max``: elementwise :math:`\max_k a_k x_k` (0 for an empty segment)
* ``softmax``: ``weight`` is a score; :math:`\sum_k \mathrm{softmax}_s(\mathrm{score})_k x_k`

``weight`` may be ``[nnz]`` or per head ``[nnz, H]`` (then ``F = H * C``, heads are contiguous blocks of ``C``
features, as ``x.view(N, H, C)``); per-incidence tensors are in the hypergraph's CSR order (``hg.inc_node`` /
``hg.inc_edge``). Features may be ``[N]``, ``[N, F]`` or ``[N, *]`` (trailing dims are flattened and restored).

The implementation is chosen per device: ``"auto"`` (default) uses Triton kernels for CUDA tensors and the torch
reference on CPU; force one with :func:`use_backend` / :func:`set_backend`. Inputs are checked (shapes, devices,
NaN/inf; a tensor that passed the NaN/inf scan is not scanned again until it changes in place, see
:mod:`graphhyper.hypergraph.features`); disable the finite check with :func:`set_input_checks`, or skip it for
tensors the caller vouches for with :func:`trusted_inputs`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterator

import torch

from graphhyper.errors import InvalidInputError, MissingDependencyError
from graphhyper.hypergraph import features as _features
from graphhyper.hypergraph.kernels import Layout, edge_layout, node_layout
from graphhyper.hypergraph.kernels import torch_ref as _ref

if TYPE_CHECKING:
    from graphhyper.hypergraph.structure import Hypergraph

AGGRS = ("sum", "mean", "max", "softmax")
BACKENDS = ("auto", "torch", "triton")
_state = threading.local()
_default: dict[str, Any] = {"backend": "auto", "check_finite": True}


def get_backend() -> str:
    """The backend in force: ``"auto"``, ``"torch"`` or ``"triton"``."""
    backend: str = getattr(_state, "backend", _default["backend"])
    return backend


def set_backend(name: str) -> None:
    """Set the backend for this thread (``"auto"``: Triton on CUDA, torch on CPU)."""
    _state.backend = _check_backend(name)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager forcing a backend: ``with ops.use_backend("torch"): ...``."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        _state.backend = previous


def set_input_checks(check_finite: bool) -> None:
    """Turn the NaN/inf check on feature tensors on or off (shape and device checks always run)."""
    _default["check_finite"] = bool(check_finite)


@contextlib.contextmanager
def trusted_inputs() -> Iterator[None]:
    """Skip the NaN/inf scan of the ops' tensor arguments inside this block (this thread); shapes, dtypes and
    devices are still checked. For callers that checked their own inputs: a model checks the user's features
    once (:func:`graphhyper.hypergraph.features.check_finite`) and runs its layers in this block, since what they
    pass to the ops is computed from those features and the parameters (a non-finite loss is caught by the
    training loop)."""
    _state.trusted = getattr(_state, "trusted", 0) + 1
    try:
        yield
    finally:
        _state.trusted -= 1


def inputs_trusted() -> bool:
    """Whether this thread is inside :func:`trusted_inputs` (the ops skip their NaN/inf scan)."""
    return bool(getattr(_state, "trusted", 0))


def _check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise InvalidInputError(f"Unknown backend {name!r}; choose one of {BACKENDS}.")
    return name


def _triton_usable(x: torch.Tensor) -> bool:
    if x.is_cuda:
        return True
    return os.environ.get("TRITON_INTERPRET") == "1"


def _kernels(x: torch.Tensor) -> ModuleType:
    backend = get_backend()
    if backend == "torch" or (backend == "auto" and not x.is_cuda):
        return _ref
    if not _triton_usable(x):
        raise InvalidInputError(
            "The 'triton' backend needs CUDA tensors (or TRITON_INTERPRET=1 for CPU testing); "
            "move the data with .cuda() or use ops.use_backend('torch')."
        )
    try:
        from graphhyper.hypergraph.kernels import triton_kernels
    except MissingDependencyError:
        if backend == "triton":
            raise
        return _ref
    return triton_kernels


# ---------------------------------------------------------------------------------------------- checks
def _flat(x: object, rows: int, what: str, hg: Hypergraph) -> tuple[torch.Tensor, tuple[int, ...]]:
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(f"{what} must be a torch.Tensor, got {type(x).__name__}.")
    if not x.is_floating_point():
        raise InvalidInputError(f"{what} must be a floating-point tensor, got {x.dtype}; cast it with .float().")
    if x.dim() == 0 or x.shape[0] != rows:
        raise InvalidInputError(f"{what} must have {rows} rows (shape [{rows}, F]), got shape {list(x.shape)}.")
    if x.device != hg.device:
        raise InvalidInputError(
            f"{what} is on {x.device} but the hypergraph is on {hg.device}; call hg = hg.to(x.device)."
        )
    if not getattr(_state, "trusted", 0):
        _features.check_finite(x, what)  # once per tensor and version: a reused input is not rescanned
    rest = tuple(x.shape[1:])
    features = 1
    for size in rest:
        features *= size
    return x.reshape(rows, features), rest  # explicit size: reshape(0, -1) is ambiguous for 0 rows


def _unflat(out: torch.Tensor, rest: tuple[int, ...]) -> torch.Tensor:
    return out.reshape(out.shape[0], *rest) if rest != (out.shape[1],) else out


def _check_weight(weight: object, hg: Hypergraph, features: int, what: str = "weight") -> torch.Tensor | None:
    if weight is None:
        return None
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise InvalidInputError(f"{what} must be a float tensor [nnz] or [nnz, H] (one value per incidence).")
    if weight.dim() == 2 and weight.shape[1] == 1:
        weight = weight.view(-1)
    if weight.dim() not in (1, 2) or weight.shape[0] != hg.nnz:
        raise InvalidInputError(
            f"{what} must have shape [{hg.nnz}] or [{hg.nnz}, H] (per incidence, CSR order), got {list(weight.shape)}."
        )
    if weight.dim() == 2 and (weight.shape[1] == 0 or features % weight.shape[1]):
        raise InvalidInputError(f"{what} has {weight.shape[1]} heads, which does not divide the {features} features.")
    if weight.device != hg.device:
        raise InvalidInputError(f"{what} is on {weight.device}, the hypergraph on {hg.device}; move one of them.")
    if not getattr(_state, "trusted", 0):
        _features.check_finite(weight, what)
    return weight


def _check_aggr(aggr: str) -> str:
    if aggr not in AGGRS:
        raise InvalidInputError(f"Unknown aggregation {aggr!r}; choose one of {AGGRS}.")
    return aggr


def _check_hg(hg: object) -> None:
    from graphhyper.hypergraph.structure import Hypergraph

    if not isinstance(hg, Hypergraph):
        raise InvalidInputError(
            f"Expected a graphhyper Hypergraph, got {type(hg).__name__}; wrap a PyG hyperedge_index with "
            "Hypergraph.from_pyg(hyperedge_index, num_nodes)."
        )


# ---------------------------------------------------------------------------------------------- core
def _mul(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    if b is None:
        return a
    if a.dim() != b.dim():
        a, b = (a.unsqueeze(-1), b) if a.dim() == 1 else (a, b.unsqueeze(-1))
    return a * b


def _mean_weight(hg: Hypergraph, layout: Layout, weight: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """Per-incidence ``a_k / sum_{j in seg(k)} a_j`` (0 where the sum is 0)."""
    if weight is None:

        def make() -> torch.Tensor:
            count = torch.bincount(layout.seg_inc, minlength=layout.num_segments).to(dtype)
            return (1.0 / count.clamp(min=1))[layout.seg_inc].contiguous()

        return hg.cache(f"mean_w_{int(layout.identity)}_{dtype}", make)
    shape = (layout.num_segments,) + tuple(weight.shape[1:])
    total = weight.new_zeros(shape).index_add(0, layout.seg_inc, weight)[layout.seg_inc]
    return torch.where(total != 0, weight / torch.where(total != 0, total, torch.ones_like(total)), 0.0)


def _aggregate(
    src: torch.Tensor, hg: Hypergraph, layout: Layout, aggr: str, weight: torch.Tensor | None
) -> torch.Tensor:
    k = _kernels(src)
    out: torch.Tensor
    if aggr == "sum":
        out = k.gather_sum(src, hg, layout, weight)
    elif aggr == "mean":
        out = k.gather_sum(src, hg, layout, _mean_weight(hg, layout, weight, src.dtype))
    elif aggr == "max":
        out = k.gather_max(src, hg, layout, weight)
    elif weight is None:
        raise InvalidInputError("aggr='softmax' needs weight= the per-incidence score [nnz] or [nnz, H].")
    else:
        out = k.gather_sum(src, hg, layout, k.segment_softmax(weight, layout))
    return out


def _edge_w(hg: Hypergraph, dtype: torch.dtype) -> torch.Tensor | None:
    unit = hg.cache("unit_edge_weight", lambda: bool((hg.hyperedge_weight == 1).all()))
    if unit:
        return None
    return hg.cache(f"edge_w_inc_{dtype}", lambda: hg.hyperedge_weight.to(dtype)[hg.inc_edge].contiguous())


def v2e(
    x: torch.Tensor, hg: Hypergraph, aggr: str = "mean", weight: torch.Tensor | None = None, node_weight: bool = False
) -> torch.Tensor:
    r"""Aggregate node features into hyperedges: ``[V, F] -> [E, F]``.

    Args:
        x: node features ``[V, F]``.
        hg: the hypergraph.
        aggr: ``"sum"``, ``"mean"``, ``"max"`` or ``"softmax"`` (then ``weight`` is the score).
        weight: per-incidence weights ``[nnz]`` / ``[nnz, H]`` in CSR order.
        node_weight: also multiply each member by ``hg.node_weight``.
    """
    _check_hg(hg)
    aggr = _check_aggr(aggr)
    src, rest = _flat(x, hg.num_nodes, "x", hg)
    weight = _check_weight(weight, hg, src.shape[1])
    if node_weight and aggr != "softmax":
        weight = _mul(hg.node_weight.to(src.dtype)[hg.inc_node], weight)
    return _unflat(_aggregate(src, hg, edge_layout(hg), aggr, weight), rest)


def e2v(
    y: torch.Tensor, hg: Hypergraph, aggr: str = "mean", weight: torch.Tensor | None = None, edge_weight: bool = True
) -> torch.Tensor:
    r"""Aggregate hyperedge features into nodes: ``[E, F] -> [V, F]``.

    With ``edge_weight`` (default) each hyperedge also counts with its weight ``w_e``: ``mean`` is then
    :math:`\sum_{e \ni v} w_e y_e / \sum_{e \ni v} w_e`. ``edge_weight`` is ignored for ``aggr="softmax"``.
    """
    _check_hg(hg)
    aggr = _check_aggr(aggr)
    src, rest = _flat(y, hg.num_edges, "y", hg)
    weight = _check_weight(weight, hg, src.shape[1])
    if edge_weight and aggr != "softmax":
        weight = _mul(_edge_w(hg, src.dtype), weight)
    return _unflat(_aggregate(src, hg, node_layout(hg), aggr, weight), rest)


def v2v(
    x: torch.Tensor,
    hg: Hypergraph,
    v2e_aggr: str = "mean",
    e2v_aggr: str = "mean",
    v2e_weight: torch.Tensor | None = None,
    e2v_weight: torch.Tensor | None = None,
    edge_weight: bool = True,
) -> torch.Tensor:
    """Node → hyperedge → node: ``e2v(v2e(x))``."""
    return e2v(v2e(x, hg, v2e_aggr, v2e_weight), hg, e2v_aggr, e2v_weight, edge_weight)


def gather_nodes(x: torch.Tensor, hg: Hypergraph) -> torch.Tensor:
    """Node features per incidence: ``x[hg.inc_node]`` ``[nnz, ...]``."""
    _check_hg(hg)
    _flat(x, hg.num_nodes, "x", hg)
    return x[hg.inc_node]


def gather_edges(y: torch.Tensor, hg: Hypergraph) -> torch.Tensor:
    """Hyperedge features per incidence: ``y[hg.inc_edge]`` ``[nnz, ...]``."""
    _check_hg(hg)
    _flat(y, hg.num_edges, "y", hg)
    return y[hg.inc_edge]


def _reduce(msg: torch.Tensor, hg: Hypergraph, layout: Layout, aggr: str, weight: torch.Tensor | None) -> torch.Tensor:
    _check_hg(hg)
    aggr = _check_aggr(aggr)
    flat, rest = _flat(msg, hg.nnz, "msg", hg)
    weight = _check_weight(weight, hg, flat.shape[1])
    k = _kernels(flat)
    if aggr == "max":
        out = k.segment_max(
            _ref.gather_weighted(flat, torch.arange(hg.nnz, device=flat.device), weight)
            if weight is not None
            else flat,
            layout,
        )
    elif aggr == "sum":
        out = k.segment_sum(flat, layout, weight)
    elif aggr == "mean":
        out = k.segment_sum(flat, layout, _mean_weight(hg, layout, weight, flat.dtype))
    else:
        if weight is None:
            raise InvalidInputError("aggr='softmax' needs weight= the per-incidence score [nnz] or [nnz, H].")
        out = k.segment_sum(flat, layout, k.segment_softmax(weight, layout))
    return _unflat(out, rest)


def reduce_to_edges(
    msg: torch.Tensor, hg: Hypergraph, aggr: str = "sum", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Reduce per-incidence messages ``[nnz, F]`` (CSR order) into their hyperedges ``[E, F]``."""
    return _reduce(msg, hg, edge_layout(hg), aggr, weight)


def reduce_to_nodes(
    msg: torch.Tensor, hg: Hypergraph, aggr: str = "sum", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Reduce per-incidence messages ``[nnz, F]`` (CSR order) into their nodes ``[V, F]``."""
    return _reduce(msg, hg, node_layout(hg), aggr, weight)


def _softmax(score: torch.Tensor, hg: Hypergraph, layout: Layout) -> torch.Tensor:
    _check_hg(hg)
    flat, rest = _flat(score, hg.nnz, "score", hg)
    return _unflat(_kernels(flat).segment_softmax(flat, layout), rest)


def softmax_over_edges(score: torch.Tensor, hg: Hypergraph) -> torch.Tensor:
    """Softmax of per-incidence scores ``[nnz]``/``[nnz, H]`` over the members of each hyperedge."""
    return _softmax(score, hg, edge_layout(hg))


def softmax_over_nodes(score: torch.Tensor, hg: Hypergraph) -> torch.Tensor:
    """Softmax of per-incidence scores over the hyperedges of each node."""
    return _softmax(score, hg, node_layout(hg))


def hgnn_propagate(x: torch.Tensor, hg: Hypergraph, deterministic: bool = False) -> torch.Tensor:
    r"""HGNN smoothing :math:`D_v^{-1/2} H W D_e^{-1} H^\top D_v^{-1/2} x`.

    ``D_v`` is the weighted node degree (``hg.weighted_node_degree``), ``D_e`` the hyperedge size, ``W`` the
    hyperedge weights; isolated nodes and empty hyperedges contribute 0. Symmetric, so forward and backward are
    the same operator. CPU: two cached CSR products; CUDA: one fused Triton kernel. The fused kernel scatters with
    atomic adds, so the last bits can differ between runs; ``deterministic=True`` uses two segment-sum kernels
    instead (no atomics, bitwise reproducible).
    """
    _check_hg(hg)
    src, rest = _flat(x, hg.num_nodes, "x", hg)
    return _unflat(_kernels(src).hgnn_propagate(src, hg, deterministic), rest)


__all__ = [
    "v2e",
    "e2v",
    "v2v",
    "gather_nodes",
    "gather_edges",
    "reduce_to_edges",
    "reduce_to_nodes",
    "softmax_over_edges",
    "softmax_over_nodes",
    "hgnn_propagate",
    "use_backend",
    "set_backend",
    "get_backend",
    "set_input_checks",
    "trusted_inputs",
    "inputs_trusted",
    "AGGRS",
    "BACKENDS",
]


def hypergcn_pairs(
    hg: Hypergraph, first: torch.Tensor, second: torch.Tensor, use_mediator: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The node pairs of HyperGCN's graph, from two anchor incidences per hyperedge.

    ``first, second [E]`` are incidence positions (into ``hg``'s CSR order) of the anchors :math:`i_e, j_e` of
    each hyperedge; hyperedges with :math:`|e| < 2` are skipped (their entries are ignored). Every kept hyperedge
    gives the pair :math:`(i_e, j_e)`; with ``use_mediator`` every other node :math:`u \in e` also gives
    :math:`(i_e, u)` and :math:`(j_e, u)`, all of weight :math:`w_e / (2|e| - 3)`; without, the single pair has
    weight :math:`w_e / |e|`. Returns ``(src [P], dst [P], weight [P] float64)``: the anchor pairs first, then
    the :math:`i_e` and the :math:`j_e` mediator pairs in incidence order.
    """
    node, inc_e, size = hg.inc_node, hg.inc_edge, hg.edge_degree
    ok = size >= 2
    i_pos, j_pos = first[ok].long(), second[ok].long()
    w_e, s = hg.hyperedge_weight[ok].double(), size[ok].double()
    src, dst = [node[i_pos]], [node[j_pos]]
    weight = [w_e / (2 * s - 3) if use_mediator else w_e / s]
    if use_mediator:
        pos = torch.arange(hg.nnz, device=node.device)
        # per-edge lookup of the chosen positions (-1 for edges with fewer than 2 nodes)
        full_i = torch.full((hg.num_edges,), -1, dtype=torch.long, device=node.device)
        full_j = full_i.clone()
        full_i[ok], full_j[ok] = i_pos, j_pos
        med = ok[inc_e] & (pos != full_i[inc_e]) & (pos != full_j[inc_e])
        med_e, med_v = inc_e[med], node[med]
        med_w = (hg.hyperedge_weight.double() / (2 * size.double() - 3))[med_e]
        for anchor in (full_i, full_j):
            src.append(node[anchor[med_e]])
            dst.append(med_v)
            weight.append(med_w)
    return torch.cat(src), torch.cat(dst), torch.cat(weight)


__all__.append("hypergcn_pairs")


def input_checks() -> bool:
    """Whether the ops check their inputs for non-finite values (see :func:`set_input_checks`)."""
    return bool(_default["check_finite"])


__all__.append("input_checks")
