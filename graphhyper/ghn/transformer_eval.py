"""Paired evaluation of a GHN as an initialiser: GHN init + k steps against random init + k steps.

For every held-out architecture and every seed, two copies of one network start from (a) the GHN's predicted
parameters and (b) the space's own random initialisation (drawn from ``seed``), and train with the *same*
optimiser, schedule and sequence of batches (drawn from ``seed``). The validation metric is recorded along the
one trajectory at every ``k`` of ``ks`` (``k = 0``: the initialisation itself), so the pairs differ only in the
initialisation. Metrics: mean cross-entropy per token (``loss``, nats) and accuracy (``acc``) on the task's
``split`` (``"val"`` to choose; ``"test"`` once, to report).

Optimiser (:class:`StepBudget`): AdamW, linear warm-up over ``warmup`` steps then a constant learning rate,
gradient-norm clip 1.0 -- constant so that the value at ``k = 100`` of a ``k = 1000`` trajectory is the value of
a 100-step run.

:func:`summarize` pairs the records: per ``k``, the mean of ``ghn - random`` with its standard error over the
pairs, and how many pairs the GHN wins (lower loss / higher accuracy).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch

from graphhyper.errors import InvalidInputError

__all__ = ["StepBudget", "evaluate_metrics", "train_and_track", "paired_eval", "summarize"]


@dataclass
class StepBudget:
    """AdamW with ``lr`` after ``warmup`` linear warm-up steps, batches of ``batch_size``, clip 1.0."""

    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 10
    batch_size: int = 32


@torch.no_grad()
def evaluate_metrics(net: torch.nn.Module, task, split: str = "val", chunk: int = 256) -> dict[str, float]:
    """``{"loss": mean CE per target, "acc": accuracy}`` of ``net`` on the task's ``split`` (eval mode)."""
    if split not in ("val", "test"):
        raise InvalidInputError(f"split={split!r}: evaluate on 'val' to choose and on 'test' to report.")
    x_all, y_all = task.split(split)
    net.eval()
    loss_sum, correct, count = 0.0, 0.0, 0
    for a in range(0, x_all.shape[0], chunk):
        x, y = x_all[a : a + chunk], y_all[a : a + chunk]
        loss, acc = task.loss_and_accuracy(net(x), y)
        n = y.numel()
        loss_sum += float(loss) * n
        correct += acc * n
        count += n
    net.train()
    return {"loss": loss_sum / count, "acc": correct / count}


def train_and_track(
    net: torch.nn.Module, task, ks: Sequence[int], budget: StepBudget, seed: int, split: str = "val"
) -> dict[int, dict[str, float]]:
    """Train ``net`` in place for ``max(ks)`` steps; the metrics at every ``k`` in ``ks`` (non-finite losses skip
    the update and are counted in ``"skipped"`` of the last record)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=budget.lr, weight_decay=budget.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, budget.warmup)))
    out: dict[int, dict[str, float]] = {}
    skipped = 0
    net.train()
    for step in range(max(ks) + 1):
        if step in ks:
            out[step] = evaluate_metrics(net, task, split)
        if step == max(ks):
            break
        x, y = task.batch(gen, budget.batch_size)
        loss, _ = task.loss_and_accuracy(net(x), y)
        opt.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        else:
            skipped += 1
        sched.step()
    out[max(ks)]["skipped"] = skipped
    return out


def _build(space, spec, seed: int) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return space.build(spec)


def paired_eval(
    ghn,
    task,
    specs: Sequence,
    seeds: Sequence[int] = (0, 1, 2),
    ks: Sequence[int] = (0, 100, 1000),
    budget: StepBudget | None = None,
    split: str = "val",
    progress: bool = False,
) -> list[dict[str, Any]]:
    """One record per (architecture, seed, init): ``{"arch", "spec", "seed", "init", "k": {str(k): metrics}}``.

    ``task`` must carry its space (:mod:`graphhyper.ghn.transformer_tasks`)."""
    space = getattr(task, "space", None)
    if space is None:
        raise InvalidInputError(f"Task {task.name!r} has no space; use a transformer task (pytext, digits-vit, ...).")
    if not ks or min(ks) < 0:
        raise InvalidInputError(f"ks={list(ks)}: give non-negative step counts, e.g. 0 100 1000.")
    budget = budget or StepBudget()
    records = []
    for ai, spec in enumerate(specs):
        with torch.no_grad():
            pred = {k: v.detach() for k, v in ghn.predict(space.spec_to_graph(spec)).items()}
        for seed in seeds:
            base = _build(space, spec, seed)
            for init in ("ghn", "random"):
                net = copy.deepcopy(base)
                if init == "ghn":
                    net.load_state_dict(pred, strict=False)
                t0 = time.perf_counter()
                track = train_and_track(net, task, list(ks), budget, seed=seed, split=split)
                rec = {"arch": ai, "spec": spec.to_json(), "seed": seed, "init": init}
                rec["k"] = {str(k): v for k, v in track.items()}
                rec["seconds"] = round(time.perf_counter() - t0, 2)
                records.append(rec)
                if progress:
                    print(ai, seed, init, {k: round(v["loss"], 4) for k, v in rec["k"].items()}, flush=True)
    return records


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per ``k``: mean ``ghn`` and ``random`` loss / accuracy, the paired mean difference ``ghn - random`` with its
    standard error, and the GHN's wins (lower loss, higher accuracy) out of the pairs."""
    pairs: dict[tuple, dict[str, dict]] = {}
    for r in records:
        pairs.setdefault((r["arch"], r["seed"]), {})[r["init"]] = r["k"]
    full = [p for p in pairs.values() if {"ghn", "random"} <= p.keys()]
    out: dict[str, dict[str, Any]] = {}
    for k in sorted({k for p in full for k in p["ghn"]}, key=int):
        row: dict[str, Any] = {"pairs": len(full)}
        for m, better in (("loss", -1), ("acc", 1)):
            g = [p["ghn"][k][m] for p in full]
            rnd = [p["random"][k][m] for p in full]
            d = [a - b for a, b in zip(g, rnd)]
            mean = sum(d) / len(d)
            se = math.sqrt(sum((x - mean) ** 2 for x in d) / max(1, len(d) - 1) / len(d))
            row[m] = {
                "ghn": sum(g) / len(g),
                "random": sum(rnd) / len(rnd),
                "diff": mean,
                "se": se,
                "ghn_wins": sum(1 for x in d if x * better > 0),
            }
        out[k] = row
    return out


def budget_dict(budget: StepBudget) -> dict[str, Any]:
    """The budget as a JSON-able dict (recorded with every result)."""
    return asdict(budget)
