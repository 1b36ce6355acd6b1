"""Every bundled GHN, and the default one, earns its place on its own task; a bundled GHN without a floor test here
fails :func:`test_every_bundled_ghn_has_a_floor_test`.

- CNN GHNs (:data:`CNN_GHNS`, trained on DARTS-space CNNs): on held-out digits networks of their training
  distribution (ID, architectures they never saw), the parameters they predict reach at least 80% of the accuracy
  that 100 SGD steps from random init reach, with no training step. A checkpoint at chance fails here. A GHN that
  claims an out-of-distribution split (:data:`CLAIMS`) is held to its floor there too.
- Transformer GHNs (:data:`TRANSFORMER_FLOORS`, low-rank decoders of docs/ghn.md "Transformers (LoGAH's claim)"):
  on held-out WIDE and DEEP architectures of their own space and task, the network they initialise beats the
  space's random init of the same network by a margin, with no training step (k = 0); a freshly initialised GHN of
  the same config must fail the same gate.

This gate decides which checkpoints may ship and which is the default, so it reads the validation architectures
and the validation data; the test split stays for the figures reported once in docs/ghn.md."""

from __future__ import annotations

import argparse
import functools
import inspect
from dataclasses import dataclass

import pytest
import torch

from graphhyper.errors import ChecksumError, DatasetError
from graphhyper.ghn import DEFAULT_GHN, from_pretrained, list_pretrained
from graphhyper.ghn.evaluate import evaluate_split
from graphhyper.ghn.model import GHN
from graphhyper.ghn.tasks import arch_specs, get_task
from graphhyper.ghn.transformer_eval import paired_eval

#: The bundled GHNs trained on DARTS-space CNNs (digits and MNIST-1D), held to the digits floors below.
CNN_GHNS = ("ghn-tiny-tiled", "ghn-tiny-tiled-v2", "ghn-tiny-tiled-v3")
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
@pytest.mark.parametrize("name", CNN_GHNS)
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
    assert set(CLAIMS) <= set(CNN_GHNS)


def test_every_bundled_ghn_has_a_floor_test():
    """A GHN added to graphhyper/ghn/pretrained/ must be listed in CNN_GHNS or TRANSFORMER_FLOORS (with its task and
    margin), so that no bundled checkpoint ships without a floor on its own task."""
    assert set(CNN_GHNS).isdisjoint(TRANSFORMER_FLOORS)
    assert set(list_pretrained()) == set(CNN_GHNS) | set(TRANSFORMER_FLOORS)


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


# ---------------------------------------------------------------------------------------------- transformer GHNs
@dataclass(frozen=True)
class TransformerFloor:
    """The gate of a transformer GHN on its own ``task``: on each split of ``margins``, the mean ``metric`` at
    k = 0 over :data:`N_TRANSFORMER_ARCHS` validation architectures (seed 0, validation data) of the GHN-initialised
    networks beats the space's random init of the same networks by at least the margin. ``"acc"``: GHN - random;
    ``"loss"`` (nats per token): random - GHN."""

    task: str
    metric: str
    margins: dict[str, float]


N_TRANSFORMER_ARCHS = 8
#: Margins, from the 8 validation architectures per split (seed 0, k = 0; runs at one thread are bit-reproducible).
#: ghn-vit-digits-lowrank, accuracy: WIDE 0.301 against random init's 0.094 (+0.207; an untrained GHN +0.025), DEEP
#: 0.836 against 0.097 (+0.739; untrained +0.023). It is gated on accuracy: on WIDE its loss is worse than random
#: init's (2.85 against 2.48 nats), see docs/ghn.md.
#: ghn-pytext-lowrank, validation loss in nats per byte: WIDE 4.808 against random init's 5.489 (gain 0.681; an
#: untrained GHN -0.143), DEEP 3.362 against 5.500 (gain 2.138; untrained -0.257).
#: ghn-vit-mnist1d-lowrank, accuracy: WIDE 0.332 against random init's 0.098 (+0.234; an untrained GHN -0.023), DEEP
#: 0.295 against 0.102 (+0.193; untrained -0.011); its loss is ahead on both too (1.78 / 1.90 against 2.52 / 2.42).
#: ghn-pytext-lowrank-c128 (rank 64, 128-dim codes), loss: WIDE 3.835 against 5.489 (gain 1.654; untrained +0.042),
#: DEEP 3.045 against 5.500 (gain 2.455; untrained -0.035). Its margins are above what ghn-pytext-lowrank measures
#: (0.681, 2.138), so the gate also fails if it falls back to the rank-16 GHN's level.
#: ghn-pytext-lowrank-c128-p512 (the c128 GHN's config, 12,000 steps on a pool of 512), loss: WIDE 4.385 against
#: 5.489 (gain 1.104; untrained -0.255), DEEP 4.607 against 5.500 (gain 0.893; untrained -0.288). It gives up some
#: of the c128 GHN's k = 0 lead for a much better start at k = 100 and 1000 (docs/ghn.md), so its margins are lower.
#: ghn-vit-mnist1d-lowrank-c128-p512 (rank 64, 128-dim codes, 24,000 steps on two pools of 512; stored in float16),
#: accuracy: WIDE 0.197 against random init's 0.097 (+0.100; an untrained GHN -0.015), DEEP 0.444 against 0.102
#: (+0.342; untrained -0.009). Like the pytext p512 GHN it trades WIDE's k = 0 lead for k = 100 and 1000.
TRANSFORMER_FLOORS = {
    "ghn-vit-digits-lowrank": TransformerFloor("digits-vit", "acc", {"wide": 0.10, "deep": 0.50}),
    "ghn-vit-mnist1d-lowrank": TransformerFloor("mnist1d-vit", "acc", {"wide": 0.12, "deep": 0.10}),
    "ghn-pytext-lowrank": TransformerFloor("pytext", "loss", {"wide": 0.30, "deep": 1.00}),
    "ghn-pytext-lowrank-c128": TransformerFloor("pytext", "loss", {"wide": 1.00, "deep": 2.20}),
    "ghn-pytext-lowrank-c128-p512": TransformerFloor("pytext", "loss", {"wide": 0.70, "deep": 0.55}),
    "ghn-vit-mnist1d-lowrank-c128-p512": TransformerFloor("mnist1d-vit", "acc", {"wide": 0.06, "deep": 0.20}),
}


def _transformer_task(name: str):
    if name == "digits-vit":
        pytest.importorskip("sklearn")
    if name == "mnist1d-vit":
        pytest.importorskip("mnist1d", reason="the MNIST-1D data is made by the mnist1d package (dev extra)")
    try:
        return get_task(name)
    except ChecksumError:
        raise  # a corrupt cache is a failure, not a missing dataset
    except DatasetError as exc:  # pytext reads this interpreter's Lib/*.py; some installs ship without it
        pytest.skip(f"{name} data not available: {exc}")


@functools.cache
def _fresh_ghn(name: str) -> GHN:
    """An untrained GHN of ``name``'s config (seed 0): the control that the gate must reject."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return GHN(from_pretrained(name).config).eval()


def _k0_gain(ghn, floor: TransformerFloor, split: str) -> tuple[float, float, float]:
    """(gain, GHN metric, random-init metric): mean over the validation architectures of ``split`` at k = 0; gain > 0
    when the GHN init is better."""
    task = _transformer_task(floor.task)
    specs = arch_specs(task, split, n=N_TRANSFORMER_ARCHS, seed=0, role="val")
    records = paired_eval(ghn, task, specs, seeds=(0,), ks=(0,), split="val")
    g, r = (_mean([rec["k"]["0"][floor.metric] for rec in records if rec["init"] == i]) for i in ("ghn", "random"))
    return (g - r if floor.metric == "acc" else r - g), g, r


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "split"), [(n, s) for n, f in TRANSFORMER_FLOORS.items() for s in f.margins])
def test_transformer_ghn_beats_random_init_on_held_out_networks_of_its_task(name, split):
    floor = TRANSFORMER_FLOORS[name]
    gain, ghn, random = _k0_gain(from_pretrained(name).eval(), floor, split)
    assert gain >= floor.margins[split], (
        f"{name} on {floor.task}/{split}: GHN init {floor.metric} {ghn:.3f} vs random init {random:.3f}, "
        f"gain {gain:+.3f} < {floor.margins[split]}"
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "split"), [(n, s) for n, f in TRANSFORMER_FLOORS.items() for s in f.margins])
def test_the_transformer_gate_rejects_an_untrained_ghn_of_the_same_config(name, split):
    floor = TRANSFORMER_FLOORS[name]
    gain, ghn, random = _k0_gain(_fresh_ghn(name), floor, split)
    assert gain < floor.margins[split], f"untrained {name} passes on {split}: {ghn:.3f} vs {random:.3f}"


@pytest.mark.parametrize("name", TRANSFORMER_FLOORS)
def test_transformer_ghn_records_its_task_and_held_out_figures(name):
    meta = from_pretrained(name).meta
    task = TRANSFORMER_FLOORS[name].task
    assert meta["task"] == task and meta["train_config"]["tasks"] == [task]
    held_out = meta["eval"]
    assert held_out["k"] == 0 and held_out["data_split"] == "val" and held_out["arch_role"] == "test"
    for split in ("id", "wide", "deep"):
        row = held_out["summary"][split]
        assert row["pairs"] >= 1 and {"ghn", "random", "diff", "se", "ghn_wins"} <= set(
            row[TRANSFORMER_FLOORS[name].metric]
        )


def _space_module(name: str):
    """A network of the GHN's space built as a user would (plain ``nn.Module``), with the trace options it needs."""
    task = _transformer_task(TRANSFORMER_FLOORS[name].task)
    spec = arch_specs(task, "deep", n=1, seed=0, role="val")[0]
    net = task.space.build(spec)
    if TRANSFORMER_FLOORS[name].task == "pytext":
        return spec, net, {"example_inputs": torch.zeros(spec.input_shape, dtype=torch.long)}
    return spec, net, {"input_shape": spec.input_shape}


@pytest.mark.parametrize("name", TRANSFORMER_FLOORS)
def test_from_pretrained_predicts_a_plain_module_of_its_space(name):
    """The user's path (``from_pretrained(NAME)``, then ``predict`` / ``apply`` on an ``nn.Module``) predicts every
    parameter, and the same tensors as the evaluation's path through the space's graph."""
    ghn = from_pretrained(name).eval()
    spec, net, trace_kwargs = _space_module(name)
    with torch.no_grad():
        pred = ghn.predict(net, **trace_kwargs)
        via_graph = ghn.predict(_transformer_task(TRANSFORMER_FLOORS[name].task).space.spec_to_graph(spec))
    assert not pred.unpredicted and set(pred) == {n for n, _ in net.named_parameters()}
    for key, value in pred.items():
        torch.testing.assert_close(value, via_graph[key])
    ghn.apply(net, pred)
    x = trace_kwargs.get("example_inputs", torch.zeros(spec.input_shape))
    assert torch.isfinite(net(x)).all()


@pytest.mark.parametrize("name", TRANSFORMER_FLOORS)
def test_cli_predicts_a_network_of_its_space_by_name(name, tmp_path):
    """``graphhyper ghn predict --model vit:SPEC.json`` / ``gpt:SPEC.json`` ``--ckpt NAME``: every parameter, the
    same tensors as the Python path."""
    from safetensors.torch import load_file

    from graphhyper.cli import main

    task = _transformer_task(TRANSFORMER_FLOORS[name].task)
    spec = arch_specs(task, "wide", n=1, seed=0, role="val")[0]
    spec_file, out = tmp_path / "spec.json", tmp_path / "pred.safetensors"
    spec_file.write_text(spec.to_json())
    kind = "gpt" if TRANSFORMER_FLOORS[name].task == "pytext" else "vit"
    argv = ["ghn", "predict", "--model", f"{kind}:{spec_file}", "--ckpt", name, "--out", str(out), "--threads", "1"]
    assert main(argv) == 0
    saved = load_file(out)
    with torch.no_grad():
        expected = from_pretrained(name).eval().predict(task.space.spec_to_graph(spec))
    assert set(saved) == {n for n, _ in task.space.build(spec).named_parameters()} == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(saved[key], value)


def test_ghn_list_names_each_bundled_ghns_training_tasks(capsys):
    from graphhyper.cli import main

    assert main(["ghn", "list"]) == 0
    lines = {line.split(":")[0]: line for line in capsys.readouterr().out.splitlines()}
    for name, floor in TRANSFORMER_FLOORS.items():
        assert lines[name].endswith(f"tasks={floor.task}")
    for name in CNN_GHNS:
        assert lines[name].endswith("tasks=digits,mnist1d")
