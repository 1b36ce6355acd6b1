"""scripts/ghn_init_parts.py: the variants that mix a GHN's prediction with the random initialisation."""

from __future__ import annotations

import pytest
import torch

from tests._scripts import load_script

PARTS = load_script("ghn_init_parts.py")


def _low_rank(out: int, inp: int, rank: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(out, rank, generator=gen) @ torch.randn(rank, inp, generator=gen)


def test_complete_keeps_the_predicted_directions_and_fills_the_rest():
    pred = _low_rank(48, 32, 3, seed=0)
    rand = torch.randn(48, 32, generator=torch.Generator().manual_seed(1)) * 0.1
    out = PARTS.complete_spectrum(pred, rand, energy=0.999)
    u, _, vh = torch.linalg.svd(pred, full_matrices=False)
    uk, vk = u[:, :3], vh[:3].T
    added = out - pred
    # the random part lives off the prediction's row and column spaces: the predicted map is untouched there
    assert torch.allclose(uk.T @ added, torch.zeros(3, 32), atol=1e-5)
    assert torch.allclose(added @ vk, torch.zeros(48, 3), atol=1e-5)
    # and it fills the remaining spectrum: rank goes from 3 to full
    assert torch.linalg.matrix_rank(pred) == 3
    assert torch.linalg.matrix_rank(out) == 32
    half = PARTS.complete_spectrum(pred, rand, energy=0.999, beta=0.5)
    assert torch.allclose(half - pred, 0.5 * added, atol=1e-5)


def test_complete_keeps_conv_shapes():
    pred = _low_rank(16, 12, 2, seed=2).reshape(16, 3, 4)
    rand = torch.randn(16, 3, 4)
    out = PARTS.complete_spectrum(pred, rand, energy=0.9)
    assert out.shape == pred.shape and torch.isfinite(out).all()


def test_variant_states():
    pred = {"fc.weight": torch.ones(4, 3), "fc.bias": torch.full((4,), 2.0), "pos": torch.ones(1, 5, 3)}
    rand = {"fc.weight": torch.zeros(4, 3), "fc.bias": torch.zeros(4), "pos": torch.zeros(1, 5, 3)}
    blend = PARTS.variant_state("blend:0.25", pred, rand)
    assert torch.allclose(blend["fc.weight"], torch.full((4, 3), 0.25))
    assert torch.equal(blend["fc.bias"], pred["fc.bias"])
    done = PARTS.variant_state("complete:0.9:0.5", pred, rand)
    assert torch.equal(done["pos"], pred["pos"])  # a single-row table is not a map: left as predicted
    assert torch.allclose(done["fc.weight"], pred["fc.weight"])  # nothing random to add
    with pytest.raises(SystemExit, match="unknown variant"):
        PARTS.variant_state("bogus:1", pred, rand)
