"""The resumable state of a mini-batch ENC run (:func:`graphhyper.hypergraph.enc.train_enc_minibatch`).

A run given ``resume=PATH`` writes everything it needs to go on into ``PATH`` after every epoch: the model, the
trained node features, Adam's moments, the lr schedule, torch's random state (dropout), the kept (best) epoch with
its weights, the history and the epoch timings. Started again with the same ``PATH``, it continues with the next
epoch and trains exactly as the uninterrupted run would (the sampler's draws depend only on the seed and the epoch).

The file is ``torch.save`` of tensors and plain containers, read back with ``weights_only=True``; it is written to a
temporary file and moved into place, so a run killed while saving keeps the previous epoch's state. A file of
another run (different settings, model shapes or dataset) is refused with :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from graphhyper._files import atomic_target
from graphhyper.errors import CheckpointError

FORMAT = "graphhyper.enc-minibatch/1"


def _new_best() -> dict[str, Any]:
    return {"val_micro": -math.inf, "epoch": -1, "state": None, "feat": None, "row": {}}


@dataclass
class LoopState:
    """Where a mini-batch ENC run stands: the next epoch, the kept epoch, the history, the time spent so far."""

    next_epoch: int = 0
    stopped: bool = False
    best: dict[str, Any] = field(default_factory=_new_best)
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0


def fingerprint(settings: dict[str, Any], model: torch.nn.Module, task_shape: list[int]) -> str:
    """What a resumed run must share with the run that wrote the file (``epochs`` and ``patience`` may change)."""
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    return json.dumps({**settings, "model": type(model).__name__, "shapes": shapes, "task": task_shape}, sort_keys=True)


def save(path: Path, run: Any, sched: Any, loop: LoopState, finger: str) -> None:
    """Write the run's state atomically to ``path`` (``run``: the trainer's ``_MinibatchRun``)."""
    state = {
        "format": FORMAT,
        "fingerprint": finger,
        "model": run.model.state_dict(),
        "feat": run.feat.detach(),
        "opt": run.opt.state_dict(),
        "sched": sched.state_dict(),
        "rng": torch.get_rng_state(),
        "loop": {**loop.__dict__},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as tmp:
        torch.save(state, tmp)


def load(path: Path, run: Any, sched: Any, finger: str) -> LoopState:
    """Restore ``run`` and ``sched`` from ``path`` and return the loop's state; refuse a file of another run."""
    try:
        st = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a checkpoint problem
        raise CheckpointError(f"Cannot read the ENC run state {path}: {exc}. Delete it to start over.") from exc
    if not isinstance(st, dict) or st.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a mini-batch ENC run state ({FORMAT}); give another --resume path.")
    if st["fingerprint"] != finger:
        raise CheckpointError(f"{path} was written by another run: {_differences(st['fingerprint'], finger)}. "
                              "Resume with the same settings, model and dataset, or give a new path.")  # fmt: skip
    run.model.load_state_dict(st["model"])
    run.feat.data.copy_(st["feat"])
    run.opt.load_state_dict(st["opt"])
    sched.load_state_dict(st["sched"])
    torch.set_rng_state(st["rng"])
    return LoopState(**st["loop"])


def _differences(saved: str, now: str) -> str:
    a, b = json.loads(saved), json.loads(now)
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    diff = [f"{k}={a.get(k)!r} (now {b.get(k)!r})" if k != "shapes" else "the model's parameter shapes" for k in keys]
    return ", ".join(diff)[:400]
