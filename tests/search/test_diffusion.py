"""Discrete diffusion over categorical architecture slots: process maths, sampling, validity, guidance."""

from __future__ import annotations

import random

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.search.generation import diffusion as D


def toy_space() -> D.CategoricalSpace:
    """3 slots x 3 classes; valid = all slots equal (only 3 of 27 token tuples)."""
    return D.CategoricalSpace(
        name="toy",
        allowed=torch.ones(3, 3, dtype=torch.bool),
        encode=list,
        decode=lambda t: tuple(int(v) for v in t),
        is_valid=lambda a: len(set(a)) == 1,
        adjacency=~torch.eye(3, dtype=torch.bool),
    )


def test_forward_process_marginals():
    sp = D.nb201_categorical()
    model = D.DiscreteDiffusion(sp, steps=8)
    x0 = torch.randint(0, 5, (4, 6))
    for t in (0, 3, 8):
        q = model.q_probs(x0, torch.full((4,), t))
        assert q.shape == (4, 6, 5)
        assert torch.allclose(q.sum(-1), torch.ones(4, 6))
    assert torch.allclose(model.q_probs(x0, torch.zeros(4, dtype=torch.long)), sp.one_hot(x0))
    assert torch.allclose(model.q_probs(x0, torch.full((4,), 8)), model.prior.expand(4, -1, -1))
    assert model.q_sample(x0, torch.full((4,), 4)).shape == (4, 6)
    loss = model.loss(x0)
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_posterior_is_a_distribution_and_exact_at_t1():
    sp = D.nb201_categorical()
    model = D.DiscreteDiffusion(sp, steps=6)
    xt = torch.randint(0, 5, (3, 6))
    p0 = torch.softmax(torch.randn(3, 6, 5), -1)
    for t in (1, 3, 6):
        post = model.posterior(xt, t, p0)
        assert post.shape == (3, 6, 5) and torch.allclose(post.sum(-1), torch.ones(3, 6), atol=1e-5)
    # at t=1, x_0 given x_1 is p0 reweighted by q(x_1 | x_0); for a one-hot p0 it is that one-hot
    x0 = torch.randint(0, 5, (3, 6))
    assert torch.allclose(model.posterior(xt, 1, sp.one_hot(x0)), sp.one_hot(x0), atol=1e-5)


def test_denoiser_shapes_and_masks():
    sp = D.darts_categorical(nodes=2)
    model = D.DiscreteDiffusion(sp, steps=4)
    tokens = torch.zeros(5, sp.num_slots, dtype=torch.long)
    logits = model.denoiser(tokens, torch.full((5,), 2))
    assert logits.shape == (5, sp.num_slots, sp.num_classes)
    assert torch.isinf(logits[:, ~sp.allowed]).all() and torch.isfinite(logits[:, sp.allowed]).all()
    samples = model.sample_tokens(7, seed=0)
    assert samples.shape == (7, sp.num_slots)
    assert bool(sp.allowed[torch.arange(sp.num_slots), samples].all())


def test_eval_and_train_mode_agree():
    model = D.DiscreteDiffusion(D.nb201_categorical(), steps=4)
    x, t = torch.randint(0, 5, (6, 6)), torch.full((6,), 2)
    with torch.no_grad():
        a = model.denoiser.eval()(x, t)
        b = model.denoiser.train()(x, t)
    assert torch.allclose(a, b, atol=1e-5)


def test_sampling_is_seeded():
    model = D.DiscreteDiffusion(D.nb201_categorical(), steps=5)
    a, b, c = model.sample(20, seed=3), model.sample(20, seed=3), model.sample(20, seed=4)
    assert a == b and a != c
    assert all(len(cell) == 6 for cell in a)


def test_training_learns_valid_samples():
    sp = toy_space()
    train = [(k, k, k) for k in range(3)] * 20
    # A fixed initialisation: the untrained validity depends on it (0.61, 0.07, 0.14, 0.26, 0.10, 0.19, 0.16, 0.18 for
    # seeds 0-7; 1/9 for uniform tokens), so it is seeded here rather than left to whatever earlier tests leave in the
    # global RNG. The trained validity is 0.873 from each of those seeds.
    torch.manual_seed(1)
    model = D.DiscreteDiffusion(sp, steps=6, hidden=32, layers=1)
    before = D.metrics(sp, model.sample(300, seed=0), train)["validity"]
    losses = D.train_diffusion(model, sp.encode_many(train), steps=250, batch_size=64, lr=5e-3, seed=0)
    after = D.metrics(sp, model.sample(300, seed=0), train)
    assert losses[-1] < losses[0]
    assert before < 0.4 and after["validity"] > 0.75  # 1/9 of uniform token tuples are valid
    assert after["uniqueness"] <= 1.0 and after["novelty"] == 0.0  # only the 3 training tuples are valid


def test_guidance_shifts_samples():
    sp = toy_space()
    model = D.DiscreteDiffusion(sp, steps=6, hidden=16, layers=1)

    def score(P):
        return P[:, :, 2].sum(-1)  # prefers class 2 everywhere

    plain = model.sample_tokens(400, seed=1)
    guided = model.sample_tokens(400, seed=1, guidance=score, scale=3.0)
    assert (guided == 2).float().mean() > (plain == 2).float().mean() + 0.2
    with pytest.raises(InvalidInputError, match="map"):
        model.sample_tokens(4, seed=0, guidance=lambda P: P.sum(), scale=1.0)


def test_edit_tokens_stay_local_and_are_seeded():
    class Echo(torch.nn.Module):  # a denoiser that trusts x_t (a trained one mostly does at small t)
        def forward(self, xt, t):
            return 4.0 * torch.nn.functional.one_hot(xt, 5).float()

    model = D.DiscreteDiffusion(D.nb201_categorical(), steps=12, hidden=16, layers=1)
    model.denoiser = Echo()
    x0 = torch.tensor([[3, 3, 1, 1, 3, 2]] * 300)
    near = model.edit_tokens(x0, 1, seed=0)
    far = model.edit_tokens(x0, 12, seed=0)
    kept_near, kept_far = (near == x0).float().mean(), (far == x0).float().mean()
    assert kept_near > 0.9 and kept_far < 0.5  # from t=T nothing of x0 survives (1/5 by chance)
    assert torch.equal(near, model.edit_tokens(x0, 1, seed=0)) and not torch.equal(near, model.edit_tokens(x0, 1, 1))
    with pytest.raises(InvalidInputError, match="t_start"):
        model.edit_tokens(x0, 13)


def test_metrics_definitions():
    sp = toy_space()
    samples = [(0, 0, 0), (0, 0, 0), (1, 1, 1), (0, 1, 2)]
    m = D.metrics(sp, samples, train=[(0, 0, 0)])
    assert m == {"validity": 0.75, "uniqueness": 2 / 3, "novelty": 0.5}


def test_nb201_validity_and_paths():
    sp = D.nb201_categorical()
    assert sp.is_valid(("nor_conv_3x3",) * 6)
    assert not sp.is_valid(("none",) * 6)
    assert not sp.is_valid(("nor_conv_3x3", "none", "none", "none", "none", "none"))  # 1 is a dead end
    assert sp.is_valid(("nor_conv_3x3", "none", "none", "none", "skip_connect", "none"))  # 0 -> 1 -> 3
    assert not sp.is_valid(("bogus",) * 6)
    P = sp.one_hot(sp.encode_many([("skip_connect",) * 6]))
    feats = sp.featurize(P)
    assert feats.shape == (1, 30 + 4 + 16 + 16 + 64) and float(feats[0, 30:].sum()) == 4.0  # all 4 paths alive
    params = sp.params(sp.one_hot(sp.encode_many([("nor_conv_3x3",) * 6, ("none",) * 6])))
    assert params.tolist() == [73306 + 5 * 6 * (9 * 5376 + 224), 73306]


def test_darts_space_round_trip():
    from graphhyper.arch.spaces import darts

    sp = D.darts_categorical()
    rng = random.Random(0)
    concat = (2, 3, 4, 5)

    def cell():
        return tuple(tuple((rng.choice(D.DARTS_OPS), i) for i in sorted(rng.sample(range(j + 2), 2))) for j in range(4))

    geno = darts.Genotype(cell(), concat, cell(), concat)
    toks = sp.encode_many([geno])
    assert sp.decode(toks[0].tolist()) == geno and sp.is_valid(geno)
    bad = darts.Genotype(((("skip_connect", 0), ("max_pool", 0)),) + geno.normal[1:], concat, geno.reduce, concat)
    assert not sp.is_valid(bad)
    with pytest.raises(InvalidInputError, match="ops"):
        sp.encode_many([darts.Genotype(((("msa", 0), ("se", 1)),) + geno.normal[1:], concat, geno.reduce, concat)])
