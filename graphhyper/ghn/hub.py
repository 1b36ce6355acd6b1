"""GHN checkpoints: safetensors weights + a JSON config; bundled pretrained GHNs.

A checkpoint is two files, ``NAME.safetensors`` and ``NAME.json``. The JSON holds the :class:`GHNConfig`
(and free-form ``meta``: training command, seed, metrics). The safetensors header repeats the config, so a
weights file paired with the wrong JSON is refused. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from graphhyper.errors import CheckpointError
from graphhyper.ghn.model import GHN, GHNConfig

FORMAT = "graphhyper.ghn"
FORMAT_VERSION = 1
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def save(ghn: GHN, path: str | os.PathLike, meta: dict | None = None) -> tuple[Path, Path]:
    """Write ``ghn`` to ``path.safetensors`` + ``path.json``; returns both paths."""
    from safetensors.torch import save_file

    st_path, js_path = _paths(path)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    cfg = json.dumps(ghn.config.to_dict(), sort_keys=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in ghn.state_dict().items()}
    save_file(tensors, str(st_path), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION),
                                               "config": cfg})
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": ghn.config.to_dict(), "meta": meta or {}}
    js_path.write_text(json.dumps(doc, indent=1, sort_keys=True))
    os.chmod(st_path, 0o644)  # safetensors writes 0600; checkpoints are data to share
    return st_path, js_path


def read_meta(path: str | os.PathLike) -> dict:
    """The JSON document of a checkpoint (config + meta)."""
    _, js_path = _paths(path)
    try:
        doc = json.loads(js_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint config {js_path} is missing; a GHN checkpoint is NAME.safetensors plus "
                              "NAME.json written by graphhyper.ghn.save().") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"Checkpoint config {js_path} is not valid JSON ({exc}); re-save the GHN.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "config" not in doc:
        raise CheckpointError(f"{js_path} is not a graphhyper GHN config (format '{FORMAT}' expected).")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{js_path} has format version {doc['format_version']}; this graphhyper reads up to "
                              f"{FORMAT_VERSION}. Upgrade graphhyper.")
    return doc


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> GHN:
    """Load a GHN saved by :func:`save`.

    Raises:
        CheckpointError: a file is missing, corrupt or truncated, or the weights do not match the config
            (missing / unexpected tensors, wrong shapes, header config differs from the JSON).
    """
    from safetensors import safe_open

    st_path, js_path = _paths(path)
    doc = read_meta(path)
    try:
        config = GHNConfig.from_dict(doc["config"])
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{js_path}: invalid GHN config ({exc}).") from None
    if not st_path.exists():
        raise CheckpointError(f"Checkpoint weights {st_path} are missing.")
    try:
        with safe_open(str(st_path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types on corrupt input
        raise CheckpointError(f"Checkpoint weights {st_path} are corrupt or truncated ({exc}). "
                              "Re-download or re-save them.") from None
    if header.get("config") and json.loads(header["config"]) != config.to_dict():
        raise CheckpointError(f"{st_path} was saved with a different config than {js_path}; pair each weights "
                              "file with the JSON written beside it.")
    ghn = GHN(config)
    expected = ghn.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tuple(expected[k].shape) != tuple(tensors[k].shape))
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{st_path} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shapes {[(k, tuple(tensors[k].shape), tuple(expected[k].shape)) for k in wrong[:5]]}."
        )
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{st_path} holds non-finite values in {bad[:5]}; the checkpoint is corrupt.")
    ghn.load_state_dict(tensors)
    ghn.meta = doc.get("meta", {})
    return ghn.to(map_location).eval()


def list_pretrained() -> list[str]:
    """Names of the GHN checkpoints bundled with graphhyper."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.json") if p.with_suffix(".safetensors").exists())


def from_pretrained(name: str = "ghn-tiny", map_location: str | torch.device = "cpu") -> GHN:
    """Load a bundled GHN (no network access) by name, e.g. ``"ghn-tiny"``; see :func:`list_pretrained`."""
    names = list_pretrained()
    if name not in names:
        local = Path(name)
        if local.with_suffix(".json").exists() or local.suffix in (".json", ".safetensors"):
            return load(local, map_location)
        raise CheckpointError(f"No bundled GHN called {name!r}; bundled: {names}. Pass a path to load your own.")
    return load(PRETRAINED_DIR / name, map_location)
