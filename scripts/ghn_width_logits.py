"""Logit scale of GHN-predicted GPT-style decoders (or ViTs) as the width grows, under each ``weight_scale`` rule.

    python scripts/ghn_width_logits.py --widths 64,128,256,768 [--ghn runs/ghn-pytext-spec2 ...]
    python scripts/ghn_width_logits.py --task digits-vit --widths 32,48,64,96,128 --ghn runs/ghn-vit-digits-spec2

For every width, one pre-LN decoder (``--depth`` blocks, 4 heads -- 12 at width 768 --, MLP 4x, tied head,
vocabulary 256, context 64) is predicted by each GHN under both rules (``"rms"`` and ``"spectral"``: the same
weights, only ``config.weight_scale`` changes; a GHN trained under one rule is only meaningful under that rule) and
by GPT-2's initialisation (seed 0); the table gives the std of the logits on ``--windows`` fixed windows of the
corpus's validation split and the mean cross-entropy per byte there. ``--ghn fresh`` (the default) is an
untrained GHN (seed 0): what the rules do before any training. ``--task digits-vit``: ViTs (patch 2, 3 blocks,
4 heads, MLP 4x) on the digits validation split instead, with the accuracy after the loss.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import _common  # noqa: E402


@torch.no_grad()
def _logits_and_loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    net.eval()
    logits = net(x)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    return float(logits.std()), float(loss)


def _ghns(names: list[str]) -> dict[str, torch.nn.Module]:
    from graphhyper.ghn import GHN, GHNConfig, from_pretrained

    out = {}
    for name in names:
        if name == "fresh":
            torch.manual_seed(0)
            base = GHN(GHNConfig())
        else:
            base = from_pretrained(name)
        for rule in ("rms", "spectral"):
            ghn = copy.deepcopy(base).eval()
            ghn.config.weight_scale = rule
            trained = "" if name == "fresh" else f" (trained: {base.config.weight_scale})"
            out[f"{name} / {rule}{trained}"] = ghn
    return out


def _gpt_rows(args, ghns) -> None:
    from graphhyper.arch.spaces import gpt
    from graphhyper.data.pycorpus import load_pycorpus
    from graphhyper.ghn.transformer_tasks import eval_windows

    x, y = eval_windows(load_pycorpus().split("val"), 64, args.windows)
    for width in [int(w) for w in args.widths.split(",")]:
        spec = gpt.GPTSpec(depth=args.depth, width=width, heads=12 if width % 12 == 0 else 4, vocab=256, context=64)
        torch.manual_seed(0)
        net = gpt.build(spec)
        cells = ["std {:.3f}, loss {:.2f}".format(*_logits_and_loss(net, x, y))]
        for ghn in ghns.values():
            with torch.no_grad():
                ghn.apply(net, example_inputs=x[:1])
            cells.append("std {:.3f}, loss {:.2f}".format(*_logits_and_loss(net, x, y)))
        print(f"| {width} | " + " | ".join(cells) + " |", flush=True)


def _vit_rows(args, ghns) -> None:
    from graphhyper.ghn.transformer_tasks import load_task

    task = load_task(args.task)
    x, y = task.split("val")

    def cell(net) -> str:
        std, loss = _logits_and_loss(net, x, y)
        with torch.no_grad():
            acc = float((net(x).argmax(-1) == y).float().mean())
        return f"std {std:.2f}, loss {loss:.2f}, acc {acc:.2f}"

    for width in [int(w) for w in args.widths.split(",")]:
        spec = task.space.ViTSpec(patch=2, depth=args.depth, width=width, heads=4, mlp_ratio=4)
        torch.manual_seed(0)
        net = task.space.build(spec)
        cells = [cell(net)]
        for ghn in ghns.values():
            with torch.no_grad():
                ghn.apply(net, example_inputs=x[:1])
            cells.append(cell(net))
        print(f"| {width} | " + " | ".join(cells) + " |", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="pytext", choices=["pytext", "digits-vit"])
    p.add_argument("--widths", default="64,128,256,768")
    p.add_argument("--depth", type=int, default=None, help="blocks (default: 4 for pytext, 3 for digits-vit)")
    p.add_argument("--ghn", default="fresh", help="comma-separated GHN checkpoints, or 'fresh'")
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    args.depth = args.depth or (4 if args.task == "pytext" else 3)
    torch.set_num_threads(args.threads)
    print(_common.machine_line())
    ghns = _ghns(args.ghn.split(","))
    print(f"| width | {'GPT-2' if args.task == 'pytext' else 'random'} init | " + " | ".join(ghns) + " |")
    print("|---" * (len(ghns) + 2) + "|")
    (_gpt_rows if args.task == "pytext" else _vit_rows)(args, ghns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
