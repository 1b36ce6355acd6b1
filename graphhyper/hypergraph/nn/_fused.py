r"""The CPU fast path of the HGNN / HGNN+ layers: one autograd node per layer and cached propagation operators.

Both layers compute :math:`\mathbf{X}' = \mathbf{P} \mathbf{X} \mathbf{\Theta} + \mathbf{b}` with a fixed
node-by-node operator :math:`\mathbf{P}` (HGNN: :math:`D_v^{-1/2} H W D_e^{-1} H^\top D_v^{-1/2}`, symmetric;
HGNN+: :math:`D_v^{-1} H W D_e^{-1} H^\top`). Per training step the generic path builds an autograd graph of
several nodes (propagation, linear map, bias) and, through :mod:`graphhyper.hypergraph.ops`, a hyperedge-sized
``[E, F]`` intermediate; here the layer is one :class:`torch.autograd.Function` with a hand-written backward

.. math::
    \partial \Theta = (\mathbf{P} \mathbf{X})^\top \mathbf{G} = \mathbf{X}^\top (\mathbf{P}^\top \mathbf{G}),
    \qquad \partial \mathbf{b} = \textstyle\sum_v \mathbf{G}_v, \qquad
    \partial \mathbf{X} = \mathbf{P}^\top \mathbf{G} \mathbf{\Theta}^\top

and :math:`\mathbf{P}` is applied as one cached CSR product with the node-by-node matrix (the clique expansion
with the degree scalings folded in) when that matrix has at most :data:`DIRECT_MAX_RATIO` times the incidences of
``H`` (then it is no more work than the two incidence products and needs no ``[E, F]`` intermediate), else as
the two cached incidence products. For a first layer whose input needs no gradient (the user's features),
:math:`\mathbf{P} \mathbf{X}` is computed once per feature tensor and hypergraph (remembered on the tensor, see
:func:`graphhyper.hypergraph.features.remember`) when the layer multiplies in that order (fewer input than
output channels, or fewer than twice as many).

The results equal the generic path up to float rounding (the operator's entries are computed in float64). Used
for CPU float32/float64 inputs with the torch backend in force; everything else (CUDA and the Triton kernels,
half precision, per-layer trims of a sample) takes the generic path.
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

import torch
from torch import Tensor

from graphhyper.hypergraph import features, ops
from graphhyper.hypergraph.kernels import edge_layout, node_layout
from graphhyper.hypergraph.kernels import torch_ref as _ref
from graphhyper.hypergraph.structure import Hypergraph

#: the node-by-node operator is used when its stored entries are at most this many times ``nnz(H)``
DIRECT_MAX_RATIO = 2.0
#: a dense ``[V, V]`` operator is used when ``V**2`` is at most this many times ``nnz(H)`` (tiny hypergraphs, where
#: the cost of a product is the call, not the arithmetic: Zoo's 101 nodes)
DENSE_MAX_RATIO = 8.0
_DTYPES = (torch.float32, torch.float64)


class Operator(NamedTuple):
    """``P`` and ``P^T`` as CSR products: ``direct`` ``[V, V]`` matrices, or ``(left [V, E], right [E, V])``
    factors with ``P = left @ right``."""

    forward: tuple[Tensor, ...]
    backward: tuple[Tensor, ...]

    def apply(self, x: Tensor) -> Tensor:
        return _chain(self.forward, x)

    def apply_t(self, g: Tensor) -> Tensor:
        return _chain(self.backward, g)


def _chain(mats: tuple[Tensor, ...], x: Tensor) -> Tensor:
    """``mats[0] @ mats[1] @ ... @ x`` (right to left)."""
    for m in reversed(mats):
        if m.layout == torch.strided:
            x = torch.mm(m, x)
        elif m.values().numel() == 0 or x.shape[1] == 0 or x.shape[0] == 0:  # MKL wants non-empty operands
            x = x.new_zeros(m.shape[0], x.shape[1])
        else:
            x = _ref.spmm(m, x)
    return x


# ---------------------------------------------------------------------------------------------- operators
def _incidence_values(hg: Hypergraph, kind: str) -> tuple[Tensor, Tensor]:
    """Per-incidence (CSR order) float64 values ``(l, r)`` with ``P[u, v] = sum_e l[u, e] r[v, e]``.

    HGNN: ``l = r = q = d_v^{-1/2} (w_e / |e|)^{1/2}``; HGNN+: ``l = w_e / d_v`` (0 where ``d_v = 0``), ``r = 1/|e|``.
    """
    if kind == "hgnn":
        q = _ref.hgnn_factor(hg, torch.float64)
        return q, q
    w = hg.hyperedge_weight.double()[hg.inc_edge]
    dv = torch.zeros(hg.num_nodes, dtype=torch.float64, device=hg.device).index_add_(0, hg.inc_node, w)
    d = dv[hg.inc_node]
    left = torch.where(d != 0, w / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
    right = 1.0 / hg.edge_degree.double().clamp(min=1)[hg.inc_edge]
    return left, right


def _clique_pairs(hg: Hypergraph) -> tuple[Tensor, Tensor]:
    """Incidence pairs ``(i, j)`` (CSR positions) of every ordered pair of members of every hyperedge."""
    size = hg.edge_degree[hg.inc_edge]  # |e| per incidence
    count = int(size.sum())
    i = torch.repeat_interleave(torch.arange(hg.nnz, device=hg.device), size, output_size=count)
    block_start = torch.cumsum(size, 0) - size
    first = hg.edge_ptr[hg.inc_edge]  # position of the hyperedge's first member
    j = (first - block_start)[i] + torch.arange(count, device=hg.device)
    return i, j


def _direct_matrix(hg: Hypergraph, left: Tensor, right: Tensor, dtype: torch.dtype) -> Tensor | None:
    """CSR ``[V, V]`` with ``M[u, v] = sum_{e ∋ u, v} left[u, e] right[v, e]``, or None when it would hold more than
    ``DIRECT_MAX_RATIO * nnz`` entries."""
    pairs = int((hg.edge_degree.double() ** 2).sum())
    budget = DIRECT_MAX_RATIO * hg.nnz
    if hg.nnz == 0 or pairs > 8 * budget:  # the pair list itself would be too large to build cheaply
        return None
    i, j = _clique_pairs(hg)
    v = hg.num_nodes
    key = hg.inc_node[i] * v + hg.inc_node[j]
    unique, inverse = torch.unique(key, sorted=True, return_inverse=True)
    if unique.numel() > budget:
        return None
    values = torch.zeros(unique.numel(), dtype=torch.float64).index_add_(0, inverse, left[i] * right[j])
    rows = torch.div(unique, v, rounding_mode="floor")
    crow = torch.zeros(v + 1, dtype=torch.long)
    torch.cumsum(torch.bincount(rows, minlength=v), 0, out=crow[1:])
    index = torch.int32 if max(unique.numel(), v) < 2**31 - 1 else torch.long
    return features._quiet(
        lambda: torch.sparse_csr_tensor(
            crow.to(index), (unique - rows * v).to(index), values.to(dtype), (v, v), check_invariants=False
        )
    )


def _dense_matrix(hg: Hypergraph, left: Tensor, right: Tensor) -> Tensor:
    """Dense float64 ``[V, V]`` with ``M[u, v] = sum_{e ∋ u, v} left[u, e] right[v, e]``."""
    shape = (hg.num_nodes, hg.num_edges)
    lm = torch.zeros(shape, dtype=torch.float64).index_put_((hg.inc_node, hg.inc_edge), left, accumulate=True)
    rm = torch.zeros(shape, dtype=torch.float64).index_put_((hg.inc_node, hg.inc_edge), right, accumulate=True)
    return lm @ rm.t()


def _factors(hg: Hypergraph, left: Tensor, right: Tensor, dtype: torch.dtype) -> Operator:
    """``P = L R^T`` with ``L [V, E]`` holding ``left`` and ``R^T [E, V]`` holding ``right``; ``P^T = R L^T``."""
    by_edge, by_node = edge_layout(hg), node_layout(hg)
    l_t, r_t = _ref._csr(by_edge, left.to(dtype), hg), _ref._csr(by_edge, right.to(dtype), hg)
    l_n, r_n = _ref._csr(by_node, left.to(dtype), hg), _ref._csr(by_node, right.to(dtype), hg)
    return Operator((l_n, r_t), (r_n, l_t))


def operator(hg: Hypergraph, kind: str, dtype: torch.dtype) -> Operator:
    """The cached propagation operator of ``kind`` (``"hgnn"`` or ``"hgnnp"``) on ``hg`` in ``dtype``."""

    def make() -> Operator:
        left, right = _incidence_values(hg, kind)
        if hg.num_nodes**2 <= DENSE_MAX_RATIO * hg.nnz:  # tiny: one dense product beats two sparse calls
            dense = _dense_matrix(hg, left, right)
            return Operator((dense.to(dtype),), (dense.t().contiguous().to(dtype),))
        direct = _direct_matrix(hg, left, right, dtype)
        if direct is None:
            return _factors(hg, left, right, dtype)
        if kind == "hgnn":  # symmetric
            return Operator((direct,), (direct,))
        transposed = _direct_matrix(hg, right, left, dtype)
        assert transposed is not None  # the same pattern, transposed
        return Operator((direct,), (transposed,))

    op: Operator = hg.cache(f"fused_op_{kind}_{dtype}", make)
    return op


def propagated_input(x: Tensor, hg: Hypergraph, kind: str, op: Operator) -> Tensor:
    """``P x`` for a feature tensor without gradient, computed once per (tensor version, hypergraph, kind): only
    the latest hypergraph is kept per tensor and kind, so the memo holds one ``[V, F]`` copy at most."""
    key = f"propagated_{kind}"
    entry: list[Any] = features.remember(x, key, lambda: [None, None])
    ref, value = entry
    if ref is None or ref() is not hg:
        value = op.apply(x)
        entry[0], entry[1] = weakref.ref(hg), value
    return value


# ---------------------------------------------------------------------------------------------- the layer
class _Layer(torch.autograd.Function):
    """``P x W^T + b`` as one node. ``first``: the product is taken as ``(P x) W^T`` (``px``: ``P x`` when it is
    known already), else as ``P (x W^T)``; ``x`` is dense or CSR (then without gradient)."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, op: Operator, first: bool, px: Tensor | None
    ) -> Tensor:
        if first:
            px = op.apply(x) if px is None else px
            out = torch.addmm(bias, px, weight.t()) if bias is not None else torch.mm(px, weight.t())
            ctx.save_for_backward(px, weight)
        else:
            out = op.apply(features.linear(x, weight) if x.layout != torch.strided else torch.mm(x, weight.t()))
            if bias is not None:
                out.add_(bias)
            ctx.save_for_backward(x, weight)
        ctx.op, ctx.first, ctx.has_bias = op, first, bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        saved, weight = ctx.saved_tensors
        grad = grad.contiguous()
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if ctx.first:  # out = px W^T: dW = g^T px, dx = P^T (g W)
            if need_w:
                grad_w = torch.mm(grad.t(), saved)
            if need_x:
                grad_x = ctx.op.apply_t(torch.mm(grad, weight))
        else:  # out = P (x W^T): t = P^T g, dW = t^T x, dx = t W
            t = ctx.op.apply_t(grad)
            if need_w:
                grad_w = _weight_grad(t, saved)
            if need_x:
                grad_x = torch.mm(t, weight)
        if need_b and ctx.has_bias:
            grad_b = grad.sum(0)
        return grad_x, grad_w, grad_b, None, None, None


def _weight_grad(t: Tensor, x: Tensor) -> Tensor:
    """``t^T x`` for a dense or CSR ``x`` (the latter through ``x``'s remembered transpose)."""
    if x.layout == torch.strided:
        return torch.mm(t.t(), x)
    return features.csr_transpose_product(x, t).t()


def applies(x: Tensor, weight: Tensor, out_rows: int | None) -> bool:
    """Whether the fast path takes this call: CPU float32/float64, the torch backend, no trim."""
    if out_rows is not None or x.device.type != "cpu" or x.dtype not in _DTYPES or weight.dtype != x.dtype:
        return False
    if x.layout == torch.sparse_csr:
        if x.requires_grad or x.dim() != 2:
            return False
    elif x.layout != torch.strided:
        return False
    return ops.get_backend() != "triton"


def layer(x: Tensor, hg: Hypergraph, weight: Tensor, bias: Tensor | None, kind: str) -> Tensor:
    r"""``P x W^T + b`` for ``kind`` ``"hgnn"`` or ``"hgnnp"`` (callers check :func:`applies` first). The order
    rule is the layers' own (:meth:`HGNNConv._project <graphhyper.hypergraph.nn.HGNNConv>`): ``(P x) W^T`` for a
    dense ``x`` with fewer input than output channels, or fewer than twice as many when ``x`` needs no gradient."""
    if not ops.inputs_trusted():
        features.check_finite(x)
    op = operator(hg, kind, x.dtype)
    f_out, f_in = weight.shape
    first = x.layout == torch.strided and (f_in < f_out or (not x.requires_grad and f_in < 2 * f_out))
    if first:
        x = x.contiguous()
    px = propagated_input(x, hg, kind, op) if first and not x.requires_grad else None
    out: Tensor = _Layer.apply(x, weight, bias, op, first, px)
    return out


# ---------------------------------------------------------------------------------------------- relu + dropout
class _ReluDropout(torch.autograd.Function):
    """``relu(x) * mask`` saving only the output: the backward is ``g * scale`` where the output is positive."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, mask: Tensor, scale: float) -> Tensor:
        out = x.clamp_min(0).mul_(mask)
        ctx.save_for_backward(out)
        ctx.scale = scale
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, out, 0).mul_(ctx.scale), None, None


def relu_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``dropout(relu(x), p, training)`` (:func:`graphhyper.hypergraph.nn.dropout`'s mask) as one autograd node
    that keeps only its output for the backward pass (the next layer keeps that tensor anyway)."""
    from graphhyper.hypergraph.nn._utils import dropout, dropout_mask

    if not training or p == 0.0 or p == 1.0 or x.device.type != "cpu" or x.dtype not in _DTYPES:
        return dropout(torch.relu(x), p, training)
    out: Tensor = _ReluDropout.apply(x, dropout_mask(x, p), 1.0 / (1.0 - p))
    return out


__all__ = [
    "DENSE_MAX_RATIO",
    "DIRECT_MAX_RATIO",
    "Operator",
    "applies",
    "layer",
    "operator",
    "propagated_input",
    "relu_dropout",
]
