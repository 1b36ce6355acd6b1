"""Plots of a study: optimisation history and Pareto front (matplotlib, written to PNG files).

>>> plot_history(result.study, "history.png")                              # doctest: +SKIP
>>> plot_pareto(result.study, "pareto.png", names=["accuracy", "params"])  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from graphhyper.errors import SearchError, require

__all__ = [
    "plot_history",
    "plot_pareto",
]


def _plt():
    mpl = require("matplotlib", extra="plot", purpose="search plots")
    mpl.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _complete(study):
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not trials:
        raise SearchError(f"Study {study.study_name!r} has no COMPLETE trial to plot; run some trials first.")
    return trials


def _feasible(trial) -> bool:
    return all(v <= 0 for k, v in trial.system_attrs.items() if k.startswith("constraints:"))


def plot_history(study, path, objective: int = 0, name: str | None = None) -> Path:
    """Objective ``objective`` of every COMPLETE trial (dots) and the best-so-far curve."""
    plt = _plt()
    trials = sorted(_complete(study), key=lambda t: t.number)
    maximize = study.directions[objective].name == "MAXIMIZE"
    xs = [t.number for t in trials]
    ys = [t.values[objective] for t in trials]
    best, cur = [], None
    for y in ys:
        cur = y if cur is None else (max(cur, y) if maximize else min(cur, y))
        best.append(cur)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(xs, ys, s=12, alpha=0.6, label="trial")
    ax.step(xs, best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(name or f"objective {objective}")
    ax.set_title(f"{study.study_name}: optimisation history")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_pareto(study, path, names: Sequence[str] | None = None, objectives: tuple[int, int] = (0, 1)) -> Path:
    """Two objectives of every COMPLETE trial; the Pareto front (``study.best_trials``) highlighted and joined.
    Infeasible trials (a constraint > 0) are drawn as crosses."""
    plt = _plt()
    if len(study.directions) < 2:
        raise SearchError("plot_pareto needs a study with at least two objectives; use plot_history for one.")
    i, j = objectives
    trials = _complete(study)
    front = sorted(study.best_trials, key=lambda t: t.values[i])
    names = list(names or [f"objective {k}" for k in range(len(study.directions))])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    feas = [t for t in trials if _feasible(t)]
    infeas = [t for t in trials if not _feasible(t)]
    ax.scatter([t.values[i] for t in feas], [t.values[j] for t in feas], s=14, alpha=0.5, label="trial")
    if infeas:
        ax.scatter(
            [t.values[i] for t in infeas],
            [t.values[j] for t in infeas],
            s=14,
            marker="x",
            c="grey",
            alpha=0.6,
            label="infeasible",
        )
    ax.plot([t.values[i] for t in front], [t.values[j] for t in front], "o-", c="C3", label="Pareto front")
    ax.set_xlabel(f"{names[i]} ({study.directions[i].name.lower()})")
    ax.set_ylabel(f"{names[j]} ({study.directions[j].name.lower()})")
    ax.set_title(f"{study.study_name}: Pareto front ({len(front)} trials)")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
