"""``GHNConfig.weight_scale``: the spectral rule's formula, its gradient, old checkpoints, and logits at large widths.

The fixture ``fixtures/ghn_lowrank_rms_v1*`` is a small low-rank GHN (hidden 16, rank 4, random weights) saved, with
its predictions for ``SmallNet`` and a 1-block GPT, by graphhyper at commit 840a698 -- before ``weight_scale``
existed, so its JSON has no such key. Made with ``tests/ghn/fixtures/make_ghn_lowrank_rms_v1.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from graphhyper.arch import trace
from graphhyper.arch.spaces import gpt
from graphhyper.errors import InvalidInputError
from graphhyper.ghn import GHN, GHNConfig, load, save
from graphhyper.ghn.decoders import (
    GAIN_MAX,
    GAIN_MIN,
    build_decoder,
    normalize_output,
    normalized_from_factors,
    spectral_norm,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _entry_scale(role: str, fan_in: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """The entry RMS of the "rms" rule, written out again: gamma * sqrt(2 / fan_in) or gamma / sqrt(dim)."""
    gamma = GAIN_MIN + (GAIN_MAX - GAIN_MIN) * torch.sigmoid(gain)
    return gamma * (torch.sqrt(2 / fan_in) if role == "weight" else 1 / torch.sqrt(fan_in))


def _top_singular(w: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(w.reshape(w.shape[0], w.shape[1], -1), ord=2)


@pytest.mark.parametrize("shape", [(6, 5), (40, 24), (3, 30), (4, 3, 3, 3), (1, 16, 8), (7, 2, 5)])
def test_spectral_norm_from_factors_matches_svd(shape):
    torch.manual_seed(0)
    dec = build_decoder("lowrank", 16, rank=4)
    a, b = dec.factors(torch.randn(3, 16), shape)
    dense = (a @ b.transpose(1, 2)).view(3, *shape)
    got = spectral_norm(a.transpose(1, 2) @ a, b.transpose(1, 2) @ b)
    torch.testing.assert_close(got, _top_singular(dense), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("role", ["weight", "embedding"])
@pytest.mark.parametrize("shape", [(6, 5), (48, 16), (4, 3, 3, 3), (1, 16, 8)])
def test_spectral_rule_sets_the_top_singular_value(role, shape):
    """sigma_max(W) = s(fan_in) sqrt(o) (one row: sqrt(m), the RMS rule); the factored and the dense path agree."""
    torch.manual_seed(1)
    dec = build_decoder("lowrank", 16, rank=4)
    h, gain = torch.randn(3, 16), torch.randn(3)
    fan = torch.tensor([float(math.prod(shape[1:]))] * 2 + [100.0])  # the rule takes fan_in as given
    dense = normalize_output(dec(h, shape), role, fan, gain, "spectral")
    fast = normalized_from_factors(*dec.factors(h, shape), shape, role, fan, gain, "spectral")
    torch.testing.assert_close(fast, dense, rtol=1e-4, atol=1e-6)
    rows = shape[0] if shape[0] > 1 else math.prod(shape[1:])
    want = _entry_scale(role, fan, gain) * math.sqrt(rows)
    torch.testing.assert_close(_top_singular(dense), want, rtol=1e-4, atol=1e-7)
    if shape[0] == 1:  # one row (a position table): the RMS rule
        torch.testing.assert_close(dense, normalize_output(dec(h, shape), role, fan, gain), rtol=1e-4, atol=1e-7)


def test_rms_rule_unchanged():
    torch.manual_seed(2)
    raw, fan, gain = torch.randn(2, 12, 7), torch.tensor([7.0, 30.0]), torch.randn(2)
    for role in ("weight", "embedding"):
        out = normalize_output(raw, role, fan, gain)  # "rms" is the function's default
        torch.testing.assert_close(out.pow(2).mean((1, 2)).sqrt(), _entry_scale(role, fan, gain), rtol=1e-4, atol=0)


def test_spectral_target_is_the_random_init_typical_gain():
    """A random i.i.d. tensor with the rule's entry std maps unit inputs to norm ~ s sqrt(o): the rule's sigma_max.
    A rank-2 prediction with that entry RMS would map its row space sqrt(m / 2) times further."""
    torch.manual_seed(3)
    fan, gain = torch.tensor([512.0]), torch.zeros(1)
    std = _entry_scale("weight", fan, gain)
    x = torch.nn.functional.normalize(torch.randn(512, 64), dim=0)  # 64 random unit inputs
    w = torch.randn(1, 256, 512) * std
    typical = (w[0] @ x).norm(dim=0).mean()
    low_rank = torch.randn(1, 256, 2) @ torch.randn(1, 2, 512)
    target = _top_singular(normalize_output(low_rank, "weight", fan, gain, "spectral"))
    torch.testing.assert_close(target[0], typical, rtol=0.05, atol=0)
    rms_rule = _top_singular(normalize_output(low_rank, "weight", fan, gain))
    assert rms_rule[0] > 0.5 * math.sqrt(512 / 2) * typical


def test_spectral_gradient_is_the_svd_gradient():
    torch.manual_seed(4)
    a = torch.randn(2, 20, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 30, 4, dtype=torch.float64, requires_grad=True)
    spectral_norm(a.transpose(1, 2) @ a, b.transpose(1, 2) @ b).sum().backward()
    ga, gb = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    _top_singular(a @ b.transpose(1, 2)).sum().backward()
    torch.testing.assert_close(ga, a.grad, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(gb, b.grad, rtol=1e-5, atol=1e-8)


def test_config_default_and_old_json():
    assert GHNConfig().weight_scale == "spectral"
    assert GHNConfig().to_dict()["weight_scale"] == "spectral"
    old = {k: v for k, v in GHNConfig().to_dict().items() if k != "weight_scale"}
    assert GHNConfig.from_dict(old).weight_scale == "rms"
    assert GHNConfig.from_dict({**old, "weight_scale": "spectral"}).weight_scale == "spectral"
    with pytest.raises(InvalidInputError, match="weight_scale.*'rms', 'spectral'"):
        GHNConfig(weight_scale="fro").validate()


def test_old_checkpoint_loads_as_rms_and_predicts_as_before():
    from safetensors.torch import load_file

    from tests.ghn.test_model import SmallNet

    assert "weight_scale" not in json.loads((FIXTURES / "ghn_lowrank_rms_v1.json").read_text())["config"]
    ghn = load(FIXTURES / "ghn_lowrank_rms_v1")
    assert ghn.config.weight_scale == "rms" and ghn.config.decoder == "lowrank"
    want = load_file(FIXTURES / "ghn_lowrank_rms_v1_predictions.safetensors")
    spec = gpt.GPTSpec(depth=1, width=32, heads=2, vocab=64, context=16)
    with torch.no_grad():
        got = {"smallnet/" + k: v for k, v in ghn.predict(trace(SmallNet(), input_shape=(2, 1, 8, 8))).items()}
        got.update({"gpt/" + k: v for k, v in ghn.predict(gpt.spec_to_graph(spec)).items()})
    assert set(got) == set(want)
    for k in want:  # bit-equal at 1 thread (the fixture's and conftest's); other thread counts differ by ~1e-7
        torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-6)


def test_spectral_ghn_round_trip(tmp_path):
    torch.manual_seed(5)
    ghn = GHN(GHNConfig(hidden=16, layers=1, rank=4, heads=2))
    save(ghn, tmp_path / "g")
    assert json.loads((tmp_path / "g.json").read_text())["config"]["weight_scale"] == "spectral"
    loaded = load(tmp_path / "g")
    assert loaded.config.weight_scale == "spectral"
    graph = gpt.spec_to_graph(gpt.GPTSpec(depth=1, width=32, heads=2, vocab=64, context=16))
    with torch.no_grad():
        a, b = ghn.predict(graph), loaded.predict(graph)
    assert all(torch.equal(a[k], b[k]) for k in a)


def _logit_std(ghn: GHN | None, width: int, idx: torch.Tensor) -> float:
    spec = gpt.GPTSpec(depth=2, width=width, heads=4, vocab=256, context=idx.shape[1])
    torch.manual_seed(0)
    net = gpt.build(spec)
    with torch.no_grad():
        if ghn is not None:
            ghn.apply(net, example_inputs=idx[:1])
        return net(idx).std().item()


def test_wide_gpt_logits_stay_bounded():
    """A fresh spectral GHN predicts a width-256 decoder (8x the width-32 one) whose logit std is within 4x of
    GPT-2 init's and no larger than at width 32; under the RMS rule it grows with the width (the failure fixed)."""
    torch.manual_seed(6)
    idx = torch.randint(0, 256, (2, 32))
    spectral, rms = GHN(GHNConfig(hidden=32, layers=1, heads=2)), GHN(GHNConfig(hidden=32, layers=1, heads=2))
    rms.load_state_dict(spectral.state_dict())
    rms.config.weight_scale = "rms"
    ratio = _logit_std(spectral, 256, idx) / _logit_std(None, 256, idx)
    assert 1 / 4 < ratio < 4
    growth_spectral = _logit_std(spectral, 256, idx) / _logit_std(spectral, 32, idx)
    growth_rms = _logit_std(rms, 256, idx) / _logit_std(rms, 32, idx)
    assert growth_spectral < 1.2 and growth_rms > 1.5, (growth_spectral, growth_rms)
