"""Stable rank and size of the matrices a transformer GHN predicts, against the space's random init of the same network.

    python scripts/ghn_stable_rank.py --ghn ghn-vit-mnist1d-lowrank --task mnist1d-vit --splits id,wide

For the first validation architecture (``role="val"``, seed 0) of each split, every parameter with at least two
dimensions, viewed as ``[fan_out, prod(rest)]``, is printed with its stable rank ``||W||_F^2 / sigma_max(W)^2`` (1 for
a rank-one matrix, up to ``min(shape)``) for the GHN's prediction and for the random init, and the ratio of their
Frobenius norms. It reads validation architectures only, so it may guide choices.
"""

from __future__ import annotations

import argparse

import torch


def stable_rank(w: torch.Tensor) -> float:
    """``||W||_F^2 / ||W||_2^2`` of ``w`` viewed as ``[w.shape[0], -1]``."""
    m = w.reshape(w.shape[0], -1).double()
    return float(m.norm() ** 2 / torch.linalg.matrix_norm(m, ord=2) ** 2)


def report(ghn_name: str, task_name: str, split: str) -> list[str]:
    """One line per matrix of the first validation architecture of ``split``: shape, stable ranks, norm ratio."""
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.tasks import arch_specs, get_task

    task = get_task(task_name)
    spec = arch_specs(task, split, n=1, seed=0, role="val")[0]
    torch.manual_seed(0)
    net = task.space.build(spec)
    with torch.no_grad():
        pred = from_pretrained(ghn_name).eval().predict(task.space.spec_to_graph(spec))
    lines = [f"{split}: {spec}"]
    for name, p in net.named_parameters():
        if p.dim() < 2 or p.shape[0] == 1 or name not in pred:  # position tables [1, T, d] are added, not applied
            continue
        w, r = pred[name].detach(), p.detach()
        lines.append(
            f"  {name:28s} {str(tuple(p.shape)):14s} stable rank GHN {stable_rank(w):6.2f} random {stable_rank(r):6.2f}"
            f"  ||W||_F GHN / random {float(w.norm() / r.norm()):.2f}"
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", default="ghn-vit-mnist1d-lowrank", help="GHN checkpoint (path or bundled name)")
    p.add_argument("--task", default="mnist1d-vit", choices=["pytext", "digits-vit", "mnist1d-vit"])
    p.add_argument("--splits", default="id,wide,deep")
    args = p.parse_args()
    torch.set_num_threads(1)
    for split in args.splits.split(","):
        print("\n".join(report(args.ghn, args.task, split.strip())))


if __name__ == "__main__":
    main()
