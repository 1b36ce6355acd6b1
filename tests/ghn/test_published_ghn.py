"""The user's path to a published GHN, end to end without the reference code: a checkpoint in the published
format (GHN-3: a joblib pickle of the state dict; GHN-2: ``torch.save`` of ``{"state_dict", "config"}``) ->
``ghn.from_pretrained(path)`` -> ``predict(model)`` on our trace and the reference view -> the tensors the reference
code predicted for the same weights (digests in tests/ghn/fixtures, written by scripts/oracle_ghn_reference.py)."""

from __future__ import annotations

import gzip
import json
from contextlib import nullcontext
from pathlib import Path

import joblib
import pytest
import torch
import torchvision
from torchvision.models.convnext import CNBlockConfig, ConvNeXt
from torchvision.models.vision_transformer import VisionTransformer

from graphhyper import ghn
from graphhyper.errors import CheckpointError, InvalidInputError
from graphhyper.ghn.reference.ghn import PublishedGHN

FIXTURES = Path(__file__).parent / "fixtures"
with gzip.open(FIXTURES / "reference_ghn_cases.json.gz", "rt") as _f:
    CASES = json.load(_f)


def small_model(name: str) -> torch.nn.Module:
    """The fixture's models (scripts/oracle_ghn_reference.py small_models): shapes matter, weights do not."""
    if name == "resnet18":
        return torchvision.models.resnet18(num_classes=10)
    if name == "mobilenet_v3_small":
        return torchvision.models.mobilenet_v3_small(num_classes=10)
    if name == "convnext_tiny2":
        return ConvNeXt([CNBlockConfig(4, 16, 1), CNBlockConfig(16, None, 1)], num_classes=10)
    return VisionTransformer(
        image_size=224, patch_size=56, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=10
    )


def published_file(config: str, tmp_path: Path, bare: bool = False) -> Path:
    """The fixture's weights as a published file: ``torch.save({"state_dict", "config"})`` (ppuda's format, and the
    local-file format ghn3 reads), or with ``bare`` a joblib pickle of the state dict alone (the Hugging Face
    GHN-3 files; their config is inferred from the keys, which these small configurations defeat on purpose)."""
    state = torch.load(FIXTURES / f"reference_ghn_{config}.pt", weights_only=True)
    path = tmp_path / f"{config}{'-bare' if bare else ''}.pt"
    if bare:
        joblib.dump(state, path)
    else:
        cfg = {k: v for k, v in CASES["configs"][config].items() if k != "ppuda"}
        torch.save({"state_dict": state, "config": cfg}, path)
    return path


def check(pred: dict[str, torch.Tensor], expected: dict, rtol: float) -> None:
    assert set(pred) == set(expected)
    for name, d in expected.items():
        t = pred[name][:, 1:] if name.endswith("pos_embedding") else pred[name]  # the class token is random
        flat, tol = t.double().flatten(), rtol * d["max_abs"]
        assert list(t.shape) == d["shape"], name
        assert torch.allclose(flat[d["idx"]], torch.tensor(d["values"], dtype=torch.double), rtol=0, atol=tol), name
        assert abs(float(flat.sum()) - d["sum"]) <= tol * flat.numel(), name


# GHN-2 as ghn3's from_pretrained runs it (the published path for GHN-2 files); ppuda's own forward pass has its
# own graph builder, which the view does not reproduce.
END_TO_END = [c for c in CASES["cases"] if c["config"] in ("small_ghn3", "small_ghn2_ghn3")]


@pytest.mark.parametrize("case", END_TO_END, ids=lambda c: f"{c['config']}-{c['model']}")
def test_from_pretrained_predicts_what_the_reference_predicts(case, tmp_path):
    model = ghn.from_pretrained(published_file(case["config"], tmp_path))
    assert isinstance(model, PublishedGHN) and model.family == ("ghn3" if case["config"] == "small_ghn3" else "ghn2")
    net = small_model(case["model"])
    pred = model.predict(net, input_shape=(1, 3, 224, 224))
    check(pred, case["expected"], CASES["rtol"])
    assert sorted(pred.unpredicted) == sorted(set(dict(net.named_parameters())) - set(pred))


def test_apply_and_predict_many_work_as_for_our_ghns(tmp_path):
    model = ghn.from_pretrained(published_file("small_ghn3", tmp_path))
    net = small_model("resnet18")
    before = net.conv1.weight.detach().clone()
    (first,) = model.predict_many([net], input_shape=(1, 3, 224, 224))
    model.apply(net, first, strict=False)
    assert torch.equal(net.conv1.weight, first["conv1.weight"]) and not torch.equal(before, first["conv1.weight"])
    with pytest.raises(InvalidInputError, match="input"):
        model.apply(net)


def test_converted_checkpoint_predicts_the_same(tmp_path):
    from graphhyper.ghn.reference.published import convert

    src = published_file("small_ghn3", tmp_path)
    convert(src, tmp_path / "converted")
    net = small_model("resnet18")
    a = ghn.from_pretrained(src).predict(net, input_shape=(1, 3, 224, 224))
    b = ghn.from_pretrained(tmp_path / "converted.json").predict(net, input_shape=(1, 3, 224, 224))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_bare_pickle_whose_config_cannot_be_inferred_is_refused_by_name(tmp_path):
    with pytest.raises(CheckpointError, match="shapes do not match config"):
        ghn.from_pretrained(published_file("small_ghn3", tmp_path, bare=True))


def test_published_name_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHHYPER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(CheckpointError) as err:
        ghn.from_pretrained("ghn3tm8")
    text = str(err.value)
    assert "ghn3tm8.pt" in text and "huggingface.co" in text and str(tmp_path / "cache") in text


def test_cli_predicts_with_a_published_checkpoint(tmp_path, capsys):
    from safetensors.torch import load_file

    from graphhyper.cli import main

    out = tmp_path / "resnet18.safetensors"
    ckpt = published_file("small_ghn3", tmp_path)
    rc = main(["ghn", "predict", "--model", "torchvision:resnet18", "--ckpt", str(ckpt), "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    saved = load_file(str(out))
    assert saved["fc.weight"].shape == (1000, 512) and torch.isfinite(saved["conv1.weight"]).all()
    assert "predicted 62 tensors" in printed


def test_apply_writes_into_modules_that_read_their_state_dict_version(tmp_path):
    """torchvision's MNASNet refuses a state dict without its version metadata; apply must carry it."""
    net = torchvision.models.mnasnet0_5(num_classes=10)
    for model in (ghn.from_pretrained(), ghn.from_pretrained(published_file("small_ghn3", tmp_path))):
        pred = model.apply(net, strict=False, input_shape=(1, 3, 224, 224))
        assert torch.equal(net.classifier[1].weight, pred["classifier.1.weight"])


@pytest.mark.parametrize("config", ["small_ghn3", "small_ghn2_ghn3"])
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "convnext_tiny"])
def test_apply_in_place_writes_exactly_what_predict_returns(name, config, tmp_path):
    """apply() gathers large tiled weights straight into the module's parameters; predict() allocates them.
    Same values, and parameters the GHN does not predict keep theirs."""
    model = ghn.from_pretrained(published_file(config, tmp_path))
    net = torchvision.models.get_model(name)  # 1000 classes, full widths: blocks are tiled
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    pred = model.predict(net, input_shape=(1, 3, 224, 224))
    written = model.apply(net, strict=False, input_shape=(1, 3, 224, 224))
    assert written.keys() == pred.keys() and written.unpredicted == pred.unpredicted
    params = dict(net.named_parameters())
    for k, v in pred.items():
        assert torch.equal(params[k], v), k
    for k in pred.unpredicted:
        assert torch.equal(params[k], before[k]), k
    with pytest.raises(InvalidInputError, match="did not predict") if pred.unpredicted else nullcontext():
        model.apply(net, input_shape=(1, 3, 224, 224))
