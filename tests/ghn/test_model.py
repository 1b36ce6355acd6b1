"""GHN model: prediction shapes, functional_call, apply, batching, encoders x decoders, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graphhyper.arch import trace
from graphhyper.errors import InvalidInputError, UnknownOpError
from graphhyper.ghn import GHN, GHNConfig


class SmallNet(nn.Module):
    def __init__(self, width: int = 8, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, groups=2)
        self.ln = nn.LayerNorm(width)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        h = h + self.conv2(h)
        return self.fc(self.ln(h.mean((2, 3))))


@pytest.fixture(scope="module")
def small_graph():
    return trace(SmallNet(), input_shape=(2, 1, 8, 8))


@pytest.mark.parametrize("encoder", ["gatedgnn", "transformer"])
@pytest.mark.parametrize("decoder", ["tiled", "lowrank"])
@pytest.mark.parametrize("mip", [False, True])
def test_every_config_predicts_all_parameters(small_graph, encoder, decoder, mip):
    torch.manual_seed(0)
    net = SmallNet()
    ghn = GHN(GHNConfig(hidden=16, encoder=encoder, decoder=decoder, mip=mip, layers=1, rank=4))
    pred = ghn.predict(small_graph)
    assert pred.unpredicted == []
    assert set(pred) == {n for n, _ in net.named_parameters()}
    for name, p in net.named_parameters():
        assert pred[name].shape == p.shape, name
        assert torch.isfinite(pred[name]).all(), name
    if not mip:  # op-dependent normalisation: bounded norm scales, small biases, fan-in scaled weights
        assert ((pred["bn.weight"] > 0.5) & (pred["bn.weight"] < 1.5)).all()
        assert pred["fc.bias"].abs().max() <= 0.25
        assert pred["conv.weight"].pow(2).mean().sqrt() <= 2 * (2 / 9) ** 0.5 + 1e-5
    # differentiable: a loss through functional_call reaches every GHN parameter that was used
    out = torch.func.functional_call(net, dict(pred), (torch.randn(4, 1, 8, 8),))
    out.square().mean().backward()
    grads = [p.grad for p in ghn.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_predict_module_and_apply_with_load_state_dict_semantics():
    torch.manual_seed(0)
    ghn = GHN(GHNConfig(hidden=16, layers=1))
    net = SmallNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    pred = ghn.apply(net, input_shape=(1, 1, 8, 8))
    for name, p in net.named_parameters():
        assert torch.equal(p.detach(), pred[name].detach())
        assert p.requires_grad
    assert torch.equal(net.bn.running_var, before["bn.running_var"])  # buffers untouched
    assert not torch.equal(net.conv.weight, before["conv.weight"])
    with torch.device("meta"):
        meta_net = SmallNet()
    ghn.apply(meta_net, input_shape=(1, 1, 8, 8))
    assert not any(p.is_meta for p in meta_net.parameters())


def test_batch_prediction_matches_single(small_graph):
    torch.manual_seed(0)
    ghn = GHN(GHNConfig(hidden=16, layers=1))
    other = trace(SmallNet(width=12, classes=3), input_shape=(1, 1, 8, 8))
    many = ghn.predict_many([small_graph, other])
    single = ghn.predict(other)
    assert many[1]["conv.weight"].shape == (12, 1, 3, 3)
    for k in single:
        torch.testing.assert_close(many[1][k], single[k], rtol=1e-4, atol=1e-5)


def test_unseen_width_gets_its_own_encoding():
    torch.manual_seed(0)
    ghn = GHN(GHNConfig(hidden=16, layers=1))
    a = ghn.predict(trace(SmallNet(width=10), input_shape=(1, 1, 8, 8)))
    b = ghn.predict(trace(SmallNet(width=14), input_shape=(1, 1, 8, 8)))
    assert not torch.allclose(a["fc.weight"][:, :10], b["fc.weight"][:, :10])


class Mystery(nn.Module):
    def forward(self, x):
        return x


def _unknown_graph():
    from graphhyper.arch import ArchGraph, Node

    nodes = [
        Node("input", "input"),
        Node("c", "conv", params={"c.weight": (4, 1, 3, 3)}),
        Node("weird", "unknown", target="my.lib.Weird", params={"weird.scale": (4,)}),
        Node("output", "output"),
    ]
    return ArchGraph(nodes, [(0, 1), (1, 2), (2, 3)])


def test_unknown_op_is_reported_or_refused():
    ghn = GHN(GHNConfig(hidden=16, layers=1))
    g = _unknown_graph()
    with pytest.warns(UserWarning, match="outside the op vocabulary"):
        pred = ghn.predict(g)
    assert pred.unknown_ops and "my.lib.Weird" in str(pred.unknown_ops)
    with pytest.raises(UnknownOpError, match="register"):
        ghn.predict(g, on_unknown="error")


def test_unmapped_parameters_are_listed_not_silently_skipped():
    from graphhyper.arch import ArchGraph, Node

    nodes = [Node("input", "input"), Node("fc", "linear", params={"fc.weight": (3, 4)}), Node("output", "output")]
    g = ArchGraph(nodes, [(0, 1), (1, 2)], parameters={"fc.weight": (3, 4), "orphan": (5,)})
    pred = GHN(GHNConfig(hidden=16, layers=1)).predict(g)
    assert pred.unpredicted == ["orphan"]
    net = WithOrphan()
    before = net.fc.weight.detach().clone()
    with pytest.raises(InvalidInputError, match="did not predict"):
        GHN(GHNConfig(hidden=16, layers=1)).apply(net, input_shape=(1, 4))
    assert torch.equal(net.fc.weight, before)  # nothing written


class WithOrphan(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3, bias=False)
        self.orphan = nn.Parameter(torch.zeros(5))  # never used in forward

    def forward(self, x):
        return self.fc(x)


def test_too_large_shape_is_a_clear_error():
    from graphhyper.arch import ArchGraph, Node

    nodes = [
        Node("input", "input"),
        Node("emb", "embedding", params={"emb.weight": (5000, 8)}),
        Node("output", "output"),
    ]
    g = ArchGraph(nodes, [(0, 1), (1, 2)])
    ghn = GHN(GHNConfig(hidden=16, layers=1, max_dim=4096))
    with pytest.raises(InvalidInputError, match="max_dim"):
        ghn.predict(g)


def test_cycle_is_refused():
    import numpy as np

    from graphhyper.errors import TraceError
    from graphhyper.ghn.features import _levels

    with pytest.raises(TraceError, match="cycle"):
        _levels(3, np.array([0, 1, 2]), np.array([1, 2, 1]))


def test_factored_normalisation_equals_dense():
    from graphhyper.ghn.decoders import build_decoder, normalize_output, normalized_from_factors

    torch.manual_seed(0)
    dec = build_decoder("lowrank", 16, rank=4)
    h = torch.randn(3, 16)
    fan, gain = torch.tensor([9.0, 18.0, 36.0]), torch.randn(3)
    for shape in [(6, 5), (4, 3, 3, 3), (7, 2, 5)]:
        dense = normalize_output(dec(h, shape), "weight", fan, gain)
        fast = normalized_from_factors(*dec.factors(h, shape), shape, "weight", fan, gain)
        torch.testing.assert_close(fast, dense, rtol=1e-4, atol=1e-6)
