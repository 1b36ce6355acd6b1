"""Opening a storage file without harm: refuse what is not an SQLite database or an Optuna journal, naming the file
and the fix, and never write to it (SQLAlchemy's ``DatabaseError`` and the journal's ``UnicodeDecodeError`` /
``KeyError`` do not reach the user). Used by :func:`graphhyper.search.study.make_storage`.
"""

from __future__ import annotations

import json
from pathlib import Path

from graphhyper.errors import SearchError

__all__ = [
    "sqlite_or_rdb_error",
    "check_sqlite_url",
    "open_journal",
]

_KEEP = "it was left unchanged (graphhyper never overwrites or deletes a storage)"


def _sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///`` URL (``None`` for other URLs and in-memory databases)."""
    if not url.startswith("sqlite:"):
        return None
    from sqlalchemy.engine import make_url

    db = make_url(url).database
    return Path(db) if db and db != ":memory:" else None


def sqlite_or_rdb_error(url: str, e: Exception) -> SearchError:
    """The SearchError for a database that SQLAlchemy cannot read (``e``: its ``DatabaseError``)."""
    from sqlalchemy.engine import make_url

    cause = _clip(str(getattr(e, "orig", None) or e).strip().splitlines()[0])
    path = _sqlite_path(url)
    if path is not None:
        return SearchError(
            f"storage: {path} cannot be opened as an SQLite database of Optuna studies "
            f"({cause}); {_KEEP}. Give storage= a new file (sqlite:///another.db), or restore "
            "this one from a backup."
        )
    shown = make_url(url).render_as_string(hide_password=True)
    return SearchError(
        f"storage={shown!r} cannot be read as a database of Optuna studies ({cause}); {_KEEP}. "
        "Give storage= another database, or repair this one."
    )


def check_sqlite_url(url: str) -> None:
    """Refuse an SQLite path that is not a file, or whose folder is missing, before SQLite opens it."""
    path = _sqlite_path(url)
    if path is None:
        return
    _check_regular_file(path, "an SQLite database")
    if not path.parent.is_dir():
        raise SearchError(
            f"storage: the folder of the SQLite file {path} does not exist; create it "
            f"(mkdir -p {path.parent}) or give storage= a path in an existing folder."
        )


def _check_regular_file(path: Path | None, kind: str) -> None:
    """Refuse a path that exists and is not a plain file (a directory, a FIFO that would block, a device)."""
    if path is not None and path.exists() and not path.is_file():
        raise SearchError(
            f"storage: {path} exists and is not a regular file, so it cannot be {kind}; {_KEEP}. "
            "Give storage= a path to a file (a new one is created)."
        )


def open_journal(path: Path):
    """An Optuna journal file; an existing file must read as one (it is never rewritten, only appended to)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    _check_regular_file(path, "an Optuna journal")
    _check_journal_head(path)
    try:
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:  # UnicodeDecodeError, JSON errors
        raise _journal_error(path, f"{type(e).__name__}: {e}") from e
    except OSError as e:
        raise SearchError(
            f"storage: the journal {path} cannot be opened ({e}). Give storage= a path in a "
            "writable folder ('journal:<path>')."
        ) from e


def _check_journal_head(path: Path) -> None:
    """Refuse an existing non-empty file whose first line is not an Optuna journal operation, before anything is
    appended to it (a single bad line would otherwise be skipped and the file written to)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        head = f.readline(1 << 20)
    try:
        entry = json.loads(head)
    except ValueError as e:  # not UTF-8, or not JSON
        raise _journal_error(path, f"its first line is not JSON: {type(e).__name__}") from e
    if not isinstance(entry, dict) or "op_code" not in entry:
        raise _journal_error(path, "its first line is JSON but not a journal operation (no 'op_code')")


def _journal_error(path: Path, cause: str) -> SearchError:
    return SearchError(
        f"storage: {path} is not an Optuna journal file ({_clip(cause)}); {_KEEP}. Give storage= a "
        "new path ('journal:another.log'), or restore this one from a backup. Note that a path "
        "ending in .log or .journal is opened as a journal."
    )


def _clip(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[:n] + "..."
