"""Memory safety of the allow-list unpickler and the dataset readers.

An allow-list of *names* is not enough: ``numpy.dtype`` and ``csr_matrix`` are allowed, and a pickle chooses the
state they are built from. Each payload below names only allowed globals. Payloads that could crash the
interpreter run in one child process (a crash shows as a signal, not as a passing test); payloads that could
allocate gigabytes run in another under ``RLIMIT_AS`` = its size after imports + 1.5 GiB, and must fail fast
with our error while the child's peak memory stays small.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import time

import numpy as np
import pytest
import scipy.sparse as sp

from graphhyper.errors import DatasetError, InvalidHypergraphError, UnsafePickleError
from tests.reliability import _payloads as P

GiB = 1 << 30


# ---------------------------------------------------------------- payloads that corrupt memory
def _safe_load_code(path) -> str:
    return f"from graphhyper.data import safe_load\ntouch(safe_load({str(path)!r}))"


def _read_hypergcn_code(folder) -> str:
    return (
        "from pathlib import Path\nfrom graphhyper.data.cards import get_card\n"
        "from graphhyper.data.readers import read_hypergcn\n"
        f"touch(read_hypergcn(Path({str(folder)!r}), get_card('cora-ca')).x.numpy())"
    )


_DEEP = "a tuple nested 10**6 deep as a set element"
_DEEP_TUPLE = b"\x80\x04\x8f(" + b")" + b"\x85" * 10**6 + b"\x90."  # hash() recursed in C until SIGSEGV

_CSR_EXPECTED = {
    "CSR with its own check_format, read_hypergcn": (UnsafePickleError, "check_format"),
    "CSR column index 2**28 in a 2 x 2 matrix, read_hypergcn": (DatasetError, "column indices"),
    "CSR column index 2**28 in a 2 x 2 matrix, safe_load": (DatasetError, "column indices"),
}


@pytest.fixture(scope="module")
def memory_cases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("memory")
    cases = {}
    for name, payload in P.DTYPE_ATTACKS.items():
        path = tmp / f"dtype{len(cases)}.pickle"
        path.write_bytes(pickle.dumps({"arr": payload}, protocol=4))
        cases[name] = _safe_load_code(path)
    oob = P.csr_bytes(indices=(0, 1 << 28))
    cases["CSR with its own check_format, read_hypergcn"] = _read_hypergcn_code(
        P.hypergcn_folder(tmp / "own_check", P.csr_bytes(indices=(0, 1 << 28), own_check_format=True))
    )
    cases["CSR column index 2**28 in a 2 x 2 matrix, read_hypergcn"] = _read_hypergcn_code(
        P.hypergcn_folder(tmp / "oob", oob)
    )
    cases["CSR column index 2**28 in a 2 x 2 matrix, safe_load"] = _safe_load_code(tmp / "oob" / "features.pickle")
    (tmp / "deep.pickle").write_bytes(_DEEP_TUPLE)
    cases[_DEEP] = _safe_load_code(tmp / "deep.pickle")
    return P.run_cases(tmp, cases, extra_bytes=int(1.5 * GiB))


def _outcome(results, case):
    rows, returncode = results
    assert case in rows, P.describe_missing(case, returncode)
    return rows[case]["outcome"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", list(P.DTYPE_ATTACKS))
def test_crafted_dtype_state_is_refused(memory_cases, case, record):
    record(
        f"unpickler: numpy.dtype state, {case}",
        "safe_load of an array whose allowed dtype has a crafted "
        "__setstate__, then every byte of it read (child process)",
    )
    outcome = _outcome(memory_cases, case)
    assert outcome.startswith("UnsafePickleError:"), outcome
    assert ".pickle" in outcome and "re-download" in outcome


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", list(_CSR_EXPECTED))
def test_crafted_csr_is_refused(memory_cases, case, record):
    record(f"unpickler: {case}", "CSR pickle with an out-of-range column, then toarray() (child process)")
    error, words = _CSR_EXPECTED[case]
    outcome = _outcome(memory_cases, case)
    assert outcome.startswith(error.__name__ + ":") and words in outcome, outcome
    assert "features.pickle" in outcome


@pytest.mark.timeout(180)
def test_deeply_nested_tuple_is_refused_before_hashing(memory_cases, record):
    record(f"unpickler: {_DEEP}", "1 MB pickle: EMPTY_SET, then TUPLE1 x 10**6 added to it (child process)")
    outcome = _outcome(memory_cases, _DEEP)
    assert outcome.startswith("DatasetError:") and "nested more than 100" in outcome, outcome


def _doubling_tuple(levels: int) -> bytes:
    """t_0 = (); t_k = (t_{k-1}, t_{k-1}) through the memo; t_levels added to a set: 2**levels hashing steps."""
    body = b"".join(b"h" + bytes([k]) + b"h" + bytes([k]) + b"\x86\x94" for k in range(levels))
    return b"\x80\x04)\x94" + body + b"\x8f(h" + bytes([levels]) + b"\x90."


@pytest.mark.timeout(120)
def test_tuple_doubling_through_the_memo_does_not_hang(tmp_path, record):
    record(
        "unpickler: 60 tuples doubling through the memo, added to a set",
        "370-byte pickle, 2**60 hashing steps (child process, 60 s limit)",
    )
    (tmp_path / "double.pickle").write_bytes(_doubling_tuple(60))
    try:
        rows, returncode = P.run_cases(tmp_path, {"double": _safe_load_code(tmp_path / "double.pickle")}, 0, 60)
    except subprocess.TimeoutExpired:
        pytest.fail("safe_load of a 370-byte pickle still ran after 60 s (hashing a tuple DAG)")
    outcome = _outcome((rows, returncode), "double")
    assert outcome.startswith("DatasetError:") and "hashing" in outcome and rows["double"]["seconds"] < 5, outcome


# ---------------------------------------------------------------- tiny files, huge allocations
def _cornell_folder(root, labels: bytes):
    folder = root / "hypergraph" / "house"
    folder.mkdir(parents=True)
    (folder / "node-labels-house-committees.txt").write_bytes(labels)
    (folder / "hyperedges-house-committees.txt").write_bytes(b"1,2\n3,4\n")
    return root


_LIST_BYTES = b"cbuiltins\nlist\ncbuiltins\nbytes\nJ\x00\xe1\xf5\x05\x85R\x85R."  # list(bytes(10**8))


def _encode_repeated(copies: int, size: int = 1 << 20) -> bytes:
    """One ``size``-character string, latin-1 encoded ``copies`` times through the memo (copies x size bytes)."""
    text = b"a" * size
    head = b"\x80\x02c_codecs\nencode\nq\x00X" + size.to_bytes(4, "little") + text
    head += b"q\x01X\x06\x00\x00\x00latin1q\x02("
    return head + b"h\x00h\x01h\x02\x86R" * copies + b"l."


_ALLOC_EXPECTED = {
    "list(bytes(10**8)) in a 41-byte pickle": (UnsafePickleError, "bytes(int)"),
    "3000 latin-1 copies of one 1 MiB string": (DatasetError, "more than a pickle of its size"),
    "Cornell labels file of 16 bytes with label 300000000": (DatasetError, "larger than the number of nodes"),
    "HyperGCN features 100000 x 100000 without values": (DatasetError, "dense 100000 x 100000"),
    "Hypergraph(10**12, ...) then hg.node_weight": (InvalidHypergraphError, "num_nodes=1000000000000"),
    "Hypergraph with hyperedge id 10**12 (allow_empty_edges)": (InvalidHypergraphError, "num_edges=1000000000001"),
    "LONG_BINPUT memo index 2**32-1 in 9 bytes": (DatasetError, "memo index 4294967295"),
    "BINBYTES8 announcing 2**40 bytes": (DatasetError, "remain"),
    "2 * 10**6 EMPTY_SET opcodes (432 MB of sets from 2 MB)": (DatasetError, "bytes of objects"),
}


@pytest.fixture(scope="module")
def alloc_cases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alloc")
    (tmp / "list_bytes.pickle").write_bytes(_LIST_BYTES)
    (tmp / "encode.pickle").write_bytes(_encode_repeated(3000))
    root = _cornell_folder(tmp / "cornell", b"1\n2\n1\n300000000\n")
    huge = P.hypergcn_folder(tmp / "huge", pickle.dumps(sp.csr_matrix((100000, 100000), dtype=np.float32)))
    (tmp / "memo.pickle").write_bytes(b"\x80\x04Nr\xff\xff\xff\xff.")
    (tmp / "bytes8.pickle").write_bytes(b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"x.")
    (tmp / "sets.pickle").write_bytes(b"\x80\x04(" + b"\x8f" * 2 * 10**6 + b"l.")
    cases = {
        "list(bytes(10**8)) in a 41-byte pickle": _safe_load_code(tmp / "list_bytes.pickle"),
        "3000 latin-1 copies of one 1 MiB string": _safe_load_code(tmp / "encode.pickle"),
        "Cornell labels file of 16 bytes with label 300000000": (
            "from graphhyper.data import load_hypergraph\n"
            f"load_hypergraph('house', root={str(root)!r}, download=False, verify=False)"
        ),
        "HyperGCN features 100000 x 100000 without values": _read_hypergcn_code(huge),
        "Hypergraph(4*10**8, ...)": "from graphhyper.hypergraph import Hypergraph\nHypergraph(4 * 10**8, [[0, 1]])",
        "Hypergraph(10**12, ...) then hg.node_weight": (
            "from graphhyper.hypergraph import Hypergraph\nHypergraph(10**12, [[0, 1]]).node_weight"
        ),
        "Hypergraph with hyperedge id 10**12 (allow_empty_edges)": (
            "import torch\nfrom graphhyper.hypergraph import Hypergraph\n"
            "Hypergraph(3, hyperedge_index=torch.tensor([[0], [10**12]]), allow_empty_edges=True)"
        ),
        "LONG_BINPUT memo index 2**32-1 in 9 bytes": _safe_load_code(tmp / "memo.pickle"),
        "BINBYTES8 announcing 2**40 bytes": _safe_load_code(tmp / "bytes8.pickle"),
        "2 * 10**6 EMPTY_SET opcodes (432 MB of sets from 2 MB)": _safe_load_code(tmp / "sets.pickle"),
    }
    return P.run_cases(tmp, cases, extra_bytes=int(1.5 * GiB))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", list(_ALLOC_EXPECTED))
def test_small_input_cannot_allocate_gigabytes(alloc_cases, case, record):
    record(f"allocation: {case}", "child under RLIMIT_AS +1.5 GiB: our error within 5 s, peak growth < 200 MB")
    error, words = _ALLOC_EXPECTED[case]
    outcome = _outcome(alloc_cases, case)
    row = alloc_cases[0][case]
    assert outcome.startswith(error.__name__ + ":") and words in outcome, outcome
    assert row["seconds"] < 5 and row["peak_growth_mb"] < 200, row


@pytest.mark.timeout(180)
def test_hypergraph_with_many_nodes_allocates_nothing_up_front(alloc_cases, record):
    record(
        "allocation: Hypergraph(4*10**8, [[0, 1]])",
        "child under RLIMIT_AS +1.5 GiB: built without allocating per-node arrays (peak growth < 200 MB)",
    )
    row = alloc_cases[0].get("Hypergraph(4*10**8, ...)")
    assert row is not None, P.describe_missing("Hypergraph(4*10**8, ...)", alloc_cases[1])
    assert row["outcome"] == "ok" and row["peak_growth_mb"] < 200, row


def test_hypergraph_sizes_beyond_int64_and_overflowing_keys(record):
    import torch

    from graphhyper.hypergraph import Hypergraph

    record(
        "Hypergraph: num_nodes 2**63 / V*E >= 2**63",
        "refused with InvalidHypergraphError; order still (hyperedge, node) when edges*V overflows int64",
    )
    with pytest.raises(InvalidHypergraphError, match="int64"):
        Hypergraph(2**63, [[0]])
    hg = Hypergraph(2**62, hyperedge_index=torch.tensor([[7, 2**62 - 1, 3, 5], [2, 0, 2, 1]]))
    assert hg.hyperedge_index.tolist() == [[2**62 - 1, 5, 3, 7], [0, 1, 2, 2]]


# ---------------------------------------------------------------- builtins with arguments that blow up
_REFUSED_CALLS = {
    "bytes(10**7)": b"cbuiltins\nbytes\nJ\x80\x96\x98\x00\x85R.",
    "list('abc')": b"cbuiltins\nlist\nX\x03\x00\x00\x00abc\x85R.",
    "str([[]])": b"cbuiltins\nstr\n]]a\x85R.",
    "int('9' * 5000)": b"cbuiltins\nint\nX\x88\x13\x00\x00" + b"9" * 5000 + b"\x85R.",
    "set(b'ab')": b"cbuiltins\nset\nC\x02ab\x85R.",
    "_codecs.encode(text, 'utf-16')": b"c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00utf-16\x86R.",
    "copyreg._reconstructor(list, list, text)": b"ccopyreg\n_reconstructor\ncbuiltins\nlist\ncbuiltins\nlist\n"
    b"X\x03\x00\x00\x00abc\x87R.",
    "numpy.ndarray(shape) called directly": b"cnumpy\nndarray\nJ\x00\xe1\xf5\x05\x85R.",
}


@pytest.mark.parametrize("name", list(_REFUSED_CALLS))
def test_builtin_calls_that_could_blow_up_are_refused(name, record):
    from graphhyper.data import safe_loads

    record(
        f"unpickler: {name}",
        "an allowed callable with arguments that allocate or execute more than the pickle holds -> UnsafePickleError",
    )
    start = time.perf_counter()
    with pytest.raises(UnsafePickleError) as exc:
        safe_loads(_REFUSED_CALLS[name], source="crafted.pickle")
    assert "crafted.pickle" in str(exc.value) and time.perf_counter() - start < 1


def test_harmless_builtin_calls_still_load(record):
    from graphhyper.data import safe_loads

    record("unpickler: set/frozenset/complex/bytes() of protocol 0-2", "still load after the argument checks")
    obj = {"s": {1, 2}, "f": frozenset({3}), "c": 1 + 2j, "b": b"", "bb": b"xy", "t": "text", "n": None}
    for protocol in (0, 1, 2):
        assert safe_loads(pickle.dumps(obj, protocol=protocol)) == obj


# ---------------------------------------------------------------- BUILD on the classes and functions handed out
def _build_slotstate(global_line: bytes, attribute: bytes, value_global: bytes) -> bytes:
    """Push ``global_line``, then BUILD it with ``(None, {attribute: value_global})``: setattr on the global itself."""
    name = len(attribute).to_bytes(4, "little") + attribute
    return b"c" + global_line + b"N}X" + name + b"c" + value_global + b"s\x86b."


_POISON = {
    "setattr(csr_matrix, 'check_format', dict)": (
        b"scipy.sparse\ncsr_matrix\n",
        b"check_format",
        lambda: sp.csr_matrix.check_format.__name__ == "check_format",
    ),
    "setattr(numpy.ndarray, '__new__', list)": (b"numpy\nndarray\n", b"__new__", lambda: np.zeros(2).shape == (2,)),
    "setattr(_codecs.encode, '__defaults__', ...)": (
        b"_codecs\nencode\n",
        b"__defaults__",
        lambda: pickle.loads(pickle.dumps(b"x", 2)) == b"x",
    ),
}


@pytest.mark.parametrize("name", list(_POISON))
def test_build_cannot_set_attributes_of_what_the_pickle_is_handed(name, record):
    from graphhyper.data import safe_loads

    record(
        f"unpickler: BUILD {name}",
        "BUILD with a slot state on an allowed class or function: refused, nothing changed for the next load",
    )
    global_line, attribute, still_fine = _POISON[name]
    with pytest.raises((UnsafePickleError, DatasetError)):
        safe_loads(_build_slotstate(global_line, attribute, b"builtins\ndict\n"), source="poison.pickle")
    assert still_fine()
    assert safe_loads(pickle.dumps(sp.csr_matrix(np.eye(2)), 2)).check_format(full_check=True) is None
    assert safe_loads(pickle.dumps(b"xy", 2)) == b"xy"


# ---------------------------------------------------------------- what must keep loading
def test_every_protocol_of_arrays_dtypes_and_csr_loads(record):
    from graphhyper.data import safe_loads

    record(
        "unpickler: protocols 0-5",
        "float/int/bool/complex, big-endian and Fortran arrays, CSR, dtypes; each equal to the original",
    )
    arr = np.arange(12, dtype=">f8").reshape(3, 4)
    obj = {
        "a": arr,
        "f": np.asfortranarray(arr.astype(np.int16)),
        "b": np.array([True, False]),
        "c": np.array([1 + 2j], dtype=np.complex64),
        "m": sp.csr_matrix(arr.astype("<f8")),
        "dt": np.dtype("<u4"),
        "s": np.float32(2.5),
        "e": np.zeros((0, 3), dtype=np.int64),
    }
    for protocol in range(6):
        out = safe_loads(pickle.dumps(obj, protocol=protocol))
        for key in ("a", "f", "b", "c", "e"):
            assert out[key].dtype == obj[key].dtype and np.array_equal(out[key], obj[key]), (protocol, key)
        assert out["f"].flags.f_contiguous and out["a"].flags.writeable
        assert isinstance(out["m"], sp.csr_matrix) and (out["m"] != obj["m"]).nnz == 0
        assert out["dt"] == obj["dt"] and out["s"] == obj["s"] and type(out["s"]) is np.float32


def test_upstream_hypergcn_pickles_load_as_the_stock_unpickler_reads_them(shared_data, record):
    from graphhyper.data import safe_load

    record(
        "unpickler: shipped HyperGCN pickles",
        "cora-ca, cora-cc, citeseer-cc features/labels/hypergraph/split 1 "
        "equal to pickle.load of the same trusted files",
    )
    files = [
        p
        for name in ("cora-ca", "cora-cc", "citeseer-cc")
        for p in [
            *(shared_data / "hypergraph" / name).glob("*.pickle"),
            shared_data / "hypergraph" / name / "splits" / "1.pickle",
        ]
    ]
    assert len(files) == 12
    for path in files:
        ours, stock = safe_load(path), pickle.loads(path.read_bytes())
        if sp.issparse(stock):
            assert isinstance(ours, sp.csr_matrix) and ours.shape == stock.shape and (ours != stock).nnz == 0
        else:
            assert ours == stock, path


# ---------------------------------------------------------------- reader checks on the values
def test_hypergcn_values_out_of_range_name_the_file(tmp_path, record):
    from graphhyper.data.cards import get_card
    from graphhyper.data.readers import read_hypergcn

    record(
        "reader: HyperGCN ids and labels",
        "labels as text, label 7 for 2 nodes, hyperedge member 5, 1.5, or a "
        "member that is an int -> DatasetError naming the file",
    )
    feats = P.csr_bytes()
    card = get_card("cora-ca")
    bad = [
        ("labels.pickle", dict(labels=("a", "b"))),
        ("labels.pickle", dict(labels=(0, 7))),
        ("hypergraph.pickle", dict(hyperedges={"e": [0, 5]})),
        ("hypergraph.pickle", dict(hyperedges={"e": 3})),
        ("hypergraph.pickle", dict(hyperedges={"e": [0, 1.5]})),
    ]
    for k, (name, kwargs) in enumerate(bad):
        folder = P.hypergcn_folder(tmp_path / str(k), feats, **kwargs)
        with pytest.raises(DatasetError, match=name):
            read_hypergcn(folder, card)


def test_safe_unpickler_used_directly_is_as_safe(record):
    import io

    from graphhyper.data import SafeUnpickler

    record("unpickler: SafeUnpickler(file).load()", "the exported class used directly: same checks, real arrays back")
    assert np.array_equal(SafeUnpickler(io.BytesIO(pickle.dumps(np.arange(3)))).load(), np.arange(3))
    with pytest.raises(UnsafePickleError):
        SafeUnpickler(io.BytesIO(pickle.dumps({"arr": P.DTYPE_ATTACKS["plain f8 given fields in its state"]}))).load()


def test_content_labels_beyond_the_node_count(tmp_path, shared_data, record):
    from graphhyper.data import load_hypergraph

    record(
        "reader: .content label 10**12",
        "zoo.content with one label set to 10**12 (verify=False) -> DatasetError, not a dataset with 10**12 classes",
    )
    root = tmp_path / "root"
    shutil.copytree(shared_data / "hypergraph" / "zoo", root / "hypergraph" / "zoo")
    content = root / "hypergraph" / "zoo" / "zoo.content"
    content.chmod(0o644)
    lines = content.read_text().splitlines()
    first = lines[0].split()
    lines[0] = " ".join(first[:-1] + ["1000000000000"])
    content.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="zoo.content"):
        load_hypergraph("zoo", root=root, download=False, verify=False)
