"""Tampered and corrupt files: each is refused with a clear message, and nothing in them is executed."""

from __future__ import annotations

import os
import pickle
import shutil

import pytest
import torch

from graphhyper.errors import CheckpointError, ChecksumError, DatasetError, GraphhyperError, UnsafePickleError


class _Evil:
    """Pickles to a call of ``os.system`` that would create ``path``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.fixture
def ghn_ckpt(tmp_path):
    from graphhyper import ghn

    model = ghn.GHN(ghn.GHNConfig(hidden=16, layers=1, heads=2, rank=4))
    st, js = ghn.save(model, tmp_path / "tiny")
    return st, js


def test_malicious_pickle_is_not_executed(tmp_path, record):
    from graphhyper.data import safe_load, safe_loads

    record("pickle calling os.system", "safe_loads / safe_load of a pickle whose __reduce__ runs a shell command")
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(sentinel))
    with pytest.raises(UnsafePickleError) as exc:
        safe_loads(payload)
    assert "system" in str(exc.value)
    (tmp_path / "evil.pickle").write_bytes(payload)
    with pytest.raises(UnsafePickleError):
        safe_load(tmp_path / "evil.pickle")
    assert not sentinel.exists()


def test_malicious_pickle_inside_a_dataset(tmp_path, shared_data, record):
    from graphhyper.data import load_hypergraph

    record("dataset pickle swapped for an exploit", "cora-ca/labels.pickle replaced; checksum and allow-list")
    root = tmp_path / "root"
    shutil.copytree(shared_data / "hypergraph" / "cora-ca", root / "hypergraph" / "cora-ca")
    sentinel = tmp_path / "pwned"
    target = root / "hypergraph" / "cora-ca" / "labels.pickle"
    target.chmod(0o644)
    target.write_bytes(pickle.dumps(_Evil(sentinel)))
    with pytest.raises(DatasetError) as exc:  # size differs: reported as truncated / wrong checksum
        load_hypergraph("cora-ca", root=root, download=False)
    assert "labels.pickle" in str(exc.value)
    with pytest.raises(UnsafePickleError):
        load_hypergraph("cora-ca", root=root, download=False, verify=False)
    assert not sentinel.exists()


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_dataset_file_with_bad_sha256(tmp_path, shared_data, damage, record):
    from graphhyper.data import load_hypergraph

    record(f"dataset file {damage}", "zoo.edges altered -> ChecksumError naming the file and what to delete")
    root = tmp_path / "root"
    shutil.copytree(shared_data / "hypergraph" / "zoo", root / "hypergraph" / "zoo")
    edges = root / "hypergraph" / "zoo" / "zoo.edges"
    edges.chmod(0o644)
    data = edges.read_bytes()
    edges.write_bytes(data[: len(data) // 2] if damage == "truncate" else data.replace(b"1", b"2", 1))
    expected = DatasetError if damage == "truncate" else ChecksumError
    with pytest.raises(expected) as exc:
        load_hypergraph("zoo", root=root, download=False)
    msg = str(exc.value)
    assert "zoo.edges" in msg and ("delete" in msg.lower() or "remove" in msg.lower())


def test_checkpoint_with_wrong_shape(ghn_ckpt, record):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from graphhyper import ghn

    record("GHN checkpoint, one tensor reshaped", "safetensors rewritten with a wrong shape -> CheckpointError")
    st, _ = ghn_ckpt
    with safe_open(str(st), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    name = max(tensors, key=lambda k: tensors[k].numel())
    tensors[name] = torch.zeros(tensors[name].numel() + 1)
    save_file(tensors, str(st), metadata=meta)
    with pytest.raises(CheckpointError) as exc:
        ghn.load(st)
    assert name in str(exc.value)


def test_truncated_checkpoint(ghn_ckpt, record):
    from graphhyper import ghn

    record("GHN checkpoint truncated", "safetensors cut in half -> CheckpointError, no partial model")
    st, _ = ghn_ckpt
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    with pytest.raises(CheckpointError):
        ghn.load(st)


def test_checkpoint_config_mismatch(ghn_ckpt, record):
    import json

    from graphhyper import ghn

    record("GHN config edited", "JSON hidden size changed -> CheckpointError (config and weights disagree)")
    _, js = ghn_ckpt
    doc = json.loads(js.read_text())
    doc["config"]["hidden"] = 32
    js.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError):
        ghn.load(js)


def test_torch_load_refuses_pickled_objects(tmp_path, record):
    record("torch.load(weights_only=True)", "a .pt holding an os.system object is refused by the safe loader")
    sentinel = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"x": _Evil(sentinel)}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not sentinel.exists()


def test_corrupt_architecture_collection(tmp_path, record):
    from graphhyper.arch.collection import ArchCollection

    record("architecture collection edited", "a stored spec altered -> hash mismatch error; truncated gzip refused")
    col = ArchCollection.generate(space="nb201", seed=0, splits={"train": 4, "test": 2})
    path = col.save(tmp_path / "c.jsonl")
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace("nor_conv_3x3", "avg_pool_3x3", 1).replace("skip_connect", "nor_conv_1x1", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GraphhyperError):
        ArchCollection.load(path).verify()
    gz = col.save(tmp_path / "c.jsonl.gz")
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(DatasetError):
        ArchCollection.load(gz)
