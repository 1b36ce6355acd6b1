"""What the allow-list unpickler hands a pickle in place of numpy, scipy and builtin callables.

A pickle names a callable, calls it with arguments it chose (``REDUCE``) and then passes it a state
(``BUILD``), which calls the object's ``__setstate__``. Handing the pickle the real ``numpy.dtype`` or
``scipy.sparse.csr_matrix`` lets it pass any state to their ``__setstate__``: dtypes with fields past their
item size, object fields, CSR matrices carrying their own ``check_format``. So the pickle never sees a real
numpy or scipy class. It gets the stand-ins below, which accept only what they can check (plain numeric
dtypes, arrays whose bytes match their shape, CSR parts that form a valid matrix) and build the real object
themselves. :func:`graphhyper.data.safe_pickle.safe_loads` swaps the stand-ins for what they built.

Every allocation is charged to a budget proportional to the pickle's size (:class:`LoadContext`), so a
few bytes of pickle cannot ask for gigabytes.
"""

from __future__ import annotations

import contextvars
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphhyper.errors import DatasetError, UnsafePickleError

_FIX = "Delete the file and load the dataset again to re-download it from the source in its card."
_PLAIN_DESCR = re.compile(r"[<>|=]?(b1|\?|[iu][1248]|f[248]|c(8|16))")
_CSR_KEYS = frozenset(
    {"_shape", "maxprint", "data", "indices", "indptr", "format", "_has_sorted_indices", "_has_canonical_format"}
)
MAX_NDIM = 32
MAX_STR = 4300  # Python's own limit for int <-> str conversion


@dataclass
class LoadContext:
    """One ``safe_loads`` call: the file name for messages and the bytes its callables may still allocate."""

    source: str
    budget: int
    hash_budget: int = 1 << 20  # tuple nodes that set / frozenset / dict may still hash
    proxies: bool = False  # a numpy or scipy stand-in was handed out: the result needs resolving

    def charge(self, nbytes: int, what: str) -> None:
        if nbytes > self.budget:
            raise DatasetError(
                f"{self.source}: the pickle asks for {nbytes} bytes for {what}, more than a pickle of its size can "
                f"hold (budget left: {self.budget} bytes); the file is corrupt or crafted. {_FIX}"
            )
        self.budget -= nbytes


_CONTEXT: contextvars.ContextVar[LoadContext] = contextvars.ContextVar("graphhyper_safe_pickle")


def context() -> LoadContext:
    return _CONTEXT.get()


def enter(ctx: LoadContext) -> contextvars.Token:
    return _CONTEXT.set(ctx)


def leave(token: contextvars.Token) -> None:
    _CONTEXT.reset(token)


def unsafe(what: str) -> UnsafePickleError:
    return UnsafePickleError(
        f"{context().source}: {what}, which graphhyper's unpickler does not accept (it admits plain numeric arrays, "
        f"scipy CSR matrices and builtin containers). Nothing from it was executed. {_FIX}"
    )


def corrupt(what: str) -> DatasetError:
    return DatasetError(f"{context().source}: {what}; the file is truncated, corrupt or crafted. {_FIX}")


def _is_int(value: Any) -> bool:
    return type(value) is int


# ---------------------------------------------------------------- what BUILD cannot change
class Sealed(type):
    """Metaclass of every class handed to a pickle: ``BUILD`` cannot set or replace its attributes."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise unsafe(f"the pickle sets attribute {name!r:.40} of {cls.__name__}")

    def __delattr__(cls, name: str) -> None:
        raise unsafe(f"the pickle deletes attribute {name!r:.40} of {cls.__name__}")


class StandIn(metaclass=Sealed):
    """A callable handed to a pickle in place of a function; ``BUILD`` on it is refused (no attribute to set)."""

    __slots__ = ("_fn", "_name")
    _fn: Any
    _name: str

    def __init__(self, fn: Any, name: str) -> None:
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_name", name)

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise unsafe(f"the pickle sets attribute {name!r:.40} of {self._name}")

    def __setstate__(self, state: Any) -> None:
        raise unsafe(f"the pickle gives {self._name} a state")

    def __repr__(self) -> str:
        return f"<graphhyper stand-in for {self._name}>"


# ---------------------------------------------------------------- numpy dtypes
class DtypeProxy(metaclass=Sealed):
    """Stand-in for ``numpy.dtype(descr, align, copy)``: a plain numeric or bool dtype, nothing else."""

    dtype: np.dtype | None = None
    _built = False

    def __init__(self, descr: Any = None, align: Any = False, copy: Any = False) -> None:
        if not isinstance(descr, str) or not _PLAIN_DESCR.fullmatch(descr):
            raise unsafe(f"the pickle asks for numpy dtype {descr!r:.60}")
        self.dtype = np.dtype(descr)

    def __setstate__(self, state: Any) -> None:
        """Accept numpy's state of a plain dtype only: ``(3|4, byteorder, None, None, None, -1|size, -1|align, 0)``."""
        if self._built or self.dtype is None:
            raise corrupt("a numpy dtype is given a state twice, or before its type")
        self._built = True
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise unsafe(f"a numpy dtype has the state {state!r:.100}")
        _, order, subarray, names, fields, elsize, alignment, flags, *meta = state
        dt = self.dtype
        if subarray is not None or names is not None or fields is not None or any(m is not None for m in meta):
            raise unsafe("a numpy dtype has fields, a sub-array or metadata")
        if flags != 0 or elsize not in (-1, dt.itemsize) or alignment not in (-1, dt.alignment):
            raise unsafe(
                f"a numpy dtype {dt} has item size {elsize!r:.20}, alignment {alignment!r:.20} and flags {flags!r:.20}"
            )
        if order not in ("<", ">", "|", "="):
            raise unsafe(f"a numpy dtype has byte order {order!r:.20}")
        if order in "<>" and dt.itemsize > 1:
            self.dtype = dt.newbyteorder(order)


def _dtype_of(value: Any, what: str) -> np.dtype:
    if not isinstance(value, DtypeProxy) or value.dtype is None:
        raise unsafe(f"{what} is given {type(value).__name__} instead of a numpy dtype")
    return value.dtype


def scalar(dtype: Any = None, raw: Any = None) -> np.generic:
    """Stand-in for ``numpy.core.multiarray.scalar``: one plain number from exactly ``itemsize`` bytes."""
    dt = _dtype_of(dtype, "numpy scalar")
    if not isinstance(raw, bytes) or len(raw) != dt.itemsize:
        raise corrupt(f"a numpy {dt} scalar has {type(raw).__name__} data of the wrong size")
    if dt.kind == "b" and raw not in (b"\x00", b"\x01"):
        raise corrupt("a numpy bool scalar holds a byte other than 0 and 1")
    context().charge(32, "a numpy scalar")
    return np.frombuffer(raw, dtype=dt)[0]


# ---------------------------------------------------------------- numpy arrays
class NdarrayMarker(metaclass=Sealed):
    """What the pickle gets for ``numpy.ndarray``: a name to pass to ``_reconstruct``, never callable."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise unsafe("the pickle calls numpy.ndarray directly")


class ArrayProxy(metaclass=Sealed):
    """An array announced by ``_reconstruct``; ``__setstate__`` checks the state and builds the real array."""

    array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if self.array is not None:
            raise corrupt("a numpy array is given a state twice")
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise unsafe(f"a numpy array has the state {type(state).__name__} {state!r:.80}")
        shape, dtype, fortran, raw = state[-4:]
        if type(fortran) is not bool:
            raise unsafe(f"a numpy array has the order flag {fortran!r:.20}")
        self.array = build_array(raw, dtype, shape, "F" if fortran else "C")

    def resolve(self) -> np.ndarray:
        if self.array is None:
            raise corrupt("a numpy array is announced but never given its data")
        return self.array


def build_array(raw: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """A fresh array from exactly ``prod(shape) * itemsize`` bytes of a plain numeric dtype."""
    dt = _dtype_of(dtype, "numpy array")
    if not isinstance(shape, tuple) or len(shape) > MAX_NDIM or not all(_is_int(n) and n >= 0 for n in shape):
        raise corrupt(f"a numpy array has the shape {shape!r:.80}")
    if type(raw) not in (bytes, bytearray) or order not in ("C", "F"):
        raise unsafe("a numpy array's data is not a byte string (object arrays are not accepted)")
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise corrupt(f"a numpy array of shape {shape} and dtype {dt} comes with {len(raw)} bytes of data")
    if dt.kind == "b" and bytes(raw).translate(None, b"\x00\x01"):
        raise corrupt("a numpy bool array holds bytes other than 0 and 1")
    context().charge(len(raw) + 128, "a numpy array")
    return np.frombuffer(raw, dtype=dt).reshape(shape, order=order).copy(order="K")


def frombuffer(raw: Any = None, dtype: Any = None, shape: Any = None, order: Any = "C") -> ArrayProxy:
    """Stand-in for ``numpy.core.numeric._frombuffer``, which protocol 5 pickles use for arrays.

    It returns a filled :class:`ArrayProxy`, not the array: a ``BUILD`` after it reaches our ``__setstate__``
    (and is refused), never ``ndarray.__setstate__``.
    """
    proxy = ArrayProxy()
    proxy.array = build_array(raw, dtype, shape, order)
    return proxy


def reconstruct(subtype: Any = None, shape: Any = None, typecode: Any = None) -> ArrayProxy:
    """Stand-in for ``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')``."""
    if subtype is not NdarrayMarker:
        raise unsafe(f"numpy _reconstruct is asked for {subtype!r:.60} instead of numpy.ndarray")
    return ArrayProxy()


# ---------------------------------------------------------------- scipy CSR matrices
class CsrProxy(metaclass=Sealed):
    """Stand-in for ``scipy.sparse.csr_matrix``; its state's arrays are checked and assembled by :meth:`resolve`."""

    state: dict[str, Any] | None = None  # the pickle creates it through NEWOBJ or copyreg, then BUILDs it

    def __new__(cls, *args: Any, **kwargs: Any) -> CsrProxy:
        if args or kwargs:
            raise unsafe("the pickle calls scipy.sparse.csr_matrix with arguments")
        return super().__new__(cls)

    def __setstate__(self, state: Any) -> None:
        if self.state is not None:
            raise corrupt("a CSR matrix is given a state twice")
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise unsafe(f"a scipy CSR matrix has the state {type(state).__name__}")
        extra = sorted(set(state) - _CSR_KEYS)
        if extra:
            raise unsafe(f"a scipy CSR matrix carries the attributes {extra[:5]}")
        self.state = dict(state)

    def resolve(self, resolve_item) -> Any:
        if self.state is None:
            raise corrupt("a CSR matrix is announced but never given its data")
        parts = {k: resolve_item(self.state.get(k)) for k in ("data", "indices", "indptr")}
        return build_csr(
            parts["data"], parts["indices"], parts["indptr"], self.state.get("_shape"), self.state.get("format", "csr")
        )


def build_csr(data: Any, indices: Any, indptr: Any, shape: Any, fmt: Any) -> Any:
    """A ``csr_matrix`` from checked parts: every index in range, ``indptr`` monotone, lengths consistent."""
    import scipy.sparse as sp

    if fmt != "csr":
        raise unsafe(f"a CSR matrix has format {fmt!r:.20}")
    if not (isinstance(shape, tuple) and len(shape) == 2 and all(_is_int(n) and 0 <= n < 2**62 for n in shape)):
        raise corrupt(f"a CSR matrix has the shape {shape!r:.60}")
    rows, cols = shape
    for name, arr in (("data", data), ("indices", indices), ("indptr", indptr)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 1:
            raise corrupt(f"a CSR matrix's {name} is not a 1-D numpy array")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise corrupt("a CSR matrix's indices or indptr are not integers")
    if indptr.size != rows + 1 or indices.size != data.size:
        raise corrupt(
            f"a CSR matrix of shape {shape} has {indptr.size} row pointers, {indices.size} indices and "
            f"{data.size} values"
        )
    ptr = indptr.astype(np.int64)
    if ptr[0] != 0 or ptr[-1] != data.size or np.any(np.diff(ptr) < 0):
        raise corrupt("a CSR matrix's indptr does not rise from 0 to the number of values")
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= cols):
        raise corrupt(f"a CSR matrix has column indices outside [0, {cols})")
    matrix = sp.csr_matrix((data, indices, indptr), shape=(rows, cols))
    matrix.check_format(full_check=True)
    return matrix


def reconstructor(cls: Any = None, base: Any = None, state: Any = None) -> CsrProxy:
    """Stand-in for ``copyreg._reconstructor``, which protocol 0/1 pickles use for CSR matrices only."""
    if cls is not CsrProxy or base is not object or state is not None:
        raise unsafe(f"copyreg reconstruction of {getattr(cls, '__name__', cls)!r:.60} is asked for")
    return CsrProxy.__new__(CsrProxy)


# ---------------------------------------------------------------- builtins, with arguments that cannot blow up
_CONTAINERS = (list, tuple, set, frozenset, dict)
_NUMBERS = (int, float, bool, complex)


def _refuse_call(name: str, args: tuple) -> UnsafePickleError:
    kinds = ", ".join(type(a).__name__ for a in args)
    return unsafe(f"the pickle calls builtins.{name}({kinds})")


def _short_text(value: Any) -> bool:
    return isinstance(value, (str, bytes)) and len(value) <= MAX_STR


def _charge_hashing(items: Any, what: str) -> None:
    """Count the tuple nodes ``hash()`` visits for ``items`` (shared sub-tuples count each time) against a budget."""
    ctx = context()
    pending, left = list(items), ctx.hash_budget
    while pending:
        item = pending.pop()
        left -= 1
        if left < 0:
            raise corrupt(f"hashing the elements of {what} takes more steps than a pickle of its size can ask for")
        if type(item) is tuple:
            pending.extend(item)
    ctx.hash_budget = left


def _container(kind: type):
    def call(*args: Any) -> Any:
        if len(args) > 1 or (args and type(args[0]) not in _CONTAINERS):
            raise _refuse_call(kind.__name__, args)
        context().charge(64 + 48 * (len(args[0]) if args else 0), f"a {kind.__name__}")
        if args and kind is not list:
            _charge_hashing(args[0], f"a {kind.__name__}")
        return kind(*args)

    return call


def _number(kind: type):
    def call(*args: Any) -> Any:
        if len(args) > 2 or not all(type(a) in _NUMBERS or _short_text(a) for a in args):
            raise _refuse_call(kind.__name__, args)
        return kind(*args)

    return call


def _text(kind: type, other: type):
    """``kind()``, ``kind(value of kind)`` or ``kind(value of other, encoding[, errors])``; never ``bytes(n)``."""

    def call(*args: Any) -> Any:
        first = type(args[0]) if args else kind
        codec_ok = len(args) in (2, 3) and all(isinstance(a, str) and _norm_codec(a) in _CODECS for a in args[1:])
        if len(args) > 3 or not ((len(args) <= 1 and first is kind) or (first is other and codec_ok)):
            raise _refuse_call(kind.__name__, args)
        context().charge(64 + 4 * (len(args[0]) if args else 0), f"a {kind.__name__}")
        return kind(*args)

    return call


_CODECS = frozenset({"latin1", "latin-1", "iso-8859-1", "utf-8", "utf8", "ascii", "strict"})


def _norm_codec(name: str) -> str:
    return name.lower().replace("_", "-")


def latin1_encode(text: Any = None, encoding: Any = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol 2 pickles use for bytes: latin-1 text only."""
    if not isinstance(text, str) or not isinstance(encoding, str):
        raise unsafe("_codecs.encode is called with something other than text")
    if _norm_codec(encoding) not in ("latin1", "latin-1", "iso-8859-1"):
        raise unsafe(f"_codecs.encode is called with codec {encoding!r:.30}")
    context().charge(64 + len(text), "a byte string")
    return text.encode("latin1")


BUILTINS: dict[str, Any] = {
    **{kind.__name__: _container(kind) for kind in (list, set, frozenset, dict)},  # no tuple: opcodes build those
    **{kind.__name__: _number(kind) for kind in _NUMBERS},
    "str": _text(str, bytes),
    "bytes": _text(bytes, str),
    "object": object,  # only ever the base class named by copyreg._reconstructor
}
