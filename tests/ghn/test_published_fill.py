"""``fill="all"``: a published GHN also predicts the parameters the published code leaves at their
initialisation (graphhyper's host rule, ``graphhyper.ghn.reference.targets.host_targets``), without changing any
tensor the published code predicts."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.swin_transformer import SwinTransformer

from graphhyper import ghn
from graphhyper.errors import InvalidInputError
from graphhyper.ghn.reference.targets import host_targets
from graphhyper.ghn.reference.view import reference_graph
from tests.ghn.test_published_ghn import published_file, small_model

SHAPE = (1, 3, 224, 224)


def small_swin() -> torch.nn.Module:
    return SwinTransformer([4, 4], 16, [1, 1], [1, 2], [4, 4], num_classes=10)


def _same_where_reference_predicts(a: dict, b: dict) -> list[str]:
    def body(name: str, t: torch.Tensor) -> torch.Tensor:
        return t[:, 1:] if name.endswith("pos_embedding") else t  # row 0: the published code's random class row

    return [k for k in a if not torch.equal(body(k, a[k]), body(k, b[k]))]


@pytest.mark.parametrize("name", ["convnext_tiny2", "vit", "swin"])
def test_fill_all_predicts_every_parameter_and_keeps_the_reference_ones(name, tmp_path):
    model = ghn.from_pretrained(published_file("small_ghn3", tmp_path))
    net = small_swin() if name == "swin" else small_model(name)
    ref = model.predict(net, input_shape=SHAPE)
    full = model.predict(net, input_shape=SHAPE, fill="all")
    params = dict(net.named_parameters())
    assert ref.unpredicted, "the published code leaves some parameters of this model at init"
    assert full.unpredicted == [] and set(full) == set(params)
    assert _same_where_reference_predicts(ref, full) == []
    for k in ref.unpredicted:
        assert full[k].shape == params[k].shape and torch.isfinite(full[k]).all(), k
        assert full[k].numel() == 1 or full[k].std() > 0, f"{k} is a constant"


def test_host_rule_picks_the_last_weight_inside_the_parameters_module(tmp_path):
    from graphhyper.arch import trace

    net = small_model("convnext_tiny2")
    arch = trace(net, input_shape=SHAPE)
    graph = reference_graph(arch)
    hosted = {t.name: t for t in host_targets(graph, dict(arch.parameters))}
    assert "features.1.0.layer_scale" in hosted
    row = {r.node: r.param for r in graph.node_info}[hosted["features.1.0.layer_scale"].node]
    assert row.startswith("features.1.0.block.5")  # the block's last linear, right before the scale


def test_vit_class_token_is_decoded_as_a_bias_vector(tmp_path):
    model = ghn.from_pretrained(published_file("small_ghn3", tmp_path))
    net = small_model("vit")
    token = model.predict(net, input_shape=SHAPE, fill="all")["class_token"]
    assert token.shape == net.class_token.shape
    assert token.abs().max() < 1 and token.std() > 0  # tanh(p/5): small, centred, not one number tiled


def test_apply_with_fill_all_is_strict_clean_and_writes_in_place(tmp_path):
    model = ghn.from_pretrained(published_file("small_ghn3", tmp_path))
    net = small_model("convnext_tiny2")
    with pytest.raises(InvalidInputError, match="did not predict"):
        model.apply(net, input_shape=SHAPE)
    pred = model.apply(net, input_shape=SHAPE, fill="all")
    assert pred.unpredicted == []
    expected = model.predict(small_model("convnext_tiny2"), input_shape=SHAPE, fill="all")
    assert all(torch.equal(p, expected[k]) for k, p in net.named_parameters())


def test_unknown_fill_is_refused_by_name(tmp_path):
    model = ghn.from_pretrained(published_file("small_ghn3", tmp_path))
    with pytest.raises(InvalidInputError, match="fill must be 'reference'"):
        model.predict(small_model("resnet18"), input_shape=SHAPE, fill="everything")


def test_cli_fill_all_leaves_nothing_unpredicted(tmp_path, capsys):
    from graphhyper.cli import main

    path = published_file("small_ghn3", tmp_path)
    out = tmp_path / "p.safetensors"
    argv = ["ghn", "predict", "--model", "torchvision:convnext_tiny", "--ckpt", str(path), "--out", str(out)]
    assert main([*argv, "--threads", "1"]) == 1  # layer scales left at init: reported, exit 1
    assert "NOT predicted" in capsys.readouterr().out
    assert main([*argv, "--threads", "1", "--fill", "all"]) == 0
    assert main(["ghn", "predict", "--model", "torchvision:resnet18", "--out", str(out), "--fill", "all"]) == 1
    assert "applies to published GHNs" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["convnext_atto", "deit_tiny_patch16_224", "levit_128s"])
def test_timm_families_are_predicted_whole_with_fill_all(name, tmp_path):
    timm = pytest.importorskip("timm", reason="timm is a dev requirement; install requirements-dev.txt")
    model = ghn.from_pretrained(published_file("small_ghn3", tmp_path))
    net = timm.create_model(name, pretrained=False, num_classes=10)
    ref = model.predict(net, input_shape=SHAPE)
    full = model.predict(net, input_shape=SHAPE, fill="all")
    params = dict(net.named_parameters())
    assert ref.unpredicted and full.unpredicted == []
    assert all(full[k].shape == p.shape and torch.isfinite(full[k]).all() for k, p in params.items())
    assert _same_where_reference_predicts(ref, full) == []
