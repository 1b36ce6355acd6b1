"""Which parts of a GHN's prediction help or hurt training from it: parameter groups swapped in and out.

    python scripts/ghn_init_parts.py --ghn ghn-pytext-lowrank --task pytext --split wide --archs 3 \
        --variants "random;ghn;only:tok;only:qkv;only:ln,ln1,ln2;mix:0.25:ln"

For each of ``--archs`` held-out architectures (``--role val`` draws by default: for choosing, never the reported
test draws) one network is built from seed 0 (its random initialisation) and every variant is trained with the
paired evaluation's AdamW budget (``StepBudget``: lr 1e-3, 10 warm-up steps, batch 32, the same batches) and scored
on the validation data at every k of ``--ks``. Variants:

- ``random``: the space's own initialisation; ``ghn``: every predicted parameter.
- ``only:A,B``: the predicted parameters whose module type (the name before the last dot: ``qkv``, ``proj``, ``fc``,
  ``out``, ``ln1``, ...; or a top-level name: ``tok``, ``pos``, ``head``, ``ln``) is listed; the rest random.
  ``except:A,B``: every predicted parameter but those.
- ``mix:L[:ln]``: weights and embeddings ``theta_random + L * theta_ghn``; vectors (norm gains and biases, linear
  biases) predicted, or with ``:ln`` only the norm layers' predicted and the other vectors random.
- ``blend:L``: weights and embeddings ``L * theta_ghn + (1 - L) * theta_random`` (shrink and perturb); vectors
  predicted.
- ``complete:E[:B]``: spectral completion of every predicted matrix (the ``[out, in*k]`` view; not the position
  table): the top singular directions of the prediction holding a fraction ``E`` of its energy are kept exactly,
  and ``B`` (default 1) times the random initialisation projected off them (left and right) is added, so the
  predicted directions are untouched and the rest of the spectrum is the random init's. Vectors predicted.

``--lr`` changes the AdamW learning rate of every variant (default: the paired evaluation's 1e-3).

Prints one line per architecture and variant, then the means over the architectures, with the machine line.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import _common  # noqa: E402


def _module_type(name: str) -> str:
    parts = name.split(".")
    return parts[-2] if len(parts) >= 2 else parts[0]


def _is_norm(name: str) -> bool:
    return _module_type(name).startswith("ln") or "norm" in name


def variant_state(variant: str, pred: dict, rand: dict) -> dict:
    """The state dict a variant loads on top of the random initialisation ``rand`` (see the module docstring)."""
    if variant == "random":
        return {}
    if variant == "ghn":
        return dict(pred)
    kind, _, rest = variant.partition(":")
    if kind in ("only", "except"):
        names = set(rest.split(","))
        hit = {k: v for k, v in pred.items() if _module_type(k) in names or k.split(".")[0] in names}
        return hit if kind == "only" else {k: v for k, v in pred.items() if k not in hit}
    if kind == "mix":
        lam_text, _, which = rest.partition(":")
        lam = float(lam_text)
        out = {}
        for k, v in pred.items():
            if v.dim() >= 2:
                out[k] = rand[k] + lam * v
            elif which != "ln" or _is_norm(k):
                out[k] = v
        return out
    if kind == "blend":
        lam = float(rest)
        return {k: lam * v + (1 - lam) * rand[k] if v.dim() >= 2 else v for k, v in pred.items()}
    if kind == "complete":
        energy_text, _, beta_text = rest.partition(":")
        energy, beta = float(energy_text), float(beta_text or 1.0)
        return {
            k: complete_spectrum(v, rand[k], energy, beta) if v.dim() >= 2 and v.shape[0] > 1 else v
            for k, v in pred.items()
        }
    raise SystemExit(
        f"unknown variant {variant!r}: use random, ghn, only:A,B, except:A,B, mix:L[:ln], blend:L or complete:E[:B]"
    )


def complete_spectrum(pred: torch.Tensor, rand: torch.Tensor, energy: float, beta: float = 1.0) -> torch.Tensor:
    """``pred`` plus ``beta`` times ``rand`` projected off the top singular directions of ``pred`` that hold a
    fraction ``energy`` of its squared Frobenius norm (both as ``[out, in*k]`` matrices)."""
    mat, noise = pred.reshape(pred.shape[0], -1).float(), rand.reshape(rand.shape[0], -1).float()
    u, s, vh = torch.linalg.svd(mat, full_matrices=False)
    share = torch.cumsum(s**2, 0) / (s**2).sum().clamp_min(1e-30)
    top = int((share < energy).sum()) + 1
    uk, vk = u[:, :top], vh[:top].T
    noise = noise - uk @ (uk.T @ noise)
    noise = noise - (noise @ vk) @ vk.T
    return (mat + beta * noise).reshape(pred.shape).to(pred.dtype)


def main(argv: list[str] | None = None) -> int:
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.tasks import arch_specs, get_task
    from graphhyper.ghn.transformer_eval import StepBudget, _build, train_and_track

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ghn", required=True)
    p.add_argument("--task", default="pytext", choices=["pytext", "digits-vit", "mnist1d-vit"])
    p.add_argument("--split", default="wide")
    p.add_argument("--role", default="val", choices=["val", "test"])
    p.add_argument("--archs", type=int, default=3)
    p.add_argument("--ks", default="0,100")
    p.add_argument("--variants", default="random;ghn")
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task, ks = get_task(args.task), [int(k) for k in args.ks.split(",")]
    ghn = from_pretrained(args.ghn).eval()
    variants = args.variants.split(";")
    sums = {v: {k: [0.0, 0.0] for k in ks} for v in variants}
    specs = arch_specs(task, args.split, args.archs, role=args.role)
    print(_common.machine_line(), flush=True)
    for ai, spec in enumerate(specs):
        with torch.no_grad():
            pred = {k: v.detach() for k, v in ghn.predict(task.space.spec_to_graph(spec)).items()}
        base = _build(task.space, spec, 0)
        for v in variants:
            net = copy.deepcopy(base)
            net.load_state_dict(variant_state(v, pred, base.state_dict()), strict=False)
            track = train_and_track(net, task, ks, StepBudget(lr=args.lr), seed=0)
            for k in ks:
                sums[v][k][0] += track[k]["loss"] / len(specs)
                sums[v][k][1] += track[k]["acc"] / len(specs)
            print(ai, f"{v:<24}", {k: (round(m["loss"], 3), round(m["acc"], 3)) for k, m in track.items()}, flush=True)
    print(f"mean over {len(specs)} {args.role} architectures ({args.split}, seed 0):")
    for v, per_k in sums.items():
        print(f"  {v:<24}", "  ".join(f"k={k} loss {a:.3f} acc {b:.3f}" for k, (a, b) in per_k.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
