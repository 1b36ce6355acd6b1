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
    task = get_task("mnist1d")
    keys = {role: {_key(s) for s in arch_specs(task, split, 8, role=role)} for role in ("train", "val", "test")}
    assert all(len(v) == 8 for v in keys.values())
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    assert all(s.dims == 1 for s in arch_specs(task, split, 2))


def test_unknown_split_names_the_choices():
    with pytest.raises(InvalidInputError, match="bn_free"):
        arch_specs(get_task("digits"), "bnfree", 1)
