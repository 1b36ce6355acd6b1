"""Zero-cost proxies: definitions on small modules, no side effects, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graphhyper.arch.spaces import nb201
from graphhyper.errors import InvalidInputError, SearchError
from graphhyper.search import proxies as P


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
    )


def test_every_proxy_is_finite_and_leaves_the_module_unchanged():
    net = small_net()
    batch = P.synthetic_batch((3, 8, 8), num_classes=5, batch_size=6, seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    scores = P.compute(net, batch, list(P.PROXIES))
    assert set(scores) == set(P.PROXIES)
    assert all(torch.isfinite(torch.tensor(v)) for v in scores.values())
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in net.parameters())
    assert scores["params"] == sum(p.numel() for p in net.parameters())
    assert scores["flops"] == 3 * 9 * 4 * 64 + 4 * 5  # conv MACs + linear MACs, one sample


def test_synflow_is_the_path_norm_of_a_linear_chain():
    net = nn.Sequential(nn.Linear(2, 3, bias=False), nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 1.0], [-1.0, 0.0]]))
        net[1].weight.copy_(torch.tensor([[2.0, -1.0, 3.0]]))
    # R = 1^T |W2| |W1| 1; sum(theta * dR/dtheta) = 2 R for a two-layer linear chain
    r = torch.tensor([[2.0, 1.0, 3.0]]) @ torch.tensor([[1.0, 2.0], [0.5, 1.0], [1.0, 0.0]]) @ torch.ones(2, 1)
    assert P.synflow(net, torch.zeros(1, 2)) == pytest.approx(2 * float(r))


def test_snip_and_grad_norm_need_targets_and_rank_nb201_cells():
    with pytest.raises(InvalidInputError, match="targets"):
        P.snip(small_net(), torch.zeros(2, 3, 8, 8))
    with pytest.raises(SearchError, match="Unknown zero-cost proxy"):
        P.get("nope")
    batch = P.synthetic_batch((3, 16, 16), batch_size=8, seed=0)
    empty = nb201.build(("none",) * 6, C=4, N=1)
    full = nb201.build(("nor_conv_3x3",) * 6, C=4, N=1)
    assert P.params(full, batch) > P.params(empty, batch)
    assert P.synflow(full, batch) > P.synflow(empty, batch)


def test_score_cache_is_written_whole_and_reused(tmp_path, monkeypatch):
    import json

    from graphhyper.search.space import nb201_space

    sp = nb201_space(C=4, N=1)
    sp.input_shape = (1, 3, 8, 8)
    archs = list(sp.enumerate())[:3]
    cache = tmp_path / "scores.json"
    first = P.score_space(sp, archs, "params", batch_size=2, cache=cache, progress=False)
    stored = json.loads(cache.read_text())
    assert list(stored.values()) == [first] and [p.name for p in tmp_path.iterdir()] == ["scores.json"]
    monkeypatch.setitem(P.PROXIES, "params", lambda *a: pytest.fail("a cached score was computed again"))
    assert P.score_space(sp, archs, "params", batch_size=2, cache=cache, progress=False) == first
