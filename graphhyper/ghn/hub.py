"""GHN checkpoints: safetensors weights + a JSON config; bundled pretrained GHNs.

A checkpoint is two files, ``NAME.safetensors`` and ``NAME.json``. The JSON holds the :class:`GHNConfig`
(and free-form ``meta``: training command, seed, metrics). The safetensors header repeats the config, so a
weights file paired with the wrong JSON is refused. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import torch
from torch.overrides import TorchFunctionMode

from graphhyper.errors import CheckpointError, GraphhyperError, InvalidInputError
from graphhyper.ghn.model import GHN, GHNConfig, legacy_mip_error

if TYPE_CHECKING:
    from graphhyper.ghn.reference.ghn import PublishedGHN

FORMAT = "graphhyper.ghn"
FORMAT_VERSION = 1
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
#: The bundled GHN that ``from_pretrained()``, ``graphhyper ghn predict``, ``GHNProxy`` and ``search darts`` use
#: by default; tests/ghn/test_pretrained_floor.py holds it (and every bundled GHN) to a quality floor.
DEFAULT_GHN = "ghn-tiny-tiled"
#: Bundled names that were withdrawn, with the reason given to whoever still asks for them.
_WITHDRAWN = {
    "ghn-tiny": (
        "it predicted parameters at chance on held-out networks (10-14% on digits, random init 9.5%); "
        f"use {DEFAULT_GHN!r} (the default), or train a low-rank GHN of your own with scripts/train_ghn.py"
    ),
}


#: Largest config JSON read (the bundled ones are a few KB); bounds the memory a wrong file can take.
MAX_CONFIG_BYTES = 16 * 2**20
#: safetensors dtype names of the torch dtypes a GHN holds.
_ST_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
}
#: Bytes per element of the safetensors dtypes above.
_ST_ITEMSIZE = {name: dtype.itemsize for dtype, name in _ST_DTYPES.items()}
#: Storage dtypes :func:`save` offers for the float32 tensors of a GHN (``load`` casts them back to float32).
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_FLOAT32_STAND_INS = {_ST_DTYPES[d] for d in STORAGE_DTYPES.values()}


def _paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    if not p.name or p.name in (".", ".."):
        raise CheckpointError(
            f"{str(path)!r} does not name a checkpoint; pass NAME, NAME.json or NAME.safetensors "
            "as written by graphhyper.ghn.save()."
        )
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def _open_regular(path: Path, what: str) -> int:
    """Open ``path`` for reading without blocking and return its descriptor, or refuse anything but a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise CheckpointError(
            f"Checkpoint {what} {path} is missing; a GHN checkpoint is NAME.safetensors plus "
            "NAME.json written by graphhyper.ghn.save()."
        ) from None
    except OSError as exc:
        raise CheckpointError(
            f"Checkpoint {what} {path} cannot be opened ({exc.strerror}); check the path and its permissions."
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise CheckpointError(
            f"Checkpoint {what} {path} is {_file_kind(mode)}, not a regular file; point to the "
            "files written by graphhyper.ghn.save()."
        )
    return fd


def _read_config_text(js_path: Path) -> bytes:
    fd = _open_regular(js_path, "config")
    try:
        size = os.fstat(fd).st_size
        if size > MAX_CONFIG_BYTES:
            raise CheckpointError(
                f"Checkpoint config {js_path} is {size} bytes; a GHN config is at most "
                f"{MAX_CONFIG_BYTES} bytes. Is this the JSON written by graphhyper.ghn.save()?"
            )
        chunks, total = [], 0
        while total <= MAX_CONFIG_BYTES and (chunk := os.read(fd, MAX_CONFIG_BYTES + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > MAX_CONFIG_BYTES:
        raise CheckpointError(f"Checkpoint config {js_path} grew past {MAX_CONFIG_BYTES} bytes while read.")
    return b"".join(chunks)


def save(
    ghn: GHN, path: str | os.PathLike[str], meta: dict[str, Any] | None = None, dtype: str = "float32"
) -> tuple[Path, Path]:
    """Write ``ghn`` to ``path.safetensors`` + ``path.json``; returns both paths.

    ``dtype="float16"`` or ``"bfloat16"`` stores the float32 tensors in half precision (half the file; what a
    bundled checkpoint may use to fit the package), and :func:`load` casts them back to float32. float16 refuses a
    GHN with values beyond its range (use bfloat16 then).
    """
    from safetensors.torch import save_file

    tensors = _storage_tensors(ghn, dtype)
    st_path, js_path = _paths(path)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    cfg = json.dumps(ghn.config.to_dict(), sort_keys=True)
    save_file(tensors, str(st_path), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": cfg})
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": ghn.config.to_dict(), "meta": meta or {}}
    if dtype != "float32":
        doc["storage_dtype"] = dtype
    js_path.write_text(json.dumps(doc, indent=1, sort_keys=True))
    os.chmod(st_path, 0o644)  # safetensors writes 0600; checkpoints are data to share
    return st_path, js_path


def _storage_tensors(ghn: GHN, dtype: str) -> dict[str, torch.Tensor]:
    """The state dict as saved: float32 tensors cast to the storage ``dtype``, the rest as they are."""
    if dtype not in STORAGE_DTYPES:
        raise InvalidInputError(f"dtype={dtype!r}: store a GHN as one of {sorted(STORAGE_DTYPES)}.")
    target = STORAGE_DTYPES[dtype]
    out = {}
    for k, v in ghn.state_dict().items():
        v = v.detach().cpu()
        if v.dtype == torch.float32 and target != torch.float32:
            cast = v.to(target)
            if not torch.isfinite(cast).all():
                raise InvalidInputError(
                    f"{k} holds values beyond {dtype}'s range (largest |value| {v.abs().max().item():.3g}); "
                    "save with dtype='bfloat16' or 'float32'."
                )
            v = cast
        out[k] = v.contiguous()
    return out


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON document of a checkpoint (config + meta)."""
    _, js_path = _paths(path)
    text = _read_config_text(js_path)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit, nesting
        raise CheckpointError(
            f"Checkpoint config {js_path} is not valid JSON ({str(exc)[:200]}); re-save the GHN."
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "config" not in doc:
        raise CheckpointError(f"{js_path} is not a graphhyper GHN config (format '{FORMAT}' expected).")
    version = doc.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CheckpointError(
            f"{js_path} has format_version {str(version)[:50]!r}; expected an integer. Re-save the GHN."
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{js_path} has format version {version}; this graphhyper reads up to {FORMAT_VERSION}. Upgrade graphhyper."
        )
    if not isinstance(doc.get("meta", {}), dict):
        raise CheckpointError(f"{js_path}: 'meta' must be a JSON object; re-save the GHN.")
    return doc


def _config(doc: dict[str, Any], js_path: Path) -> GHNConfig:
    try:
        return GHNConfig.from_dict(doc["config"])
    except GraphhyperError as exc:
        raise CheckpointError(f"{js_path}: invalid GHN config ({exc}). Fix the value or re-save the GHN.") from None


_SIZED_FACTORIES = (torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full)
_REAL_NUMEL = 2**12  # tensors up to this size are built for real (constructors compute with the small ones)


class _ShapesOnly(TorchFunctionMode):
    """Builds modules whose large tensors have shapes but no storage, at no cost.

    Sized factories (``torch.empty``, ``zeros``, ...: every parameter is made by one) of more than ``_REAL_NUMEL``
    elements return meta tensors, and in-place ops on meta tensors (initialisation) are skipped: they never change
    a shape. ``torch.device("meta")`` alone would route every op through torch's Python reference kernels, whose
    first use imports the compiler (seconds of CPU on each process's first load).
    """

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Iterable[type],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func in _SIZED_FACTORIES:
            size = args[0] if func is torch.full or (len(args) == 1 and not isinstance(args[0], int)) else args
            if math.prod(size) > _REAL_NUMEL:
                return torch.empty(tuple(size), dtype=kwargs.get("dtype"), device="meta")
        target = args[0] if args else kwargs.get("tensor")  # torch.nn.init passes tensor=...
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.startswith("_") and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        return func(*args, **kwargs)


def _expected_state(config: GHNConfig) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Name -> (shape, dtype) of every tensor a GHN of ``config`` saves, computed without allocating them."""
    with _ShapesOnly():
        ghn = GHN(config)
    return {k: (tuple(v.shape), v.dtype) for k, v in ghn.state_dict().items()}


def _check_header(f: Any, config: GHNConfig, st_path: Path, js_path: Path, size: int) -> None:
    """Compare the safetensors header (config, names, shapes, dtypes) with ``config`` before reading any tensor."""
    header = f.metadata() or {}
    if header.get("config"):
        try:
            same = GHNConfig.from_dict(json.loads(header["config"])).to_dict() == config.to_dict()
        except (ValueError, RecursionError, TypeError, GraphhyperError):
            same = False
        if not same:
            raise CheckpointError(
                f"{st_path} was saved with a different config than {js_path}; pair each weights "
                "file with the JSON written beside it."
            )
    legacy = legacy_mip_error(config, f.keys(), str(st_path))
    if legacy is not None:
        raise legacy
    expected = _expected_state(config)
    found = {k: (tuple(sl.get_shape()), sl.get_dtype()) for k in f.keys() for sl in (f.get_slice(k),)}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    both = sorted(set(expected) & set(found))
    wrong = [(k, found[k][0], expected[k][0]) for k in both if found[k][0] != expected[k][0]]
    dtypes = [
        (k, found[k][1], _ST_DTYPES.get(expected[k][1], str(expected[k][1])))
        for k in both
        if not _storable(found[k][1], expected[k][1])
    ]
    if missing or unexpected or wrong or dtypes:
        raise CheckpointError(
            f"{st_path} does not match its config {js_path}: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shapes (name, found, expected) {wrong[:5]}, wrong dtypes (name, found, expected) {dtypes[:5]}. "
            "Pair the weights with the JSON written beside them, or re-save the GHN."
        )
    need = sum(math.prod(shape) * _ST_ITEMSIZE.get(dt, 8) for shape, dt in found.values())
    if need > size:  # safetensors checks this too; every allocation below is bounded by the file's size
        raise CheckpointError(
            f"{st_path} is {size} bytes but its header claims {need} bytes of weights; the file "
            "is truncated. Re-download or re-save it."
        )


def _storable(found: str, expected: torch.dtype) -> bool:
    """Whether a tensor saved as safetensors dtype ``found`` may fill a GHN tensor of ``expected`` dtype: its own
    dtype, or float32 stored in half precision (:func:`save` with ``dtype``)."""
    return found == _ST_DTYPES.get(expected) or (expected == torch.float32 and found in _FLOAT32_STAND_INS)


def load(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> GHN:
    """Load a GHN saved by :func:`save`.

    Only regular files are read (a FIFO, directory or device is refused without blocking), the config is validated,
    and the weights' header (names, shapes, dtypes) is compared with the shapes the config implies before anything
    is allocated, so memory use is bounded by the size of the files.

    Raises:
        CheckpointError: a file is missing, not a regular file, corrupt or truncated, the config is invalid, or the
            weights do not match the config (missing / unexpected tensors, wrong shapes or dtypes, header config
            differs from the JSON).
    """
    from safetensors import safe_open

    st_path, js_path = _paths(path)
    doc = read_meta(path)
    config = _config(doc, js_path)
    fd = _open_regular(st_path, "weights")
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    try:
        with safe_open(str(st_path), framework="pt", device="cpu") as f:
            _check_header(f, config, st_path, js_path, size)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types on corrupt input
        raise CheckpointError(
            f"Checkpoint weights {st_path} are corrupt or truncated ({exc}). Re-download or re-save them."
        ) from None
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{st_path} holds non-finite values in {bad[:5]}; the checkpoint is corrupt.")
    ghn = GHN(config)
    ghn.load_state_dict(tensors)
    ghn.meta = doc.get("meta", {})
    return ghn.to(map_location).eval()


def list_pretrained() -> list[str]:
    """Names of the GHN checkpoints bundled with graphhyper."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.json") if p.with_suffix(".safetensors").exists())


def _converted_reference(js_path: Path) -> bool:
    """Whether ``js_path`` is the JSON of a published GHN converted by ``graphhyper ghn convert``."""
    from graphhyper.ghn.reference.published import FORMAT as REFERENCE_FORMAT

    try:
        doc = json.loads(_read_config_text(js_path))
    except (CheckpointError, ValueError, RecursionError):
        return False  # not ours to judge here: load() reports what is wrong with it
    return isinstance(doc, dict) and doc.get("format") == REFERENCE_FORMAT


def _published_names() -> list[str]:
    from graphhyper.ghn.reference.published import PUBLISHED

    return list(PUBLISHED)


def from_pretrained(
    name: str | os.PathLike[str] = DEFAULT_GHN, map_location: str | torch.device = "cpu"
) -> GHN | PublishedGHN:
    """Load a GHN by name or path: one entry point for ours and the published ones.

    - a bundled GHN (no network), e.g. ``"ghn-tiny-tiled"`` (the default, :data:`DEFAULT_GHN`; DARTS-space CNNs),
      ``"ghn-vit-digits-lowrank"`` / ``"ghn-vit-mnist1d-lowrank"`` (small ViTs on digits / MNIST-1D;
      ``"ghn-vit-mnist1d-lowrank-c128-p512"``, rank 64 trained 8x longer, the start to fine-tune MNIST-1D ViTs from) or
      ``"ghn-pytext-lowrank"`` / ``"ghn-pytext-lowrank-c128"`` / ``"ghn-pytext-lowrank-c128-p512"`` (GPT-style
      byte decoders; the second with rank 64 and 128-dim index codes, better on wider decoders; the third that
      config trained 4x longer on 512 architectures, the best start for fine-tuning); see :func:`list_pretrained`
      (``meta["train_config"]["tasks"]`` of each says what it was trained on);
    - a published GHN-3 / GHN-2 (``"ghn3tm8"``, ``"ghn3sm8"``, ``"ghn3lm8"``, ``"ghn3xlm16"``, ``"ghn2_cifar10"``,
      ``"ghn2_imagenet"``): fetched once (GHN-3 through ``huggingface_hub``, the ``hub`` extra), converted into the
      cache and memory-mapped; offline, the error names the file and where to put it;
    - a path: a checkpoint of your own (``NAME``, ``NAME.json`` or ``NAME.safetensors``), a published file
      (``ghn3tm8.pt``, ``ghn2_cifar10.pt``; read through an allow-list, never unpickled freely) or the output of
      ``graphhyper ghn convert``.

    Published GHNs come back as :class:`~graphhyper.ghn.reference.ghn.PublishedGHN`, with the same ``predict``,
    ``predict_many`` and ``apply`` as :class:`GHN`.
    """
    names = list_pretrained()
    if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
        raise CheckpointError(
            f"from_pretrained needs the name of a bundled GHN or a checkpoint path, got {name!r}; bundled: {names}."
        )
    if name in names:
        return load(PRETRAINED_DIR / name, map_location)
    if str(name) in _WITHDRAWN:
        raise CheckpointError(f"The bundled GHN {name!r} was withdrawn: {_WITHDRAWN[str(name)]}.")
    if str(name) in _published_names() or _is_published_file(Path(name)):
        from graphhyper.ghn.reference.ghn import load_published_ghn

        return load_published_ghn(name).to(map_location)
    local = Path(name)
    if local.suffix in (".json", ".safetensors") or (local.name and local.with_suffix(".json").exists()):
        return load(local, map_location)
    raise CheckpointError(
        f"No GHN called {name!r}: bundled {names}, published {_published_names()}. Pass a path to load your own."
    )


def _is_published_file(path: Path) -> bool:
    """A published checkpoint file (any suffix but ours) or a converted one (its JSON says so)."""
    if path.suffix in (".json", ".safetensors") or (path.name and path.with_suffix(".json").exists()):
        return _converted_reference(_paths(path)[1])
    return path.is_file()
