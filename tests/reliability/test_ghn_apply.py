"""GHN.apply as the README uses it: a prediction is written as made, and every misuse is refused before writing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graphhyper.errors import InvalidInputError
from graphhyper.ghn import GHN, GHNConfig

SHAPE = (1, 1, 8, 8)


def _net(width: int = 8) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.ReLU(), nn.Flatten(), nn.Linear(width * 36, 3))


@pytest.fixture(scope="module")
def ghn() -> GHN:
    torch.manual_seed(0)
    return GHN(GHNConfig(hidden=16, layers=1, heads=2, rank=4))


def _same(net: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(p, before[k]) for k, p in net.state_dict().items())


@pytest.mark.timeout(60)
def test_apply_writes_the_prediction_it_is_given(ghn, record, monkeypatch):
    record(
        "docs: README's GHN example",
        "predict(net, input_shape=...), then apply(net, params) as the README "
        "writes it: the prediction is written as made, with no second trace or forward pass",
    )
    net = _net()
    params = ghn.predict(net, input_shape=SHAPE)
    monkeypatch.setattr(ghn, "predict", lambda *a, **k: pytest.fail("apply predicted again"))
    assert ghn.apply(net, params) is params
    for name, p in net.named_parameters():
        assert torch.equal(p, params[name].detach())


@pytest.mark.timeout(60)
def test_apply_without_input_names_both_ways(ghn, record):
    record(
        "docs: GHN.apply without input",
        "apply(net) with neither a prediction nor input_shape: the error names "
        "apply(net, params) and apply(net, input_shape=...); nothing written",
    )
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(InvalidInputError, match=r"apply\(module, ghn\.predict.*input_shape=\(1, 3, 224, 224\)"):
        ghn.apply(net)
    assert _same(net, before)


@pytest.mark.timeout(60)
def test_apply_refuses_a_prediction_for_another_architecture(ghn, record):
    record(
        "docs: GHN.apply of a foreign prediction",
        "apply(net, prediction of a wider net), and a prediction "
        "together with input_shape: InvalidInputError naming the difference, not torch's RuntimeError; nothing "
        "written",
    )
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    wider = ghn.predict(_net(width=12), input_shape=SHAPE)
    with pytest.raises(InvalidInputError, match=r"0\.weight: predicted \(12, 1, 3, 3\), module \(8, 1, 3, 3\)"):
        ghn.apply(net, wider)
    own = ghn.predict(net, input_shape=SHAPE)
    with pytest.raises(InvalidInputError, match="one or the other"):
        ghn.apply(net, own, input_shape=SHAPE)
    partial = type(own)({k: v for k, v in own.items() if k != "3.bias"})
    with pytest.raises(InvalidInputError, match=r"did not predict 1 parameter.*3\.bias"):
        ghn.apply(net, partial)
    assert _same(net, before)
    ghn.apply(net, partial, strict=False)
    assert torch.equal(net[3].bias, before["3.bias"]) and torch.equal(net[0].weight, own["0.weight"])
