"""The safetensors half of a converted reference checkpoint: dtype names and a header check before reading."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from graphhyper.errors import CheckpointError
from graphhyper.ghn.hub import _ST_DTYPES, _open_regular

#: torch dtype -> safetensors dtype name, for every dtype a reference state dict may hold.
DTYPES = {
    **_ST_DTYPES,
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_ITEMSIZE = {name: torch.empty(0, dtype=dt).element_size() for dt, name in DTYPES.items()}
_FIX = "Convert the published file again with `graphhyper ghn convert FILE --out NAME`."


def dtype_name(dtype: torch.dtype, key: str = "") -> str:
    if dtype not in DTYPES:
        raise CheckpointError(f"tensor {key!r} has dtype {dtype}, which a GHN state dict does not hold.")
    return DTYPES[dtype]


def _table_sizes(table: dict[str, Any], js_path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{name: (shape, dtype name)}`` from the JSON's tensor table, each entry checked."""
    out = {}
    for key, spec in table.items():
        shape = spec.get("shape") if isinstance(spec, dict) else None
        dtype = spec.get("dtype") if isinstance(spec, dict) else None
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape) or dtype not in _ITEMSIZE:
            raise CheckpointError(f"{js_path}: tensor {key[:80]!r} has the entry {str(spec)[:120]}; {_FIX}")
        out[key] = (tuple(shape), dtype)
    return out


def _check_header(f: Any, st_path: Path, js_path: Path, meta: dict[str, str], table: dict[str, Any]) -> None:
    header = f.metadata() or {}
    differs = sorted(k for k, v in meta.items() if header.get(k) != v)
    if differs:
        raise CheckpointError(
            f"{st_path} and {js_path} disagree on {differs} ({[header.get(k) for k in differs]} vs "
            f"{[meta[k] for k in differs]}); pair the weights with the JSON written beside them. {_FIX}"
        )
    expected = _table_sizes(table, js_path)
    found = {k: (tuple(sl.get_shape()), sl.get_dtype()) for k in f.keys() for sl in (f.get_slice(k),)}
    if found != expected:
        missing = sorted(set(expected) - set(found))[:5]
        extra = sorted(set(found) - set(expected))[:5]
        wrong = [(k, found[k], expected[k]) for k in sorted(set(found) & set(expected)) if found[k] != expected[k]]
        raise CheckpointError(
            f"{st_path} does not match {js_path}: missing {missing}, unexpected {extra}, different "
            f"(name, found, listed) {wrong[:3]}. The weights were changed or belong to another conversion. {_FIX}"
        )


def read_mapped(st_path: Path, js_path: Path, meta: dict[str, str], table: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Tensors of ``st_path`` after its header was checked against ``meta`` (header metadata) and ``table``."""
    from safetensors import safe_open

    fd = _open_regular(st_path, "weights")
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    need = sum(math.prod(s) * _ITEMSIZE[d] for s, d in _table_sizes(table, js_path).values())
    if need > size:
        raise CheckpointError(
            f"{st_path} is {size} bytes but {js_path} lists {need} bytes of tensors; it is truncated. {_FIX}"
        )
    try:
        with safe_open(str(st_path), framework="pt", device="cpu") as f:
            _check_header(f, st_path, js_path, meta, table)
            return {k: f.get_tensor(k) for k in f.keys()}
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types on corrupt input
        raise CheckpointError(f"{st_path} is corrupt or truncated ({str(exc)[:200]}). {_FIX}") from None
