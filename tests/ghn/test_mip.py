"""MIP as published: free theta0, additive output without renormalisation, constant-norm inputs, old layouts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from graphhyper.arch import trace
from graphhyper.errors import CheckpointError
from graphhyper.ghn import GHN, GHNConfig, from_pretrained, load, save
from graphhyper.ghn.decoders import MIP_VECTOR_SCALE, tile_to
from graphhyper.ghn.encoders import ShapeEncoding
from graphhyper.ghn.features import SHAPE_RAW_DIM

FIXTURES = Path(__file__).parent / "fixtures"


class WideNet(nn.Module):
    """Widths above theta0's 32 x 32 tile, a 5x5 kernel, norms and biases: every tiling case."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 40, 5, padding=2)
        self.bn = nn.BatchNorm2d(40)
        self.fc = nn.Linear(40, 70)
        self.ln = nn.LayerNorm(70)
        self.out = nn.Linear(70, 3)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x))).mean((2, 3))
        return self.out(self.ln(self.fc(h)))


@pytest.fixture(scope="module")
def graph():
    return trace(WideNet(), input_shape=(2, 1, 6, 6))


def _ghn(decoder: str = "tiled", encoder: str = "gatedgnn") -> GHN:
    torch.manual_seed(0)
    return GHN(GHNConfig(hidden=16, encoder=encoder, decoder=decoder, mip=True, layers=1, rank=4))


def _scaled_delta(ghn: GHN, factor: float) -> None:
    """Multiply whatever the decoder returns by ``factor`` (0: a zero residual)."""
    inner = type(ghn.decoder).forward.__get__(ghn.decoder)
    ghn.decoder.forward = lambda h, shape: factor * inner(h, shape)  # type: ignore[method-assign]


@pytest.mark.parametrize("decoder", ["tiled", "lowrank"])
def test_zero_residual_predicts_theta0_tiled_and_cropped(graph, decoder):
    ghn = _ghn(decoder)
    _scaled_delta(ghn, 0.0)
    with torch.no_grad():
        pred = ghn.predict(graph)
    tiles = ghn.theta0.tiles
    he = {"conv.weight": math.sqrt(2 / 25), "fc.weight": math.sqrt(2 / 40), "out.weight": math.sqrt(2 / 70)}
    # 5x5 kernel on the 3x3 tile: centred and wrapped, rows/cols of the 32-tile repeat (40 = 32 + 8 channels)
    k5 = torch.tensor([2, 0, 1, 2, 0])
    conv = tiles["weight_kernel"].view(32, 32, 3, 3)[:, :, k5][:, :, :, k5]
    torch.testing.assert_close(pred["conv.weight"], he["conv.weight"] * conv[torch.arange(40) % 32, :1])
    fc = tiles["weight"][torch.arange(70) % 32][:, torch.arange(40) % 32]
    torch.testing.assert_close(pred["fc.weight"], he["fc.weight"] * fc)
    torch.testing.assert_close(pred["out.weight"], he["out.weight"] * tiles["weight"][:3, torch.arange(70) % 32])
    torch.testing.assert_close(pred["ln.weight"], torch.ones(70))  # norm scales start at 1, biases at 0
    for name in ("bn.bias", "ln.bias", "conv.bias", "fc.bias"):
        assert torch.equal(pred[name], torch.zeros_like(pred[name])), name


@pytest.mark.parametrize("decoder", ["tiled", "lowrank"])
def test_output_is_affine_in_the_residual_no_renormalisation(graph, decoder):
    preds = []
    for factor in (0.0, 1.0, 3.0):
        ghn = _ghn(decoder)
        _scaled_delta(ghn, factor)
        with torch.no_grad():
            preds.append(ghn.predict(graph))
    base, one, three = preds
    for name in base:
        d1, d3 = one[name] - base[name], three[name] - base[name]
        assert d1.abs().max() > 1e-4, name  # the residual is there ...
        torch.testing.assert_close(d3, 3 * d1, rtol=1e-4, atol=1e-5)  # ... and is added as is, times 3
    # a norm scale is not squashed: a large residual leaves the (0.5, 1.5) band of the normalised output
    ghn = _ghn(decoder)
    _scaled_delta(ghn, 20.0 / MIP_VECTOR_SCALE)
    with torch.no_grad():
        assert ghn.predict(graph)["ln.weight"].sub(1).abs().max() > 1.5


def test_theta0_is_a_free_parameter_that_learns(graph):
    ghn = _ghn()
    assert ghn.gain is None and ghn.theta0 is not None
    names = {n for n, _ in ghn.named_parameters()}
    assert {"theta0.tiles.weight", "theta0.tiles.weight_kernel", "theta0.tiles.norm_weight"} <= names
    net = WideNet()
    x = torch.randn(4, 1, 6, 6)
    pred = ghn.predict(graph)
    loss = torch.func.functional_call(net, dict(pred), (x,)).square().mean()
    loss.backward()
    tiles = ghn.theta0.tiles
    for kind in ("weight", "weight_kernel", "bias", "norm_weight", "norm_bias"):
        assert tiles[kind].grad is not None and tiles[kind].grad.abs().sum() > 0, kind
    assert tiles["embedding"].grad is None  # no embedding in this network
    # one SGD step on theta0 alone changes the prediction by exactly the step (scaled, tiled): no renormalisation
    before = pred["fc.weight"].detach()
    with torch.no_grad():
        step = -0.1 * tiles["weight"].grad
        tiles["weight"].add_(step)
        after = ghn.predict(graph)["fc.weight"]
    torch.testing.assert_close(after - before, math.sqrt(2 / 40) * tile_to(step, (70, 40)), rtol=1e-4, atol=1e-6)


def test_constant_norm_encoding_has_constant_norm():
    torch.manual_seed(0)
    raw = torch.rand(50, SHAPE_RAW_DIM) * 17
    raw[0] = 0
    enc = ShapeEncoding(8, num_freqs=6, constant_norm=True)
    norms = enc.features(raw).norm(dim=1)
    torch.testing.assert_close(norms, torch.full((50,), math.sqrt(SHAPE_RAW_DIM * 6)))
    plain = ShapeEncoding(8, num_freqs=6).features(raw).norm(dim=1)
    assert plain.max() - plain.min() > 0.2  # the raw term makes the non-MIP encoding's norm vary
    ghn = _ghn()
    assert ghn.embed.shape.constant_norm


def test_mip_round_trip_and_old_layout_refused(tmp_path, graph):
    ghn = _ghn("lowrank", "transformer")
    save(ghn, tmp_path / "new")
    with torch.no_grad():
        a, b = ghn.predict(graph), load(tmp_path / "new").predict(graph)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the layout before MIP as published: two decoders (theta0 decoded from h0), the output gain
    from safetensors.torch import load_file, save_file

    state = load_file(tmp_path / "new.safetensors")
    old = {k: v for k, v in state.items() if not k.startswith(("decoder.", "theta0."))}
    for k, v in state.items():
        if k.startswith("decoder."):
            old["decoder.base." + k[8:]] = v
            old["decoder.delta." + k[8:]] = v.clone()
    old["gain.weight"], old["gain.bias"] = torch.zeros(1, 16), torch.zeros(1)
    save_file(old, tmp_path / "new.safetensors")
    with pytest.raises(CheckpointError, match="before MIP as published.*Retrain"):
        load(tmp_path / "new")


def test_non_mip_predictions_unchanged_for_the_bundled_checkpoint():
    """ghn-tiny-tiled (mip=false) predicts what it predicted before MIP was rewritten (fixture made then)."""
    from safetensors.torch import load_file

    from tests.ghn.test_model import SmallNet

    want = load_file(FIXTURES / "ghn_tiny_tiled_smallnet.safetensors")
    ghn = from_pretrained("ghn-tiny-tiled")
    assert not ghn.config.mip
    with torch.no_grad():
        got = ghn.predict(trace(SmallNet(), input_shape=(2, 1, 8, 8)))
    assert set(got) == set(want)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-6, atol=1e-7)
