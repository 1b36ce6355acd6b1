"""The published GHN-2 / GHN-3 checkpoints: where they live, loading them safely, converting them once.

>>> from graphhyper.ghn.reference.published import load_published, convert, load_converted
>>> ckpt = load_published("ghn3tm8")                 # doctest: +SKIP  (downloads through huggingface_hub)
>>> ckpt.family, len(ckpt.state_dict)                # doctest: +SKIP
('ghn3', 60)
>>> convert("ghn3tm8.pt", "ghn3tm8")                 # doctest: +SKIP  (ghn3tm8.safetensors + ghn3tm8.json)
>>> load_converted("ghn3tm8").state_dict.keys()      # doctest: +SKIP  (memory-mapped, nothing unpickled)

Published files and their formats (:data:`PUBLISHED`):

* GHN-3 (``SamsungSAILMontreal/ghn3`` on Hugging Face: ``ghn3tm8.pt``, ``ghn3sm8.pt``, ``ghn3lm8.pt``,
  ``ghn3xlm16.pt``): ``joblib.dump`` of the bare state dict, a plain pickle with no config.
* GHN-2 (``facebookresearch/ppuda`` on GitHub: ``checkpoints/ghn2_cifar10.pt``, ``ghn2_imagenet.pt``):
  ``torch.save`` of ``{'state_dict', 'config', 'epoch', ...}``.

Pickles are read by an allow-list unpickler and torch files by ``torch.load(weights_only=True)``
(:mod:`graphhyper.ghn.reference._torch_pickle`). :func:`convert` writes the state dict as safetensors plus a JSON
document (format ``"graphhyper.ghn-reference"``, distinct from our own GHNs' ``"graphhyper.ghn"``) that records the
family, config, source and the source file's sha256; :func:`load_converted` memory-maps it.

The family is what the file says (``config['is_ghn2']``) or else what its keys say: GHN-2 has a gated GNN
(``gnn.gru.*``), GHN-3 a transformer (``gnn.<layer>.attn.*``).
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from graphhyper._files import sha256_file
from graphhyper.errors import CheckpointError, MissingDependencyError, require
from graphhyper.ghn.hub import _open_regular, _paths, _read_config_text
from graphhyper.ghn.reference._torch_pickle import load_any

FORMAT = "graphhyper.ghn-reference"
FORMAT_VERSION = 1
FAMILIES = ("ghn2", "ghn3")
_HF_REPO = "SamsungSAILMontreal/ghn3"
_PPUDA_RAW = "https://github.com/facebookresearch/ppuda/raw/main/checkpoints/"


@dataclass(frozen=True)
class PublishedEntry:
    """One published checkpoint: its family, where it lives and how it is stored."""

    name: str
    family: str  # "ghn2" or "ghn3"
    filename: str
    url: str
    file_format: str  # "joblib pickle of the state dict" or "torch.save dict with state_dict and config"
    repo_id: str | None = None  # Hugging Face repository (hf_hub_download), None for a plain URL
    params: int = 0  # parameters of the reference model with this layout (built from the reference code)
    note: str = ""


def _hf(name: str, params: int, note: str) -> PublishedEntry:
    return PublishedEntry(
        name,
        "ghn3",
        f"{name}.pt",
        f"https://huggingface.co/{_HF_REPO}/resolve/main/{name}.pt",
        "joblib pickle of the state dict (no config)",
        _HF_REPO,
        params,
        note,
    )


def _ppuda(name: str, params: int, note: str) -> PublishedEntry:
    return PublishedEntry(
        name,
        "ghn2",
        f"{name}.pt",
        f"{_PPUDA_RAW}{name}.pt",
        "torch.save of {'state_dict', 'config', 'epoch', ...}",
        None,
        params,
        note,
    )


#: name -> entry. ``params`` is the count of the reference model built with the layout the name implies
#: (ImageNet heads, max_shape (hid, hid, 16, 16), pretrained embedding layout); hid / layers / heads as inferred.
PUBLISHED: dict[str, PublishedEntry] = {
    e.name: e
    for e in (
        _hf("ghn3tm8", 6_906_632, "GHN-3-T/m8: hid 64, 3 transformer layers, 8 heads (~27 MB)"),
        _hf("ghn3sm8", 35_810_368, "GHN-3-S/m8: hid 128, 5 layers, 16 heads (layer count inferred, unverified)"),
        _hf("ghn3lm8", 214_668_960, "GHN-3-L/m8: hid 256, 12 layers, 16 heads"),
        _hf("ghn3xlm16", 654_365_184, "GHN-3-XL/m16: hid 384, 24 layers, 16 heads (~2.5 GB)"),
        _ppuda("ghn2_cifar10", 1_620_764, "GHN-2 trained on CIFAR-10: hid 32, max_shape (64, 64, 11, 11)"),
        _ppuda("ghn2_imagenet", 2_319_720, "GHN-2 trained on ImageNet: hid 32, max_shape (64, 64, 16, 16)"),
    )
}


@dataclass
class PublishedCheckpoint:
    """A published GHN's state dict in the reference layout, with its config (when the file has one)."""

    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any] | None
    family: str  # "ghn2" or "ghn3"
    source: str  # the file (or published name and file) it was read from


# ---------------------------------------------------------------- where files go
def cache_dir() -> Path:
    """``$GRAPHHYPER_CACHE/ghn-reference`` (default ``~/.cache/graphhyper/ghn-reference``): files put here are used
    before any download."""
    env = os.environ.get("GRAPHHYPER_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "graphhyper"
    return base / "ghn-reference"


def _offline() -> bool:
    return any(
        os.environ.get(k, "").strip().lower() in ("1", "true", "yes") for k in ("HF_HUB_OFFLINE", "GRAPHHYPER_OFFLINE")
    )


def _hf_cache() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001 - not installed or another layout: the default location
        return str(Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub")


def _missing(entry: PublishedEntry, reason: str) -> CheckpointError:
    local = cache_dir() / entry.filename
    hf = (
        f" (or into the Hugging Face cache {_hf_cache()}, e.g. with `huggingface-cli download {entry.repo_id} "
        f"{entry.filename}` where there is network)"
        if entry.repo_id
        else ""
    )
    return CheckpointError(
        f"The published GHN '{entry.name}' ({entry.filename}) is not available here: {reason}. Download {entry.url} "
        f"by hand and put it at {local}{hf}, or pass its path: load_published('/path/to/{entry.filename}'). "
        f"`graphhyper ghn convert /path/to/{entry.filename} --out NAME` then writes safetensors that load without "
        "network or unpickling."
    )


def _download_hf(entry: PublishedEntry) -> Path:
    try:
        hub = require("huggingface_hub", extra="hub", purpose="downloading published GHN-3 checkpoints")
    except MissingDependencyError:
        raise _missing(entry, "huggingface_hub is not installed (pip install 'graphhyper[hub]')") from None
    try:
        # offline, only the Hugging Face cache is looked at (HF_HUB_OFFLINE does that by itself)
        return Path(hub.hf_hub_download(repo_id=entry.repo_id, filename=entry.filename, local_files_only=_offline()))
    except Exception as exc:  # noqa: BLE001 - offline mode, HTTP errors, timeouts: all end the same way
        raise _missing(entry, f"huggingface_hub could not fetch it ({type(exc).__name__}: {str(exc)[:200]})") from None


_Opener = Callable[..., Any]


def _download_url(entry: PublishedEntry, opener: _Opener | None = None, timeout: float = 60.0) -> Path:
    """Download ``entry.url`` into :func:`cache_dir` (through a temporary file renamed into place)."""
    dest = cache_dir() / entry.filename
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with (opener or urllib.request.urlopen)(entry.url, timeout=timeout) as response, open(tmp, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        os.replace(tmp, dest)
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, timeouts, a read-only cache
        tmp.unlink(missing_ok=True)
        raise _missing(entry, f"downloading failed ({type(exc).__name__}: {str(exc)[:200]})") from None
    return dest


def fetch(name: str) -> Path:
    """The local file of the published checkpoint ``name``: from :func:`cache_dir`, else downloaded.

    Raises:
        CheckpointError: offline (``HF_HUB_OFFLINE=1`` / ``GRAPHHYPER_OFFLINE=1``), no ``huggingface_hub``, or the
            download failed; the message names the file, its URL and where to put it.
    """
    entry = PUBLISHED[name]
    local = cache_dir() / entry.filename
    if local.is_file():
        return local
    if entry.repo_id is not None:
        return _download_hf(entry)
    if _offline():
        raise _missing(entry, "offline mode is on (HF_HUB_OFFLINE / GRAPHHYPER_OFFLINE)")
    return _download_url(entry)


# ---------------------------------------------------------------- what a file holds
_GHN3_KEY = re.compile(r"(^|\.)gnn\.\d+\.attn\.")


def detect_family(state_dict: dict[str, Any], source: str = "<state dict>") -> str:
    """``"ghn2"`` when a key holds ``gnn.gru.`` (the gated GNN), ``"ghn3"`` when one holds ``gnn.<i>.attn.``."""
    if any("gnn.gru." in k for k in state_dict):
        return "ghn2"
    if any(_GHN3_KEY.search(k) for k in state_dict):
        return "ghn3"
    raise CheckpointError(
        f"{source}: the state dict has neither GHN-2 keys (gnn.gru.*) nor GHN-3 keys (gnn.<layer>.attn.*) "
        f"(first keys: {sorted(state_dict)[:5]}); it is not a published GHN checkpoint."
    )


def _json_value(value: Any, where: str, source: str, depth: int = 0) -> Any:
    """``value`` as JSON types (tuples become lists); anything but numbers, strings, lists and dicts is refused."""
    if value is None or type(value) in (bool, int, str) or (type(value) is float and value == value):
        return value
    if depth < 8 and isinstance(value, (list, tuple)):
        return [_json_value(v, f"{where}[{i}]", source, depth + 1) for i, v in enumerate(value)]
    if depth < 8 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _json_value(v, f"{where}.{k}", source, depth + 1) for k, v in value.items()}
    raise CheckpointError(
        f"{source}: config value {where} is {type(value).__name__} {str(value)[:60]!r}; a GHN config holds only "
        "numbers, strings, booleans, lists and dicts. Fix the file's config or drop it."
    )


def _state_and_config(obj: Any, source: str) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """Split what a file holds: ``{'state_dict': ..., 'config': ...}`` or a bare state dict."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        state, config = obj["state_dict"], obj.get("config")
    else:
        state, config = obj, None
    if not isinstance(state, dict) or not state:
        raise CheckpointError(
            f"{source} holds {type(obj).__name__}, not a state dict or a dict with 'state_dict'; "
            "is it a GHN checkpoint?"
        )
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(
            f"{source}: the state dict has {len(bad)} entries that are not str -> tensor (e.g. {str(bad[:3])[:120]})."
        )
    if config is not None and not isinstance(config, dict):
        raise CheckpointError(f"{source}: 'config' is {type(config).__name__}, not a dict.")
    return dict(state), None if config is None else _json_value(config, "config", source)


def _family(state: dict[str, torch.Tensor], config: dict[str, Any] | None, source: str) -> str:
    family = detect_family(state, source)
    said = None if config is None else config.get("is_ghn2")
    if said is not None and said != (family == "ghn2"):
        raise CheckpointError(
            f"{source}: config says is_ghn2={said!r} but the keys are those of {family}; the config does not belong "
            "to these weights."
        )
    return family


def load_file(path: str | os.PathLike[str], source: str | None = None) -> PublishedCheckpoint:
    """Read a published-format file (joblib pickle or ``torch.save``) at ``path``; no network."""
    path = Path(path)
    os.close(_open_regular(path, "file"))  # missing / directory / FIFO -> CheckpointError, without blocking
    obj, _ = load_any(path)
    state, config = _state_and_config(obj, str(path))
    return PublishedCheckpoint(state, config, _family(state, config, str(path)), source or str(path))


def _locate(name_or_path: str | os.PathLike[str]) -> tuple[Path, PublishedEntry | None]:
    """The local file for a published name (fetched) or a path, and the registry entry it is (by name or file name)."""
    text = os.fspath(name_or_path)
    name = text[:-3] if text.endswith(".pt") and text[:-3] in PUBLISHED else text
    if name in PUBLISHED and not Path(text).is_file():
        return fetch(name), PUBLISHED[name]
    if not Path(text).exists():
        raise CheckpointError(
            f"{text!r} is neither a published GHN ({', '.join(PUBLISHED)}) nor an existing file; pass one of those "
            "names or the path to a downloaded checkpoint."
        )
    path = Path(text)
    return path, next((e for e in PUBLISHED.values() if e.filename == path.name), None)


def load_published(name_or_path: str | os.PathLike[str]) -> PublishedCheckpoint:
    """A published GHN by name (:data:`PUBLISHED`, fetched with :func:`fetch`) or a local file in either format.

    A path works without network; a name uses :func:`cache_dir` or downloads (GHN-3 through
    ``huggingface_hub.hf_hub_download``, into its standard cache; GHN-2 from GitHub into :func:`cache_dir`).
    A ``.json`` / ``.safetensors`` path written by :func:`convert` is read with :func:`load_converted`.

    Raises:
        CheckpointError: unknown name and no such file; the download is impossible (the message says where to put
            the file); the file is refused by the allow-list, corrupt, or not a GHN-2 / GHN-3 state dict.
    """
    if Path(name_or_path).suffix in (".json", ".safetensors"):
        return load_converted(name_or_path)
    path, entry = _locate(name_or_path)
    named = entry is not None and os.fspath(name_or_path) in (entry.name, entry.filename)
    return load_file(path, f"{entry.name} ({path})" if named and entry else None)


def ensure_converted(name: str) -> Path:
    """The converted checkpoint (``.json``) of the published ``name`` in :func:`cache_dir`, converting it first
    if it is not there yet (the published file is then fetched, read once and no longer needed).

    ``load_converted(ensure_converted(name))`` is the cheap way to load a published GHN repeatedly: after the first
    call nothing is downloaded or unpickled, and the weights are memory-mapped.
    """
    if name not in PUBLISHED:
        raise CheckpointError(f"{name!r} is not a published GHN; choose one of {', '.join(PUBLISHED)}.")
    base = cache_dir() / f"{name}.converted"
    st_path, js_path = _paths(base)
    if not (st_path.is_file() and js_path.is_file()):
        convert(name, base, overwrite=True)
    return js_path


# ---------------------------------------------------------------- conversion to safetensors + JSON
def _tensor_table(state: dict[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    from graphhyper.ghn.reference._safetensors import dtype_name

    return {k: {"shape": list(v.shape), "dtype": dtype_name(v.dtype, k)} for k, v in sorted(state.items())}


def convert(
    name_or_path: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False
) -> tuple[Path, Path]:
    """Read a published checkpoint once and write ``out.safetensors`` + ``out.json``; returns both paths.

    The JSON holds ``format`` (``"graphhyper.ghn-reference"``), ``format_version``, ``family``, ``config`` (or
    null), ``source`` (the published name or file, its URL, its sha256) and ``tensors`` (name -> shape, dtype); the
    safetensors header repeats format, family and the source's sha256 so a mismatched pair is refused.
    """
    from safetensors.torch import save_file

    st_path, js_path = _paths(out)
    if not overwrite and (st_path.exists() or js_path.exists()):
        raise CheckpointError(
            f"{st_path} or {js_path} exists already; pass overwrite=True (--overwrite) or another --out."
        )
    file, entry = _locate(name_or_path)
    ckpt = load_file(file)
    source = {
        "name": entry.name if entry else None,  # by name, or by the file's name
        "file": file.name,
        "url": entry.url if entry else None,
        "sha256": sha256_file(file),
    }
    tensors = {k: v.detach().contiguous() for k, v in ckpt.state_dict.items()}
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "family": ckpt.family,
        "config": ckpt.config,
        "source": source,
        "tensors": _tensor_table(tensors),
    }
    st_path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(st_path), metadata=_header_meta(doc))
    js_path.write_text(json.dumps(doc, indent=1, sort_keys=True))
    os.chmod(st_path, 0o644)
    return st_path, js_path


def _header_meta(doc: dict[str, Any]) -> dict[str, str]:
    return {
        "format": FORMAT,
        "format_version": str(doc["format_version"]),
        "family": doc["family"],
        "source_sha256": doc["source"]["sha256"],
    }


def load_converted(path: str | os.PathLike[str]) -> PublishedCheckpoint:
    """Memory-map a checkpoint written by :func:`convert` (``NAME``, ``NAME.json`` or ``NAME.safetensors``).

    The JSON is validated (format, version, family, config, source, tensor table) and the safetensors header (its
    metadata, names, shapes, dtypes) must agree with it before any tensor is touched; the tensors are views of the
    mapped file, so memory grows only with the pages read.

    Raises:
        CheckpointError: a file is missing or not a regular file, the JSON is invalid or of another format, or the
            safetensors file disagrees with it (tampered, truncated, or paired with another JSON).
    """
    from graphhyper.ghn.reference._safetensors import read_mapped

    st_path, js_path = _paths(path)
    doc = _read_doc(js_path)
    state = read_mapped(st_path, js_path, _header_meta(doc), doc["tensors"])
    return PublishedCheckpoint(state, doc["config"], doc["family"], f"{doc['source'].get('file')} ({st_path})")


def _read_doc(js_path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(_read_config_text(js_path))
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(
            f"{js_path} is not valid JSON ({str(exc)[:200]}); convert the checkpoint again."
        ) from None
    fix = "Write it with `graphhyper ghn convert FILE --out NAME`."
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(
            f"{js_path} is not a converted reference GHN (format {found!r}, expected '{FORMAT}'). {fix}"
        )
    version = doc.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"{js_path} has format_version {str(version)[:40]!r}; this graphhyper reads 1 to {FORMAT_VERSION}."
        )
    if doc.get("family") not in FAMILIES:
        raise CheckpointError(
            f"{js_path}: unknown family {str(doc.get('family'))[:40]!r}; expected one of {FAMILIES}. {fix}"
        )
    source = doc.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("sha256"), str):
        raise CheckpointError(f"{js_path}: 'source' must be an object with the source file's sha256. {fix}")
    if doc.get("config") is not None:
        if not isinstance(doc["config"], dict):
            raise CheckpointError(f"{js_path}: 'config' must be an object or null. {fix}")
        doc["config"] = _json_value(doc["config"], "config", str(js_path))
    if not isinstance(doc.get("tensors"), dict) or not doc["tensors"]:
        raise CheckpointError(f"{js_path}: 'tensors' must list every tensor (name -> shape, dtype). {fix}")
    return doc


__all__ = [
    "FORMAT",
    "PUBLISHED",
    "PublishedCheckpoint",
    "PublishedEntry",
    "cache_dir",
    "convert",
    "detect_family",
    "ensure_converted",
    "fetch",
    "load_converted",
    "load_file",
    "load_published",
]
