"""Train the bundled GHN checkpoint from scratch on this machine (CPU) and export it.

    python scripts/train_ghn.py --out runs/ghn-tiny --steps 3000 --max-minutes 110 --export ghn-tiny

The run is resumable: run the same command again after a kill and it continues from ``OUT/last.pt``.
``--export-only`` bundles the newest checkpoint of ``OUT`` (e.g. while training still runs) into
``graphhyper/ghn/pretrained/NAME.{safetensors,json}`` with the command, seed, steps, wall time and the
training metrics recorded in the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/ghn-tiny", help="run directory (checkpoints, history)")
    p.add_argument("--tasks", default="digits,mnist1d")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--meta-batch", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--pool-size", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-every", type=int, default=50)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--encoder", default="transformer", choices=["transformer", "gatedgnn"])
    p.add_argument("--decoder", default="lowrank", choices=["lowrank", "tiled"])
    p.add_argument("--mip", action="store_true")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and checkpoint) after this wall time")
    p.add_argument("--export", default=None, help="bundle the result as graphhyper/ghn/pretrained/NAME")
    p.add_argument("--export-only", action="store_true", help="only bundle OUT/last.pt, do not train")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def export(trainer, name: str, argv: list[str]) -> Path:
    from graphhyper.ghn import hub

    hist = trainer.history
    tail = hist[-10:] if hist else []
    meta = {
        "command": "python scripts/train_ghn.py " + " ".join(argv),
        "seed": trainer.config.seed,
        "train_config": json.loads(json.dumps(trainer.config.__dict__)),
        "steps_done": trainer.step,
        "train_seconds": round(trainer.train_seconds, 1),
        "skipped_steps": trainer.skipped,
        "final_train_loss": sum(h["loss"] for h in tail) / max(1, len(tail)),
        "final_train_acc": sum(h["acc"] for h in tail) / max(1, len(tail)),
        "exported_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "torch": torch.__version__,
    }
    st, js = hub.save(trainer.ghn, hub.PRETRAINED_DIR / name, meta=meta)
    print(f"exported {st} ({st.stat().st_size / 1e6:.2f} MB) and {js}")
    return st


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from graphhyper.ghn.model import GHNConfig
    from graphhyper.ghn.train import TrainConfig, Trainer

    cfg = TrainConfig(tasks=a.tasks.split(","), steps=a.steps, meta_batch=a.meta_batch, batch_size=a.batch_size,
                      lr=a.lr, warmup=a.warmup, pool_size=a.pool_size, seed=a.seed, ckpt_every=a.ckpt_every,
                      device=a.device)
    gcfg = GHNConfig(hidden=a.hidden, encoder=a.encoder, decoder=a.decoder, mip=a.mip, rank=a.rank)
    torch.manual_seed(a.seed)
    trainer = Trainer(None, cfg, a.out, ghn_config=gcfg)
    resumed = trainer.resume_if_possible()
    print(f"{'resumed at step ' + str(trainer.step) if resumed else 'new run'}; GHN has "
          f"{trainer.ghn.num_parameters():,} parameters", flush=True)
    if not a.export_only:
        trainer.fit(max_seconds=None if a.max_minutes is None else a.max_minutes * 60)
        for h in trainer.history[-5:]:
            print(h)
    if a.export:
        export(trainer, a.export, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
