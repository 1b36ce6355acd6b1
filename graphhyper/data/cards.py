"""Dataset cards: one JSON file per dataset in ``datasets/`` (shipped in the wheel as ``graphhyper/data/cards``).

A card records where every raw file comes from (URL and mirrors, pinned to a commit), its size and sha256,
the license, the statistics measured on the raw files and the published results with their protocol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphhyper.errors import DatasetError

CARD_DIR = Path(__file__).resolve().parent / "cards"


@dataclass(frozen=True)
class FileEntry:
    """One raw file of a dataset: ``path`` relative to the dataset folder, where to get it, how to check it."""

    path: str
    urls: tuple[str, ...]
    bytes: int | None = None
    sha256: str | None = None
    git_sha1: str | None = None  # git blob id: a checksum we know for files we could not hash ourselves
    optional: bool = False


@dataclass(frozen=True)
class DatasetCard:
    """A parsed dataset card (see ``datasets/README.md`` for the schema)."""

    name: str
    title: str
    format: str
    dir: str
    files: tuple[FileEntry, ...]
    statistics: dict[str, Any]
    published: tuple[dict[str, Any], ...]
    license: str
    params: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def file(self, path: str) -> FileEntry:
        for entry in self.files:
            if entry.path == path:
                return entry
        raise DatasetError(f"dataset card '{self.name}' lists no file '{path}'; the card in datasets/ is incomplete.")

    def published_for(self, model: str) -> dict[str, Any] | None:
        """The published result for ``model`` (case-insensitive, ``-``/``_`` ignored), or ``None``."""
        key = _norm(model)
        for row in self.published:
            if _norm(row["model"]) == key or key in {_norm(a) for a in row.get("aliases", ())}:
                return row
        return None


def _norm(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "title": (str,),
    "format": (str,),
    "dir": (str,),
    "files": (list,),
    "statistics": (dict,),
    "published": (list,),
    "license": (str,),
    "params": (dict,),
    "aliases": (list,),
}
_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,),
    "urls": (list,),
    "bytes": (int, type(None)),
    "sha256": (str, type(None)),
    "git_sha1": (str, type(None)),
    "optional": (bool,),
}


def _check_types(raw: Any, types: dict[str, tuple[type, ...]], where: str) -> None:
    if not isinstance(raw, dict):
        raise TypeError(f"{where} is a {type(raw).__name__}, not an object")
    for key, allowed in types.items():
        if key in raw and (not isinstance(raw[key], allowed) or isinstance(raw[key], bool) != (bool in allowed)):
            raise TypeError(f"'{key}' of {where} is {type(raw[key]).__name__}, not {allowed[0].__name__}")


def _check_file(f: Any) -> None:
    _check_types(f, _FILE_TYPES, "a file entry")
    path = f["path"]
    if not path or path.startswith(("/", "\\")) or ".." in Path(path).parts or "\x00" in path:
        raise TypeError(f"file path {path!r} must be relative and stay inside the dataset folder")
    if not all(isinstance(u, str) for u in f.get("urls", ())):
        raise TypeError(f"urls of {path!r} must be strings")


def _parse(raw: dict[str, Any], source: Path) -> DatasetCard:
    try:
        _check_types(raw, _TYPES, "the card")
        for f in raw["files"]:
            _check_file(f)
        if not all(isinstance(r, dict) and isinstance(r.get("model"), str) for r in raw.get("published", ())):
            raise TypeError("every 'published' row needs a 'model' name")
        files = tuple(
            FileEntry(
                path=f["path"],
                urls=tuple(f.get("urls", ())),
                bytes=f.get("bytes"),
                sha256=f.get("sha256"),
                git_sha1=f.get("git_sha1"),
                optional=bool(f.get("optional", False)),
            )
            for f in raw["files"]
        )
        return DatasetCard(
            name=raw["name"],
            title=raw["title"],
            format=raw["format"],
            dir=raw["dir"],
            files=files,
            statistics=dict(raw.get("statistics", {})),
            published=tuple(raw.get("published", ())),
            license=raw.get("license", "unknown"),
            params=dict(raw.get("params", {})),
            raw=raw,
        )
    except (KeyError, TypeError) as exc:
        raise DatasetError(
            f"dataset card {source} is malformed (missing or wrong field {exc}); fix or remove it."
        ) from exc


def read_card(path: str | Path) -> DatasetCard:
    """Parse one dataset card file; a :class:`DatasetError` naming the file when it is not a valid card."""
    path = Path(path)
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise DatasetError(f"dataset card {path} is not readable JSON ({str(exc)[:200]}); fix or remove it.") from exc
    return _parse(raw, path)


@lru_cache(maxsize=1)
def _all_cards() -> dict[str, DatasetCard]:
    if not CARD_DIR.is_dir():
        raise DatasetError(f"dataset cards not found at {CARD_DIR}; reinstall graphhyper (the cards are package data).")
    cards = {}
    for path in sorted(CARD_DIR.glob("*.json")):
        card = read_card(path)
        cards[card.name] = card
    return cards


def list_datasets() -> list[str]:
    """Names of every dataset with a card, sorted (``["20news", "citeseer-cc", ...]``)."""
    return sorted(_all_cards())


def get_card(name: str) -> DatasetCard:
    """The card of dataset ``name`` (case-insensitive; ``Cora_CA`` == ``cora-ca``)."""
    cards = _all_cards()
    key = _norm(name)
    for card in cards.values():
        if _norm(card.name) == key or key in {_norm(a) for a in card.raw.get("aliases", ())}:
            return card
    raise DatasetError(f"unknown dataset '{name}'. Known datasets: {', '.join(sorted(cards))}.")


__all__ = ["CARD_DIR", "DatasetCard", "FileEntry", "get_card", "list_datasets", "read_card"]
