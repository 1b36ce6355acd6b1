"""Locating, downloading and verifying raw dataset files.

Files live in ``<root>/hypergraph/<card.dir>/<path>``, where ``root`` is the argument, else
``$GRAPHHYPER_DATA``, else ``~/.cache/graphhyper``. A missing file is downloaded from the card's URLs
(the primary first, then the mirrors, each tried ``retries`` times) into a temporary file that is
checked (size, sha256 or git blob id) before it is moved into place, so a half-written file never
looks valid. Every load re-checks the files against the card.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable

from graphhyper._files import default_file_mode, sha256_file
from graphhyper.data.cards import DatasetCard, FileEntry
from graphhyper.errors import ChecksumError, DatasetError

Opener = Callable[..., AbstractContextManager[Any]]  # urlopen-like: (url, timeout=) -> response
_CHUNK = 1 << 20


def default_root(root: str | os.PathLike | None = None) -> Path:
    """``root`` if given, else ``$GRAPHHYPER_DATA``, else ``~/.cache/graphhyper``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GRAPHHYPER_DATA")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "graphhyper"


def dataset_dir(card: DatasetCard, root: str | os.PathLike | None = None) -> Path:
    """Folder holding ``card``'s raw files (``<root>/hypergraph/<dir>``, or ``<root>/<dir>`` if that exists)."""
    base = default_root(root)
    nested = base / "hypergraph" / card.dir
    flat = base / card.dir
    if not nested.exists() and flat.is_dir():
        return flat
    return nested


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file (``sha1(b"blob <size>\\0" + content)``)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fix_hint(path: Path) -> str:
    return f"Delete {path} and load the dataset again to re-download it."


def verify_file(path: Path, entry: FileEntry) -> None:
    """Check size and checksum of ``path`` against its card entry.

    Raises:
        DatasetError: the file is shorter or longer than the card says (truncated download).
        ChecksumError: the size is right but the sha256 / git blob id differs.
    """
    size = path.stat().st_size
    if entry.bytes is not None and size != entry.bytes:
        what = "truncated" if size < entry.bytes else "longer than expected"
        raise DatasetError(f"{path} is {what}: {size} bytes, the dataset card says {entry.bytes}. {_fix_hint(path)}")
    if entry.sha256:
        got = sha256_file(path)
        if got != entry.sha256:
            raise ChecksumError(
                f"{path}: sha256 {got[:16]}... does not match the dataset card ({entry.sha256[:16]}...); "
                f"the file is corrupt or was replaced. {_fix_hint(path)}"
            )
    elif entry.git_sha1:
        got = git_blob_sha1(path)
        if got != entry.git_sha1:
            raise ChecksumError(
                f"{path}: git blob id {got[:12]}... does not match the dataset card ({entry.git_sha1[:12]}...). "
                f"{_fix_hint(path)}"
            )
    else:
        warnings.warn(f"{path}: the dataset card records no checksum for this file; it was not verified.", stacklevel=3)


def download_file(
    entry: FileEntry,
    dest: Path,
    *,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
    opener: Opener | None = None,
    progress: bool = True,
) -> Path:
    """Download ``entry`` to ``dest`` trying each URL (primary, then mirrors) ``retries`` times.

    The bytes go to a temporary file beside ``dest`` that is verified with :func:`verify_file`
    before being renamed into place. ``opener`` (default ``urllib.request.urlopen``) is injectable
    for tests. Raises :class:`DatasetError` listing every URL and its last error when all fail.
    """
    if not entry.urls:
        raise DatasetError(f"{dest} is missing and its dataset card lists no URL; place the file there by hand.")
    opener = opener or urllib.request.urlopen
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in entry.urls:
        for attempt in range(retries):
            try:
                tmp = _fetch(url, dest, opener, timeout, progress)
                try:
                    verify_file(tmp, entry)
                except DatasetError:
                    tmp.unlink(missing_ok=True)
                    raise
                os.replace(tmp, dest)
                return dest
            except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, checksum failures
                errors.append(f"{url} (try {attempt + 1}): {exc}")
                if attempt + 1 < retries:
                    time.sleep(backoff * (attempt + 1))
    raise DatasetError(
        f"could not download {dest.name}; tried:\n  "
        + "\n  ".join(errors)
        + f"\nDownload it by hand from one of those URLs into {dest}."
    )


def _fetch(url: str, dest: Path, opener: Opener, timeout: float, progress: bool) -> Path:
    fd, name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, opener(url, timeout=timeout) as response:
            total = _length(response)
            bar = _bar(total, dest.name, progress)
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        os.chmod(tmp, default_file_mode())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _length(response: object) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    return int(value) if value else None


def _bar(total: int | None, desc: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False)


def ensure_files(
    card: DatasetCard,
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    opener: Opener | None = None,
) -> Path:
    """Make sure every non-optional raw file of ``card`` is present (downloading if allowed) and valid.

    Returns the dataset folder.
    """
    folder = dataset_dir(card, root)
    for entry in card.files:
        path = folder / entry.path
        if not path.exists():
            if entry.optional:
                continue
            if not download:
                urls = ", ".join(entry.urls) or "no URL recorded"
                raise DatasetError(
                    f"{path} is missing (dataset '{card.name}'). Call with download=True, or fetch it from {urls}."
                )
            if not os.access(_existing_ancestor(path.parent), os.W_OK):
                raise DatasetError(
                    f"{path} is missing and {path.parent} is not writable; pass root= a writable folder."
                )
            download_file(entry, path, opener=opener)
        elif verify:
            verify_file(path, entry)
    return folder


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


__all__ = [
    "default_root",
    "dataset_dir",
    "sha256_file",
    "git_blob_sha1",
    "verify_file",
    "download_file",
    "ensure_files",
]
