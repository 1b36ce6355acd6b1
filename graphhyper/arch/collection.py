"""Many architectures on disk: compact, hashed, reproducible from a seed, split into ID / OOD sets.

An :class:`ArchCollection` holds specs of one search space (:func:`graphhyper.arch.spaces.get_space`) in named
splits. Every spec carries its isomorphism-aware hash and no hash occurs twice in a collection, so no test
architecture (nor an isomorphic copy of one) is in the training split.

File format (no pickles): UTF-8 text, optionally gzip-compressed when the name ends in ``.gz``. Line 1 is a JSON
header (format, version, space, seed, split sizes, sampler options, graphhyper version); every further line is
``split<TAB>hash<TAB>spec-json``. Loading reads the lines only; a spec's JSON is parsed when it is first used.

>>> col = ArchCollection.generate("darts", seed=0, splits={"train": 100, "id_test": 20, "wide": 20},
...                               in_channels=1, image_size=8)
>>> col.save("archs.jsonl.gz"); col = ArchCollection.load("archs.jsonl.gz")
>>> net = col.build(col.indices("wide")[0])
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any, Iterable

from ..errors import DatasetError, InvalidInputError, SearchError
from .spaces import Space, get_space

FORMAT = "graphhyper.arch_collection"
VERSION = 1
#: Split names that sample from a space's in-distribution ("id") split.
ID_ALIASES = ("train", "val", "valid", "id_val", "test", "id_test")
DEDUP = ("isomorphic", "exact")


def _space_split(space: Space, name: str) -> str:
    if name in space.splits:
        return name
    if name in ID_ALIASES:
        return "id"
    raise InvalidInputError(
        f"Split {name!r} is not a split of the '{space.name}' space. Use one of {list(space.splits)} or an "
        f"in-distribution name {list(ID_ALIASES)}."
    )


def _split_seed(seed: int, name: str, batch: int) -> int:
    return int(hashlib.sha256(f"{seed}/{name}/{batch}".encode()).hexdigest()[:12], 16)


class ArchCollection:
    """Architecture specs of one search space in named splits, with their hashes (globally unique)."""

    def __init__(self, space: str, records: Iterable[tuple[str, str, str]], header: dict | None = None):
        self.space = get_space(space)
        self._split, self._hash, self._raw = [], [], []
        for split, h, raw in records:
            self._split.append(split)
            self._hash.append(h)
            self._raw.append(raw)
        self._cache: dict[int, Any] = {}
        self.header = dict(header or {})
        self._check_unique()

    # ------------------------------------------------------------------------------------------ creation
    @classmethod
    def generate(
        cls,
        space: str = "darts",
        n: int | None = None,
        seed: int = 0,
        splits: dict[str, int] | Iterable[str] | None = None,
        dedup: str = "isomorphic",
        **space_kwargs,
    ) -> ArchCollection:
        """Sample a collection reproducibly from ``seed``.

        ``splits`` maps split names to sizes (``{"train": 1000, "id_test": 100, "wide": 100, ...}``) or lists
        names that each get ``n`` specs (default ``{"train": n}``). Names are space splits (darts: ``id``, ``wide``,
        ``deep``, ``dense``, ``bn_free``) or in-distribution aliases (``train``, ``val``, ``id_test``, ...).
        Splits are filled in the given order and a spec already taken is redrawn, so every architecture is in
        exactly one split. ``dedup="isomorphic"`` (default) treats specs with equal isomorphism-aware hashes as
        the same (no isomorphic copy of a test net in train); ``"exact"`` only refuses identical specs (e.g. to
        keep all 15,625 NB201 cells). Finite spaces (NB201) are drawn without replacement from a seeded
        permutation. ``space_kwargs`` go to the sampler (e.g. ``in_channels=1, image_size=8`` for digits).
        """
        if dedup not in DEDUP:
            raise InvalidInputError(f"dedup={dedup!r} is unknown. Use one of {DEDUP}.")
        sp = get_space(space)
        sizes = _split_sizes(n, splits)
        taken: set[str] = set()
        records = []
        for name, count in sizes.items():
            records.extend(_fill_split(sp, name, count, seed, taken, space_kwargs, dedup))
        header = {"seed": seed, "splits": sizes, "space_kwargs": space_kwargs, "dedup": dedup}
        return cls(space, records, header)

    @classmethod
    def from_specs(cls, space: str, splits: dict[str, list], dedup: str = "isomorphic") -> ArchCollection:
        """A collection of given specs, ``{split name: [spec, ...]}`` (hashes computed, duplicates refused)."""
        sp = get_space(space)
        records = [(name, sp.spec_hash(s), sp.to_json(s)) for name, specs in splits.items() for s in specs]
        return cls(space, records, {"splits": {k: len(v) for k, v in splits.items()}, "dedup": dedup})

    # ------------------------------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"ArchCollection(space='{self.space.name}', splits={self.split_sizes()})"

    def split_names(self) -> list[str]:
        return list(dict.fromkeys(self._split))

    def split_sizes(self) -> dict[str, int]:
        return {name: self._split.count(name) for name in self.split_names()}

    def indices(self, name: str) -> list[int]:
        """Global indices of the specs in split ``name``."""
        if name not in self._split:
            raise InvalidInputError(f"No split {name!r} in this collection; it has {self.split_names()}.")
        return [i for i, s in enumerate(self._split) if s == name]

    def spec(self, i: int):
        """Spec ``i`` (parsed from its JSON on first access, then cached)."""
        if not -len(self) <= i < len(self):
            raise InvalidInputError(f"Index {i} is out of range for a collection of {len(self)} specs.")
        i %= len(self)
        if i not in self._cache:
            self._cache[i] = self.space.from_json(self._raw[i])
        return self._cache[i]

    def __getitem__(self, i: int):
        return self.spec(i)

    def split(self, name: str) -> list:
        """All specs of split ``name``, in order."""
        return [self.spec(i) for i in self.indices(name)]

    def split_of(self, i: int) -> str:
        return self._split[i]

    def hash(self, i: int) -> str:
        return self._hash[i]

    def build(self, i: int):
        """``nn.Module`` of spec ``i``."""
        return self.space.build(self.spec(i))

    def graph(self, i: int):
        """:class:`~graphhyper.arch.ArchGraph` of spec ``i`` (traced on meta tensors)."""
        return self.space.spec_to_graph(self.spec(i))

    def verify(self) -> None:
        """Parse every spec and check its stored hash; raise :class:`DatasetError` on the first mismatch."""
        for i in range(len(self)):
            h = self.space.spec_hash(self.spec(i))
            if h != self._hash[i]:
                raise DatasetError(
                    f"Spec {i} (split {self._split[i]!r}) hashes to {h}, but the file stores "
                    f"{self._hash[i]}: it was edited or written by another version. Regenerate it."
                )

    def _check_unique(self) -> None:
        seen: dict[str, int] = {}
        keys = self._raw if self.header.get("dedup") == "exact" else self._hash
        for i, h in enumerate(keys):
            if h in seen:
                j = seen[h]
                raise DatasetError(
                    f"Specs {j} (split {self._split[j]!r}) and {i} (split {self._split[i]!r}) are the same "
                    f"architecture (hash {self._hash[i]}, dedup={self.header.get('dedup', 'isomorphic')!r}). "
                    f"Remove one so that no split leaks into another."
                )
            seen[h] = i

    # ------------------------------------------------------------------------------------------ disk
    def save(self, path: str | os.PathLike) -> Path:
        """Write the collection (gzip when ``path`` ends in ``.gz``); identical collections give identical bytes."""
        from .. import __version__

        path = Path(path)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "space": self.space.name,
            "count": len(self),
            "graphhyper": __version__,
            **{k: v for k, v in self.header.items() if k not in ("format", "count")},
        }
        header["splits"] = self.split_sizes()
        lines = [json.dumps(header, sort_keys=True)]
        lines += [f"{s}\t{h}\t{r}" for s, h, r in zip(self._split, self._hash, self._raw)]
        data = ("\n".join(lines) + "\n").encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ArchCollection:
        """Read a collection written by :meth:`save`; specs are parsed lazily on access."""
        path = Path(path)
        if not path.is_file():
            raise DatasetError(
                f"No architecture collection at {path}. Create one with ArchCollection.generate(...).save(path)."
            )
        raw = path.read_bytes()
        try:
            text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise DatasetError(
                f"{path} is not a readable collection ({exc}); it may be truncated. Regenerate it."
            ) from None
        lines = text.splitlines()
        header = _parse_header(lines[0] if lines else "", path)
        records: list[tuple[str, str, str]] = []
        for k, line in enumerate(lines[1:], start=2):
            parts = line.split("\t", 2)
            if len(parts) != 3:
                raise DatasetError(f"{path} line {k} is malformed (expected split<TAB>hash<TAB>spec). Regenerate it.")
            records.append((parts[0], parts[1], parts[2]))
        if len(records) != header.get("count"):
            raise DatasetError(
                f"{path} holds {len(records)} specs but its header says {header.get('count')}: the "
                f"file is truncated. Regenerate it."
            )
        return cls(header["space"], records, header)


def _parse_header(line: str, path: Path) -> dict:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DatasetError(
            f"{path} is not a graphhyper architecture collection (its first line is no "
            f"'{FORMAT}' header). Pass a file written by ArchCollection.save."
        )
    if header.get("version") != VERSION:
        raise DatasetError(
            f"{path} has collection format version {header.get('version')}; this graphhyper reads "
            f"version {VERSION}. Regenerate the collection with this version."
        )
    return header


def _split_sizes(n, splits) -> dict[str, int]:
    if splits is None:
        splits = ["train"]
    if not isinstance(splits, dict):
        if n is None:
            raise InvalidInputError(
                "Give n (specs per split) when splits is a list of names, or pass "
                "splits={'train': 1000, 'id_test': 100, ...}."
            )
        splits = {name: n for name in splits}
    for name, count in splits.items():
        if not isinstance(count, int) or count < 0 or "\t" in name or "\n" in name:
            raise InvalidInputError(
                f"Split {name!r}: size {count!r} must be a non-negative int and the name "
                f"must not contain tabs or newlines."
            )
    return dict(splits)


def _fill_split(sp: Space, name: str, count: int, seed: int, taken: set, kwargs: dict, dedup: str) -> list:
    space_split = _space_split(sp, name)
    out: list[tuple[str, str, str]] = []
    batch, drawn = 0, 0
    limit = 20 * count + 2000
    while len(out) < count and drawn < limit:
        if sp.all_specs is not None:  # finite space: one seeded permutation, without replacement
            if kwargs:
                raise InvalidInputError(f"The '{sp.name}' space takes no sampler options, got {sorted(kwargs)}.")
            specs = sp.all_specs()
            random.Random(_split_seed(seed, name, 0)).shuffle(specs)
            limit = 0
        else:
            specs = sp.sample_specs(
                min(count - len(out) + 8, 4096), _split_seed(seed, name, batch), space_split, **kwargs
            )
        for spec in specs:
            drawn += 1
            h = sp.spec_hash(spec)
            js = sp.to_json(spec)
            key = h if dedup == "isomorphic" else js
            if key not in taken:
                taken.add(key)
                out.append((name, h, js))
                if len(out) == count:
                    break
        batch += 1
    if len(out) < count:
        raise SearchError(
            f"Could only find {len(out)} of {count} new distinct architectures for split {name!r} of the "
            f"'{sp.name}' space (dedup={dedup!r}) after {drawn} draws: the space, or what other splits left of "
            f"it, is too small. Ask for fewer specs or use dedup='exact'."
        )
    return out
