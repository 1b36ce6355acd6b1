"""GPT-2-style and ViT spaces: every split builds, traces, and a fresh GHN predicts every parameter."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from graphhyper.arch.spaces import get_space, gpt, vit
from graphhyper.errors import InvalidInputError
from graphhyper.ghn.model import GHN, GHNConfig


@pytest.fixture(scope="module")
def ghn():
    torch.manual_seed(0)
    return GHN(GHNConfig(hidden=16, layers=1, heads=2, decoder="lowrank"))


def _check_predicts_all(ghn, space, spec, x):
    net = space.build(spec)
    pred = ghn.predict(space.spec_to_graph(spec))
    names = {n for n, _ in net.named_parameters()}
    assert set(pred) == names and not pred.unpredicted and not pred.unknown_ops
    for name, value in pred.items():
        assert tuple(value.shape) == tuple(net.get_parameter(name).shape), name
    out = torch.func.functional_call(net, dict(pred), (x,))
    assert torch.isfinite(out).all()
    return out


@pytest.mark.parametrize("split", ["id", "wide", "deep"])
def test_gpt_splits_predict_every_parameter(ghn, split):
    specs = gpt.sample_specs(2, seed=1, split=split, context=16)
    ranges = gpt.SPLITS[split]
    for spec in specs:
        assert spec.depth in ranges["depth"] and spec.width in ranges["width"] and spec.width % spec.heads == 0
        out = _check_predicts_all(ghn, gpt, spec, torch.randint(0, 256, (2, 16)))
        assert out.shape == (2, 16, 256)


@pytest.mark.parametrize("weight_scale", ["rms", "spectral"])
def test_predicted_tied_head_gives_order_one_logits(ghn, weight_scale):
    # embeddings are decoded with entries ~ 1/sqrt(width) ("rms") or largest singular value ~ sqrt(vocab / width)
    # ("spectral"): a tied head must not start with sqrt(width)-sized logits
    spec = gpt.GPTSpec(depth=1, width=256, heads=4, tied=True, context=8)
    ghn = copy.deepcopy(ghn)
    ghn.config.weight_scale = weight_scale
    pred = ghn.predict(gpt.spec_to_graph(spec))
    emb = pred["tok.weight"]
    if weight_scale == "rms":
        assert 0.5 / 16 <= emb.pow(2).mean().sqrt() <= 2 / 16
    else:
        assert 0.5 <= torch.linalg.matrix_norm(emb.detach(), ord=2) <= 2  # sqrt(256 / 256)
    logits = torch.func.functional_call(gpt.build(spec), dict(pred), (torch.randint(0, 256, (2, 8)),))
    assert logits.std() < 4


def test_gpt_tied_head_shares_the_embedding_and_is_causal():
    spec = gpt.GPTSpec(depth=1, width=16, heads=2, tied=True, context=8)
    net = gpt.build(spec)
    assert net.head.weight is net.tok.weight
    assert gpt.count_params(spec) == sum(p.numel() for p in net.parameters())
    untied = gpt.count_params(gpt.GPTSpec(depth=1, width=16, heads=2, tied=False, context=8))
    assert untied - gpt.count_params(spec) == 256 * 16
    x = torch.randint(0, 256, (1, 8))
    x2 = x.clone()
    x2[0, 5:] = (x2[0, 5:] + 1) % 256  # changing the future must not change earlier logits
    with torch.no_grad():
        assert torch.allclose(net(x)[0, :5], net(x2)[0, :5], atol=1e-5)
        assert not torch.allclose(net(x)[0, 5:], net(x2)[0, 5:])


@pytest.mark.parametrize(("dims", "size"), [(2, 8), (1, 40)])
@pytest.mark.parametrize("split", ["id", "wide", "deep"])
def test_vit_splits_predict_every_parameter(ghn, split, dims, size):
    for spec in vit.sample_specs(2, seed=3, split=split, dims=dims, image_size=size):
        assert spec.patch in vit.PATCHES[(dims, size)]
        out = _check_predicts_all(ghn, vit, spec, torch.randn((2, 1) + (size,) * dims))
        assert out.shape == (2, 10)


def test_specs_are_reproducible_and_round_trip():
    for name, kw in (("gpt", {}), ("vit", {"dims": 1, "image_size": 40})):
        space = get_space(name)
        a, b = space.sample_specs(4, 5, "id", **kw), space.sample_specs(4, 5, "id", **kw)
        assert a == b and len({space.spec_hash(s) for s in a}) >= 2
        assert [space.from_json(space.to_json(s)) for s in a] == a


def test_bad_specs_name_the_fix():
    with pytest.raises(InvalidInputError, match="divisible"):
        gpt.GPTSpec(width=30, heads=4)
    with pytest.raises(InvalidInputError, match="divide"):
        vit.ViTSpec(image_size=8, patch=3)
    with pytest.raises(InvalidInputError, match="split"):
        gpt.sample_spec(0, "huge")


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (vit.ViTSpec, "depth", "x"),
        (vit.ViTSpec, "width", 0),
        (vit.ViTSpec, "heads", 2.0),
        (vit.ViTSpec, "mlp_ratio", True),
        (gpt.GPTSpec, "depth", "x"),
        (gpt.GPTSpec, "tied", "yes"),
    ],
)
def test_spec_files_with_wrong_types_are_refused_before_building(cls, field, value):
    """A hand-edited spec file (``graphhyper ghn predict --model vit:/gpt:SPEC.json``) gets the field and the rule,
    not a TypeError from deep inside the network's constructor."""
    doc = json.loads(cls().to_json())
    doc[field] = value
    with pytest.raises(InvalidInputError, match=f"{cls.__name__}.{field} is"):
        cls.from_json(json.dumps(doc))
