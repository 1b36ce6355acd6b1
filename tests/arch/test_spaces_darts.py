"""DARTS / DeepNets-1M space: sampling, JSON, networks for every split and input kind, OOD splits, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from graphhyper.arch.spaces import darts
from graphhyper.errors import GraphhyperError, InvalidInputError, UnknownOpError

INPUTS = {  # name -> sampler kwargs
    "digits": dict(in_channels=1, image_size=8, dims=2),
    "signal1d": dict(in_channels=1, image_size=40, dims=1),
    "cifar": dict(in_channels=3, image_size=32, dims=2),
}

ALL_OPS_GENOTYPE = darts.Genotype(
    normal=[[(op, 0), (op2, 1)] for op, op2 in zip(darts.PRIMITIVES[::2], darts.PRIMITIVES[1::2])]
    + [[("se", 0), ("msa", 3)]],
    normal_concat=(2, 3, 4, 5, 6, 7, 8, 9),
    reduce=[[(op, 0)] for op in darts.PRIMITIVES],
    reduce_concat=tuple(range(2, 2 + len(darts.PRIMITIVES))),
)


def _all_ops_spec(**kw) -> darts.DartsSpec:
    base = dict(
        genotype=ALL_OPS_GENOTYPE,
        num_cells=3,
        width=8,
        reductions=(1,),
        stem="conv2",
        head="mlp",
        head_hidden=16,
        in_channels=1,
        num_classes=7,
        image_size=8,
    )
    return darts.DartsSpec(**{**base, **kw})


def test_sampling_is_seeded_and_varied():
    a = darts.sample_specs(12, seed=3, split="id", **INPUTS["digits"])
    b = darts.sample_specs(12, seed=3, split="id", **INPUTS["digits"])
    c = darts.sample_specs(12, seed=4, split="id", **INPUTS["digits"])
    assert a == b
    assert [s.to_json() for s in a] == [s.to_json() for s in b]
    assert a != c
    assert len({s.hash() for s in a}) == 12
    assert len({s.stem for s in a + c}) == 2 and len({s.head for s in a + c}) == 2


@pytest.mark.parametrize("split", darts.SPLITS)
def test_json_round_trip(split):
    for spec in darts.sample_specs(5, seed=1, split=split, **INPUTS["cifar"]):
        again = darts.DartsSpec.from_json(spec.to_json())
        assert again == spec and again.hash() == spec.hash() and again.to_json() == spec.to_json()


@pytest.mark.parametrize("kind", sorted(INPUTS))
@pytest.mark.parametrize("split", darts.SPLITS)
def test_every_split_runs_forward(split, kind):
    torch.manual_seed(0)
    spec = darts.sample_spec(7, split=split, num_classes=5, **INPUTS[kind])
    net = darts.build(spec)
    x = torch.randn(2, *spec.input_shape[1:])
    y = net(x)
    assert y.shape == (2, 5)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("norm", ["bn", "none"])
def test_every_op_keeps_width_and_halves_size(dims, stride, norm):
    size = 6
    x = torch.randn(2, 8, *([size] * dims))
    for op in darts.PRIMITIVES:
        y = darts.make_op(op, 8, stride, dims=dims, norm=norm)(x)
        assert y.shape == (2, 8, *([size // stride] * dims)), op
        has_bn = any(
            isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))
            for m in darts.make_op(op, 8, stride, dims, norm=norm).modules()
        )
        assert not (has_bn and norm == "none"), op


def test_all_ops_trace_to_mapped_graph():
    spec = _all_ops_spec()
    net = darts.build(spec)
    assert net(torch.randn(3, 1, 8, 8)).shape == (3, 7)
    g = darts.spec_to_graph(spec)
    assert g.unmapped_parameters() == []
    assert g.unknown_ops() == []
    assert g.num_params == sum(p.numel() for p in net.parameters())
    ops = {n.op for n in g.nodes}
    assert any("attention" in op for op in ops), ops


@pytest.mark.parametrize("split", darts.SPLITS)
def test_sampled_graphs_are_complete(split):
    spec = darts.sample_spec(11, split=split, **INPUTS["digits"])
    g = darts.spec_to_graph(spec)
    assert g.unmapped_parameters() == [] and g.unknown_ops() == []
    assert g.num_params == darts.count_params(spec) == sum(p.numel() for p in darts.build(spec).parameters())


def test_one_dimensional_signals_use_1d_layers():
    spec = darts.sample_spec(0, "id", **INPUTS["signal1d"])
    net = darts.build(spec)
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    assert convs and all(isinstance(m, nn.Conv1d) for m in convs)


def test_ood_splits_really_differ():
    n = 30
    specs = {s: darts.sample_specs(n, seed=0, split=s, **INPUTS["digits"]) for s in darts.SPLITS}
    ident = specs["id"]
    assert min(s.width for s in specs["wide"]) > max(s.width for s in ident)
    assert min(s.num_cells for s in specs["deep"]) > max(s.num_cells for s in ident)
    assert min(s.num_nodes for s in specs["dense"]) > max(s.num_nodes for s in ident)
    edges = [sum(len(node) for node in s.genotype.normal) / s.num_nodes for s in specs["dense"]]
    assert max(edges) > 2 >= max(sum(len(nd) for nd in s.genotype.normal) / s.num_nodes for s in ident)
    assert all(s.norm == "none" for s in specs["bn_free"]) and all(s.norm == "bn" for s in ident)
    bn = (nn.BatchNorm1d, nn.BatchNorm2d)
    assert not any(isinstance(m, bn) for m in darts.build(specs["bn_free"][0]).modules())
    assert any(isinstance(m, bn) for m in darts.build(ident[0]).modules())
    mean = {s: sum(darts.count_params(x) for x in specs[s][:10]) for s in ("id", "wide")}
    assert mean["wide"] > 3 * mean["id"]


@pytest.mark.parametrize("size,expected", [(8, 2), (40, 2), (4, 1), (2, 0), (6, 1), (32, 2)])
def test_reductions_respect_spatial_size(size, expected):
    assert len(darts.reduction_positions(8, size)) == expected
    spec = darts.sample_spec(2, "id", in_channels=2, image_size=size, dims=2, num_classes=3, widths=(8,), cells=(8, 8))
    assert len(spec.reductions) == expected
    net = darts.build(spec)
    feats = net.stem(torch.randn(1, 2, size, size))
    s0 = s1 = feats
    for cell in net.cells:
        s0, s1 = s1, cell(s0, s1)
    assert s1.shape[-1] == size // 2**expected >= 1
    assert net(torch.randn(2, 2, size, size)).shape == (2, 3)


def test_hash_is_isomorphism_aware_and_matches_archgraph():
    spec = _all_ops_spec(
        genotype=darts.Genotype(
            normal=[[("sep_conv_3", 0), ("conv_1x1", 1)], [("max_pool", 0), ("se", 1)]],
            normal_concat=(2, 3),
            reduce=[[("conv_3", 0), ("avg_pool", 1)]],
            reduce_concat=(2,),
        )
    )
    swapped = _all_ops_spec(
        genotype=darts.Genotype(  # edges reordered, nodes renumbered, concat reordered
            normal=[[("se", 1), ("max_pool", 0)], [("conv_1x1", 1), ("sep_conv_3", 0)]],
            normal_concat=(3, 2),
            reduce=[[("avg_pool", 1), ("conv_3", 0)]],
            reduce_concat=(2,),
        )
    )
    other = _all_ops_spec(
        genotype=darts.Genotype(
            normal=[[("sep_conv_5", 0), ("conv_1x1", 1)], [("max_pool", 0), ("se", 1)]],
            normal_concat=(2, 3),
            reduce=[[("conv_3", 0), ("avg_pool", 1)]],
            reduce_concat=(2,),
        )
    )
    assert spec != swapped and spec.hash() == swapped.hash() != other.hash()
    g1, g2, g3 = (darts.spec_to_graph(s) for s in (spec, swapped, other))
    assert g1.structural_hash() == g2.structural_hash() != g3.structural_hash()


def test_darts_v2_genotype_in_flat_format():
    geno = darts.Genotype.from_darts(
        [
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("skip_connect", 0),
            ("dil_conv_3x3", 2),
        ],
        range(2, 6),
        [
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
        ],
        range(2, 6),
    )
    assert geno.normal[0] == (("sep_conv_3", 0), ("sep_conv_3", 1))
    spec = darts.DartsSpec(geno, num_cells=5, width=8, reductions=darts.reduction_positions(5, 32))
    assert darts.build(spec)(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def _geno(normal=None, concat=(2,)):
    return dict(
        normal=normal or [[("conv_3", 0), ("skip_connect", 1)]],
        normal_concat=concat,
        reduce=[[("conv_3", 0)]],
        reduce_concat=(2,),
    )


@pytest.mark.parametrize(
    "kwargs,exc,words",
    [
        (_geno([[("conv_9", 0)]]), UnknownOpError, ["conv_9", "sep_conv_3"]),
        (_geno([[("conv_3", 2)]]), InvalidInputError, ["reads node 2", "input index"]),
        (_geno([[]]), InvalidInputError, ["no input edges"]),
        (_geno(concat=(1,)), InvalidInputError, ["normal_concat", "loose ends"]),
        (_geno([["conv_3"]]), InvalidInputError, ["malformed", "(op, input)"]),
    ],
)
def test_bad_genotypes_name_problem_and_fix(kwargs, exc, words):
    with pytest.raises(exc) as info:
        darts.Genotype(**kwargs)
    assert isinstance(info.value, GraphhyperError)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_bad_specs_and_options():
    geno = darts.Genotype(**_geno())
    with pytest.raises(InvalidInputError, match="halved"):
        darts.DartsSpec(geno, num_cells=4, width=8, reductions=(1, 2), image_size=4)
    with pytest.raises(InvalidInputError, match="even"):
        darts.DartsSpec(geno, num_cells=4, width=7)
    with pytest.raises(InvalidInputError, match="positive integer"):
        darts.DartsSpec(geno, num_cells=0, width=8)
    assert (
        darts.DartsSpec(geno, num_cells=np.int64(4), width=np.int64(8)).to_json()
        == darts.DartsSpec(geno, num_cells=4, width=8).to_json()
    )
    with pytest.raises(InvalidInputError, match="stem"):
        darts.DartsSpec(geno, num_cells=4, width=8, stem="resnet")
    with pytest.raises(InvalidInputError, match="head_hidden"):
        darts.DartsSpec(geno, num_cells=4, width=8, head="mlp")
    with pytest.raises(InvalidInputError, match="Unknown DARTS split"):
        darts.sample_spec(0, split="huge")
    with pytest.raises(InvalidInputError, match="widths"):
        darts.sample_spec(0, split="id", width=3)
    with pytest.raises(InvalidInputError, match="to_json"):
        darts.DartsSpec.from_json("{not json")
    with pytest.raises(InvalidInputError, match="Unknown DartsSpec fields"):
        darts.DartsSpec.from_json('{"genotype": {}, "depth": 3}')
    with pytest.raises(InvalidInputError, match="dims"):
        darts.make_op("conv_3", 8, 1, dims=3)


def test_sampler_overrides():
    specs = darts.sample_specs(10, seed=0, split="id", widths=(64,), cells=(5, 5), ops=("conv_3",))
    assert all(s.width == 64 and s.num_cells == 5 for s in specs)
    assert {op for s in specs for node in s.genotype.normal for op, _ in node} == {"conv_3"}
