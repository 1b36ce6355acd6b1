"""Every bundled GHN, and the default one, earns its place: on held-out digits networks of its training
distribution (ID, architectures it never saw), the parameters it predicts reach at least 80% of the accuracy that
100 SGD steps from random init reach, with no training step. A checkpoint at chance fails here. A GHN that claims an
out-of-distribution split (:data:`CLAIMS`) is held to its floor there too.

This gate decides which checkpoints may ship and which is the default, so it reads the validation architectures
and the validation digits; the test split stays for the figures reported once in docs/ghn.md."""

from __future__ import annotations

import argparse
import functools
import inspect

import pytest

from graphhyper.ghn import DEFAULT_GHN, from_pretrained, list_pretrained
from graphhyper.ghn.evaluate import evaluate_split
from graphhyper.ghn.tasks import arch_specs, get_task

FLOOR = 0.80
N_ARCHS = 4
#: Out-of-distribution splits a bundled GHN claims, with its floor as a fraction of the SGD baseline on digits. BN-FREE
#: divides by SGD from He init (:func:`graphhyper.ghn.evaluate.he_init`): from PyTorch's default init SGD stays at
#: chance there, and a ratio against chance would prove nothing. v3 measured 0.90 on these 4 validation networks (its
#: worst one 0.85, v2 0.55, v1 0.14): its floor of 0.70 is above the issue's goal (0.60) and fails if v3 falls back
#: to v2's level.
CLAIMS = {"ghn-tiny-tiled-v2": {"bn_free": 0.30}, "ghn-tiny-tiled-v3": {"bn_free": 0.70}}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@functools.cache
def _baselines(split: str, modes: tuple[str, ...]) -> dict[str, list[float]]:
    """The GHN-free columns (random init, SGD) on the validation ``split``: the same seeded networks for every
    bundled GHN, so they are computed once per session however many checkpoints are tested."""
    task = get_task("digits")
    specs = arch_specs(task, split, n=N_ARCHS, seed=0, role="val")
    return evaluate_split(None, task, specs, modes=modes, split="val")


def _ghn_accuracy(name: str, split: str) -> float:
    task = get_task("digits")
    specs = arch_specs(task, split, n=N_ARCHS, seed=0, role="val")
    return _mean(evaluate_split(from_pretrained(name), task, specs, modes=("ghn",), split="val")["ghn"])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list_pretrained())
def test_bundled_ghn_reaches_the_floor_on_held_out_networks(name):
    res = _baselines("id", ("random", "sgd"))  # held-out ID architectures for choosing
    ghn, random, sgd = _ghn_accuracy(name, "id"), _mean(res["random"]), _mean(res["sgd"])
    assert random < 0.2, "random init should be near chance (10 classes)"
    assert ghn >= FLOOR * sgd, f"{name}: predicted {ghn:.3f} < {FLOOR} x SGD {sgd:.3f} (random init {random:.3f})"


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("name", "split"), [(n, s) for n, splits in CLAIMS.items() for s in splits])
def test_bundled_ghn_reaches_its_claimed_floor_out_of_distribution(name, split):
    baseline = "sgd_he" if split == "bn_free" else "sgd"
    ghn, sgd = _ghn_accuracy(name, split), _mean(_baselines(split, (baseline,))[baseline])
    floor = CLAIMS[name][split]
    assert ghn >= floor * sgd, f"{name} on {split}: predicted {ghn:.3f} < {floor} x {baseline} {sgd:.3f}"


@pytest.mark.timeout(300)
def test_the_bn_free_floor_of_v3_rejects_a_ghn_that_never_saw_bn_free_networks():
    """The gate must be able to fail: ghn-tiny-tiled (trained on BN networks only, near chance on BN-FREE) is
    below v3's BN-FREE floor on the same networks."""
    ghn, sgd = _ghn_accuracy("ghn-tiny-tiled", "bn_free"), _mean(_baselines("bn_free", ("sgd_he",))["sgd_he"])
    assert ghn < CLAIMS["ghn-tiny-tiled-v3"]["bn_free"] * sgd, f"ghn-tiny-tiled on bn_free: {ghn:.3f} vs {sgd:.3f}"


def test_claims_name_bundled_ghns():
    assert set(CLAIMS) <= set(list_pretrained())


def test_the_default_is_bundled_and_every_entry_point_uses_it():
    from graphhyper.cli import ghn as cli_ghn
    from graphhyper.cli import search as cli_search
    from graphhyper.search.objectives import GHNProxy

    assert DEFAULT_GHN in list_pretrained()
    assert inspect.signature(from_pretrained).parameters["name"].default == DEFAULT_GHN
    assert inspect.signature(GHNProxy.for_task).parameters["ghn"].default == DEFAULT_GHN
    assert inspect.signature(cli_search.darts_search).parameters["ghn"].default == DEFAULT_GHN
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_ghn.add_parser(sub)
    assert (
        parser.parse_args(["ghn", "predict", "--model", "torchvision:resnet18", "--out", "x.safetensors"]).ckpt
        == DEFAULT_GHN
    )


def test_search_darts_parser_defaults_to_the_default_ghn():
    from graphhyper.cli import search as cli_search

    parser = argparse.ArgumentParser()
    cli_search.add_parser(parser.add_subparsers())
    assert parser.parse_args(["search", "darts"]).ghn == DEFAULT_GHN


def test_withdrawn_name_says_why_and_what_to_use():
    from graphhyper.errors import CheckpointError

    with pytest.raises(CheckpointError, match="withdrawn.*chance.*ghn-tiny-tiled"):
        from_pretrained("ghn-tiny")
