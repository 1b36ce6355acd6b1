r"""Meta-batch training of a GHN.

Each step picks a task (round robin over ``config.tasks``), samples ``meta_batch`` architectures of its training
pool and one data batch, predicts all their parameters in one GHN pass, runs every network on the *same* batch
through ``torch.func.functional_call`` and averages the cross-entropy losses.

* **Exact resume**: every random draw comes from one ``torch.Generator`` whose state is checkpointed with the
  GHN, the optimizer, the LR schedule and the step; a run killed and resumed ends with bit-identical weights.
* **NaN/inf guard**: a step whose loss or gradient is not finite is skipped (no optimizer update) and logged in
  ``trainer.skipped``; under ``torch.distributed`` all ranks skip it together.
* **Data parallel** (``torchrun --nproc-per-node N -m graphhyper.ghn.train ...``): the GHN is wrapped in
  :class:`torch.nn.parallel.DistributedDataParallel` (gloo on CPU, NCCL on CUDA). Every rank draws the same global
  meta-batch of ``M`` architectures and the same data batch from the shared generator and takes its contiguous
  slice of the architectures; rank ``r`` minimises :math:`L_r = \frac{W}{M}\sum_{i \in S_r} \ell_i`, so DDP's
  average of the ``W`` ranks' gradients is :math:`\frac{1}{M}\sum_{i=1}^{M} \nabla\ell_i`, the single-process
  gradient of the same global meta-batch. Rank 0 writes the checkpoints; every rank resumes from them.
* AMP (bfloat16 autocast) on CUDA, a tqdm progress bar, checkpoints every ``ckpt_every`` steps
  (``torch.save`` of tensors and plain containers only, read back with ``weights_only=True``).
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from graphhyper._files import atomic_target
from graphhyper.errors import CheckpointError, InvalidInputError
from graphhyper.ghn.model import GHN, GHNConfig, legacy_mip_error

__all__ = [
    "ArchPool",
    "TrainConfig",
    "Trainer",
    "distributed",
    "export_trainer",
    "main",
    "run_training",
    "shard",
]

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
    #: Architecture splits of each task's training pool and their shares, e.g. ``{"id": 0.5, "bn_free": 0.5}``
    #: (DeepNets-1M's training set holds BN-free networks too); shares are normalised to sum to 1.
    pool_mix: dict[str, float] = field(default_factory=lambda: {"id": 1.0})
    #: Bundled name or path of a GHN to start from (fine-tuning); ``None`` trains from scratch.
    init_from: str | None = None


def pool_counts(size: int, mix: dict[str, float]) -> dict[str, int]:
    """Split ``size`` architectures over the splits of ``mix`` in proportion to their shares (largest remainder).

    >>> pool_counts(512, {"id": 0.5, "bn_free": 0.5})
    {'id': 256, 'bn_free': 256}
    """
    from graphhyper.ghn.tasks import ARCH_SPLITS

    bad = {k: v for k, v in mix.items() if k not in ARCH_SPLITS or not isinstance(v, (int, float)) or v < 0}
    total = sum(v for k, v in mix.items() if k not in bad)
    if bad or not mix or total <= 0:
        raise InvalidInputError(
            f"pool_mix {mix!r}: give non-negative shares of architecture splits {ARCH_SPLITS} with a positive sum, "
            "e.g. {'id': 0.5, 'bn_free': 0.5}."
        )
    exact = {k: size * v / total for k, v in mix.items()}
    counts = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[: size - sum(counts.values())]:
        counts[k] += 1
    return counts


class ArchPool:
    """Training architectures of one task: specs sampled up front (``mix``: shares of architecture splits, see
    :func:`pool_counts`), networks built and packed on first use."""

    def __init__(self, task, size: int, seed: int, ghn: GHN, mix: dict[str, float] | None = None):
        from graphhyper.ghn.tasks import arch_specs

        self.task, self.ghn = task, ghn
        self.specs = [
            spec
            for split, n in pool_counts(size, mix or {"id": 1.0}).items()
            for spec in arch_specs(task, split, n, seed=seed, role="train")
        ]
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


def shard(n: int, rank: int, world: int) -> slice:
    """Rank ``rank``'s contiguous slice of ``n`` items split over ``world`` ranks (sizes differ by at most one)."""
    return slice(rank * n // world, (rank + 1) * n // world)


def _check_world(meta_batch: int, world: int) -> None:
    if meta_batch < world:
        raise InvalidInputError(
            f"meta_batch={meta_batch} is smaller than the {world} processes: every rank needs at least one "
            f"architecture per step. Use --meta-batch {world} or more, or fewer processes."
        )


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
        _check_world(config.meta_batch, self.world)
        self.device = torch.device(config.device)
        self.ghn = (ghn or GHN(ghn_config)).to(self.device)
        self.model = self._wrap(self.ghn)
        self.out_dir = Path(out_dir) if out_dir else None
        self.opt = torch.optim.AdamW(self.ghn.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self._lr_lambda)
        self.gen = torch.Generator().manual_seed(config.seed * 1000)  # the same on every rank
        self.tasks = [get_task(t) for t in config.tasks]
        self.pools = [ArchPool(t, config.pool_size, config.seed, self.ghn, config.pool_mix) for t in self.tasks]
        self.step = 0
        self.history: list[dict] = []
        self.skipped: list[int] = []
        self.train_seconds = 0.0

    def _wrap(self, ghn: GHN) -> torch.nn.Module:
        """The GHN itself, or under ``torch.distributed`` the GHN in ``DistributedDataParallel``.

        DDP broadcasts rank 0's weights at construction and averages gradients in backward.
        ``find_unused_parameters=True``: a rank's shard may leave a parameter without gradient (e.g. a decoder
        path no architecture of that shard needs); DDP then reduces zeros for it on that rank, and leaves the
        gradient ``None`` when no rank used it, as a single process would.
        """
        if self.dist is None:
            return ghn
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device] if self.device.type == "cuda" else None
        return DistributedDataParallel(ghn, device_ids=ids, find_unused_parameters=True)

    def _lr_lambda(self, step: int) -> float:
        c = self.config
        if step < c.warmup:
            return (step + 1) / c.warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))))

    # ------------------------------------------------------------------ one step
    def compute_loss(self, step: int) -> tuple[torch.Tensor, float]:
        r"""This rank's loss term and its number of correct predictions (summed over its architectures).

        The global meta-batch (``M`` architectures) and the data batch of ``step`` are drawn from the shared
        generator, identically on every rank; this rank runs its :func:`shard` :math:`S_r` of the architectures
        and returns :math:`L_r = \sum_{i \in S_r} \ell_i / (M / W)` (the mean over the meta-batch when
        ``W = 1``) and :math:`\sum_{i \in S_r} \mathrm{acc}_i`.
        """
        c = self.config
        ti = step % len(self.tasks)
        task, pool = self.tasks[ti], self.pools[ti]
        arch = torch.randint(0, len(pool.specs), (c.meta_batch,), generator=self.gen).tolist()
        x, y = task.batch(self.gen, c.batch_size)
        x, y = x.to(self.device), y.to(self.device)
        built = [pool.get(i, self.device) for i in arch[shard(c.meta_batch, self.rank, self.world)]]
        amp = c.amp and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=amp):
            preds = self.model([b[1] for b in built])
            losses, correct = [], 0.0
            for (net, _), params in zip(built, preds):
                net.train()
                logits = torch.func.functional_call(net, params, (x,)).float()
                loss_i, acc_i = getattr(task, "loss_and_accuracy", _ce_accuracy)(logits, y)
                losses.append(loss_i)
                correct += acc_i
        return torch.stack(losses).sum() / (c.meta_batch / self.world), correct

    def _global_stats(self, loss: torch.Tensor, correct: float) -> tuple[float, float, bool]:
        """Mean loss and accuracy over the global meta-batch, and whether every rank's loss is finite
        (one ``all_reduce`` of three numbers under ``torch.distributed``, so all ranks decide alike)."""
        m = self.config.meta_batch
        finite = bool(torch.isfinite(loss).item())
        stats = torch.tensor(
            [float(loss.detach()) * m / self.world, correct, 0.0 if finite else 1.0],
            dtype=torch.float64,
            device=self.device,
        )
        if self.dist is not None:
            self.dist.all_reduce(stats)
        return float(stats[0]) / m, float(stats[1]) / m, bool(stats[2] == 0)

    def _grads_finite(self) -> bool:
        """After DDP's all-reduce every rank holds the same averaged gradients, so this agrees across ranks."""
        return all(torch.isfinite(p.grad).all().item() for p in self.ghn.parameters() if p.grad is not None)

    def train_step(self) -> dict:
        """One optimisation step (or a logged skip, taken by all ranks together); returns its log record."""
        self.opt.zero_grad(set_to_none=True)
        loss, correct = self.compute_loss(self.step)
        mean_loss, acc, finite = self._global_stats(loss, correct)
        if finite:  # all ranks or none: DDP's backward is a collective
            loss.backward()
        rec = {
            "step": self.step,
            "loss": mean_loss,
            "acc": acc,
            "task": self.config.tasks[self.step % len(self.tasks)],
        }
        if not (finite and self._grads_finite()):
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
            if max_seconds is not None and self._out_of_time(time.perf_counter() - t_start > max_seconds):
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

    def _out_of_time(self, local: bool) -> bool:
        """Whether any rank has used up its time budget: all ranks stop at the same step (one that stopped alone
        would leave the others waiting in the next all-reduce)."""
        if self.dist is None:
            return local
        flag = torch.tensor([1.0 if local else 0.0], device=self.device)
        self.dist.all_reduce(flag, op=self.dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

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
            "world_size": self.world,
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
        with atomic_target(path) as tmp:
            torch.save(self.state(), tmp)
        (path.parent / "history.json").write_text(json.dumps({"history": self.history, "skipped": self.skipped}))
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore everything :meth:`state` saved; refuses a checkpoint of another GHN config."""
        try:
            st = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a checkpoint problem
            raise CheckpointError(f"Cannot read training checkpoint {path}: {exc}. Delete it to start over.") from exc
        saved, current = GHNConfig.from_dict(json.loads(st["ghn_config"])).to_dict(), self.ghn.config.to_dict()
        if saved != current:
            diff = ", ".join(f"{k}={saved[k]!r} (now {current[k]!r})" for k in sorted(saved) if saved[k] != current[k])
            raise CheckpointError(
                f"Training checkpoint {path} was made with another GHN config ({diff[:300]}); "
                "resume with the same config (e.g. --weight-scale rms for a run started before that option) "
                "or use a new out_dir."
            )
        legacy = legacy_mip_error(self.ghn.config, st["ghn"], f"Training checkpoint {path}")
        if legacy is not None:
            raise legacy
        self.ghn.load_state_dict(st["ghn"])
        self.opt.load_state_dict(st["opt"])
        self.sched.load_state_dict(st["sched"])
        self.step = int(st["step"])
        self.gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        self.history, self.skipped = list(st["history"]), list(st["skipped"])
        self.train_seconds = float(st.get("train_seconds", 0.0))
        saved_world = int(st.get("world_size", 1))
        if saved_world != self.world:
            log.warning(
                "checkpoint %s was written by a run of %d process(es), resumed with %d: the global meta-batch is "
                "the same, so training continues the same run up to float rounding, not bit for bit",
                path,
                saved_world,
                self.world,
            )

    def resume_if_possible(self) -> bool:
        """Load ``out_dir/last.pt`` when it exists; returns whether it did."""
        if self.out_dir is not None and (self.out_dir / "last.pt").exists():
            self.load_checkpoint(self.out_dir / "last.pt")
            return True
        return False


def export_trainer(trainer: Trainer, name_or_path: str, command: str, dtype: str = "float32") -> Path:
    """Save ``trainer.ghn`` as a hub checkpoint (bundled name or path) with the run's record in its JSON, its
    float tensors stored as ``dtype`` (:func:`graphhyper.ghn.hub.save`)."""
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
        "world_size": trainer.world,
        "exported_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "torch": torch.__version__,
    }
    target = Path(name_or_path)
    if target.parent == Path(".") and not target.suffix:
        target = hub.PRETRAINED_DIR / name_or_path
    st, _ = hub.save(trainer.ghn, target, meta=meta, dtype=dtype)
    return st


def run_training(
    train_config: TrainConfig,
    ghn_config: GHNConfig,
    out_dir: str | os.PathLike,
    max_seconds: float | None = None,
    export: str | None = None,
    export_only: bool = False,
    command: str = "",
    export_dtype: str = "float32",
) -> Trainer:
    """Resume from ``out_dir/last.pt`` when present, train, and optionally export (what the CLI and
    ``scripts/train_ghn.py`` run). Under ``torchrun`` it joins the process group first (:func:`distributed`);
    rank 0 writes the checkpoints and the export. With ``train_config.init_from`` a new run starts from that GHN's
    weights (its config replaces ``ghn_config``); a resumed run continues from its own checkpoint."""
    with distributed(train_config.device) as device:
        train_config = replace(train_config, device=device)
        torch.manual_seed(train_config.seed)
        trainer = Trainer(_init_from(train_config), train_config, out_dir, ghn_config=ghn_config)
        resumed = trainer.resume_if_possible()
        log.info(
            "%s; GHN has %s parameters; %d process(es)",
            f"resumed at step {trainer.step}" if resumed else "new run",
            f"{trainer.ghn.num_parameters():,}",
            trainer.world,
        )
        if not export_only:
            trainer.fit(max_seconds=max_seconds)
        if export and trainer.rank == 0:
            path = export_trainer(trainer, export, command, dtype=export_dtype)
            log.info("exported %s (%.2f MB)", path, path.stat().st_size / 1e6)
        return trainer


def _init_from(train_config: TrainConfig) -> GHN | None:
    """The GHN that ``train_config.init_from`` names, in training mode (``None`` when unset)."""
    if not train_config.init_from:
        return None
    from graphhyper.ghn.hub import from_pretrained

    start = from_pretrained(train_config.init_from)
    if not isinstance(start, GHN):
        raise InvalidInputError(
            f"init_from={train_config.init_from!r} is a published GHN-2/3 checkpoint; fine-tuning starts from "
            "a graphhyper GHN (a bundled name such as 'ghn-tiny-tiled' or a path saved by ghn.hub.save)."
        )
    return start.train()


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(
            f"Environment variable {name}={text!r} is not an integer; launch with torchrun, which sets it, "
            f"or unset it for a single-process run."
        ) from None


@contextmanager
def distributed(device: str) -> Iterator[str]:
    """Join the process group that ``torchrun`` describes, for the duration of the ``with`` block.

    With ``WORLD_SIZE`` > 1 in the environment (``torchrun`` sets it, with ``RANK``, ``LOCAL_RANK``,
    ``MASTER_ADDR`` and ``MASTER_PORT``) and no process group yet, it calls ``init_process_group`` with NCCL
    when ``device`` is CUDA (each process then uses ``cuda:LOCAL_RANK``) and gloo on CPU, and destroys the group
    at the end. Otherwise (a single process, or a group the caller made) it changes nothing.

    Yields:
        the device this process trains on.
    """
    world = _env_int("WORLD_SIZE", 1)
    dist = torch.distributed
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        yield device
        return
    if not dist.is_available():
        raise InvalidInputError(
            f"WORLD_SIZE={world} asks for distributed training, but this torch build has no torch.distributed; "
            "install a torch with it or run a single process."
        )
    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise InvalidInputError(
            f"WORLD_SIZE={world} asks for distributed training, but {', '.join(missing)} is not set; launch with "
            "torchrun (or graphhyper ghn train --nproc-per-node N), which sets them, or unset WORLD_SIZE."
        )
    cuda = torch.device(device).type == "cuda"
    if cuda:
        device = f"cuda:{_env_int('LOCAL_RANK', 0)}"
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield device
        gc.collect()  # free the dropped DDP wrapper before teardown (see hypergraph.minibatch.distributed)
        dist.barrier()  # every rank done before any tears the group down (a peer mid-teardown aborts)
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    """``python -m graphhyper.ghn.train ARGS``, also as ``torchrun --nproc-per-node N -m graphhyper.ghn.train
    ARGS``: the same options and behaviour as ``graphhyper ghn train ARGS``. An entry-point shim: it hands its
    arguments to that command, so there is one parser; importing this module does not import the CLI."""
    from graphhyper.cli import main as cli_main

    return cli_main(["ghn", "train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
