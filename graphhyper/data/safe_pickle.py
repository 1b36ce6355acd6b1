"""An allow-list unpickler for the upstream dataset pickles (HyperGCN and friends).

``pickle.load`` executes whatever callable a pickle names, so a downloaded pickle is as
dangerous as a downloaded script.  :func:`safe_load` only resolves the globals on a short
allow-list (numpy arrays / dtypes / scalars, scipy CSR matrices and plain builtin containers)
and raises :class:`~graphhyper.errors.UnsafePickleError` *before* anything else is resolved,
so no code named by the pickle ever runs.

Before anything runs, :func:`graphhyper._pickle_scan.scan` walks the opcodes and refuses
lengths, memo indices, object counts and hashing work out of proportion to the pickle's size.
Naming an allowed class is not enough to be safe: the pickle also chooses the arguments and the
state the object is built from. So every allowed name resolves to a stand-in from
:mod:`graphhyper.data._pickle_objects` that admits only states it can check (plain numeric dtypes,
arrays whose bytes match their shape, CSR matrices whose indices are in range) and builds the real
object itself, and everything those stand-ins allocate is bounded by the size of the pickle.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from graphhyper._pickle_scan import FACTOR as SCAN_FACTOR
from graphhyper._pickle_scan import scan
from graphhyper.data import _pickle_objects as P
from graphhyper.errors import DatasetError, UnsafePickleError


# (module, name) pairs exactly as they may appear in a pickle -> what the pickle gets for them. Functions are
# wrapped in P.StandIn and classes are P.Sealed, so BUILD cannot set attributes on what the pickle is handed.
def _wrap(fn: Any, name: str) -> Any:
    return fn if isinstance(fn, type) else P.StandIn(fn, name)


_NUMPY: dict[str, Any] = {
    "_reconstruct": _wrap(P.reconstruct, "numpy._reconstruct"),
    "scalar": _wrap(P.scalar, "numpy scalar"),
    "_frombuffer": _wrap(P.frombuffer, "numpy._frombuffer"),
    "ndarray": P.NdarrayMarker,
    "dtype": P.DtypeProxy,
}
_RECONSTRUCTOR = _wrap(P.reconstructor, "copyreg._reconstructor")
_ALLOWED: dict[tuple[str, str], Any] = {}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    for _name in ("_reconstruct", "scalar"):
        _ALLOWED[(_mod, _name)] = _NUMPY[_name]
for _mod in ("numpy", "numpy.core.numeric", "numpy._core.numeric"):
    for _name in ("ndarray", "dtype"):
        _ALLOWED[(_mod, _name)] = _NUMPY[_name]
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _NUMPY["_frombuffer"]
for _mod in ("scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse"):
    _ALLOWED[(_mod, "csr_matrix")] = P.CsrProxy
_BUILTINS = {name: _wrap(fn, f"builtins.{name}") if name != "object" else fn for name, fn in P.BUILTINS.items()}
for _mod in ("builtins", "__builtin__"):
    _ALLOWED.update({(_mod, _name): _stand_in for _name, _stand_in in _BUILTINS.items()})
# protocol 0/1 pickles of CSR matrices go through copyreg; protocol 2 stores bytes as _codecs.encode(text, "latin1").
for _mod in ("copyreg", "copy_reg"):
    _ALLOWED[(_mod, "_reconstructor")] = _RECONSTRUCTOR
_ALLOWED[("_codecs", "encode")] = _wrap(P.latin1_encode, "_codecs.encode")
_NEEDS_RESOLVING = frozenset({*_NUMPY.values(), P.CsrProxy, _RECONSTRUCTOR})

ALLOWED_GLOBALS = frozenset(_ALLOWED)
#: bytes the stand-ins may allocate: this many times the pickle's size, plus BUDGET_BASE.
BUDGET_FACTOR = 8
BUDGET_BASE = 1 << 20
MAX_DEPTH = 100


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` accepts only :data:`ALLOWED_GLOBALS`, as checked stand-ins.

    ``load()`` reads the rest of the file and goes through :func:`safe_loads` (opcode scan, budgets, stand-ins
    swapped for the numpy / scipy objects they built).
    """

    def __init__(self, file: io.BufferedIOBase, source: str = "<bytes>") -> None:
        super().__init__(file, encoding="latin1")
        self._file = file
        self._source = source

    def load(self) -> Any:
        return safe_loads(self._file.read(), self._source)

    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED.get((module, name))
        if target is None:
            raise UnsafePickleError(
                f"{self._source}: the pickle references '{module}.{name}', which is not on graphhyper's allow-list "
                "(numpy arrays, scipy CSR matrices, builtin containers). Nothing from it was executed. "
                "If the file should be a dataset, delete it and download it again from the source in its card."
            )
        if target in _NEEDS_RESOLVING:
            P.context().proxies = True
        return target

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._source}: persistent ids are not allowed in dataset pickles.")


def _resolve(obj: Any, memo: dict[int, Any], depth: int) -> Any:
    """``obj`` with every stand-in replaced by the object it built (lists and dicts are updated in place)."""
    kind = type(obj)
    if kind in _ATOMS or isinstance(obj, (np.generic, np.ndarray)):
        return obj
    key = id(obj)
    if key in memo:
        return memo[key]
    if depth > MAX_DEPTH:
        raise P.corrupt(f"the pickle nests containers deeper than {MAX_DEPTH} levels")
    memo[key] = obj

    def sub(value: Any) -> Any:
        return _resolve(value, memo, depth + 1)

    if kind is list:
        obj[:] = [sub(v) for v in obj]
        return obj
    if kind is dict:
        items = [(sub(k), sub(v)) for k, v in obj.items()]
        obj.clear()
        obj.update(items)
        return obj
    if kind is P.DtypeProxy:
        out: Any = P._dtype_of(obj, "the pickle")
    elif kind is P.ArrayProxy:
        out = obj.resolve()
    elif kind is P.CsrProxy:
        out = obj.resolve(sub)
    elif kind in (tuple, set, frozenset):
        out = kind(sub(v) for v in obj)
    else:
        out = obj
    memo[key] = out
    return out


_ATOMS = frozenset({int, float, complex, bool, str, bytes, bytearray, type(None)})


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list; raise :class:`UnsafePickleError` on any other global or state.

    Raises :class:`~graphhyper.errors.DatasetError` when the pickle is truncated, corrupt, or asks for more
    memory than :data:`BUDGET_FACTOR` times its size plus :data:`BUDGET_BASE`.
    """
    scan(data, source)
    token = P.enter(
        P.LoadContext(
            source, BUDGET_FACTOR * len(data) + BUDGET_BASE, hash_budget=SCAN_FACTOR * len(data) + BUDGET_BASE
        )
    )
    try:
        result = pickle.Unpickler.load(SafeUnpickler(io.BytesIO(data), source))
        return _resolve(result, {}, 0) if P.context().proxies else result
    except (UnsafePickleError, DatasetError):
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,
        RecursionError,
        UnicodeError,
        SystemError,
    ) as exc:
        raise DatasetError(
            f"{source}: not a readable pickle ({type(exc).__name__}: {str(exc)[:200]}); the file is truncated or "
            "corrupt. Delete it and load the dataset again to re-download it."
        ) from exc
    finally:
        P.leave(token)


def safe_load(path: str | Path) -> Any:
    """Read and unpickle the file at ``path`` with :class:`SafeUnpickler`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc}); check the path or load the dataset again.") from exc
    return safe_loads(data, source=str(path))


__all__ = ["ALLOWED_GLOBALS", "SafeUnpickler", "safe_load", "safe_loads"]
