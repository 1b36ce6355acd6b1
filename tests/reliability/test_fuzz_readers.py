"""Hypothesis fuzz of the dataset readers: only documented GraphhyperError subclasses may come out.

Random bytes into ``safe_loads`` are covered in test_fuzz_inputs.py; here the inputs start from *valid* files
(HyperGCN-style pickles, ``.content``/``.edges`` text, Cornell text, dataset cards) and are mutated, so most
examples get past the first opcode or line and reach the checks behind it. Whatever a reader accepts must be
consistent (ids in range, one label per node), and the unpickler's memory stays within a bound of the input size.
"""

from __future__ import annotations

import json
import pickle
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphhyper.data.cards import CARD_DIR, DatasetCard, get_card
from graphhyper.errors import GraphhyperError

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

# ---------------------------------------------------------------- pickles
_HYPERGCN_LIKE = [
    sp.csr_matrix(np.eye(4, 6, dtype=np.float32)),
    [0, 1, 1, 0],
    {"e0": {np.int32(0), np.int32(1)}, "e1": [2, 3], "e2": (1, 2, 3)},
    {"train": [0, 1], "test": np.array([2, 3], dtype=np.int64)},
    {"x": np.arange(6, dtype=">f8").reshape(2, 3), "b": b"raw", "c": 1 + 2j, "s": frozenset({1})},
]
SEEDS = [pickle.dumps(obj, protocol=p) for obj in _HYPERGCN_LIKE for p in (0, 2, 4, 5)]

_edit = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate", "splice", "big"]),
    st.integers(0, 1 << 20),
    st.binary(min_size=1, max_size=6),
)


def _mutate(data: bytes, edits) -> bytes:
    for kind, where, chunk in edits:
        pos = where % (len(data) + 1)
        if kind == "flip" and data:
            pos %= len(data)
            data = data[:pos] + bytes([data[pos] ^ (chunk[0] or 1)]) + data[pos + 1 :]
        elif kind == "insert":
            data = data[:pos] + chunk + data[pos:]
        elif kind == "delete":
            data = data[:pos] + data[pos + len(chunk) :]
        elif kind == "truncate":
            data = data[:pos]
        elif kind == "splice":
            other = SEEDS[where % len(SEEDS)]
            start = (where >> 8) % len(other)
            data = data[:pos] + other[start : start + 4 * len(chunk)] + data[pos:]
        else:  # a 4-byte little-endian field set to a large value
            data = data[:pos] + (0x7FFFFFF0 - chunk[0]).to_bytes(4, "little") + data[pos + 4 :]
    return data


def _touch(obj, depth: int = 0) -> None:
    """Read everything a loaded object claims to hold, as a user of it would."""
    if depth > 20:
        return
    if isinstance(obj, sp.csr_matrix):
        rows, cols = obj.shape
        assert obj.indptr[0] == 0 and obj.indptr[-1] == obj.nnz and (obj.indices < cols).all()
        if rows * cols <= 10**6:
            obj.toarray()
    elif isinstance(obj, np.ndarray):
        assert obj.dtype.kind in "biufc" and obj.dtype.fields is None
        obj.tolist()
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _touch(key, depth + 1)
            _touch(value, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for value in obj:
            _touch(value, depth + 1)


@FUZZ
@given(seed=st.integers(0, len(SEEDS) - 1), edits=st.lists(_edit, min_size=1, max_size=4))
def test_mutated_pickles(seed, edits, record):
    from graphhyper.data import safe_loads

    record(
        "fuzz: safe_loads(mutated HyperGCN-style pickle)",
        "byte flips, inserts, deletes, splices, large length "
        "fields in protocol 0/2/4/5 pickles; only GraphhyperError; peak memory <= 72 x size + 2 MiB",
    )
    data = _mutate(SEEDS[seed], edits)
    tracemalloc.start()
    try:
        obj = safe_loads(data, source="fuzz.pickle")
    except GraphhyperError as exc:
        assert "fuzz.pickle" in str(exc)
        return
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= 72 * len(data) + (2 << 20), (peak, len(data))  # opcodes' own objects + the stand-ins' budget
    _touch(obj)


_FILES = ("features.pickle", "labels.pickle", "hypergraph.pickle")


@pytest.fixture(scope="module")
def hypergcn_files():
    feats = sp.csr_matrix(np.eye(4, 6, dtype=np.float32))
    return {
        "features.pickle": pickle.dumps(feats, protocol=4),
        "labels.pickle": pickle.dumps([0, 1, 1, 0]),
        "hypergraph.pickle": pickle.dumps({"e0": {np.int32(0), np.int32(1)}, "e1": [2, 3]}, protocol=4),
    }


@FUZZ
@given(which=st.sampled_from(_FILES), edits=st.lists(_edit, min_size=1, max_size=3))
def test_read_hypergcn_mutated_folder(which, edits, hypergcn_files, tmp_path_factory, record):
    from graphhyper.data.readers import read_hypergcn

    record(
        "fuzz: read_hypergcn(one file mutated)",
        "features/labels/hypergraph pickle mutated; only "
        "GraphhyperError, and what loads has labels and hyperedges within the node count",
    )
    folder = tmp_path_factory.mktemp("hypergcn")
    for name, data in hypergcn_files.items():
        (folder / name).write_bytes(_mutate(data, edits) if name == which else data)
    try:
        raw = read_hypergcn(folder, get_card("cora-ca"))
    except GraphhyperError as exc:
        assert str(exc)
        return
    _check_raw(raw)


def _check_raw(raw) -> None:
    assert raw.x.shape[0] == raw.num_nodes == raw.y.numel() and torch.isfinite(raw.x).all()
    assert raw.y.numel() == 0 or (0 <= int(raw.y.min()) and int(raw.y.max()) < raw.num_nodes)
    assert all(0 <= v < raw.num_nodes for edge in raw.hyperedges for v in edge)


# ---------------------------------------------------------------- text formats
_TOKENS = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(
        [
            "0.5",
            "-0",
            "nan",
            "inf",
            "-inf",
            "1e400",
            "99999999999999999999",
            "1e15",
            "abc",
            "",
            "0x1f",
            "1,2",
            "\x00",
            "é",
            "\t",
        ]
    ),
)
_LINES = st.lists(st.lists(_TOKENS, min_size=0, max_size=6), max_size=12)


def _text(lines, sep: str) -> bytes:
    return "\n".join(sep.join(row) for row in lines).encode("utf-8", "surrogatepass")


def _card(fmt: str, stem: str) -> DatasetCard:
    return DatasetCard("fuzz", "fuzz", fmt, "fuzz", (), {}, (), "none", {"stem": stem})


@FUZZ
@given(content=_LINES, edges=_LINES, junk=st.one_of(st.none(), st.binary(max_size=40)))
def test_content_edges_text(content, edges, junk, tmp_path_factory, record):
    from graphhyper.data.readers import read_content_edges

    record(
        "fuzz: read_content_edges(random rows)",
        "ids/features/labels/edge rows of ints, floats, nan, inf, "
        "huge numbers, junk bytes; only GraphhyperError, consistent when accepted",
    )
    folder = tmp_path_factory.mktemp("content")
    (folder / "f.content").write_bytes(_text(content, " ") + (junk or b""))
    (folder / "f.edges").write_bytes(_text(edges, " "))
    try:
        raw = read_content_edges(folder, _card("content-edges", "f"))
    except GraphhyperError as exc:
        assert str(exc)
        return
    _check_raw(raw)


@FUZZ
@given(labels=st.lists(_TOKENS, min_size=0, max_size=12), edges=_LINES, junk=st.binary(max_size=20))
def test_cornell_text(labels, edges, junk, tmp_path_factory, record):
    from graphhyper.data.readers import read_cornell

    record(
        "fuzz: read_cornell(random labels and hyperedges)",
        "label lines and comma-separated hyperedge lines with junk; only GraphhyperError, consistent when accepted",
    )
    folder = tmp_path_factory.mktemp("cornell")
    (folder / "node-labels-f.txt").write_bytes("\n".join(labels).encode("utf-8", "surrogatepass"))
    (folder / "hyperedges-f.txt").write_bytes(_text(edges, ",") + junk)
    try:
        raw = read_cornell(folder, _card("cornell", "f"), feature_dim=8)
    except GraphhyperError as exc:
        assert str(exc)
        return
    _check_raw(raw)


# ---------------------------------------------------------------- dataset cards
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), st.text(max_size=12)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def valid_card() -> dict:
    return json.loads((CARD_DIR / "zoo.json").read_text())


@FUZZ
@given(
    path=st.lists(
        st.sampled_from(["name", "files", 0, "path", "urls", "bytes", "optional", "published", "model", "params"]),
        min_size=1,
        max_size=3,
    ),
    value=_JSON,
    raw=st.one_of(st.none(), st.binary(max_size=30)),
)
def test_dataset_card_json(path, value, raw, valid_card, tmp_path_factory, record):
    from graphhyper.data.cards import read_card

    record(
        "fuzz: read_card(mutated JSON card)",
        "one field of zoo.json replaced by random JSON, or the file by "
        "random bytes; only DatasetError, and what parses has typed fields",
    )
    card = json.loads(json.dumps(valid_card))
    node = card
    for key in path[:-1]:
        node = (
            node[key]
            if isinstance(node, dict) and key in node
            else (node[0] if isinstance(node, list) and node else None)
        )
        if node is None:
            break
    if isinstance(node, dict):
        node[path[-1] if isinstance(path[-1], str) else "name"] = value
    file = tmp_path_factory.mktemp("card") / "card.json"
    file.write_bytes(raw if raw is not None else json.dumps(card).encode())
    try:
        parsed = read_card(file)
    except GraphhyperError as exc:
        assert "card.json" in str(exc)
        return
    assert isinstance(parsed.name, str) and all(isinstance(f.path, str) and ".." not in f.path for f in parsed.files)
    assert all(isinstance(u, str) for f in parsed.files for u in f.urls)
    parsed.published_for("hgnn")
