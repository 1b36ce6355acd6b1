"""An allow-list unpickler for the upstream dataset pickles (HyperGCN and friends).

``pickle.load`` executes whatever callable a pickle names, so a downloaded pickle is as
dangerous as a downloaded script.  :func:`safe_load` only resolves the globals on a short
allow-list (numpy arrays / dtypes / scalars, scipy CSR matrices and plain builtin containers)
and raises :class:`~graphhyper.errors.UnsafePickleError` *before* anything else is resolved,
so no code named by the pickle ever runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from graphhyper.errors import DatasetError, UnsafePickleError

# (module, name) pairs exactly as they may appear in a pickle -> (module, name) to import.
_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED: dict[tuple[str, str], tuple[str, str]] = {}
for _mod in _NUMPY_CORE:
    for _name in ("_reconstruct", "scalar"):
        _ALLOWED[(_mod, _name)] = ("numpy._core.multiarray", _name)
for _mod in ("numpy", "numpy.core.numeric", "numpy._core.numeric"):
    for _name in ("ndarray", "dtype"):
        _ALLOWED[(_mod, _name)] = ("numpy", _name)
for _mod in ("scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse"):
    _ALLOWED[(_mod, "csr_matrix")] = ("scipy.sparse", "csr_matrix")
_BUILTIN_TYPES = ("list", "dict", "set", "frozenset", "tuple", "int", "float", "complex", "str", "bytes", "bool")
for _mod in ("builtins", "__builtin__"):
    for _name in _BUILTIN_TYPES:
        _ALLOWED[(_mod, _name)] = ("builtins", _name)
# copyreg helpers used by protocol 0/1 pickles of new-style objects; they only call cls.__new__.
for _mod in ("copyreg", "copy_reg"):
    _ALLOWED[(_mod, "_reconstructor")] = ("copyreg", "_reconstructor")

# protocol-2 pickles store bytes as _codecs.encode(text, "latin1"); only that codec is accepted.
_ALLOWED[("_codecs", "encode")] = ("_codecs", "encode")

ALLOWED_GLOBALS = frozenset(_ALLOWED)


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` accepts only :data:`ALLOWED_GLOBALS`."""

    def __init__(self, file: io.BufferedIOBase, source: str = "<bytes>") -> None:
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED.get((module, name))
        if target is None:
            raise UnsafePickleError(
                f"{self._source}: the pickle references '{module}.{name}', which is not on graphhyper's allow-list "
                "(numpy arrays, scipy CSR matrices, builtin containers). Nothing from it was executed. "
                "If the file should be a dataset, delete it and download it again from the source in its card."
            )
        if target == ("copyreg", "_reconstructor"):
            return _checked_reconstructor
        if target == ("_codecs", "encode"):
            return _latin1_encode
        return super().find_class(*target)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._source}: persistent ids are not allowed in dataset pickles.")


def _checked_reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to allow-listed classes (no ``__init__`` side effects)."""
    import copyreg

    allowed = {("builtins", n) for n in _BUILTIN_TYPES} | {("numpy", "ndarray"), ("scipy.sparse", "csr_matrix")}
    for klass in (cls, base):
        key = (getattr(klass, "__module__", "").split("._")[0], getattr(klass, "__name__", ""))
        if klass is not object and key not in allowed and (klass.__module__, klass.__name__) not in allowed:
            raise UnsafePickleError(f"copyreg reconstruction of {klass!r} is not allowed in dataset pickles.")
    return copyreg._reconstructor(cls, base, state)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(f"_codecs.encode with codec {encoding!r} is not allowed in dataset pickles.")
    return text.encode("latin1")


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list; raise :class:`UnsafePickleError` on any other global."""
    try:
        return SafeUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, MemoryError, RecursionError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{source}: not a readable pickle ({type(exc).__name__}: {exc}); the file is truncated or corrupt. "
            "Delete it and load the dataset again to re-download it."
        ) from exc


def safe_load(path: str | Path) -> Any:
    """Read and unpickle the file at ``path`` with :class:`SafeUnpickler`."""
    path = Path(path)
    return safe_loads(path.read_bytes(), source=str(path))


__all__ = ["ALLOWED_GLOBALS", "SafeUnpickler", "safe_load", "safe_loads"]
