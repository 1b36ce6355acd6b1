"""Checkpoints: round trip, bundled GHN, and refusal of corrupt / truncated / mismatched files."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from graphhyper.arch import trace
from graphhyper.errors import CheckpointError, InvalidInputError
from graphhyper.ghn import GHN, GHNConfig, from_pretrained, hub, load, save


@pytest.fixture(scope="module")
def graph():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(36, 3))
    return trace(net, input_shape=(1, 1, 5, 5))


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    ghn = GHN(GHNConfig(hidden=16, layers=1, encoder="gatedgnn", mip=True))
    save(ghn, tmp_path / "g", meta={"note": "test"})
    return ghn, tmp_path / "g"


def test_round_trip_predicts_identically(saved, graph):
    ghn, path = saved
    loaded = load(path)
    assert loaded.config == ghn.config
    assert loaded.meta == {"note": "test"}
    a, b = ghn.predict(graph), loaded.predict(graph)
    for k in a:
        assert torch.equal(a[k], b[k])


def test_corrupt_weights(saved):
    _, path = saved
    st = path.with_suffix(".safetensors")
    st.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load(path)


def test_truncated_weights(saved):
    _, path = saved
    st = path.with_suffix(".safetensors")
    data = st.read_bytes()
    st.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load(path)


def test_config_mismatch(saved):
    _, path = saved
    js = path.with_suffix(".json")
    doc = json.loads(js.read_text())
    doc["config"]["hidden"] = 32
    js.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="different config"):
        load(path)


def test_weights_of_another_ghn_are_refused(saved, tmp_path):
    _, path = saved
    other = GHN(GHNConfig(hidden=8, layers=1))
    save(other, tmp_path / "other")
    # pair the other weights with the first JSON
    (tmp_path / "mix.safetensors").write_bytes((tmp_path / "other.safetensors").read_bytes())
    doc = json.loads(path.with_suffix(".json").read_text())
    (tmp_path / "mix.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError):
        load(tmp_path / "mix")


def test_missing_or_invalid_json(saved):
    _, path = saved
    js = path.with_suffix(".json")
    js.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(path)
    js.unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load(path)


def test_non_finite_weights_are_refused(tmp_path):
    ghn = GHN(GHNConfig(hidden=8, layers=1))
    with torch.no_grad():
        ghn.gain.weight.fill_(float("nan"))
    save(ghn, tmp_path / "nan")
    with pytest.raises(CheckpointError, match="non-finite"):
        load(tmp_path / "nan")


def test_unknown_bundled_name():
    with pytest.raises(CheckpointError, match="No GHN called .*bundled .*published"):
        from_pretrained("no-such-ghn")


def test_bundled_checkpoint_loads_and_records_its_training():
    names = hub.list_pretrained()
    if not names:
        pytest.skip("no bundled checkpoint yet (train with scripts/train_ghn.py)")
    for name in names:
        ghn = from_pretrained(name)
        meta = ghn.meta
        assert meta["command"] and "seed" in meta and meta["steps_done"] > 0
        assert (hub.PRETRAINED_DIR / f"{name}.safetensors").stat().st_size < 20e6


def test_the_bundle_stays_within_20_mb():
    """Issue 18: every bundled GHN together (weights, JSONs, the figure) ships in at most 20 MB."""
    total = sum(p.stat().st_size for p in hub.PRETRAINED_DIR.iterdir() if p.is_file())
    assert total <= 20e6, f"graphhyper/ghn/pretrained/ holds {total / 1e6:.1f} MB; the limit is 20 MB"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_storage_halves_the_file_and_loads_as_float32(tmp_path, graph, dtype):
    torch.manual_seed(0)
    ghn = GHN(GHNConfig(hidden=16, layers=1, encoder="gatedgnn"))
    full, _ = save(ghn, tmp_path / "full")
    half, js = save(ghn, tmp_path / "half", dtype=dtype)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    assert json.loads(js.read_text())["storage_dtype"] == dtype
    loaded = load(tmp_path / "half")
    for k, v in ghn.state_dict().items():
        got = loaded.state_dict()[k]
        assert got.dtype == v.dtype  # back to float32 (ints untouched)
        if v.is_floating_point():
            assert torch.equal(got, v.to(hub.STORAGE_DTYPES[dtype]).float())  # exactly the rounded weights
    a, b = ghn.predict(graph), loaded.predict(graph)
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0.05, atol=0.05)


def test_half_precision_refuses_what_it_cannot_hold(tmp_path):
    ghn = GHN(GHNConfig(hidden=16, layers=1, encoder="gatedgnn"))
    name = next(k for k, v in ghn.state_dict().items() if v.is_floating_point())
    with torch.no_grad():
        ghn.state_dict()[name].view(-1)[0] = 1e6  # beyond float16's 65,504
    with pytest.raises(InvalidInputError, match="bfloat16"):
        save(ghn, tmp_path / "g", dtype="float16")
    assert not (tmp_path / "g.safetensors").exists()
    save(ghn, tmp_path / "g", dtype="bfloat16")  # within bfloat16's range
    with pytest.raises(InvalidInputError, match="store a GHN as one of"):
        save(ghn, tmp_path / "g", dtype="int8")


def test_only_half_precision_may_stand_in_for_float32(tmp_path):
    """A float32 tensor may be stored as F16 / BF16 and nothing else: an F64 or I32 tensor is a foreign file."""
    from safetensors.torch import load_file, save_file

    ghn = GHN(GHNConfig(hidden=16, layers=1, encoder="gatedgnn"))
    st, _ = save(ghn, tmp_path / "g", dtype="float16")
    tensors = load_file(str(st))
    name = next(iter(tensors))
    meta = {"format": hub.FORMAT, "format_version": str(hub.FORMAT_VERSION)}
    for bad in (torch.float64, torch.int32):
        save_file({**tensors, name: tensors[name].to(bad)}, str(st), metadata=meta)
        with pytest.raises(CheckpointError, match="wrong dtypes"):
            load(tmp_path / "g")
    save_file({**tensors, name: tensors[name].bfloat16()}, str(st), metadata=meta)  # mixed halves are fine
    assert load(tmp_path / "g").state_dict()[name].dtype == torch.float32


def test_export_dtype_reaches_the_file(tmp_path):
    from graphhyper.cli import main

    out = tmp_path / "run"
    common = ["ghn", "train", "--tasks", "digits", "--steps", "2", "--pool-size", "2", "--meta-batch", "1"]
    common += ["--batch-size", "8", "--hidden", "16", "--out", str(out), "--threads", "1"]
    assert main([*common, "--export", str(tmp_path / "g"), "--export-dtype", "bfloat16"]) == 0
    from safetensors import safe_open

    with safe_open(str(tmp_path / "g.safetensors"), framework="pt") as f:
        kinds = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert "BF16" in kinds and "F32" not in kinds
    assert load(tmp_path / "g").meta["steps_done"] == 2
