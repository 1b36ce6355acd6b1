"""The five architecture splits of the GHN tasks (DeepNets-1M's ID, WIDE, DEEP, DENSE, BN-FREE, scaled down)."""

from __future__ import annotations

import json

import pytest
from torch import nn

from graphhyper.errors import InvalidInputError
from graphhyper.ghn.tasks import ARCH_SPLITS, arch_specs, get_task


def _key(spec) -> str:
    return json.dumps(spec.to_dict(), sort_keys=True)


@pytest.fixture(scope="module")
def specs():
    task = get_task("digits")
    return {s: arch_specs(task, s, 6) for s in ARCH_SPLITS}


def test_every_split_differs_from_id_in_the_way_it_names(specs):
    ident = specs["id"]
    assert min(s.width for s in specs["wide"]) > max(s.width for s in ident)
    assert min(s.num_cells for s in specs["deep"]) > max(s.num_cells for s in ident)
    assert min(s.num_nodes for s in specs["dense"]) > max(s.num_nodes for s in ident)
    assert all(s.norm == "none" for s in specs["bn_free"]) and all(s.norm == "bn" for s in ident)
    assert all(s.norm == "bn" for split in ("wide", "deep", "dense") for s in specs[split])


def test_bn_free_networks_hold_no_batch_norm(specs):
    from graphhyper.arch.spaces import darts

    net = darts.build(specs["bn_free"][0])
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


@pytest.mark.parametrize("split", ARCH_SPLITS)
def test_roles_are_disjoint(split):
    task = get_task("digits")
    keys = {role: {_key(s) for s in arch_specs(task, split, 8, role=role)} for role in ("train", "val", "test")}
    assert all(len(v) == 8 for v in keys.values())
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]


def test_unknown_split_names_the_choices():
    with pytest.raises(InvalidInputError, match="bn_free"):
        arch_specs(get_task("digits"), "bnfree", 1)


def test_he_init_keeps_bn_free_activations_alive_where_the_default_init_vanishes(specs):
    import torch

    from graphhyper.ghn.evaluate import build_net, he_init

    spec = specs["bn_free"][0]
    x = get_task("digits").x_val[:64]
    with torch.no_grad():
        default, he = build_net(spec, 0)(x).std().item(), he_init(build_net(spec, 0), seed=1)(x).std().item()
    assert he > 0.1 and default < he / 10
    a, b = he_init(build_net(spec, 0), seed=1), he_init(build_net(spec, 0), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    conv = next(m for m in a.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.numel() > 500)
    fan_in = conv.weight[0].numel()
    assert 0.7 < conv.weight.var().item() * fan_in / 2 < 1.3
