"""Predictor-guided architecture generation (DiffusionNAG-style) and its searcher.

* :func:`pretrained` trains (once, then caches in memory and as safetensors) a
  :class:`~graphhyper.search.generation.diffusion.DiscreteDiffusion` on *unlabelled* architectures of a space — it
  costs no benchmark queries.
* :class:`GPSurrogate` is a Gaussian-process performance predictor whose kernel is differentiable in a relaxed
  one-hot architecture ``P`` ``[B, S, K]``:
  :math:`k(P, X) = \\exp(-d_H(P, X)/\\ell) + w\\, \\langle \\hat\\phi(P), \\hat\\phi(X) \\rangle`, with
  :math:`d_H(P, X) = \\sum_s (1 - \\langle P_s, X_s \\rangle)` (expected Hamming distance) and
  :math:`\\hat\\phi` the normalised space features (NB201: one-hot + input->output path encoding).
  Its posterior mean and standard deviation give the guidance gradient.
* :func:`generate` samples ``n`` architectures aimed at a target accuracy (needs a fitted surrogate or labelled
  architectures) and/or a parameter budget.
* :class:`DiffusionSearcher` implements the :class:`~graphhyper.search.searchers.Searcher` ask/tell interface:
  query ``n_init`` samples, then repeatedly refit the GP on every told result, draw guided samples and guided local
  edits of the best told architectures (gradient of the GP's upper confidence bound), and query the unseen
  candidate with the highest expected improvement. Every query is an ``ask``; sampling and refitting cost none.

>>> archs = generate("nb201", 10, params=4e5, seed=0)                    # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from graphhyper.errors import CheckpointError, InvalidInputError, SearchError
from graphhyper.search.generation import diffusion as D
from graphhyper.search.searchers import Searcher

__all__ = [
    "categorical_space",
    "pretrained",
    "training_archs",
    "GPSurrogate",
    "make_guidance",
    "generate",
    "DiffusionSearcher",
]

_SPACES = {"nb201": D.nb201_categorical, "darts": D.darts_categorical}
_MODELS: dict = {}


def categorical_space(space) -> D.CategoricalSpace:
    """``"nb201"`` / ``"darts"`` / a :class:`CategoricalSpace` / a ``SearchSpace`` named so -> CategoricalSpace."""
    if isinstance(space, D.CategoricalSpace):
        return space
    name = space if isinstance(space, str) else getattr(space, "name", None)
    if name not in _SPACES:
        raise InvalidInputError(
            f"No categorical encoding for space {space!r}; use one of {sorted(_SPACES)} or "
            f"pass a graphhyper.search.generation.diffusion.CategoricalSpace."
        )
    return _SPACES[name]()


def _cache_dir() -> Path:
    return Path(os.environ.get("GRAPHHYPER_CACHE", Path.home() / ".cache" / "graphhyper")) / "diffusion"


def pretrained(
    space="nb201",
    seed: int = 0,
    train_steps: int = 2000,
    fraction: float = 0.5,
    n_train: int = 20000,
    diffusion_steps: int = 24,
    cache: bool = True,
    progress: bool = False,
) -> D.DiscreteDiffusion:
    """A diffusion model trained on unlabelled architectures of ``space`` (NB201: a seeded half of the valid
    cells, so novelty is measurable; DARTS: ``n_train`` random valid genotypes). Cached in memory and, with
    ``cache``, as safetensors under ``$GRAPHHYPER_CACHE/diffusion`` (default ``~/.cache/graphhyper``)."""
    cspace = categorical_space(space)
    key = (cspace.name, seed, train_steps, fraction, n_train, diffusion_steps)
    if key in _MODELS:
        return _MODELS[key]
    model = D.DiscreteDiffusion(cspace, steps=diffusion_steps)
    name, *rest = key
    path = _cache_dir() / f"v2-{name}-s{rest[0]}-t{rest[1]}-f{rest[2]:g}-n{rest[3]}-d{rest[4]}.safetensors"
    if cache and path.exists():
        from safetensors.torch import load_file

        try:
            model.load_state_dict(load_file(str(path)))
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(
                f"Cached diffusion model {path} does not load ({exc}); delete it to retrain."
            ) from exc
    else:
        train = training_archs(cspace, seed, fraction, n_train)
        D.train_diffusion(model, cspace.encode_many(train), steps=train_steps, seed=seed, progress=progress)
        if cache:
            from safetensors.torch import save_file

            path.parent.mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    model.eval()
    _MODELS[key] = model
    return model


def training_archs(cspace: D.CategoricalSpace, seed: int = 0, fraction: float = 0.5, n_train: int = 20000) -> list:
    """The unlabelled training architectures :func:`pretrained` uses (for novelty)."""
    # fraction only applies to an enumerable space (training_set ignores it otherwise)
    return D.training_set(cspace, seed, fraction, None if cspace.enumerate is not None else n_train)


# ---------------------------------------------------------------------------------------------- surrogate
class GPSurrogate:
    """Gaussian process on architectures with a kernel differentiable in relaxed one-hot inputs.

    Targets are clipped below at their ``clip`` percentile (collapsed cells would otherwise dominate) and
    standardised. ``mean_std(P)`` returns the posterior mean and standard deviation in the standardised scale
    (differentiable); ``predict(archs)`` returns the mean in the original scale.

    Args:
        space: a :class:`CategoricalSpace`.
        lengthscale: ``ell`` of the Hamming term; weight: ``w`` of the feature (path) term; noise: jitter.
    """

    def __init__(self, space, lengthscale: float = 4.0, weight: float = 3.0, noise: float = 0.05, clip: float = 25.0):
        self.space = categorical_space(space)
        self.lengthscale, self.weight, self.noise, self.clip = lengthscale, weight, noise, clip
        self.X: torch.Tensor | None = None

    def _phi(self, P: torch.Tensor) -> torch.Tensor:
        f = self.space.featurize(P)
        return f / f.norm(dim=1, keepdim=True).clamp(min=1e-6)

    def kernel(self, P: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
        """``[A, S, K] x [B, S, K] -> [A, B]``."""
        overlap = torch.einsum("ask,bsk->ab", P, Q)
        k = torch.exp(-(P.shape[1] - overlap) / self.lengthscale)
        if self.weight:
            k = k + self.weight * self._phi(P) @ self._phi(Q).T
        return k

    def kernel_diag(self, P: torch.Tensor) -> torch.Tensor:
        """``k(P_a, P_a)`` for every row, ``[A, S, K] -> [A]`` (no ``[A, A]`` matrix)."""
        overlap = (P * P).sum((1, 2))
        k = torch.exp(-(P.shape[1] - overlap) / self.lengthscale)
        if self.weight:
            k = k + self.weight * (self._phi(P) ** 2).sum(1)
        return k

    def fit(self, archs, y) -> GPSurrogate:
        y = np.asarray(y, dtype=np.float64)
        if len(archs) != len(y) or len(y) < 2 or not np.isfinite(y).all():
            raise InvalidInputError(f"GPSurrogate.fit needs >= 2 architectures with finite scores (got {len(y)}).")
        y = np.maximum(y, np.percentile(y, self.clip))
        self.mu, self.sd = float(y.mean()), float(y.std() + 1e-9)
        self.X = self.space.one_hot(self.space.encode_many(archs)).double()
        z = torch.tensor((y - self.mu) / self.sd)
        K = self.kernel(self.X, self.X) + self.noise * torch.eye(len(y), dtype=torch.float64)
        self.L = torch.linalg.cholesky(K)
        self.alpha = torch.cholesky_solve(z[:, None], self.L)[:, 0]
        self.z_best = float(z.max())
        return self

    def mean_std(self, P: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.X is None:
            raise SearchError("GPSurrogate is not fitted; call fit(archs, scores) first.")
        P = P.double()
        Ks = self.kernel(P, self.X)
        mean = Ks @ self.alpha
        v = torch.cholesky_solve(Ks.T, self.L)
        var = (self.kernel_diag(P) - (Ks * v.T).sum(1)).clamp(min=1e-9)
        return mean, var.sqrt()

    def _P(self, archs) -> torch.Tensor:
        return self.space.one_hot(self.space.encode_many(archs))

    def predict(self, archs) -> np.ndarray:
        with torch.no_grad():
            mean, _ = self.mean_std(self._P(archs))
        return mean.numpy() * self.sd + self.mu

    def expected_improvement(self, archs) -> np.ndarray:
        with torch.no_grad():
            m, s = self.mean_std(self._P(archs))
        g = (m - self.z_best) / s
        cdf = 0.5 * (1 + torch.erf(g / math.sqrt(2)))
        pdf = torch.exp(-0.5 * g**2) / math.sqrt(2 * math.pi)
        return ((m - self.z_best) * cdf + s * pdf).numpy()


def make_guidance(
    space,
    surrogate: GPSurrogate | None = None,
    target: float | str | None = None,
    params: float | None = None,
    kappa: float = 0.5,
    params_scale: float = 3e5,
):
    """The score ``f(P)`` that guided sampling climbs (``None`` when nothing is asked).

    * ``target="max"`` (with a surrogate): upper confidence bound ``mean + kappa * std``;
    * ``target=<accuracy>``: ``-((mean - target) / sd)^2`` (aims at that accuracy);
    * ``params=<count>``: ``-((params(P) - params) / params_scale)^2`` (aims at a parameter budget).
    """
    cspace = categorical_space(space)
    if target is not None and surrogate is None:
        raise SearchError(
            "An accuracy target needs a fitted GPSurrogate (or labelled=(archs, scores) in "
            "generate()); without labels aim at a parameter budget with params=."
        )
    if params is not None and cspace.params is None:
        raise SearchError(f"Space {cspace.name!r} has no differentiable parameter count; drop params=.")
    if target is None and params is None:
        return None

    def score(P: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(P.shape[0], dtype=torch.float64)
        if target is not None:
            assert surrogate is not None  # checked above: a target needs a surrogate
            m, s = surrogate.mean_std(P)
            if target == "max":
                out = out + m + kappa * s
            else:
                out = out - ((m * surrogate.sd + surrogate.mu - float(target)) / surrogate.sd) ** 2
        if params is not None:
            assert cspace.params is not None  # checked above
            out = out - ((cspace.params(P).double() - float(params)) / params_scale) ** 2
        return out

    return score


def generate(
    space="nb201",
    n: int = 100,
    target: float | str | None = None,
    params: float | None = None,
    seed: int = 0,
    scale: float = 2.0,
    model: D.DiscreteDiffusion | None = None,
    surrogate: GPSurrogate | None = None,
    labelled: tuple | None = None,
    valid_only: bool = True,
) -> list:
    """Sample ``n`` architectures of ``space`` with the (pre)trained diffusion model, guided towards ``target``
    (an accuracy, or ``"max"``) and/or a parameter count ``params``.

    An accuracy target needs a predictor: a fitted ``surrogate``, or ``labelled=(archs, scores)`` to fit one.
    With ``valid_only`` invalid samples are dropped and more are drawn (at most 4 extra rounds).
    """
    if n < 0:
        raise InvalidInputError(f"n={n} must be >= 0.")
    cspace = categorical_space(space)
    model = model or pretrained(cspace.name, seed=0)
    if labelled is not None and surrogate is None:
        surrogate = GPSurrogate(cspace).fit(*labelled)
    guidance = make_guidance(cspace, surrogate, target, params)
    out: list = []
    for round_ in range(5 if valid_only else 1):
        draw = model.sample(
            max(n - len(out), 1) if round_ else n, seed=seed + 7919 * round_, guidance=guidance, scale=scale
        )
        out += [a for a in draw if cspace.is_valid(a)] if valid_only else draw
        if len(out) >= n:
            break
    return out[:n]


# ---------------------------------------------------------------------------------------------- searcher
class DiffusionSearcher(Searcher):
    """Guided-diffusion search (ask/tell): ``n_init`` guided samples (towards ``init_params`` if given, else
    unguided), then per query: refit the :class:`GPSurrogate` on everything told, propose candidates with the
    diffusion model — ``pool`` fresh samples plus ``edit_reps`` local edits (:meth:`DiscreteDiffusion.edit_tokens`
    from ``edit_t``) of each of the ``edit_top`` best told architectures, all guided by the gradient of the GP's
    UCB — and ask the unseen valid candidate with the highest expected improvement (the diffusion model is the
    proposal distribution, the GP re-ranks it).

    Args:
        space: a ``SearchSpace`` (``nb201_space()``) or a name; its ``hash`` dedups, the diffusion model samples.
        seed: seeds the samples. model: a trained diffusion model (default :func:`pretrained`).
        prior: optional zero-cost score (``{space.hash(arch): score}`` or ``callable(arch)``; costs no queries):
            the cold start takes one of each ``n_init`` consecutive slices of the ``prior_pool`` best-prior
            samples among ``cold_pool`` unguided ones (as ``PredictorGuided`` does with the same prior).
        batch: queries per refit (grows as ``max(batch, n_told // 20)``). scale: guidance strength.
        pool: fresh samples drawn per refit. edit_top, edit_reps, edit_t: local proposals per refit, ``edit_reps``
            edits of each of the ``edit_top`` best told architectures, noised to step ``edit_t`` and denoised
            (``edit_top=0``: fresh samples only).
    """

    name = "diffusion"

    def __init__(
        self,
        space,
        seed: int = 0,
        n_init: int = 10,
        batch: int = 1,
        scale: float = 2.0,
        pool: int = 128,
        model: D.DiscreteDiffusion | None = None,
        init_params: float | None = None,
        surrogate_kw: dict | None = None,
        prior=None,
        prior_pool: int = 100,
        cold_pool: int = 8000,
        edit_top: int = 4,
        edit_reps: int = 32,
        edit_t: int = 8,
    ):
        if isinstance(space, str):
            from graphhyper.search import space as S

            makers: dict[str, Callable[[], S.SearchSpace]] = {"nb201": S.nb201_space, "darts": S.darts_space}
            space = makers[space]()
        super().__init__(space, seed)
        self.cspace = categorical_space(space)
        self.model = model or pretrained(self.cspace.name, seed=0)
        self.n_init, self.batch, self.scale, self.pool = n_init, batch, scale, pool
        self.init_params, self.surrogate_kw = init_params, surrogate_kw or {}
        self.prior, self.prior_pool, self.cold_pool = prior, prior_pool, cold_pool
        self.edit_top, self.edit_reps = edit_top, edit_reps
        self.edit_t = min(max(1, edit_t), self.model.steps)
        self._queue: deque = deque()
        self._round = 0
        self.surrogate: GPSurrogate | None = None

    def _draw(self, guidance, n: int, parents=()) -> list:
        self._round += 1
        seed = self.seed * 100_003 + self._round
        archs = self.model.sample(n, seed=seed, guidance=guidance, scale=self.scale) if n else []
        if parents:
            x0 = self.cspace.encode_many(parents).repeat_interleave(self.edit_reps, 0)
            was = self.model.training
            self.model.eval()
            try:
                toks = self.model.edit_tokens(x0, self.edit_t, seed=seed + 50_000, guidance=guidance, scale=self.scale)
            finally:
                self.model.train(was)
            archs = archs + [self.cspace.decode(row.tolist()) for row in toks]
        seen, out = set(), []
        for a in archs:
            h = self.space.hash(a)
            if self.cspace.is_valid(a) and h not in seen and self.is_new(a):
                seen.add(h)
                out.append(a)
        return out

    def _prior_score(self, arch) -> float:
        v = self.prior.get(self.space.hash(arch), -np.inf) if isinstance(self.prior, dict) else self.prior(arch)
        return float(v) if np.isfinite(v) else -np.inf

    def _cold(self):
        guidance = make_guidance(self.cspace, params=self.init_params) if self.init_params else None
        need = self.n_init - len(self.history)
        if self.prior is None:
            self._queue.extend(self._draw(guidance, max(2 * self.n_init, 32))[:need])
            return
        # zero-cost prior (no queries): one sample from each of n_init slices of the prior's top samples
        cands = sorted(self._draw(guidance, self.cold_pool), key=self._prior_score, reverse=True)
        top = cands[: max(self.prior_pool, self.n_init)]
        k = max(1, len(top) // self.n_init)
        picks = [top[i * k + self.rng.randrange(k)] for i in range(min(self.n_init, len(top) // k))]
        self._queue.extend(picks[:need])

    def _refit(self):
        archs = [a for a, _ in self.history]
        self.surrogate = GPSurrogate(self.cspace, **self.surrogate_kw).fit(archs, [v for _, v in self.history])
        parents = [a for a, _ in sorted(self.history, key=lambda t: -t[1])[: self.edit_top]] if self.edit_reps else []
        cands = self._draw(make_guidance(self.cspace, self.surrogate, "max"), self.pool, parents)
        if cands:
            ei = self.surrogate.expected_improvement(cands)
            k = max(self.batch, len(self.history) // 20)
            self._queue.extend(cands[i] for i in np.argsort(-ei, kind="stable")[:k])

    def propose(self):
        while self._queue:
            arch = self._queue.popleft()
            if self.is_new(arch):
                return arch
        if len(self.history) < max(2, self.n_init):
            self._cold()
        else:
            self._refit()
        return self._queue.popleft() if self._queue else self.random_new()
