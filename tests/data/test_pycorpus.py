"""The standard-library byte corpus: a deterministic cut by file, checksums, and a refused tampered cache."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from graphhyper.data import pycorpus
from graphhyper.errors import ChecksumError, DatasetError


def _fake_lib(tmp_path, n=60):
    lib = tmp_path / "Lib"
    for i in range(n):
        sub = lib / ("pkg" if i % 3 else "") / f"mod_{i}.py"
        sub.parent.mkdir(parents=True, exist_ok=True)
        sub.write_text(f"# module {i}\nVALUE = {i * 7}\n")
    third = lib / "site-packages" / "foreign.py"
    third.parent.mkdir(parents=True)
    third.write_text("x = 1\n")
    return lib


def test_cut_is_deterministic_disjoint_and_checksummed(tmp_path):
    lib = _fake_lib(tmp_path)
    c1 = pycorpus.load_pycorpus(lib, root=tmp_path / "a")
    c2 = pycorpus.load_pycorpus(lib, root=tmp_path / "b")
    files = c1.manifest["files"]
    assert [f["path"] for f in files] == [f["path"] for f in c2.manifest["files"]]
    assert not any("site-packages" in f["path"] for f in files)
    by_split = {s: {f["path"] for f in files if f["split"] == s} for s in pycorpus.SPLITS}
    assert set().union(*by_split.values()) == {f["path"] for f in files}
    assert sum(len(v) for v in by_split.values()) == len(files) == 60
    assert all(by_split[s] for s in pycorpus.SPLITS)
    for s in pycorpus.SPLITS:
        np.testing.assert_array_equal(c1.split(s), c2.split(s))
        want = b"".join((lib / p).read_bytes() + b"\x00" for p in sorted(by_split[s]))
        assert c1.split(s).tobytes() == want
        assert c1.manifest["splits"][s]["sha256"] == hashlib.sha256(want).hexdigest()
    # the rule depends on the path only: a new file moves no other file
    (lib / "zz_new.py").write_text("pass\n")
    c3 = pycorpus.load_pycorpus(lib, root=tmp_path / "a")
    assert {f["path"]: f["split"] for f in c3.manifest["files"]}.items() >= {
        f["path"]: f["split"] for f in files
    }.items()


def test_tampered_cache_is_refused(tmp_path):
    lib = _fake_lib(tmp_path, n=20)
    cache = pycorpus.build_pycorpus(lib, root=tmp_path)
    blob = bytearray((cache / "train.bin").read_bytes())
    blob[3] ^= 1
    (cache / "train.bin").write_bytes(bytes(blob))
    with pytest.raises(ChecksumError, match="Delete"):
        pycorpus.load_pycorpus(lib, root=tmp_path)


def test_missing_lib_names_the_fix(tmp_path):
    with pytest.raises(DatasetError, match="lib_dir="):
        pycorpus.load_pycorpus(tmp_path / "nowhere", root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="No \\*.py"):
        pycorpus.load_pycorpus(tmp_path / "empty", root=tmp_path)


def test_split_rule_matches_its_definition():
    for p in ("os.py", "json/decoder.py", "asyncio/tasks.py", "test/test_os.py"):
        u = int(hashlib.sha256(p.encode()).hexdigest()[:8], 16) % 100
        assert pycorpus.split_of(p) == ("val" if u < 5 else "test" if u < 10 else "train")


def test_concurrent_builds_of_one_cache_all_succeed(tmp_path):
    # two `ghn train` processes started together build the same cache; each must write through its own temp file
    from concurrent.futures import ThreadPoolExecutor

    lib = _fake_lib(tmp_path, n=40)
    with ThreadPoolExecutor(max_workers=6) as pool:
        caches = list(pool.map(lambda _: pycorpus.build_pycorpus(lib, root=tmp_path), range(24)))
    assert len(set(caches)) == 1
    assert sorted(p.name for p in caches[0].iterdir()) == ["manifest.json", "test.bin", "train.bin", "val.bin"]
    corpus = pycorpus.load_pycorpus(lib, root=tmp_path)
    assert sum(len(corpus.split(s)) for s in pycorpus.SPLITS) == sum(f["bytes"] + 1 for f in corpus.manifest["files"])


def test_cache_files_get_the_usual_permissions(tmp_path):
    # a shared $GRAPHHYPER_DATA must stay readable by others: not the 0600 of a bare temporary file
    import os

    cache = pycorpus.build_pycorpus(_fake_lib(tmp_path, n=10), root=tmp_path)
    mask = os.umask(0)
    os.umask(mask)
    assert {p.name: p.stat().st_mode & 0o777 for p in cache.iterdir()} == {
        n: 0o666 & ~mask for n in ("manifest.json", "test.bin", "train.bin", "val.bin")
    }
