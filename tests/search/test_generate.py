"""Guided generation: differentiable GP surrogate, guidance towards accuracy / parameter targets, the searcher."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphhyper.errors import InvalidInputError, SearchError
from graphhyper.search.generation import diffusion as D
from graphhyper.search.generation import guided as G


@pytest.fixture(scope="module")
def nb201():
    return D.nb201_categorical()


@pytest.fixture(scope="module")
def model(nb201):
    torch.manual_seed(0)
    return D.DiscreteDiffusion(nb201, steps=6, hidden=16, layers=1)  # untrained: near-uniform p(x0 | xt)


def n_conv(cell) -> float:
    return float(sum(op == "nor_conv_3x3" for op in cell))


def labelled(nb201, n=40, seed=0):
    cells = D.training_set(nb201, seed=seed)[:n]
    return cells, [n_conv(c) + 0.1 * (c[3] == "skip_connect") for c in cells]


def test_gp_surrogate_fits_and_is_differentiable(nb201):
    cells, y = labelled(nb201)
    gp = G.GPSurrogate(nb201, clip=0).fit(cells, y)
    pred = gp.predict(cells)
    assert np.corrcoef(pred, y)[0, 1] > 0.95
    held = D.training_set(nb201, seed=1)[:100]
    assert np.corrcoef(gp.predict(held), [n_conv(c) for c in held])[0, 1] > 0.7
    P = torch.full((2, 6, 5), 0.2, requires_grad=True)
    mean, std = gp.mean_std(P)
    (mean.sum() + std.sum()).backward()
    assert P.grad is not None and torch.isfinite(P.grad).all() and P.grad.abs().sum() > 0
    assert (gp.expected_improvement(held) >= 0).all()
    with pytest.raises(InvalidInputError):
        G.GPSurrogate(nb201).fit(cells[:1], y[:1])


def test_guidance_raises_predicted_score(nb201, model):
    cells, y = labelled(nb201)
    gp = G.GPSurrogate(nb201).fit(cells, y)
    plain = G.generate(nb201, 200, seed=0, model=model)
    guided = G.generate(nb201, 200, target="max", seed=0, model=model, surrogate=gp, scale=3.0)
    assert len(guided) == 200 and all(nb201.is_valid(c) for c in guided)
    assert gp.predict(guided).mean() > gp.predict(plain).mean() + 0.5
    low = G.generate(nb201, 200, target=0.0, seed=0, model=model, surrogate=gp, scale=3.0)
    assert np.abs(gp.predict(low)).mean() < np.abs(gp.predict(plain)).mean()


def test_parameter_budget_guidance(nb201, model):
    def params(cells):
        return nb201.params(nb201.one_hot(nb201.encode_many(cells))).numpy()

    plain = params(G.generate(nb201, 200, seed=0, model=model))
    small = params(G.generate(nb201, 200, params=1e5, seed=0, model=model, scale=3.0))
    assert np.abs(small - 1e5).mean() < np.abs(plain - 1e5).mean()
    big = params(G.generate(nb201, 200, params=1.2e6, seed=0, model=model, scale=3.0))
    assert big.mean() > plain.mean() + 2e5


def test_generate_errors(nb201, model):
    with pytest.raises(SearchError, match="labelled"):
        G.generate(nb201, 4, target=90.0, model=model)
    with pytest.raises(InvalidInputError, match="space"):
        G.categorical_space("resnet")
    with pytest.raises(InvalidInputError):
        G.generate(nb201, -1, model=model)


def test_generate_is_seeded(nb201, model):
    a = G.generate(nb201, 30, params=4e5, seed=5, model=model)
    assert a == G.generate(nb201, 30, params=4e5, seed=5, model=model)


def test_diffusion_searcher_on_the_table(shared_data, model):
    from graphhyper.search import benchmarks, searchers, space

    table = benchmarks.NB201Table.load()
    bench = table.benchmark(budget=14)
    sp = space.nb201_space()
    prior = {sp.hash(c): n_conv(c) for c in sp.enumerate()[:4000]}  # any zero-cost score works
    s = searchers.simulate(G.DiffusionSearcher(sp, seed=0, n_init=6, pool=64, model=model, prior=prior), bench, 14)
    assert bench.num_queries == 14 == len(s.history)
    assert len({sp.hash(a) for a, _ in s.history}) == 14
    assert s.surrogate is not None and 0 < bench.report_best() <= 100


def test_gp_variance_matches_kernel_diagonal_on_large_batches(nb201):
    cells, y = labelled(nb201)
    gp = G.GPSurrogate(nb201).fit(cells, y)
    P = nb201.one_hot(nb201.encode_many(D.training_set(nb201, seed=2)[:50]))
    assert torch.allclose(gp.kernel_diag(P.double()), torch.diagonal(gp.kernel(P.double(), P.double())))
    big = P.repeat(100, 1, 1)  # 5,000 rows: no [A, A] matrix is built
    m, s = gp.mean_std(big)
    m0, s0 = gp.mean_std(P)
    assert torch.allclose(m[:50], m0) and torch.allclose(s[:50], s0) and (s > 0).all()


def test_diffusion_searcher_edits_propose_near_the_best(nb201):
    from graphhyper.search import space

    class Echo(torch.nn.Module):  # a denoiser that trusts x_t (a trained one mostly does at small t)
        def forward(self, xt, t):
            return 4.0 * torch.nn.functional.one_hot(xt, 5).float()

    model = D.DiscreteDiffusion(nb201, steps=12, hidden=16, layers=1)
    model.denoiser = Echo()
    sp = space.nb201_space()
    s = G.DiffusionSearcher(sp, seed=0, n_init=4, pool=0, edit_top=1, edit_reps=64, edit_t=1, model=model)
    for _ in range(4):
        a = s.ask()
        s.tell(a, n_conv(a))
    best = s.best()[0]
    a = s.ask()  # only local edits of the best cell are candidates
    assert sum(x != y for x, y in zip(a, best)) <= 3 and s.is_new(a) is False
