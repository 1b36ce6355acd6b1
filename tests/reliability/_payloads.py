"""Crafted pickles and dataset folders for the unpickler and reader reliability tests.

Each payload names only allow-listed globals (``numpy.dtype``, ``_reconstruct``, ``csr_matrix``, builtins) and
puts the attack in the arguments or the state, which is what an allow-list of names alone does not stop.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import scipy.sparse as sp

_reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]


class Reduce:
    """Pickles as ``func(*args)`` then ``BUILD state``: an allowed name with arguments and a state of our choosing."""

    def __init__(self, func, args, state=None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def dtype(descr: str, state: tuple) -> Reduce:
    return Reduce(np.dtype, (descr, False, True), state)


def array(dt, shape: tuple, raw, fortran: bool = False) -> Reduce:
    return Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dt, fortran, raw))


def field_dtype(field_dtype: np.dtype, offset: int, flags: int = 0) -> Reduce:
    """A ``V8`` dtype whose one field ``a`` lies at ``offset`` (numpy's own ``__setstate__`` accepts any)."""
    return dtype("V8", (3, "|", None, ("a",), {"a": (field_dtype, offset)}, 8, 1, flags))


DTYPE_ATTACKS = {
    "field past the item size": array(field_dtype(np.dtype("i8"), 1 << 16), (2,), bytes(16)),
    "negative field offset": array(field_dtype(np.dtype("i8"), -(1 << 16)), (2,), bytes(16)),
    "object field, flags cleared": array(field_dtype(np.dtype("O"), 0), (2,), struct.pack("<QQ", 0x41414141, 8)),
    "sub-array larger than the item": array(
        dtype("V8", (3, "|", (np.dtype("i8"), (1 << 16,)), None, None, 8, 1, 0)), (2,), bytes(16)
    ),
    "plain f8 given fields in its state": array(
        dtype("f8", (3, "<", None, ("a",), {"a": (np.dtype("i8"), 64)}, 8, 8, 0)), (2,), bytes(16)
    ),
    "plain f8 given item size 65536": array(dtype("f8", (3, "<", None, None, None, 1 << 16, 8, 0)), (2,), bytes(16)),
    "plain f8 given the object flags": array(dtype("f8", (3, "<", None, None, None, -1, -1, 63)), (2,), bytes(16)),
    "object dtype": Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), np.dtype("O"), False, [1])),
}


def csr_bytes(shape=(2, 2), indices=(0, 1), own_check_format: bool = False) -> bytes:
    """A pickled CSR matrix with one value per row at ``indices`` (not checked), optionally with its own check."""
    rows = shape[0]
    data = np.ones(len(indices), dtype=np.float32)
    ptr = np.minimum(np.arange(rows + 1), len(indices)).astype(np.int32)
    matrix = sp.csr_matrix(shape, dtype=np.float32)
    matrix.data, matrix.indices, matrix.indptr = data, np.asarray(indices, dtype=np.int32), ptr
    if own_check_format:
        matrix.check_format = dict  # dict(full_check=True) checks nothing
    return pickle.dumps(matrix, protocol=4)


def hypergcn_folder(folder: Path, features: bytes, labels=(0, 1), hyperedges=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "features.pickle").write_bytes(features)
    (folder / "labels.pickle").write_bytes(pickle.dumps(list(labels)))
    (folder / "hypergraph.pickle").write_bytes(pickle.dumps(hyperedges or {"e0": [0, 1]}))
    return folder


# ---------------------------------------------------------------- running payloads in a child process
_RUNNER = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    import graphhyper.data, graphhyper.hypergraph

    def vm_size():
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))

    def touch(obj):
        '''Read every byte the result claims to hold, as a user of it would.'''
        if isinstance(obj, dict):
            obj = list(obj.values())
        for item in obj if isinstance(obj, (list, tuple)) else [obj]:
            if hasattr(item, "toarray"):
                item = item.toarray()
            if isinstance(item, np.ndarray):
                for name in item.dtype.names or ():
                    item[name].tolist()
                item.copy().tolist()

    extra = int(sys.argv[2])
    if extra:
        limit = vm_size() + extra
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for name, code in json.load(open(sys.argv[1])).items():
        peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            exec(code, {"touch": touch, "np": np})
            outcome = "ok"
        except BaseException as exc:
            outcome = type(exc).__name__ + ": " + str(exc)[:400]
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak0) / 1024
        print(json.dumps({"case": name, "outcome": outcome, "seconds": time.perf_counter() - start,
                          "peak_growth_mb": grown}), flush=True)
""")


def run_cases(tmp: Path, cases: dict[str, str], extra_bytes: int, timeout: float = 120) -> tuple[dict, int]:
    """Run each ``code`` in one child (RLIMIT_AS = its size after imports + ``extra_bytes``); results by case."""
    spec = tmp / "cases.json"
    spec.write_text(json.dumps(cases))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(spec), str(extra_bytes)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[row["case"]] = row
    return results, proc.returncode


def describe_missing(case: str, returncode: int) -> str:
    how = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
    return f"the child process ended ({how}) before case {case!r} reported: the payload crashed the interpreter"


__all__ = ["DTYPE_ATTACKS", "Reduce", "array", "csr_bytes", "describe_missing", "dtype", "hypergcn_folder", "run_cases"]
