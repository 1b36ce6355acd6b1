"""Reading the files published GHNs come in, without running anything they name.

Two formats exist (see :mod:`graphhyper.ghn.reference.published`):

* **plain pickles of a state dict** (GHN-3 on Hugging Face, written by ``joblib.dump``). Pickling a tensor outside
  ``torch.save`` gives ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
  whose storage is ``torch.storage._load_from_bytes(b)``, ``b`` being a whole (legacy-format) ``torch.save`` of the
  storage; the dict is ``collections.OrderedDict`` with its ``_metadata`` attribute set by ``BUILD``. joblib wraps
  only numpy arrays (``NumpyArrayWrapper``, array bytes written after the pickle); a state dict of tensors holds
  none, so the wrapper is refused like any other global.
  :class:`StateDictUnpickler` admits exactly those four globals, each as a checked stand-in: the nested bytes are
  read by ``torch.load(weights_only=True)``, a tensor must lie inside its storage (torch's own rebuild would
  *grow* the storage, exposing uninitialised memory), and ``BUILD`` can set nothing but the state dict's
  ``_metadata``. Before unpickling, :func:`graphhyper._pickle_scan.scan` walks the opcodes and refuses lengths,
  memo indices and object counts out of proportion to the file's size.
* **torch zip files** (GHN-2 in ppuda, ``torch.save`` of ``{'state_dict', 'config', ...}``): read with
  ``torch.load(weights_only=True, mmap=True)`` (legacy non-zip ``torch.save`` files without ``mmap``).

Every failure is a :class:`~graphhyper.errors.CheckpointError` that names the file (and the refused global).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

from graphhyper._pickle_scan import scan
from graphhyper.errors import CheckpointError, GraphhyperError

#: first bytes of a legacy (pre-zip) ``torch.save`` file: a protocol-2 pickle of torch's LONG1 magic number.
_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x5d\x00\x00": "lzma", b"\x78": "zlib"}
#: dtypes a GHN state dict holds; a storage of any other dtype is refused.
ALLOWED_DTYPES = frozenset(
    {torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.int16}
    | {torch.int8, torch.uint8, torch.bool}
)
MAX_NDIM = 32
_FIX = "Re-download the file from the URL listed in graphhyper.ghn.reference.published.PUBLISHED, or check the path."


def refused(source: str, what: str) -> CheckpointError:
    return CheckpointError(f"{source}: {what}. Nothing from the file was executed. {_FIX}")


def corrupt(source: str, what: str) -> CheckpointError:
    return CheckpointError(f"{source}: {what}; the file is truncated, corrupt or crafted. {_FIX}")


def sniff(path: Path) -> str:
    """``"torch-zip"``, ``"torch-legacy"`` or ``"pickle"`` from the first bytes of ``path``; anything else refused."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror}); check the path and its permissions.") from None
    if head.startswith(b"PK\x03\x04"):
        return "torch-zip"
    if head.startswith(_LEGACY_MAGIC):
        return "torch-legacy"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    kind = next((name for magic, name in _COMPRESSED.items() if head.startswith(magic)), None)
    if kind is not None:
        raise CheckpointError(
            f"{path} is {kind}-compressed; the published GHN files are uncompressed pickles or torch zip files. "
            f"Decompress it first, or {_FIX[0].lower()}{_FIX[1:]}"
        )
    raise CheckpointError(
        f"{path} is neither a torch checkpoint (zip or legacy torch.save) nor a pickle of a state dict "
        f"(it starts with {head[:8]!r}). {_FIX}"
    )


# ---------------------------------------------------------------- torch.save files
def load_torch(path: Path, kind: str) -> Any:
    """``torch.load(path, weights_only=True)`` (memory-mapped for zip files) with every failure a CheckpointError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=kind == "torch-zip")
    except pickle.UnpicklingError as exc:
        raise refused(str(path), f"torch's weights-only loader refused it ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - torch.load raises RuntimeError, EOFError, zipfile errors, ...
        raise corrupt(str(path), f"torch.load failed ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    """The informative line of ``exc``: for torch's weights-only refusals the one naming the global (its first
    paragraph suggests ``weights_only=False``, which is exactly what must not be done with these files)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line or "Unsupported" in line or "WeightsUnpickler" in line]
    if named or (lines and lines[0].startswith("Weights only load failed")):
        lines = named or lines[1:]
    return lines[0][:300] if lines else type(exc).__name__


# ---------------------------------------------------------------- plain pickles of a state dict
class _StandIn:
    """A callable handed to the pickle in place of a global; ``BUILD`` on it and attribute writes are refused."""

    __slots__ = ("_fn", "_name")
    _fn: Callable[..., Any]
    _name: str

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_name", name)

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise CheckpointError(f"a pickle tried to set attribute {name!r:.40} of {self._name}; refused.")

    def __setstate__(self, state: Any) -> None:
        raise CheckpointError(f"a pickle tried to give {self._name} a state; refused.")


class _StateDict(OrderedDict):
    """What ``collections.OrderedDict()`` builds: ``BUILD`` may only set ``_metadata`` (a dict), which is dropped."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or set(state) - {"_metadata"}:
            keys = sorted(map(str, state))[:5] if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f"an OrderedDict in the pickle is given the state {keys}; only _metadata is allowed")
        if not isinstance(state.get("_metadata", {}), dict):
            raise CheckpointError("an OrderedDict in the pickle is given a _metadata that is not a dict")


def _ordered_dict(*args: Any) -> _StateDict:
    if len(args) > 1 or (args and not isinstance(args[0], (list, tuple))):
        raise CheckpointError("collections.OrderedDict is called with something other than a list of pairs")
    out = _StateDict()
    for pair in args[0] if args else ():
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise CheckpointError("collections.OrderedDict is called with an item that is not a (key, value) pair")
        out[pair[0]] = pair[1]
    return out


class _Loader:
    """One load: the file's name (for messages) and the stand-ins' checks."""

    def __init__(self, source: str) -> None:
        self.source = source

    def storage(self, payload: Any = None) -> torch.storage.TypedStorage:
        """``torch.storage._load_from_bytes(b)``, with ``b`` read by ``torch.load(weights_only=True)``."""
        if type(payload) is not bytes:
            raise refused(self.source, f"torch.storage._load_from_bytes is called with {type(payload).__name__}")
        try:
            value = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise refused(
                self.source,
                f"a tensor's nested torch.save payload was refused by torch's weights-only loader ({_first_line(exc)})",
            ) from None
        except Exception as exc:  # noqa: BLE001 - corrupt nested payload: RuntimeError, EOFError, ...
            raise corrupt(
                self.source,
                f"a tensor's nested torch.save payload cannot be read ({type(exc).__name__}: {_first_line(exc)})",
            ) from None
        if not isinstance(value, torch.storage.TypedStorage) or value.device.type != "cpu":
            raise refused(self.source, f"a nested torch.save payload holds {type(value).__name__}, not a storage")
        if value.dtype not in ALLOWED_DTYPES:
            raise refused(self.source, f"a storage has dtype {value.dtype}, which a GHN state dict does not hold")
        return value

    def tensor(self, storage: Any = None, offset: Any = None, size: Any = None, stride: Any = None,
               requires_grad: Any = False, hooks: Any = None, metadata: Any = None) -> torch.Tensor:  # fmt: skip
        """``torch._utils._rebuild_tensor_v2``: a view of ``storage`` that must lie inside it.

        Element ``i`` of the view is at ``offset + sum_d i_d * stride_d``; the largest index,
        ``offset + sum_d (size_d - 1) * stride_d``, must be below the storage's length (strides >= 0).
        """
        if not isinstance(storage, torch.storage.TypedStorage):
            raise refused(self.source, f"a tensor is rebuilt from {type(storage).__name__} instead of a storage")
        if type(requires_grad) is not bool or (hooks is not None and (not isinstance(hooks, dict) or hooks)):
            raise refused(self.source, "a tensor comes with backward hooks or a non-boolean requires_grad")
        if metadata is not None and metadata != {}:
            raise refused(self.source, "a tensor comes with tensor metadata")
        size, stride = self._layout(offset, size, stride, storage.size())
        view = torch.empty(0, dtype=storage.dtype)
        return view.set_(storage._untyped_storage, offset, size, stride)

    def _layout(self, offset: Any, size: Any, stride: Any, length: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        ints = (type(offset) is int and offset >= 0) and all(
            isinstance(v, tuple) and len(v) <= MAX_NDIM and all(type(n) is int and n >= 0 for n in v)
            for v in (size, stride)
        )
        if not ints or len(size) != len(stride):
            raise corrupt(self.source, f"a tensor has offset {offset!r:.40}, size {size!r:.80}, stride {stride!r:.80}")
        last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if math.prod(size) else offset - 1
        if last >= length:
            raise corrupt(
                self.source,
                f"a tensor of size {size} (offset {offset}, stride {stride}) reaches element {last} of "
                f"a storage of {length} elements",
            )
        return size, stride

    def parameter(self, data: Any = None, requires_grad: Any = False, hooks: Any = None) -> torch.Tensor:
        """``torch._utils._rebuild_parameter``: the data tensor itself (a state dict needs no Parameter)."""
        if not isinstance(data, torch.Tensor) or type(requires_grad) is not bool or hooks:
            raise refused(self.source, "torch._utils._rebuild_parameter is called with unexpected arguments")
        return data


def _allowed(loader: _Loader) -> dict[tuple[str, str], Any]:
    return {
        ("collections", "OrderedDict"): _StandIn(_ordered_dict, "collections.OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"): _StandIn(loader.tensor, "torch._utils._rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"): _StandIn(loader.parameter, "torch._utils._rebuild_parameter"),
        ("torch.storage", "_load_from_bytes"): _StandIn(loader.storage, "torch.storage._load_from_bytes"),
    }


#: the globals a pickled state dict may name; anything else is refused before it is resolved.
ALLOWED_GLOBALS = frozenset(_allowed(_Loader("")))


def check_global(source: str) -> Callable[[str, str], None]:
    """What :func:`graphhyper._pickle_scan.scan` calls for each global: refuse any not in :data:`ALLOWED_GLOBALS`."""

    def check(module: str, name: str) -> None:
        if (module, name) not in ALLOWED_GLOBALS:
            raise _refused_global(source, module, name)

    return check


def _refused_global(source: str, module: str, name: str) -> CheckpointError:
    return refused(
        source,
        f"the pickle references the global '{module}.{name}', which is not on graphhyper's allow-list for state "
        "dicts (OrderedDict, torch tensor / parameter rebuilders, nested torch storages)",
    )


class StateDictUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` resolves only :data:`ALLOWED_GLOBALS`, each to a checked stand-in."""

    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self._source = source
        self._globals = _allowed(_Loader(source))

    def find_class(self, module: str, name: str) -> Any:
        target = self._globals.get((module, name))
        if target is None:
            raise _refused_global(self._source, module, name)
        return target

    def persistent_load(self, pid: Any) -> Any:
        raise refused(self._source, "the pickle uses persistent ids, which a pickled state dict never does")


def _scan_error(source: str, what: str) -> GraphhyperError:
    return corrupt(source, what)


def load_pickle(path: Path) -> Any:
    """Unpickle the file at ``path`` with :class:`StateDictUnpickler` after an opcode scan; plain dicts come back."""
    source = str(path)
    try:
        with open(path, "rb", buffering=1 << 20) as f:
            size = os.fstat(f.fileno()).st_size
            scan(f, source, size=size, error=_scan_error, check_global=check_global(source))
            f.seek(0)
            with warnings.catch_warnings():  # TypedStorage's deprecation warning, once per tensor
                warnings.simplefilter("ignore")
                obj = StateDictUnpickler(f, source).load()
    except CheckpointError:
        raise
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror}); check the path and its permissions.") from None
    except Exception as exc:  # noqa: BLE001 - the unpickler raises UnpicklingError, EOFError, TypeError, ...
        raise corrupt(source, f"not a readable pickle ({type(exc).__name__}: {_first_line(exc)})") from None
    return _plain(obj)


def _plain(obj: Any) -> Any:
    """``_StateDict`` (top level and one level down) as plain dicts."""
    if isinstance(obj, dict):
        return {k: dict(v) if isinstance(v, _StateDict) else v for k, v in obj.items()}
    return obj


def load_any(path: Path) -> tuple[Any, str]:
    """The object stored in ``path`` and its format (``"pickle"``, ``"torch-zip"`` or ``"torch-legacy"``)."""
    kind = sniff(path)
    return (load_pickle(path) if kind == "pickle" else load_torch(path, kind)), kind


__all__ = ["ALLOWED_GLOBALS", "StateDictUnpickler", "load_any", "load_pickle", "load_torch", "sniff"]
