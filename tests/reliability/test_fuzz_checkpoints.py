"""Fuzzing the GHN checkpoint readers: mutated safetensors headers and config JSON.

Whatever the mutation, ``load`` either returns a GHN whose tensors are exactly what the header describes (float32,
the shapes the config implies), or raises a documented :class:`GraphhyperError`; it never hangs (the whole file runs
in seconds) and never allocates more than the files hold (every example is a few KB; a blow-up would show as a slow
or killed run).
"""

from __future__ import annotations

import json
import math
import struct
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphhyper.errors import GraphhyperError
from graphhyper.ghn import GHN, GHNConfig, load, save

from .test_checkpoint_safety import encode_st, read_st

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_SIZES = {"F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "F64": 8, "I64": 8, "U8": 1, "BOOL": 1}


class Pristine(NamedTuple):
    """A small GHN checkpoint: tensors ``{name: [dtype, shape, bytes]}``, header metadata, JSON document."""

    tensors: dict
    meta: dict
    doc: dict

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "Pristine(hidden=8 GHN)"


@pytest.fixture(scope="module")
def pristine() -> Pristine:
    with tempfile.TemporaryDirectory() as tmp:
        st_path, js_path = save(
            GHN(GHNConfig(hidden=8, layers=1, rank=2, vocab=["unknown", "conv", "linear"])), Path(tmp) / "g"
        )
        header, data = read_st(st_path)
        meta = header.pop("__metadata__")
        tensors = {k: [v["dtype"], v["shape"], data[slice(*v["data_offsets"])]] for k, v in header.items()}
        return Pristine(tensors, meta, json.loads(js_path.read_text()))


def _pack(tensors: dict, meta, edits) -> bytes:
    """A safetensors file of ``tensors`` with consistent offsets, then the raw header ``edits`` applied."""
    header, data = {"__metadata__": meta}, b""
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    names = sorted(tensors)
    for index, field, value in edits:
        if names:
            header[names[index % len(names)]][field] = value
    return encode_st(header, data)


huge = st.sampled_from([2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**64 - 1, 2**64, 10**30])
numbers = st.one_of(st.integers(-3, 70), huge, st.integers(-(2**64), -1))
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        numbers,
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
        st.sampled_from(["F32", "I32", "transformer", "gatedgnn", "lowrank", "tiled", "conv"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)
index = st.integers(0, 999)
small_shape = st.lists(st.integers(0, 40), max_size=3)

# consistent changes: the file stays a valid safetensors file whose header describes other tensors
structured = st.one_of(
    st.tuples(st.just("relabel"), index, st.sampled_from(sorted(_SIZES))),
    st.tuples(st.just("reshape"), index, st.sampled_from(["flat", "row", "reverse"])),
    st.tuples(st.just("resize"), index, small_shape),
    st.tuples(st.just("drop"), index, st.none()),
    st.tuples(st.just("extra"), index, st.tuples(st.text(max_size=10), small_shape)),
    st.tuples(
        st.just("config"), index, st.tuples(st.sampled_from(["hidden", "rank", "vocab", "mip", "x"]), json_values)
    ),
    st.tuples(st.just("metadata"), index, json_values),
)
# raw edits of one header field, leaving the data as it is
raw_edit = st.tuples(
    index,
    st.sampled_from(["dtype", "shape", "data_offsets"]),
    st.one_of(st.sampled_from(sorted(_SIZES) + ["Q9", ""]), st.lists(numbers, max_size=3), json_values),
)
byte_edit = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10**6)),
    st.tuples(st.just("length"), st.one_of(st.integers(0, 4096), huge.filter(lambda n: n < 2**64))),
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
)


def _apply(tensors: dict, meta, change) -> dict:
    kind, i, value = change
    names = sorted(tensors)
    name = names[i % len(names)] if names else None
    if kind == "relabel" and name:  # same bytes, another dtype (flattened if its item size differs)
        _, shape, blob = tensors[name]
        if _SIZES[value] != 4 and len(blob) % _SIZES[value] == 0:
            shape = [len(blob) // _SIZES[value]]
        tensors[name] = [value, shape, blob] if len(blob) % _SIZES[value] == 0 else tensors[name]
    elif kind == "reshape" and name:
        shape = tensors[name][1]
        tensors[name][1] = {"flat": [math.prod(shape)], "row": [1, *shape], "reverse": shape[::-1]}[value]
    elif kind == "resize" and name:
        tensors[name] = ["F32", value, bytes(4 * math.prod(value))]
    elif kind == "drop" and name:
        del tensors[name]
    elif kind == "extra":
        tensors[value[0] or "x"] = ["F32", value[1], bytes(4 * math.prod(value[1]))]
    elif kind == "config" and isinstance(meta, dict) and "config" in meta:
        meta["config"] = json.dumps({**json.loads(meta["config"]), value[0]: value[1]})
    return tensors


def _edit_bytes(raw: bytes, edit) -> bytes:
    if edit[0] == "truncate":
        return raw[: edit[1] % (len(raw) + 1)]
    if edit[0] == "length":
        return struct.pack("<Q", edit[1]) + raw[8:]
    if not raw:  # an earlier edit truncated the file to nothing: no byte left to flip
        return raw
    pos = edit[1] % len(raw)
    return raw[:pos] + bytes([raw[pos] ^ edit[2]]) + raw[pos + 1 :]


def _load_and_check(path: Path) -> None:
    """``load`` either raises a GraphhyperError or returns a finite float32 GHN equal to the header's tensors."""
    try:
        ghn = load(path)
    except GraphhyperError as exc:
        assert str(exc)
        return
    header, _ = read_st(path.with_suffix(".safetensors"))
    state = ghn.state_dict()
    for key, info in header.items():
        if key != "__metadata__":
            assert info["dtype"] == "F32" and list(state[key].shape) == info["shape"], key
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in state.values())


def _write_and_load(doc_text: bytes, weights: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g"
        path.with_suffix(".json").write_bytes(doc_text)
        path.with_suffix(".safetensors").write_bytes(weights)
        _load_and_check(path)


def _mutated_weights(pristine: Pristine, changes, edits=(), byte_edits=()) -> bytes:
    tensors = {k: list(v) for k, v in pristine.tensors.items()}
    meta = json.loads(json.dumps(pristine.meta))
    for change in changes:
        if change[0] == "metadata":
            meta = change[2]
        else:
            tensors = _apply(tensors, meta, change)
    raw = _pack(tensors, meta, edits)
    for edit in byte_edits:
        raw = _edit_bytes(raw, edit)
    return raw


@FUZZ
@given(changes=st.lists(structured, min_size=1, max_size=3))
def test_consistent_safetensors_with_other_tensors(pristine, changes, record):
    record(
        "GHN safetensors fuzz, valid files",
        "relabelled dtypes, reshaped / resized / missing / extra tensors, "
        "header config and metadata -> only GraphhyperError, or a GHN equal to the header",
    )
    _write_and_load(json.dumps(pristine.doc).encode(), _mutated_weights(pristine, changes))


@FUZZ
@given(changes=st.lists(st.tuples(st.just("relabel"), index, st.sampled_from(sorted(_SIZES))), min_size=1, max_size=3))
def test_relabelled_tensors(pristine, changes, record):
    record(
        "GHN safetensors fuzz, relabelled dtypes",
        "1-3 tensors relabelled (same bytes, any dtype) "
        "-> only CheckpointError naming the dtype, never garbage weights",
    )
    _write_and_load(json.dumps(pristine.doc).encode(), _mutated_weights(pristine, changes))


@FUZZ
@given(
    changes=st.lists(structured, max_size=2),
    edits=st.lists(raw_edit, max_size=2),
    byte_edits=st.lists(byte_edit, max_size=2),
)
def test_corrupt_safetensors(pristine, changes, edits, byte_edits, record):
    record(
        "GHN safetensors fuzz, corrupt files",
        "raw dtype / shape / offset edits (huge, negative, wrong types), "
        "truncation, header length, byte flips -> only GraphhyperError, or a GHN equal to the header",
    )
    _write_and_load(json.dumps(pristine.doc).encode(), _mutated_weights(pristine, changes, edits, byte_edits))


config_change = st.one_of(
    st.tuples(
        st.sampled_from(["hidden", "rank", "layers", "heads", "cutoff", "rounds", "max_dim"]),
        st.one_of(numbers, st.integers(0, 2**17), json_values),
    ),
    st.tuples(st.sampled_from(["encoder", "decoder", "mip", "vocab", "colour", ""]), json_values),
    st.tuples(st.just("vocab"), st.lists(st.sampled_from(["unknown", "conv", "linear", "", "relu"]), max_size=5)),
    st.tuples(st.just("<delete>"), st.sampled_from(["hidden", "vocab", "encoder", "mip"])),
)


@FUZZ
@given(changes=st.lists(config_change, min_size=1, max_size=3), same_in_header=st.booleans())
def test_mutated_config(pristine, changes, same_in_header, record):
    record(
        "GHN config JSON fuzz",
        "wrong types, huge / negative / zero ints, NaN, unknown and deleted keys, in the "
        "JSON alone or also in the weights' header -> only GraphhyperError, or a GHN equal to the header",
    )
    meta, doc = pristine.meta, json.loads(json.dumps(pristine.doc))
    for key, value in changes:
        if key == "<delete>":
            doc["config"].pop(value, None)
        else:
            doc["config"][key] = value
    if same_in_header:  # the header then agrees with the JSON, and the tensors' shapes are what is compared
        meta = {**meta, "config": json.dumps(doc["config"], sort_keys=True)}
    _write_and_load(json.dumps(doc).encode(), _pack(pristine.tensors, meta, []))


@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(["format", "format_version", "meta", "config", "<replace>"]), json_values), max_size=2
    ),
    text=st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=40)),
)
def test_mutated_config_document(pristine, changes, text, record):
    record(
        "GHN config document fuzz",
        "format, format_version, meta or the whole document replaced; random bytes "
        "and text as the JSON -> only GraphhyperError",
    )
    doc = json.loads(json.dumps(pristine.doc))
    for key, value in changes:
        doc = value if key == "<replace>" else ({**doc, key: value} if isinstance(doc, dict) else doc)
    body = json.dumps(doc).encode() if text is None else text if isinstance(text, bytes) else text.encode()
    _write_and_load(body, _pack(pristine.tensors, pristine.meta, []))
