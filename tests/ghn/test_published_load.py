"""Loading published GHN-2 / GHN-3 checkpoint files safely, converting them, and the registry.

The published files cannot be downloaded here, so each test writes files in exactly their formats: ``joblib.dump``
of a state dict (GHN-3) and ``torch.save`` of ``{'state_dict', 'config', 'epoch'}`` (GHN-2), with real key names
from tests/ghn/fixtures/ghn_reference_shapes.json and small random tensors. Crafted pickles check that nothing
named by a file runs: each attack would create a marker file if it ran.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch

from graphhyper.cli import main
from graphhyper.errors import CheckpointError, MissingDependencyError
from graphhyper.ghn.reference import published as pub
from graphhyper.ghn.reference._torch_pickle import ALLOWED_GLOBALS, sniff
from graphhyper.ghn.reference.published import (
    PUBLISHED,
    convert,
    detect_family,
    ensure_converted,
    load_converted,
    load_published,
)

FIXTURE = Path(__file__).parent / "fixtures" / "ghn_reference_shapes.json"
LAYOUTS = json.loads(FIXTURE.read_text())


def _small_state(name: str, seed: int = 0) -> OrderedDict:
    """The real key names of ``name`` with small tensors (each dimension capped at 3), as a module's state dict."""
    g = torch.Generator().manual_seed(seed)
    state = OrderedDict(
        (k, torch.randn([min(n, 3) for n in shape], generator=g)) for k, shape in LAYOUTS[name]["tensors"].items()
    )
    state._metadata = OrderedDict({"": {"version": 1}})  # what nn.Module.state_dict() attaches
    return state


def _assert_same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert list(got) == list(want)
    for k, v in want.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k


class _Marker:
    """Pickles to ``fn(*args)``: what an attacker's class does through ``__reduce__``."""

    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "ran"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- round trips
def test_joblib_state_dict_round_trip(tmp_path):
    state = _small_state("ghn3tm8")
    state["extra.view"] = torch.arange(12.0).reshape(3, 4).t()  # non-contiguous view
    state["extra.half"] = torch.randn(5).half()
    state["extra.int"] = torch.arange(4)
    state["extra.param"] = torch.nn.Parameter(torch.randn(2, 2))
    path = tmp_path / "ghn3tm8.pt"
    joblib.dump(state, path)
    ckpt = load_published(path)
    _assert_same(ckpt.state_dict, state)
    assert ckpt.family == "ghn3" and ckpt.config is None and str(path) in ckpt.source
    assert not any(v.requires_grad for v in ckpt.state_dict.values())


def test_joblib_views_with_offsets(tmp_path):
    """A pickled view carries its whole storage and its offset / strides; the loader keeps them."""
    base = torch.randn(6)
    state = OrderedDict({"gnn.0.attn.a": base[:3], "gnn.0.attn.b": base[3:], "gnn.0.attn.c": base[1::2]})
    joblib.dump(state, tmp_path / "s.pt")
    got = load_published(tmp_path / "s.pt").state_dict
    _assert_same(got, state)
    assert got["gnn.0.attn.b"].storage_offset() == 3 and got["gnn.0.attn.c"].stride() == (2,)


@pytest.mark.parametrize("zipped", [True, False])
def test_torch_save_dict_with_config_round_trip(tmp_path, zipped):
    state = _small_state("ghn2_cifar10")
    config = {**LAYOUTS["ghn2_cifar10"]["config"], "max_shape": (64, 64, 11, 11)}  # ppuda stores a tuple
    path = tmp_path / "ghn2_cifar10.pt"
    torch.save(
        {
            "state_dict": state,
            "optimzer": {"state": {}, "param_groups": [{"lr": 1e-3}]},
            "epoch": 299,
            "config": config,
        },
        path,
        _use_new_zipfile_serialization=zipped,
    )
    assert zipfile.is_zipfile(path) == zipped
    assert sniff(path) == ("torch-zip" if zipped else "torch-legacy")  # mmap=True only for zip files
    ckpt = load_published(path)
    _assert_same(ckpt.state_dict, state)
    assert ckpt.family == "ghn2"
    assert ckpt.config == {**config, "max_shape": [64, 64, 11, 11]}  # JSON types, as after conversion


def test_family_from_keys_and_config():
    for name, layout in LAYOUTS.items():
        assert detect_family(layout["tensors"]) == PUBLISHED[name].family
    with pytest.raises(CheckpointError, match="neither GHN-2 keys"):
        detect_family({"conv1.weight": None})


def test_config_that_contradicts_the_keys_is_refused(tmp_path):
    torch.save({"state_dict": _small_state("ghn3tm8"), "config": {"is_ghn2": True}}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="is_ghn2=True"):
        load_published(tmp_path / "x.pt")


def test_registry_matches_the_reference_layouts():
    assert set(PUBLISHED) == set(LAYOUTS) == {
        "ghn3tm8", "ghn3sm8", "ghn3lm8", "ghn3xlm16", "ghn2_cifar10", "ghn2_imagenet"
    }  # fmt: skip
    for name, entry in PUBLISHED.items():
        assert entry.params == sum(math.prod(s) for s in LAYOUTS[name]["tensors"].values())
        assert entry.filename == f"{name}.pt" and entry.url.endswith(entry.filename)
        assert (entry.repo_id == "SamsungSAILMontreal/ghn3") == (entry.family == "ghn3")


# ---------------------------------------------------------------- crafted files: nothing runs
def _refused(path: Path, *needles: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_published(path)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


def test_reduce_to_os_system_is_refused(tmp_path, marker):
    state = OrderedDict({"gnn.gru.w": torch.ones(2), "evil": _Marker(os.system, f"touch {marker}")})
    path = _write(tmp_path / "a.pt", pickle.dumps(state, protocol=4))
    _refused(path, f"{os.system.__module__}.system", "Nothing from the file was executed")
    assert not marker.exists()


def test_builtins_eval_is_refused(tmp_path, marker):
    for protocol, needle in ((4, "'builtins.eval'"), (2, "'__builtin__.eval'"), (0, "neither a torch checkpoint")):
        attack = pickle.dumps(_Marker(eval, f"open({str(marker)!r}, 'w')"), protocol=protocol)
        _refused(_write(tmp_path / "b.pt", attack), needle)
    assert not marker.exists()


def test_nested_storage_payload_with_a_malicious_pickle_is_refused(tmp_path, marker):
    buf = io.BytesIO()
    torch.save(_Marker(os.system, f"touch {marker}"), buf, _use_new_zipfile_serialization=False)
    outer = _Marker(torch.storage._load_from_bytes, buf.getvalue())
    path = _write(tmp_path / "c.pt", pickle.dumps(OrderedDict({"gnn.gru.w": outer}), protocol=4))
    _refused(path, "nested torch.save payload", "weights-only")
    assert not marker.exists()


@pytest.mark.parametrize("zipped", [True, False])
def test_torch_file_with_a_malicious_pickle_is_refused(tmp_path, marker, zipped):
    evil = {"state_dict": {"gnn.gru.w": torch.ones(1)}, "config": _Marker(os.system, f"touch {marker}")}
    torch.save(evil, tmp_path / "t.pt", _use_new_zipfile_serialization=zipped)
    _refused(tmp_path / "t.pt", "weights-only", "system")
    assert not marker.exists()


def test_joblib_numpy_wrapper_is_refused(tmp_path, marker):
    joblib.dump({"gnn.gru.w": np.arange(3.0)}, tmp_path / "np.pt")
    _refused(tmp_path / "np.pt", "joblib.numpy_pickle.NumpyArrayWrapper")
    # the wrapper's state naming a forbidden class: refused at the wrapper, before its state is read
    joblib.dump({"w": np.arange(3.0), "evil": _Marker(os.system, f"touch {marker}")}, tmp_path / "np2.pt")
    _refused(tmp_path / "np2.pt", "NumpyArrayWrapper")
    assert not marker.exists()
    assert not any("numpy" in module or "joblib" in module for module, _ in ALLOWED_GLOBALS)


def test_tensor_outside_its_storage_is_refused(tmp_path):
    """torch's own _rebuild_tensor_v2 would grow the storage and hand back uninitialised memory."""
    storage = torch.arange(4.0).storage()
    rebuild = _Marker(torch._utils._rebuild_tensor_v2, storage, 0, (1000,), (1,), False, OrderedDict())
    path = _write(tmp_path / "d.pt", pickle.dumps(OrderedDict({"gnn.gru.w": rebuild}), protocol=4))
    _refused(path, "reaches element 999 of a storage of 4 elements")


def test_backward_hooks_and_foreign_state_are_refused(tmp_path, marker):
    storage = torch.arange(4.0).storage()
    hooks = OrderedDict({0: _Marker(os.system, f"touch {marker}")})
    rebuild = _Marker(torch._utils._rebuild_tensor_v2, storage, 0, (4,), (1,), False, hooks)
    path = _write(tmp_path / "e.pt", pickle.dumps(OrderedDict({"gnn.gru.w": rebuild}), protocol=4))
    _refused(path, "system")  # the hook itself names os.system: refused before the tensor is built
    state = OrderedDict({"gnn.gru.w": torch.ones(1)})
    state.evil = 1  # BUILD would set an attribute other than _metadata
    _refused(_write(tmp_path / "f.pt", pickle.dumps(state, protocol=4)), "only _metadata is allowed")
    assert not marker.exists()


def test_memo_bomb_is_refused_before_unpickling(tmp_path):
    path = _write(tmp_path / "g.pt", b"\x80\x04}r\x00\x00\x00\x40.")  # LONG_BINPUT 2**30 on a 10-byte file
    _refused(path, "memo index")


def test_truncated_files(tmp_path):
    joblib.dump(_small_state("ghn3tm8"), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    _refused(_write(tmp_path / "t1.pt", data[: len(data) // 2]), "truncated")
    torch.save({"state_dict": _small_state("ghn2_cifar10")}, tmp_path / "full2.pt")
    data = (tmp_path / "full2.pt").read_bytes()
    _refused(_write(tmp_path / "t2.pt", data[: len(data) // 2]), "truncated")


def test_wrong_format_files(tmp_path):
    _refused(_write(tmp_path / "x.pt", b"not a checkpoint at all\n"), "neither a torch checkpoint")
    _refused(_write(tmp_path / "z.pt", b"\x1f\x8b\x08\x00" + b"\x00" * 20), "gzip-compressed")
    torch.save({"state_dict": {"conv1.weight": torch.ones(1)}}, tmp_path / "other.pt")
    _refused(tmp_path / "other.pt", "neither GHN-2 keys")
    torch.save({"state_dict": {"gnn.gru.w": "text"}}, tmp_path / "str.pt")
    _refused(tmp_path / "str.pt", "not str -> tensor")
    _refused(tmp_path, "not a regular file")
    with pytest.raises(CheckpointError, match="neither a published GHN"):
        load_published(tmp_path / "missing.pt")


# ---------------------------------------------------------------- published names: cache, download, offline
@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GRAPHHYPER_CACHE", str(tmp_path / "cache"))
    for var in ("HF_HUB_OFFLINE", "GRAPHHYPER_OFFLINE"):  # conftest keeps tests offline; these set it themselves
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "cache" / "ghn-reference"


def test_published_name_uses_the_local_cache_without_network(cache, monkeypatch):
    cache.mkdir(parents=True)
    joblib.dump(_small_state("ghn3tm8"), cache / "ghn3tm8.pt")
    monkeypatch.setattr(pub, "_download_hf", lambda entry: pytest.fail("must not download"))
    ckpt = load_published("ghn3tm8")
    assert ckpt.family == "ghn3" and ckpt.source.startswith("ghn3tm8 (")


def test_ensure_converted_converts_once(cache, monkeypatch):
    cache.mkdir(parents=True)
    state = _small_state("ghn3tm8")
    joblib.dump(state, cache / "ghn3tm8.pt")
    js = ensure_converted("ghn3tm8")
    (cache / "ghn3tm8.pt").unlink()  # the published file is no longer needed
    monkeypatch.setattr(pub, "convert", lambda *a, **k: pytest.fail("must not convert again"))
    assert ensure_converted("ghn3tm8") == js
    ckpt = load_published(js)  # a converted .json is routed to load_converted
    _assert_same(dict(sorted(ckpt.state_dict.items())), dict(sorted(state.items())))
    with pytest.raises(CheckpointError, match="not a published GHN"):
        ensure_converted("ghn4")


def test_published_name_downloads_through_hf_hub(cache, monkeypatch, tmp_path):
    joblib.dump(_small_state("ghn3sm8"), tmp_path / "downloaded.pt")
    calls = []

    def fake(repo_id, filename, local_files_only=False):
        calls.append((repo_id, filename, local_files_only))
        return str(tmp_path / "downloaded.pt")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    assert load_published("ghn3sm8").family == "ghn3"
    monkeypatch.setenv("GRAPHHYPER_OFFLINE", "1")  # offline: the Hugging Face cache only
    assert load_published("ghn3sm8").family == "ghn3"
    assert calls == [
        ("SamsungSAILMontreal/ghn3", "ghn3sm8.pt", False),
        ("SamsungSAILMontreal/ghn3", "ghn3sm8.pt", True),
    ]


def test_offline_message_names_the_file_url_and_where_to_put_it(cache, monkeypatch):
    import huggingface_hub

    def offline(**kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    message = str(pytest.raises(CheckpointError, load_published, "ghn3xlm16").value)
    for needle in (
        "ghn3xlm16.pt",
        "https://huggingface.co/SamsungSAILMontreal/ghn3/resolve/main/ghn3xlm16.pt",
        str(cache / "ghn3xlm16.pt"),
        "graphhyper ghn convert",
        "no network",
    ):
        assert needle in message, message
    monkeypatch.setenv("GRAPHHYPER_OFFLINE", "1")
    message = str(pytest.raises(CheckpointError, load_published, "ghn2_imagenet").value)
    assert "https://github.com/facebookresearch/ppuda/raw/main/checkpoints/ghn2_imagenet.pt" in message
    assert str(cache / "ghn2_imagenet.pt") in message and "offline" in message


def test_missing_huggingface_hub(cache, monkeypatch):
    def missing(*args, **kwargs):
        raise MissingDependencyError("no huggingface_hub")

    monkeypatch.setattr(pub, "require", missing)
    message = str(pytest.raises(CheckpointError, load_published, "ghn3tm8").value)
    assert "graphhyper[hub]" in message and str(cache / "ghn3tm8.pt") in message


def test_ppuda_download_goes_to_the_cache(cache, monkeypatch, tmp_path):
    torch.save({"state_dict": _small_state("ghn2_imagenet"), "config": {"hid": 32}}, tmp_path / "src.pt")
    urls = []

    def opener(url, timeout):
        urls.append(url)
        return open(tmp_path / "src.pt", "rb")

    monkeypatch.setattr(pub.urllib.request, "urlopen", opener)
    ckpt = load_published("ghn2_imagenet")
    assert urls == [PUBLISHED["ghn2_imagenet"].url] and (cache / "ghn2_imagenet.pt").is_file()
    assert ckpt.family == "ghn2" and ckpt.config == {"hid": 32}


# ---------------------------------------------------------------- converted checkpoints
@pytest.fixture
def converted(tmp_path) -> tuple[Path, OrderedDict]:
    state = _small_state("ghn2_imagenet")
    torch.save({"state_dict": state, "config": LAYOUTS["ghn2_imagenet"]["config"]}, tmp_path / "ghn2_imagenet.pt")
    convert(tmp_path / "ghn2_imagenet.pt", tmp_path / "out" / "g2")
    return tmp_path / "out" / "g2", state


def test_convert_round_trip_and_json(converted, tmp_path):
    base, state = converted
    ckpt = load_converted(base)
    _assert_same(dict(sorted(ckpt.state_dict.items())), dict(sorted(state.items())))
    assert ckpt.family == "ghn2" and ckpt.config == LAYOUTS["ghn2_imagenet"]["config"]
    doc = json.loads(base.with_suffix(".json").read_text())
    assert doc["format"] == "graphhyper.ghn-reference" and doc["source"]["name"] == "ghn2_imagenet"
    assert doc["source"]["sha256"] == pub.sha256_file(tmp_path / "ghn2_imagenet.pt")
    for path in (base.with_suffix(".json"), base.with_suffix(".safetensors")):
        assert load_converted(path).state_dict.keys() == ckpt.state_dict.keys()
    with pytest.raises(CheckpointError, match="exists already"):
        convert(tmp_path / "ghn2_imagenet.pt", base)


def test_converted_json_is_validated(converted):
    base, _ = converted
    js = base.with_suffix(".json")
    doc = json.loads(js.read_text())
    for change, needle in (
        ({"family": "ghn4"}, "unknown family"),
        ({"format": "graphhyper.ghn"}, "not a converted reference GHN"),
        ({"format_version": 99}, "format_version"),
        ({"source": {}}, "sha256"),
        ({"config": [1]}, "'config' must be an object"),
    ):
        js.write_text(json.dumps({**doc, **change}))
        with pytest.raises(CheckpointError, match=needle):
            load_converted(base)
    js.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_converted(base)


def test_tampered_safetensors_are_refused(converted, tmp_path):
    from safetensors.torch import save_file

    base, state = converted
    st = base.with_suffix(".safetensors")
    meta = {"format": "graphhyper.ghn-reference", "format_version": "1", "family": "ghn2"}
    good = json.loads(base.with_suffix(".json").read_text())["source"]["sha256"]
    tampered = {k: v.clone() for k, v in state.items()}
    tampered["embed.weight"] = torch.zeros(2, 2)  # shape differs from the JSON's table
    save_file(tampered, str(st), metadata={**meta, "source_sha256": good})
    with pytest.raises(CheckpointError, match="does not match"):
        load_converted(base)
    save_file(dict(state), str(st), metadata={**meta, "source_sha256": "0" * 64})  # another conversion's weights
    with pytest.raises(CheckpointError, match="disagree on"):
        load_converted(base)
    save_file(dict(state), str(st), metadata={**meta, "family": "ghn3", "source_sha256": good})
    with pytest.raises(CheckpointError, match="family"):
        load_converted(base)
    save_file(dict(state), str(st), metadata={**meta, "source_sha256": good})
    data = st.read_bytes()
    st.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="truncated"):
        load_converted(base)
    st.unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_converted(base)


def test_cli_convert(tmp_path, capsys):
    joblib.dump(_small_state("ghn3lm8"), tmp_path / "ghn3lm8.pt")
    assert main(["ghn", "convert", str(tmp_path / "ghn3lm8.pt"), "--out", str(tmp_path / "lm8")]) == 0
    assert "ghn3, 159 tensors" in capsys.readouterr().out
    assert load_converted(tmp_path / "lm8").family == "ghn3"
    assert main(["ghn", "convert", str(tmp_path / "ghn3lm8.pt"), "--out", str(tmp_path / "lm8")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["ghn", "convert", str(tmp_path / "ghn3lm8.pt"), "--out", str(tmp_path / "lm8"), "--overwrite"]) == 0
    _write(tmp_path / "bad.pt", pickle.dumps(_Marker(eval, "1"), protocol=4))
    assert main(["ghn", "convert", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "bad")]) == 1
    assert "builtins.eval" in capsys.readouterr().err and not (tmp_path / "bad.json").exists()
