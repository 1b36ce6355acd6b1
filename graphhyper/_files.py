"""Small file helpers shared by packages that must not import each other (data, search, ghn)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_target", "default_file_mode", "sha256_file"]

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Read once, at import: reading the umask means setting it, which must not happen while other threads create files.
_UMASK = _read_umask()


def default_file_mode() -> int:
    """The permission bits a plain ``open(path, "w")`` gives a new file: 0o666 less the umask (read at import)."""
    return 0o666 & ~_UMASK


@contextmanager
def atomic_target(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path``, unique to this call, moved onto ``path`` when the block ends without an
    error (and removed when it raises), with the permissions a plain ``open`` would give. Processes that write the
    same file at once never move each other's half-written files, and a reader never sees a partial one."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
