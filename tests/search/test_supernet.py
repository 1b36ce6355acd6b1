"""DARTS / sharpDARTS supernet: schedule, Max-W, first- and second-order steps, derived genotype."""

from __future__ import annotations

import math

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.search import supernet as S


def test_cosine_power_annealing_values():
    lrs = [S.cosine_power_annealing(t, 100, 0.1, 0.001, power=10) for t in range(101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.001)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    # midpoint: c = 1/2 -> (sqrt(10) - 1) / 9 of the range, below plain cosine's 1/2
    assert lrs[50] == pytest.approx(0.001 + 0.099 * (math.sqrt(10) - 1) / 9)
    cos = [S.cosine_power_annealing(t, 100, 0.1, 0.0, power=1) for t in (0, 25, 50)]
    assert cos == pytest.approx([0.1, 0.05 * (1 + math.cos(math.pi / 4)), 0.05])
    with pytest.raises(InvalidInputError):
        S.cosine_power_annealing(0, 0, 0.1)


def test_max_w_weights():
    alpha = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    soft, maxw = S.mix_weights(alpha), S.mix_weights(alpha, max_w=True)
    assert torch.allclose(soft.sum(-1), torch.ones(2))
    assert torch.allclose(maxw.max(-1).values, torch.ones(2))
    assert torch.allclose(maxw - soft, (1 - soft.max(-1, keepdim=True).values).expand(-1, 3))
    assert torch.allclose(maxw[1], torch.ones(3))  # undecided edge: a plain sum, not an average


def tiny(max_w=False, dims=2):
    torch.manual_seed(0)
    return S.Supernet(in_channels=1, num_classes=3, image_size=8, dims=dims, width=2, num_cells=2, nodes=2, max_w=max_w)


def batch(dims=2, n=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn((n, 1) + (8,) * dims, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_max_w_changes_the_mixture():
    a, b = tiny(), tiny(max_w=True)
    b.load_state_dict(a.state_dict())
    x, _ = batch()
    assert not torch.allclose(a(x), b(x))


@pytest.mark.parametrize("order", [1, 2])
def test_arch_and_weight_steps(order):
    net = tiny()
    arch_opt = torch.optim.Adam(net.arch_parameters(), lr=0.05)
    opt = torch.optim.SGD(net.weight_parameters(), lr=0.05)
    before = [a.detach().clone() for a in net.arch_parameters()]
    w_before = net.head[-1].weight.detach().clone()
    val = S.arch_step(net, batch(), batch(n=6), arch_opt, order=order, xi=0.05)
    assert math.isfinite(val)
    assert any(not torch.allclose(a, b) for a, b in zip(net.arch_parameters(), before))
    assert torch.allclose(net.head[-1].weight, w_before)  # the arch step leaves the weights alone
    loss = S.weight_step(net, batch(), opt)
    assert math.isfinite(loss) and not torch.allclose(net.head[-1].weight, w_before)
    with pytest.raises(InvalidInputError):
        S.arch_step(net, batch(), batch(), arch_opt, order=3)


def test_derived_genotype_builds_and_traces():
    from graphhyper.arch.spaces import darts

    net = tiny()
    with torch.no_grad():
        net.alpha_normal.zero_()
        net.alpha_normal[:, net.ops.index("sep_conv_3")] = 3.0
        net.alpha_normal[:, net.ops.index("none")] = 5.0  # 'none' never wins the derivation
    geno = net.genotype()
    assert all(op == "sep_conv_3" for node in geno.normal for op, _ in node)
    assert all(len({i for _, i in node}) == 2 for node in geno.normal + geno.reduce)
    spec = net.derived_spec()
    assert spec.genotype == geno and spec.image_size == 8 and spec.num_classes == 3
    out = darts.build(spec)(batch()[0])
    assert out.shape == (4, 3)
    graph = darts.spec_to_graph(spec)
    assert graph.num_params == sum(p.numel() for p in darts.build(spec).parameters())


def test_search_runs_on_1d_signals():
    x = torch.randn(16, 1, 8)
    y = torch.arange(16) % 3
    cfg = S.DartsConfig(epochs=2, batch_size=4, max_w=True, warmup=1)
    res = S.darts_search(x, y, cfg, dict(width=2, num_cells=2, nodes=2))
    assert len(res.history) == 2 and res.history[0]["val_loss"] is None and res.seconds > 0
    assert res.spec.dims == 1 and res.spec.image_size == 8
    searcher = S.SupernetSearcher(x, y, S.DartsConfig(epochs=1, batch_size=4), dict(width=2, num_cells=2, nodes=2))
    searcher.run(lambda spec: 1.0)
    assert searcher.best()[1] == 1.0
    with pytest.raises(InvalidInputError):
        S.darts_search(x[:2], y[:2])
