"""Objectives for :func:`graphhyper.search.run`: callables ``objective(candidate) -> value(s)``.

==================================== =============================================================================
:class:`GHNProxy`                    accuracy (or negative loss) on held-out batches with every parameter
                                     predicted by a GHN (the bundled one by default) — no training
:class:`ZeroCost`                    a zero-cost proxy (:mod:`~graphhyper.search.proxies`) on one batch
:class:`PredictorScore`              a trained :class:`~graphhyper.search.predictor.Predictor`'s score
:class:`TrainEval`                   real training for a fixed budget (epochs and/or seconds), reporting the
                                     validation accuracy after every epoch so Optuna pruners can stop it early
:class:`MultiObjective`              several objectives at once (one value per study direction), plus
                                     constraints ``cost(candidate) <= limit`` sent to ``trial.set_constraint``
``num_params``, ``flops``,           cost functions of a candidate (for multi-objective search)
``latency``
==================================== =============================================================================

A candidate is a :class:`~graphhyper.search.study.Candidate`; every objective also accepts a bare ``nn.Module``
(or an architecture plus ``space=``) where that makes sense, so it can be called outside a study.

>>> from graphhyper.search import run, darts_space
>>> acc = GHNProxy.for_task("digits")                                       # bundled GHN, digits val split
>>> obj = MultiObjective([acc, num_params])
>>> res = run(darts_space(), obj, 30, directions=["maximize", "minimize"])  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import torch
from torch import nn

from graphhyper.errors import InvalidInputError, SearchError

__all__ = [
    "GHNProxy",
    "ZeroCost",
    "PredictorScore",
    "num_params",
    "flops",
    "latency",
    "TrainEval",
    "MultiObjective",
]


def _module(candidate) -> nn.Module:
    if isinstance(candidate, nn.Module):
        return candidate
    if hasattr(candidate, "module"):
        return candidate.module()
    raise SearchError(f"Expected a search Candidate or an nn.Module, got {type(candidate).__name__}.")


def _eval_split(split: str) -> str:
    if split not in ("val", "test"):
        raise InvalidInputError(
            f"split={split!r}: score on 'val' while searching and on 'test' once, for the final "
            "choice (scoring on 'train' would select on training data)."
        )
    return split


def _accuracy_and_loss(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    return float((logits.argmax(-1) == y).float().mean()), float(nn.functional.cross_entropy(logits, y))


# ----------------------------------------------------------------------------------------------- GHN proxy
class GHNProxy:
    """Score an architecture by evaluating it with GHN-predicted parameters (one GHN forward, no training).

    The batch-norm statistics are re-estimated on ``calib_x`` with the predicted parameters
    (:func:`graphhyper.ghn.recalibrate_bn`), then the network runs in eval mode on ``(x, y)``.

    Args:
        ghn: a :class:`~graphhyper.ghn.GHN` or the name of a bundled one
            (default ``"ghn-tiny-tiled"``, :data:`graphhyper.ghn.hub.DEFAULT_GHN`).
        x, y: held-out inputs and labels. calib_x: inputs for BN statistics (default: ``x``).
        metric: ``"accuracy"`` (higher is better) or ``"neg_loss"`` (negative cross-entropy).
        input_shape: shape used to trace the module (default ``(1, *x.shape[1:])``).

    ``self.last_unpredicted`` lists the parameters the GHN could not predict in the last call (they keep their
    initial values and are reported, never hidden).
    """

    def __init__(
        self,
        ghn,
        x: torch.Tensor,
        y: torch.Tensor,
        calib_x: torch.Tensor | None = None,
        metric: str = "accuracy",
        input_shape: tuple | None = None,
    ):
        if metric not in ("accuracy", "neg_loss"):
            raise SearchError(f"GHNProxy metric={metric!r}: use 'accuracy' or 'neg_loss'.")
        if isinstance(ghn, str):
            from graphhyper.ghn import from_pretrained

            ghn = from_pretrained(ghn)
        self.ghn, self.x, self.y, self.metric = ghn.eval(), x, y, metric
        self.calib_x = x if calib_x is None else calib_x
        self.input_shape = input_shape or (1, *x.shape[1:])
        self.last_unpredicted: list[str] = []

    @classmethod
    def for_task(
        cls,
        task: str = "digits",
        ghn="ghn-tiny-tiled",
        n_eval: int = 256,
        n_calib: int = 256,
        seed: int = 0,
        metric: str = "accuracy",
        split: str = "val",
    ) -> GHNProxy:
        """Held-out data of a GHN task (``"digits"``: 1x8x8, ``"mnist1d"``: 1x40) with a bundled GHN.

        Scores on the task's validation split (select on it); ``split="test"`` scores the test split, for reporting
        the finally chosen architecture once. BN statistics come from the training split."""
        from graphhyper.ghn.tasks import get_task

        t = get_task(task)
        x, y = t.split(_eval_split(split))
        gen = torch.Generator().manual_seed(seed)
        calib = t.x_train[torch.randperm(len(t.x_train), generator=gen)[:n_calib]]
        return cls(ghn, x[:n_eval], y[:n_eval], calib, metric)

    @torch.no_grad()
    def __call__(self, candidate) -> float:
        from graphhyper.ghn import recalibrate_bn

        module = _module(candidate)
        params = self.ghn.predict(module, input_shape=self.input_shape)
        self.last_unpredicted = list(getattr(params, "unpredicted", []))
        params = dict(params)
        recalibrate_bn(module, [self.calib_x], params)
        module.eval()
        logits = torch.func.functional_call(module, params, (self.x,))
        acc, loss = _accuracy_and_loss(logits, self.y)
        if hasattr(candidate, "trial") and self.last_unpredicted:
            candidate.trial.set_user_attr("ghn_unpredicted", len(self.last_unpredicted))
        return acc if self.metric == "accuracy" else -loss


# ----------------------------------------------------------------------------------------------- proxies
class ZeroCost:
    """A zero-cost proxy as an objective: ``ZeroCost("jacob_cov", batch)(candidate) -> float``."""

    def __init__(self, proxy: str, batch, seed: int = 0):
        from graphhyper.search import proxies

        self.name, self.fn, self.batch, self.seed = proxy, proxies.get(proxy), batch, seed

    def __call__(self, candidate) -> float:
        torch.manual_seed(self.seed)
        return float(self.fn(_module(candidate), self.batch))


class PredictorScore:
    """Score of a trained :class:`~graphhyper.search.predictor.Predictor` for the candidate's graph."""

    def __init__(self, predictor):
        self.predictor = predictor

    def __call__(self, candidate) -> float:
        graph = candidate.graph() if hasattr(candidate, "graph") else candidate
        return float(self.predictor.predict([graph])[0])


def num_params(candidate) -> float:
    """Trainable parameter count of the candidate's module."""
    return float(sum(p.numel() for p in _module(candidate).parameters() if p.requires_grad))


class flops:  # noqa: N801  (used like a function: flops(input_shape)(candidate))
    """Multiply-accumulates of one sample of ``input_shape`` (without the batch dimension)."""

    def __init__(self, input_shape: Sequence[int]):
        self.input_shape = tuple(input_shape)

    def __call__(self, candidate) -> float:
        from graphhyper.search.proxies import flops as _flops

        return _flops(_module(candidate), torch.zeros((1, *self.input_shape)))


class latency:  # noqa: N801
    """Median wall-clock milliseconds of ``repeats`` eval forwards of a ``[batch, *input_shape]`` input."""

    def __init__(self, input_shape: Sequence[int], batch: int = 1, repeats: int = 5, warmup: int = 1):
        self.x = torch.zeros((batch, *input_shape))
        self.repeats, self.warmup = repeats, warmup

    @torch.no_grad()
    def __call__(self, candidate) -> float:
        module = _module(candidate).eval()
        for _ in range(self.warmup):
            module(self.x)
        times = []
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            module(self.x)
            times.append((time.perf_counter() - t0) * 1000)
        return float(sorted(times)[len(times) // 2])


# ----------------------------------------------------------------------------------------------- training
class TrainEval:
    """Train the candidate for a fixed budget and return its validation accuracy.

    Never pass test data as ``x_val``: the search selects on it.

    After every epoch the validation accuracy is reported (``candidate.report(acc, epoch)``); when the study's
    pruner says so the trial is pruned (``optuna.TrialPruned``). The budget is ``epochs`` and, optionally,
    ``max_seconds`` of wall-clock time (checked between batches).

    Args:
        x_train, y_train, x_val, y_val: tensors (classification).
        epochs, batch_size, lr, weight_decay: SGD with momentum 0.9 and cosine decay (AdamW when ``adam=True``).
        max_seconds: optional time budget. seed: fixes initialisation and batch order.
    """

    def __init__(
        self,
        x_train,
        y_train,
        x_val,
        y_val,
        epochs: int = 5,
        batch_size: int = 64,
        lr: float = 0.05,
        weight_decay: float = 5e-4,
        max_seconds: float | None = None,
        seed: int = 0,
        adam: bool = False,
    ):
        self.data = (x_train, y_train, x_val, y_val)
        self.epochs, self.batch_size, self.lr, self.wd = epochs, batch_size, lr, weight_decay
        self.max_seconds, self.seed, self.adam = max_seconds, seed, adam

    @classmethod
    def for_task(cls, task: str = "digits", split: str = "val", **kw) -> TrainEval:
        """Train on a GHN task's training split, score on its validation split.

        ``split="test"`` scores the test split instead, to report the finally chosen architecture once."""
        from graphhyper.ghn.tasks import get_task

        t = get_task(task)
        return cls(t.x_train, t.y_train, *t.split(_eval_split(split)), **kw)

    def __call__(self, candidate) -> float:
        import optuna

        torch.manual_seed(self.seed)
        module = _module(candidate)
        xt, yt, xv, yv = self.data
        opt: torch.optim.Optimizer
        if self.adam:
            opt = torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=self.wd)
        else:
            opt = torch.optim.SGD(module.parameters(), lr=self.lr, momentum=0.9, weight_decay=self.wd, nesterov=True)
        steps = self.epochs * max(1, (len(xt) + self.batch_size - 1) // self.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        gen = torch.Generator().manual_seed(self.seed)
        t0, acc = time.perf_counter(), 0.0
        for epoch in range(self.epochs):
            module.train()
            for idx in torch.randperm(len(xt), generator=gen).split(self.batch_size):
                loss = nn.functional.cross_entropy(module(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                if self.max_seconds is not None and time.perf_counter() - t0 > self.max_seconds:
                    break
            acc = self.evaluate(module, xv, yv)
            if hasattr(candidate, "report"):
                candidate.report(acc, epoch)
                if candidate.should_prune():
                    raise optuna.TrialPruned(f"pruned after epoch {epoch} at accuracy {acc:.4f}")
            if self.max_seconds is not None and time.perf_counter() - t0 > self.max_seconds:
                break
        return acc

    @staticmethod
    @torch.no_grad()
    def evaluate(module: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
        module.eval()
        correct = sum(
            int((module(x[i : i + batch_size]).argmax(-1) == y[i : i + batch_size]).sum())
            for i in range(0, len(x), batch_size)
        )
        return correct / max(1, len(x))


# ----------------------------------------------------------------------------------------------- several
class MultiObjective:
    """Evaluate several objectives (one per study direction) and set constraints.

    Args:
        objectives: callables ``candidate -> float``, in the order of the study's ``directions``.
        constraints: ``{name: (cost_fn, limit)}``; each sets ``trial.set_constraint(name, cost - limit)`` (feasible
            when ``cost <= limit``); Optuna's NSGA-II/TPE samplers and ``study.best_trials`` respect them.

    The candidate's module is built once and shared by all objectives (build it fresh per objective when one of
    them trains: pass ``share_module=False``). In a study with several directions the objectives do not see
    ``report`` / ``should_prune``: Optuna prunes single-objective studies only, so a :class:`TrainEval` inside
    trains its full budget.
    """

    def __init__(self, objectives: Sequence[Callable], constraints: dict | None = None, share_module: bool = True):
        if not objectives:
            raise SearchError("MultiObjective needs at least one objective.")
        self.objectives, self.constraints, self.share = list(objectives), dict(constraints or {}), share_module

    def __call__(self, candidate) -> tuple:
        target = candidate
        if hasattr(candidate, "module"):
            target = _SharedModule(candidate, self.share, _multi_objective(candidate))
        for name, (fn, limit) in self.constraints.items():
            value = float(fn(target)) - float(limit)
            if hasattr(candidate, "set_constraint"):
                candidate.set_constraint(name, value)
        return tuple(float(f(target)) for f in self.objectives)


def _multi_objective(candidate) -> bool:
    """Whether the candidate's study has several directions (unknown: assume so, and do not report)."""
    study = getattr(getattr(candidate, "trial", None), "study", None)
    return study is None or len(getattr(study, "directions", ())) != 1


class _SharedModule:
    """A candidate view whose ``module()`` is built once (``share``) and that, with ``no_pruning``, cannot report
    intermediate values (Optuna's ``Trial.report`` raises ``NotImplementedError`` in multi-objective studies)."""

    _HIDDEN = ("report", "should_prune")

    def __init__(self, candidate, share: bool = True, no_pruning: bool = False):
        self._c, self._m, self._share, self._no_pruning = candidate, None, share, no_pruning

    def module(self):
        if not self._share:
            return self._c.module()
        if self._m is None:
            self._m = self._c.module()
        return self._m

    def __getattr__(self, name):
        if self._no_pruning and name in self._HIDDEN:
            raise AttributeError(f"{name} is not available to the objectives of a MultiObjective")
        return getattr(self._c, name)
