r"""Node-feature inputs: sparse (CSR) features where they pay, and input checks done once per tensor.

Bag-of-words features (Cora, Citeseer, 20News, ...) are mostly zeros: Cora-CA's ``[2708, 1433]`` matrix is 98.7%
zeros. The models of :mod:`graphhyper.hypergraph.models` multiply them by their first weight matrix once per
step, forward and backward; as a dense matrix that product is most of a training step. With
``feature_layout="auto"`` (the default) a model looks at its input on the first call and, when it is a CPU
float matrix with at most :data:`SPARSE_MAX_DENSITY` non-zeros, runs its first linear map on a CSR copy instead
(:func:`linear`). The same math: only the summation order of the skipped zeros differs (float rounding).

Everything here is remembered per tensor, weakly (the memo dies with the tensor) and keyed by the tensor's
identity and its version counter ``x._version``: a second call on the same, unmodified tensor neither rescans
it (density, NaN/inf check) nor converts it again, and an in-place change (``x.mul_(2)``, ``x[0] = nan``)
bumps the version, so the tensor is checked and converted afresh. Changes made through ``x.data`` bypass the
version counter (PyTorch's rule) and are not seen. Tensors made under ``torch.inference_mode()`` have no version
counter, so nothing is remembered for them: they are checked (and converted) on every call.

>>> x = torch.zeros(4, 100); x[0, 3] = 1.0
>>> sparse_features(x).layout
torch.sparse_csr
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.kernels import torch_ref as _ref

# [2708, 1433] @ [1433, 256] with the weight gradient on the project's CPU (1 and 2 threads): the CSR product is
# 10-11x faster than the dense one at Cora's 1.3% density, 2-2.4x at 10%, even at 20%; 10% keeps a 2x margin.
SPARSE_MAX_DENSITY = 0.1
LAYOUTS = ("auto", "dense", "sparse")

_memo: WeakIdKeyDictionary = WeakIdKeyDictionary()


def remember(x: Tensor, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per (tensor, version): cached weakly on ``x``'s identity (the entry goes with ``x``) and
    recomputed after any in-place change of ``x``. The value must not refer to ``x`` itself, or ``x`` never dies."""
    if x.is_inference():  # no version counter (in-place changes in inference mode go unseen): not remembered
        return compute()
    entry = _memo.get(x)
    version = x._version
    if entry is None or entry[0] != version:
        entry = (version, {})
        _memo[x] = entry
    values: dict[str, Any] = entry[1]
    if key not in values:
        values[key] = compute()
    return values[key]


def check_finite(x: Tensor, what: str = "x") -> None:
    """Raise :class:`InvalidInputError` if ``x`` holds NaN or inf; a tensor that passed is not scanned again until
    it changes in place. Honours :func:`graphhyper.hypergraph.ops.set_input_checks`."""
    from graphhyper.hypergraph import ops

    if not ops.input_checks() or x.numel() == 0:
        return
    if not remember(x, "finite", lambda: bool(torch.isfinite(_stored(x)).all())):
        raise InvalidInputError(
            f"{what} contains NaN or inf; fix the input (or disable this check with ops.set_input_checks(False))."
        )


def _stored(x: Tensor) -> Tensor:
    return x.values() if x.layout in (torch.sparse_csr, torch.sparse_coo) else x


def density(x: Tensor) -> float:
    """Fraction of non-zero entries of ``x`` (stored entries for a sparse tensor), remembered per tensor."""
    if x.numel() == 0:
        return 0.0
    if x.layout != torch.strided:
        return _stored(x).numel() / x.numel()
    return float(remember(x, "density", lambda: int(torch.count_nonzero(x)) / x.numel()))


def _can_be_sparse(x: Tensor) -> bool:
    """A CPU float32/float64 ``[N, F]`` matrix without gradient (PyTorch's CPU CSR product has no half kernels)."""
    return (
        x.layout == torch.strided
        and x.dim() == 2
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and not x.requires_grad
    )


def sparse_features(x: Tensor, max_density: float = SPARSE_MAX_DENSITY) -> Tensor:
    """``x`` as a CSR tensor when it is a CPU float32/float64 ``[N, F]`` matrix with at most ``max_density``
    non-zeros (and needs no gradient), else ``x`` itself. The CSR copy is made once per tensor (see the module docs)."""
    if not _can_be_sparse(x) or density(x) > max_density:
        return x
    return _as_csr(x)


def _as_csr(x: Tensor) -> Tensor:
    csr: Tensor = remember(x, "csr", lambda: _csr32(_quiet(x.to_sparse_csr)))
    return csr


def _csr32(x: Tensor) -> Tensor:
    """``x`` with int32 indices where they fit: the CPU CSR product (MKL) converts int64 indices on every call."""
    if x.values().numel() >= 2**31 or max(x.shape) >= 2**31:
        return x
    return _quiet(
        lambda: torch.sparse_csr_tensor(
            x.crow_indices().int(), x.col_indices().int(), x.values(), x.shape, check_invariants=False
        )
    )


def _quiet(make: Callable[[], Tensor]) -> Tensor:
    """``make()`` without PyTorch's "Sparse CSR tensor support is in beta state" warning (ours is tested)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return make()


def dense_features(x: Tensor) -> Tensor:
    """``x`` as a strided tensor (a sparse one is densified once per tensor)."""
    if x.layout == torch.strided:
        return x
    dense: Tensor = remember(x, "dense", x.to_dense)
    return dense


def model_input(x: Tensor, layout: str, sparse_ok: bool) -> Tensor:
    """What a model's first layer gets for the user's features ``x``: the NaN/inf check (once per tensor), then
    ``x`` in the layout asked for: ``"dense"``, ``"sparse"`` (CSR whatever the density, if the first layer takes
    it) or ``"auto"`` (CSR when sparse enough, see :func:`sparse_features`)."""
    check_layout(layout)
    if not isinstance(x, Tensor):
        return x  # the layers' own checks name the problem
    check_finite(x)
    if layout == "dense":
        return dense_features(x)
    if not sparse_ok:
        return x
    if x.layout == torch.sparse_csr and x.dim() == 2 and x.crow_indices().dtype == torch.int64:
        given: Tensor = remember(x, "csr32", lambda: _csr32(x))  # CSR from the user: int32 indices, once
        return given
    if layout == "sparse":
        return _as_csr(x) if _can_be_sparse(x) else x
    return sparse_features(x)


def check_layout(layout: str) -> str:
    """``layout`` if it is one of :data:`LAYOUTS`, else :class:`InvalidInputError`."""
    if layout not in LAYOUTS:
        raise InvalidInputError(
            f"feature_layout must be one of {LAYOUTS} ('auto': CSR for sparse CPU features), got {layout!r}."
        )
    return layout


def set_feature_layout(model: nn.Module, layout: str) -> nn.Module:
    """Set ``model.feature_layout`` (``"auto"``, ``"dense"`` or ``"sparse"``, see :func:`model_input`) and return
    ``model``; the same as assigning the attribute, for typed code (``nn.Module`` types its attributes as
    tensors and modules)."""
    object.__setattr__(model, "feature_layout", check_layout(layout))
    return model


# ---------------------------------------------------------------------------------------------- CSR products
def _transpose_of(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``x^T``'s CSR structure ``(crow, col, perm)`` with ``x^T.values() == x.values()[perm]``."""

    def make() -> tuple[Tensor, Tensor, Tensor]:
        crow, col = x.crow_indices(), x.col_indices()
        rows = torch.repeat_interleave(torch.arange(x.size(0), device=x.device), (crow[1:] - crow[:-1]).long())
        perm = torch.sort(col, stable=True)[1]  # stable: rows stay sorted within each column
        counts = torch.bincount(col, minlength=x.size(1))
        t_crow = torch.zeros(x.size(1) + 1, dtype=torch.long, device=x.device)
        torch.cumsum(counts, 0, out=t_crow[1:])
        return t_crow.to(col.dtype), rows[perm].to(col.dtype), perm

    structure: tuple[Tensor, Tensor, Tensor] = remember(x, "transpose", make)
    return structure


def with_values(x: Tensor, values: Tensor) -> Tensor:
    """The CSR tensor ``x`` with new ``values`` (same structure, e.g. after dropout on the stored entries); the
    result shares ``x``'s remembered transpose, so :func:`linear` on it costs no new sort."""
    out = _quiet(
        lambda: torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape, check_invariants=False)
    )
    if not out.is_inference():
        _memo[out] = (out._version, {"transpose": _transpose_of(x)})
    return out


class _CSRLinear(torch.autograd.Function):
    """``x @ W^T`` for a CSR ``x [N, F]`` without gradient and a dense ``W [F', F]``; the weight gradient
    ``(x^T g)^T`` is one CSR product with the remembered transpose of ``x`` (PyTorch's own backward transposes
    the CSR matrix on every call)."""

    @staticmethod
    def forward(x: Tensor, weight: Tensor, t_crow: Tensor, t_col: Tensor, perm: Tensor) -> Tensor:
        return _ref.spmm(x, weight.t())

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        ctx.x = inputs[0]

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor | None, None, None, None]:
        if not ctx.needs_input_grad[1]:
            return None, None, None, None, None
        return None, csr_transpose_product(ctx.x, grad).t(), None, None, None


def csr_transpose_product(x: Tensor, dense: Tensor) -> Tensor:
    """``x^T @ dense`` for a CSR ``x [N, F]`` and ``dense [N, K]`` -> ``[F, K]``: one CSR product with ``x``'s
    transpose, whose structure is remembered per tensor (and its values per tensor version)."""
    t_crow, t_col, perm = _transpose_of(x)
    shape = (x.size(1), x.size(0))

    def transposed() -> Tensor:
        values = x.values()[perm]
        return _quiet(lambda: torch.sparse_csr_tensor(t_crow, t_col, values, shape, check_invariants=False))

    x_t: Tensor = remember(x, "transposed", transposed)  # features without dropout: built once
    return _ref.spmm(x_t, dense.contiguous())


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight^T + bias`` (``F.linear``) for dense or sparse CSR ``x [N, F]``; ``weight [F', F]``.

    A CSR ``x`` that needs no gradient goes through a CSR product whose weight gradient reuses ``x``'s transpose
    (computed once per tensor); other sparse inputs go through PyTorch's sparse ``mm``."""
    if x.layout == torch.strided:
        return F.linear(x, weight, bias)
    if x.layout != torch.sparse_csr or x.requires_grad or x.dim() != 2:
        out = torch.sparse.mm(x, weight.t()) if x.layout == torch.sparse_coo else x @ weight.t()
    else:
        out = _CSRLinear.apply(x, weight, *_transpose_of(x))
    return out if bias is None else out + bias


def apply_linear(lin: nn.Module, x: Tensor) -> Tensor:
    """``lin(x)`` for a dense ``x`` (the module call, hooks included); for a sparse one :func:`linear` with the
    ``nn.Linear``'s weight and bias."""
    if x.layout == torch.strided:
        out: Tensor = lin(x)
        return out
    if not isinstance(lin, nn.Linear):
        raise InvalidInputError(f"sparse features need an nn.Linear first layer, got {type(lin).__name__}.")
    return linear(x, lin.weight, lin.bias)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout on dense or CSR features: for CSR only the stored entries are dropped (zeros stay zero, the same
    distribution as dense dropout at the cost of ``nnz`` instead of ``N * F``)."""
    from graphhyper.hypergraph.nn._utils import dropout as dense_dropout

    if x.layout != torch.sparse_csr or not training or p == 0.0:
        return dense_dropout(x, p, training)
    return with_values(x, dense_dropout(x.values(), p, training))


__all__ = [
    "LAYOUTS",
    "SPARSE_MAX_DENSITY",
    "check_finite",
    "csr_transpose_product",
    "dense_features",
    "density",
    "dropout",
    "apply_linear",
    "linear",
    "model_input",
    "remember",
    "set_feature_layout",
    "sparse_features",
    "with_values",
]
