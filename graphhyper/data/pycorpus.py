"""A byte-level text corpus every machine has: the running interpreter's standard library sources.

The corpus is every ``*.py`` file under the interpreter's ``Lib/`` directory (``sysconfig``'s ``stdlib`` path;
``site-packages`` and ``dist-packages`` excluded), read as raw bytes (vocabulary 256). It is version-dependent,
so a manifest records the Python version, the file list with each file's size and sha256, and the sha256 of the
concatenated bytes of every split.

**The cut is by file, by a fixed hash rule**: a file whose relative POSIX path ``p`` gives
``u = int(sha256(p)[:8], 16) % 100`` goes to ``val`` when ``u`` is 0..4, ``test`` when 5..9, ``train`` otherwise
(about 90 / 5 / 5 % of the files). The rule looks at nothing but the path, so adding or removing a file never
moves another one, and the same path lands in the same split on every machine and Python version.

Inside a split the files are concatenated in sorted path order, each followed by one ``\\x00`` byte (a file
separator that Python sources do not otherwise contain).

The splits are cached as ``<root>/pycorpus/py<major>.<minor>.<micro>/{train,val,test}.bin`` plus
``manifest.json``; a cached split whose sha256 differs from the manifest is refused (:class:`ChecksumError`),
and a manifest that does not match the interpreter's current files is rebuilt.

>>> corpus = load_pycorpus()                  # doctest: +SKIP
>>> corpus.split("train")[:10]                # doctest: +SKIP  (np.uint8 array)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphhyper._files import atomic_target, sha256_file
from graphhyper.errors import ChecksumError, DatasetError, InvalidInputError

__all__ = ["SPLITS", "PyCorpus", "split_of", "stdlib_dir", "list_files", "build_pycorpus", "load_pycorpus"]

SPLITS = ("train", "val", "test")
SEPARATOR = b"\x00"
VOCAB_SIZE = 256
_EXCLUDED_PARTS = {"site-packages", "dist-packages", "__pycache__"}
RULE = "u = int(sha256(relative posix path)[:8], 16) % 100; val if u < 5, test if u < 10, else train"
MANIFEST_VERSION = 1


def split_of(rel_path: str) -> str:
    """Split of the file at ``rel_path`` (relative POSIX path under ``Lib/``), by the fixed hash rule above."""
    u = int(hashlib.sha256(rel_path.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "val" if u < 5 else "test" if u < 10 else "train"


def stdlib_dir() -> Path:
    """The running interpreter's ``Lib/`` directory (raises :class:`DatasetError` if it is absent)."""
    path = Path(sysconfig.get_paths()["stdlib"])
    if not path.is_dir():
        raise DatasetError(
            f"The Python standard library sources are not at {path} (an embedded or stripped interpreter?). "
            "Install the full Python distribution or pass lib_dir= pointing at a Lib/ directory with *.py files."
        )
    return path


def list_files(lib_dir: str | os.PathLike) -> list[str]:
    """Sorted relative POSIX paths of the ``*.py`` files of ``lib_dir`` (third-party package folders excluded)."""
    root = Path(lib_dir)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a directory; pass lib_dir= pointing at a Lib/ directory with *.py files.")
    rel = [p.relative_to(root) for p in root.rglob("*.py") if p.is_file()]
    files = sorted(r.as_posix() for r in rel if not _EXCLUDED_PARTS.intersection(r.parts))
    if not files:
        raise DatasetError(f"No *.py files under {root}; pass lib_dir= pointing at a Python Lib/ directory.")
    return files


@dataclass
class PyCorpus:
    """The three splits as ``np.uint8`` arrays plus the manifest that describes them."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    manifest: dict

    def split(self, name: str) -> np.ndarray:
        """The bytes of split ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in SPLITS:
            raise InvalidInputError(f"Unknown corpus split {name!r}; choose one of {SPLITS}.")
        return getattr(self, name)


def _read_splits(lib_dir: Path, files: list[str]) -> tuple[dict[str, bytes], list[dict]]:
    parts: dict[str, list[bytes]] = {s: [] for s in SPLITS}
    entries = []
    for rel in files:
        data = (lib_dir / rel).read_bytes()
        split = split_of(rel)
        parts[split].append(data + SEPARATOR)
        entries.append({"path": rel, "split": split, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return {s: b"".join(v) for s, v in parts.items()}, entries


def _cache_dir(root: str | os.PathLike | None) -> Path:
    from graphhyper.data.download import default_root

    v = sys.version_info
    return default_root(root) / "pycorpus" / f"py{v.major}.{v.minor}.{v.micro}"


def build_pycorpus(lib_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path:
    """Read ``lib_dir`` (default: :func:`stdlib_dir`), cut it by file and write the cache; returns the cache dir."""
    lib = Path(lib_dir) if lib_dir is not None else stdlib_dir()
    files = list_files(lib)
    blobs, entries = _read_splits(lib, files)
    out = _cache_dir(root)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "python": sys.version,
        "lib_dir": str(lib),
        "rule": RULE,
        "separator": SEPARATOR.hex(),
        "vocab_size": VOCAB_SIZE,
        "files": entries,
        "splits": {s: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for s, b in blobs.items()},
        "sha256_all": hashlib.sha256(b"".join(blobs[s] for s in SPLITS)).hexdigest(),
    }
    for s, b in blobs.items():
        _write_atomic(out / f"{s}.bin", b)
    _write_atomic(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file of this call's own, so that processes building the same
    cache at once never move each other's half-written files."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def _manifest_current(manifest: dict, lib: Path) -> bool:
    """Whether ``manifest`` describes the files now under ``lib`` (same paths and sizes)."""
    if manifest.get("manifest_version") != MANIFEST_VERSION or manifest.get("lib_dir") != str(lib):
        return False
    listed = [(e["path"], e["bytes"]) for e in manifest.get("files", [])]
    try:
        now = [(p, (lib / p).stat().st_size) for p in list_files(lib)]
    except OSError:
        return False
    return listed == now


def _verified(cache: Path, manifest: dict) -> PyCorpus:
    arrays = {}
    for s in SPLITS:
        path = cache / f"{s}.bin"
        want = manifest["splits"][s]["sha256"]
        got = sha256_file(path) if path.exists() else "missing"
        if got != want:
            raise ChecksumError(
                f"Cached corpus split {path} has sha256 {got}, but its manifest says {want}: the cache was modified "
                f"or is incomplete. Delete {cache} (or call build_pycorpus()) to rebuild it from the sources."
            )
        arrays[s] = np.fromfile(path, dtype=np.uint8)
    return PyCorpus(arrays["train"], arrays["val"], arrays["test"], manifest)


def load_pycorpus(lib_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> PyCorpus:
    """The corpus of ``lib_dir`` (default: this interpreter's ``Lib/``), from the cache under ``root`` (default
    ``$GRAPHHYPER_DATA`` or ``~/.cache/graphhyper``), built there on first use or when the sources changed.

    Raises:
        DatasetError: ``Lib/`` is missing or holds no ``*.py`` file.
        ChecksumError: a cached split does not match its manifest's sha256 (delete the cache to rebuild).
    """
    lib = Path(lib_dir) if lib_dir is not None else stdlib_dir()
    cache = _cache_dir(root)
    manifest_path = cache / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest is None or not _manifest_current(manifest, lib):
        build_pycorpus(lib, root)
        manifest = json.loads(manifest_path.read_text())
    return _verified(cache, manifest)
