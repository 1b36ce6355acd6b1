"""The search-space grammar: define-by-run resolution, sharing, repeats, optional blocks, enumeration."""

from __future__ import annotations

import random

import optuna
import pytest

from graphhyper.errors import SearchError
from graphhyper.search import Choice, Float, Int, Optional, Repeat, SearchSpace, Shared, darts_space, nb201_space

OPS = ["conv3x3", "conv1x1", "skip"]


def toy(max_blocks=3):
    return SearchSpace(
        {
            "stem": Choice("stem", ["conv", "conv2"]),
            "blocks": Repeat(
                "block",
                {
                    "op": Choice("op", OPS),
                    "act": Shared(Choice("act", ["relu", "gelu"])),
                    "se": Optional("se", {"r": Int("r", 2, 8, 2)}),
                },
                1,
                max_blocks,
            ),
        },
        name="toy",
    )


def test_roundtrip_shared_and_scoped_names():
    space = toy()
    for seed in range(20):
        arch = space.sample(seed=seed)
        params = space.params(arch)
        assert space.from_params(params) == arch
        assert len({b["act"] for b in arch["blocks"]}) == 1  # Shared: one decision for all repeats
        assert params["block"] == len(arch["blocks"])
        for i, block in enumerate(arch["blocks"]):
            assert params[f"block.{i}.op"] == block["op"]  # Repeat: per-copy decisions
            assert (block["se"] is None) == (not params[f"block.{i}.se"])


def test_compiles_to_optuna_define_by_run():
    space = toy()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    arch = space.suggest(trial)
    assert trial.params == space.params(arch)
    assert isinstance(trial.distributions["block"], optuna.distributions.IntDistribution)
    assert space.from_params(trial.params) == arch


def test_enumeration_counts():
    # stem 2 x act 2 x sum_{n=1..2} (3 ops * (1 + 4 ratios))^n = 4 * (15 + 225)
    assert len(toy(2).enumerate()) == 4 * (15 + 15**2)
    cells = nb201_space().enumerate()
    assert len(cells) == 15625 and len(set(cells)) == 15625
    with pytest.raises(SearchError, match="cannot be enumerated"):
        SearchSpace([Float("lr", 1e-3, 1.0, log=True)]).enumerate()


def test_mutate_changes_one_decision():
    space = nb201_space()
    rng = random.Random(0)
    for seed in range(20):
        a = space.sample(seed=seed)
        b = space.mutate(a, rng)
        assert sum(x != y for x, y in zip(a, b)) == 1


def test_nb201_and_darts_spaces():
    space = nb201_space()
    cell = space.from_params(
        {f"edge_{t}<-{s}": "nor_conv_3x3" for t, s in [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]}
    )
    assert space.to_str(cell).count("nor_conv_3x3") == 6
    d = darts_space()
    spec = d.sample(seed=3)
    assert d.hash(spec) == d.hash(d.from_params(d.params(spec)))
    assert len(spec.genotype.normal) == 4 and 3 <= spec.num_cells <= 5
    assert d.to_str(spec).startswith("{")


def test_bad_input_names_the_fix():
    with pytest.raises(SearchError, match="no options"):
        Choice("x", [])
    with pytest.raises(SearchError, match="Optuna stores"):
        Choice("x", [object()])
    with pytest.raises(SearchError, match="low <= high"):
        Int("n", 3, 1)
    with pytest.raises(SearchError, match="not among its options"):
        nb201_space().from_params(
            {f"edge_{t}<-{s}": "conv" for t, s in [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]}
        )
    with pytest.raises(SearchError, match="has no value"):
        nb201_space().from_params({})
