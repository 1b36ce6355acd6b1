"""Meta-batch training of a GHN.

Each step picks a task (round robin over ``config.tasks``), samples ``meta_batch`` architectures of its training
pool and one data batch, predicts all their parameters in one GHN pass, runs every network on the *same* batch
through ``torch.func.functional_call`` and averages the cross-entropy losses.

* **Exact resume**: every random draw comes from one ``torch.Generator`` whose state is checkpointed with the
  GHN, the optimizer, the LR schedule and the step; a run killed and resumed ends with bit-identical weights.
* **NaN/inf guard**: a step whose loss or gradient is not finite is skipped (no optimizer update) and logged in
  ``trainer.skipped``.
* **Data parallel**: under ``torch.distributed`` every rank samples its own architectures; gradients are
  averaged with one ``all_reduce`` per step (tested with 2 CPU processes on gloo).
* AMP (bfloat16 autocast) on CUDA, a tqdm progress bar, checkpoints every ``ckpt_every`` steps
  (``torch.save`` of tensors and plain containers only, read back with ``weights_only=True``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from graphhyper.errors import CheckpointError
from graphhyper.ghn.model import GHN, GHNConfig

log = logging.getLogger("graphhyper.ghn.train")


@dataclass
class TrainConfig:
    """Hyper-parameters of :class:`Trainer` (recorded in every checkpoint)."""

    tasks: list[str] = field(default_factory=lambda: ["digits"])
    steps: int = 1000
    meta_batch: int = 4
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-5
    grad_clip: float = 5.0
    warmup: int = 50
    pool_size: int = 512
    seed: int = 0
    ckpt_every: int = 100
    log_every: int = 10
    amp: bool = True
    device: str = "cpu"


class ArchPool:
    """Training architectures of one task: specs sampled up front, networks built and packed on first use."""

    def __init__(self, task, size: int, seed: int, ghn: GHN):
        from graphhyper.ghn.tasks import arch_specs

        self.task, self.ghn = task, ghn
        self.specs = arch_specs(task, "id", size, seed=seed, role="train")
        self._built: dict[int, tuple] = {}

    def get(self, i: int, device) -> tuple:
        """``(network, packed graph)`` of architecture ``i``."""
        if i not in self._built:
            from graphhyper.arch.spaces import darts

            space = getattr(self.task, "space", None) or darts  # transformer tasks carry their own space
            with torch.random.fork_rng(devices=[]):
                net = space.build(self.specs[i]).to(device)
            packed, _ = self.ghn.pack(space.spec_to_graph(self.specs[i]))
            self._built[i] = (net, packed)
        return self._built[i]


def _ce_accuracy(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Cross-entropy and accuracy of class logits ``[B, C]`` against ``y [B]``."""
    return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean().item()


def _dist():
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d, d.get_rank(), d.get_world_size()
    return None, 0, 1


class Trainer:
    """Meta-batch GHN trainer (see the module docstring).

    Args:
        ghn: the model to train (or ``None``: a new :class:`GHN` of ``ghn_config``).
        config: :class:`TrainConfig`.
        out_dir: where ``last.pt`` (resumable checkpoint) and ``history.json`` go; ``None``: no checkpoints.
    """

    def __init__(
        self,
        ghn: GHN | None,
        config: TrainConfig,
        out_dir: str | os.PathLike | None = None,
        ghn_config: GHNConfig | None = None,
    ):
        from graphhyper.ghn.tasks import get_task

        self.config = config
        self.dist, self.rank, self.world = _dist()
        self.device = torch.device(config.device)
        self.ghn = (ghn or GHN(ghn_config)).to(self.device)
        if self.dist is not None:  # every rank starts from rank 0's weights
            for p in self.ghn.parameters():
                self.dist.broadcast(p.data, 0)
        self.out_dir = Path(out_dir) if out_dir else None
        self.opt = torch.optim.AdamW(self.ghn.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self._lr_lambda)
        self.gen = torch.Generator().manual_seed(config.seed * 1000 + self.rank)
        self.tasks = [get_task(t) for t in config.tasks]
        self.pools = [ArchPool(t, config.pool_size, config.seed, self.ghn) for t in self.tasks]
        self.step = 0
        self.history: list[dict] = []
        self.skipped: list[int] = []
        self.train_seconds = 0.0

    def _lr_lambda(self, step: int) -> float:
        c = self.config
        if step < c.warmup:
            return (step + 1) / c.warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))))

    # ------------------------------------------------------------------ one step
    def compute_loss(self, step: int) -> tuple[torch.Tensor, float]:
        """Mean loss over the meta-batch of ``step`` and the mean accuracy on the batch."""
        c = self.config
        ti = step % len(self.tasks)
        task, pool = self.tasks[ti], self.pools[ti]
        arch = torch.randint(0, len(pool.specs), (c.meta_batch,), generator=self.gen).tolist()
        x, y = task.batch(self.gen, c.batch_size)
        x, y = x.to(self.device), y.to(self.device)
        built = [pool.get(i, self.device) for i in arch]
        amp = c.amp and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=amp):
            preds = self.ghn([b[1] for b in built])
            losses, correct = [], 0.0
            for (net, _), params in zip(built, preds):
                net.train()
                logits = torch.func.functional_call(net, params, (x,)).float()
                loss_i, acc_i = getattr(task, "loss_and_accuracy", _ce_accuracy)(logits, y)
                losses.append(loss_i)
                correct += acc_i
        return torch.stack(losses).mean(), correct / len(built)

    def _all_finite(self, loss: torch.Tensor) -> bool:
        ok = bool(torch.isfinite(loss).item()) and all(
            torch.isfinite(p.grad).all().item() for p in self.ghn.parameters() if p.grad is not None
        )
        if self.dist is not None:
            flag = torch.tensor([0.0 if ok else 1.0])
            self.dist.all_reduce(flag)
            ok = flag.item() == 0
        return ok

    def _sync_grads(self) -> None:
        if self.dist is None:
            return
        params = list(self.ghn.parameters())
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        self.dist.all_reduce(flat)
        flat /= self.world
        off = 0
        for p in params:
            n = p.numel()
            p.grad = flat[off : off + n].view_as(p).clone()
            off += n

    def train_step(self) -> dict:
        """One optimisation step (or a logged skip); returns its log record."""
        self.opt.zero_grad(set_to_none=True)
        loss, acc = self.compute_loss(self.step)
        if torch.isfinite(loss):
            loss.backward()
        self._sync_grads()
        rec = {
            "step": self.step,
            "loss": float(loss.item()),
            "acc": acc,
            "task": self.config.tasks[self.step % len(self.tasks)],
        }
        if not self._all_finite(loss):
            self.skipped.append(self.step)
            log.warning("step %d skipped: non-finite loss or gradient (loss=%s)", self.step, rec["loss"])
            self.opt.zero_grad(set_to_none=True)
            rec["skipped"] = True
        else:
            torch.nn.utils.clip_grad_norm_(self.ghn.parameters(), self.config.grad_clip)
            self.opt.step()
        self.sched.step()
        self.step += 1
        return rec

    # ------------------------------------------------------------------ loop
    def fit(self, steps: int | None = None, stop_at: int | None = None, max_seconds: float | None = None) -> list[dict]:
        """Train until ``config.steps`` (or ``stop_at``, to simulate a kill, or until ``max_seconds`` of wall
        time have passed in this call); checkpoints on the way and at the end."""
        from tqdm.auto import tqdm

        end = min(steps or self.config.steps, stop_at if stop_at is not None else 1 << 62)
        bar = tqdm(
            total=end,
            initial=self.step,
            disable=self.rank != 0 or os.environ.get("TQDM_DISABLE") == "1",
            desc="ghn train",
        )
        window: list[dict] = []
        t_start = time.perf_counter()
        while self.step < end:
            if max_seconds is not None and time.perf_counter() - t_start > max_seconds:
                log.warning("time budget of %.0f s reached at step %d", max_seconds, self.step)
                end = self.step
                break
            t0 = time.perf_counter()
            rec = self.train_step()
            self.train_seconds += time.perf_counter() - t0
            window.append(rec)
            bar.update(1)
            if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                ok = [r for r in window if not r.get("skipped")]
                if ok:
                    self.history.append(
                        {
                            "step": self.step,
                            "loss": sum(r["loss"] for r in ok) / len(ok),
                            "acc": sum(r["acc"] for r in ok) / len(ok),
                            "seconds": round(self.train_seconds, 2),
                        }
                    )
                    bar.set_postfix(loss=f"{self.history[-1]['loss']:.3f}", acc=f"{self.history[-1]['acc']:.3f}")
                window = []
            if self.out_dir is not None and (self.step % self.config.ckpt_every == 0 or self.step == end):
                self.save_checkpoint()
        if self.out_dir is not None and self.step == end and self.step % self.config.ckpt_every:
            self.save_checkpoint()
        bar.close()
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {
            "ghn": self.ghn.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "step": self.step,
            "gen": self.gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "skipped": self.skipped,
            "train_seconds": self.train_seconds,
            "train_config": json.dumps(asdict(self.config)),
            "ghn_config": json.dumps(self.ghn.config.to_dict()),
        }

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write the resumable checkpoint atomically (rank 0 only)."""
        if self.rank != 0:
            return None
        if path:
            path = Path(path)
        elif self.out_dir is not None:
            path = self.out_dir / "last.pt"
        else:
            raise CheckpointError("save_checkpoint() needs a path when the trainer has no out_dir.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(self.state(), tmp)
        os.replace(tmp, path)
        (path.parent / "history.json").write_text(json.dumps({"history": self.history, "skipped": self.skipped}))
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore everything :meth:`state` saved; refuses a checkpoint of another GHN config."""
        try:
            st = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a checkpoint problem
            raise CheckpointError(f"Cannot read training checkpoint {path}: {exc}. Delete it to start over.") from exc
        if json.loads(st["ghn_config"]) != self.ghn.config.to_dict():
            raise CheckpointError(
                f"Training checkpoint {path} was made with another GHN config; "
                "resume with the same config or use a new out_dir."
            )
        self.ghn.load_state_dict(st["ghn"])
        self.opt.load_state_dict(st["opt"])
        self.sched.load_state_dict(st["sched"])
        self.step = int(st["step"])
        self.gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        self.history, self.skipped = list(st["history"]), list(st["skipped"])
        self.train_seconds = float(st.get("train_seconds", 0.0))

    def resume_if_possible(self) -> bool:
        """Load ``out_dir/last.pt`` when it exists; returns whether it did."""
        if self.out_dir is not None and (self.out_dir / "last.pt").exists():
            self.load_checkpoint(self.out_dir / "last.pt")
            return True
        return False


def export_trainer(trainer: Trainer, name_or_path: str, command: str) -> Path:
    """Save ``trainer.ghn`` as a hub checkpoint (bundled name or path) with the run's record in its JSON."""
    from graphhyper.ghn import hub

    tail = trainer.history[-10:]
    meta = {
        "command": command,
        "seed": trainer.config.seed,
        "train_config": asdict(trainer.config),
        "steps_done": trainer.step,
        "train_seconds": round(trainer.train_seconds, 1),
        "skipped_steps": list(trainer.skipped),
        "final_train_loss": sum(h["loss"] for h in tail) / max(1, len(tail)),
        "final_train_acc": sum(h["acc"] for h in tail) / max(1, len(tail)),
        "exported_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "torch": torch.__version__,
    }
    target = Path(name_or_path)
    if target.parent == Path(".") and not target.suffix:
        target = hub.PRETRAINED_DIR / name_or_path
    st, _ = hub.save(trainer.ghn, target, meta=meta)
    return st


def run_training(
    train_config: TrainConfig,
    ghn_config: GHNConfig,
    out_dir: str | os.PathLike,
    max_seconds: float | None = None,
    export: str | None = None,
    export_only: bool = False,
    command: str = "",
) -> Trainer:
    """Resume from ``out_dir/last.pt`` when present, train, and optionally export (what the CLI and
    ``scripts/train_ghn.py`` run)."""
    torch.manual_seed(train_config.seed)
    trainer = Trainer(None, train_config, out_dir, ghn_config=ghn_config)
    resumed = trainer.resume_if_possible()
    log.info(
        "%s; GHN has %s parameters",
        f"resumed at step {trainer.step}" if resumed else "new run",
        f"{trainer.ghn.num_parameters():,}",
    )
    if not export_only:
        trainer.fit(max_seconds=max_seconds)
    if export:
        path = export_trainer(trainer, export, command)
        log.info("exported %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return trainer
