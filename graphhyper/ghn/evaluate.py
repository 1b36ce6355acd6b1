"""Evaluate predicted parameters on held-out architectures: GHN vs random init vs SGD, and GHN as an init.

Every number is the mean test accuracy over the architectures of a split. Networks with batch norm get their
running statistics re-estimated on a few training batches (:func:`~graphhyper.ghn.bn.recalibrate_bn`) before
they are evaluated in ``eval()`` mode -- for predicted, random and trained parameters alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from graphhyper.errors import InvalidInputError
from graphhyper.ghn.bn import recalibrate_bn


@dataclass
class SGDBudget:
    """A fixed SGD budget: ``steps`` of SGD with momentum, batch ``batch_size``, cosine LR from ``lr``."""

    steps: int = 100
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4


def _bn_batches(task, n: int = 4, size: int = 128, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [task.batch(gen, size)[0] for _ in range(n)]


@torch.no_grad()
def accuracy(net, task, params=None, recalibrate: bool = True, split: str = "test") -> float:
    """Accuracy of ``net`` (optionally with ``params`` through ``functional_call``) on the task's ``split``.

    ``split="val"`` is for choosing (recipes, checkpoints, hyper-parameters); ``"test"`` for reporting once."""
    if split not in ("val", "test"):
        raise InvalidInputError(f"split={split!r}: evaluate on 'val' to choose and on 'test' to report.")
    x_all, y_all = task.split(split)
    if recalibrate:
        recalibrate_bn(net, _bn_batches(task), params)
    net.eval()
    correct = 0
    for a in range(0, x_all.shape[0], 500):
        x = x_all[a : a + 500]
        out = net(x) if params is None else torch.func.functional_call(net, dict(params), (x,))
        correct += int((out.argmax(1) == y_all[a : a + 500]).sum())
    return correct / x_all.shape[0]


def sgd_train(net, task, budget: SGDBudget, seed: int = 0) -> torch.nn.Module:
    """Train ``net`` in place for the fixed ``budget``; returns it."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(
        net.parameters(), lr=budget.lr, momentum=budget.momentum, weight_decay=budget.weight_decay, nesterov=True
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, budget.steps)
    net.train()
    for _ in range(budget.steps):
        x, y = task.batch(gen, budget.batch_size)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
        sched.step()
    return net


@torch.no_grad()
def he_init(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    r"""He (Kaiming) normal init in place: every conv / linear weight :math:`\sim \mathcal N(0, 2/\mathrm{fan\_in})`,
    biases 0. PyTorch's default (:math:`\mathcal U(\pm 1/\sqrt{\mathrm{fan\_in}})`, a third of He's variance) makes
    activations vanish through networks without batch norm (std ~1e-3 after four DARTS cells), so SGD from it stays
    at chance on BN-FREE networks; the ``"sgd_he"`` baseline starts from this init instead. Draws from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    torch.nn.init.zeros_(m.bias)
    return net


def build_net(spec, seed: int):
    """``darts.build(spec)`` with PyTorch's default init drawn from ``seed``."""
    from graphhyper.arch.spaces import darts

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return darts.build(spec)


def evaluate_split(
    ghn,
    task,
    specs,
    modes=("ghn", "random", "sgd"),
    budget: SGDBudget | None = None,
    init_epochs: float | None = None,
    split: str = "test",
) -> dict[str, list[float]]:
    """Accuracy per architecture for each mode, on the task's ``split`` (``"val"`` to choose, ``"test"`` to report).

    Modes: ``"ghn"`` (predicted parameters), ``"random"`` (PyTorch default init), ``"sgd"`` (random init trained
    for ``budget``), ``"sgd_he"`` (the same from :func:`he_init`), ``"ghn+sgd"`` / ``"random+sgd"``
    (``init_epochs`` epochs of SGD from each init).
    """
    from graphhyper.arch.spaces import darts

    budget = budget or SGDBudget()
    res: dict[str, list[float]] = {m: [] for m in modes}
    for i, spec in enumerate(specs):
        net = build_net(spec, seed=i)
        pred = None
        if any(m.startswith("ghn") for m in modes):
            with torch.no_grad():
                pred = ghn.predict(darts.spec_to_graph(spec))
        for m in modes:
            if m == "ghn":
                res[m].append(accuracy(copy.deepcopy(net), task, pred, split=split))
            elif m == "random":
                res[m].append(accuracy(copy.deepcopy(net), task, split=split))
            elif m in ("sgd", "sgd_he"):
                n1 = copy.deepcopy(net) if m == "sgd" else he_init(copy.deepcopy(net), seed=i)
                res[m].append(accuracy(sgd_train(n1, task, budget, seed=i), task, split=split))
            elif m in ("ghn+sgd", "random+sgd"):
                n2 = copy.deepcopy(net)
                if m == "ghn+sgd" and pred is not None:  # pred is made whenever a "ghn" mode is asked for
                    n2.load_state_dict({k: v.detach() for k, v in pred.items()}, strict=False)
                steps = max(1, int(round((init_epochs or 1.0) * task.x_train.shape[0] / budget.batch_size)))
                b = SGDBudget(
                    steps=steps,
                    batch_size=budget.batch_size,
                    lr=budget.lr * 0.2,
                    momentum=budget.momentum,
                    weight_decay=budget.weight_decay,
                )
                res[m].append(accuracy(sgd_train(n2, task, b, seed=i), task, split=split))
            else:
                raise ValueError(f"unknown mode {m!r}")
    return res
