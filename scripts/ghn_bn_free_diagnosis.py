"""Why a GHN trained on BN networks fails on BN-free ones: the numbers behind docs/ghn.md "Five splits and BN-FREE".

    python scripts/ghn_bn_free_diagnosis.py --ckpt ghn-tiny-tiled --task digits --n-archs 6

On validation BN-FREE architectures (validation data), per architecture and as means:

* accuracy of the predicted parameters without BN, and of the same architecture *with* BN (its "BN twin");
* the same predictions with the learned gain set to 1 (pure He scale), and after an LSUV-style rescaling of every
  conv / linear to unit output RMS on four training batches (per layer, per output channel);
* activation std after the stem, each cell and at the logits (predicted, PyTorch default init, He init);
* per-layer amplification rms(W x) / rms(x) of predicted vs He-random weights on the same inputs;
* 100 SGD steps from PyTorch's default init and from He init.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import statistics
from unittest import mock

import torch
from torch import nn

LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


def _loaded(net, pred):
    net = copy.deepcopy(net)
    net.load_state_dict({k: v.detach() for k, v in pred.items()}, strict=False)
    return net


@torch.no_grad()
def _stage_stds(net, x) -> list[float]:
    """Std of the output of the stem, every cell and the head (logits)."""
    stds: list[float] = []
    stages = [net.stem, *net.cells, net.head]
    hooks = [m.register_forward_hook(lambda m, i, o: stds.append(o.float().std().item())) for m in stages]
    net(x)
    for h in hooks:
        h.remove()
    return stds


@torch.no_grad()
def _lsuv(net, x, per_channel: bool):
    """In forward order, scale every conv / linear but the classifier so its output has unit RMS on ``x``."""
    for m in [m for m in net.modules() if isinstance(m, LAYERS)][:-1]:
        out: list[torch.Tensor] = []
        h = m.register_forward_hook(lambda mod, i, o, out=out: out.append(o))
        net(x)
        h.remove()
        if not out:  # a layer the forward pass never reaches
            continue
        dims = [d for d in range(out[0].dim()) if d != 1 or not per_channel]
        s = 1.0 / out[0].pow(2).mean(dims).sqrt().clamp_min(1e-6)
        m.weight.mul_(s.view(-1, *([1] * (m.weight.dim() - 1))) if per_channel else s)
    return net


@torch.no_grad()
def _amplification(net, he, x) -> list[tuple[float, float]]:
    """``(predicted, He)`` rms(W x) / rms(x) of every dense conv / linear, both on the predicted net's inputs."""
    rec: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    he_mods = dict(he.named_modules())
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: rec.append((n, i[0], o)))
        for n, m in net.named_modules()
        if isinstance(m, LAYERS) and getattr(m, "groups", 1) == 1
    ]
    net(x)
    for h in hooks:
        h.remove()

    def rms(t):
        return t.pow(2).mean().sqrt().clamp_min(1e-12)

    return [(float(rms(o) / rms(i)), float(rms(he_mods[n](i)) / rms(i))) for n, i, o in rec]


def _gain_one(role, fan_in, gain):
    scale = torch.ones_like(gain)
    return scale * torch.sqrt(2.0 / fan_in.to(gain.dtype)) if role == "weight" else scale


def one_arch(ghn, task, spec, i: int, x) -> dict:
    from graphhyper.arch.spaces import darts
    from graphhyper.ghn import decoders
    from graphhyper.ghn.evaluate import SGDBudget, _bn_batches, accuracy, build_net, he_init, sgd_train

    net = build_net(spec, i)
    twin = dataclasses.replace(spec, norm="bn")
    with torch.no_grad():
        pred = ghn.predict(darts.spec_to_graph(spec))
        twin_pred = ghn.predict(darts.spec_to_graph(twin))
        with mock.patch.object(decoders, "_weight_scale", _gain_one):
            pred_g1 = ghn.predict(darts.spec_to_graph(spec))
    xb = torch.cat(_bn_batches(task))
    he = he_init(copy.deepcopy(net), seed=i)
    amp = _amplification(_loaded(net, pred), he, x)
    return {
        "ghn": accuracy(copy.deepcopy(net), task, pred, split="val"),
        "ghn_bn_twin": accuracy(build_net(twin, i), task, twin_pred, split="val"),
        "ghn_gain_1": accuracy(copy.deepcopy(net), task, pred_g1, split="val"),
        "ghn_lsuv_layer": accuracy(_lsuv(_loaded(net, pred), xb, False), task, split="val"),
        "ghn_lsuv_channel": accuracy(_lsuv(_loaded(net, pred), xb, True), task, split="val"),
        "sgd_default_init": accuracy(sgd_train(copy.deepcopy(net), task, SGDBudget(), seed=i), task, split="val"),
        "sgd_he_init": accuracy(sgd_train(copy.deepcopy(he), task, SGDBudget(), seed=i), task, split="val"),
        "std_ghn": _stage_stds(_loaded(net, pred), x),
        "std_default": _stage_stds(net, x),
        "std_he": _stage_stds(he, x),
        "amp": amp,
    }


@torch.no_grad()
def _gains(ghn, spec) -> torch.Tensor:
    """The learned gains of every tensor the GHN predicts for ``spec`` (the factor on He's scale)."""
    from graphhyper.arch.spaces import darts

    gains: list[torch.Tensor] = []
    hook = ghn.gain.register_forward_hook(lambda m, i, o: gains.append((0.5 + 1.5 * torch.sigmoid(o)).flatten()))
    ghn.predict(darts.spec_to_graph(spec))
    hook.remove()
    return torch.cat(gains)


def main(argv=None) -> int:
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.tasks import arch_specs, get_task

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", default="ghn-tiny-tiled")
    p.add_argument("--task", default="digits")
    p.add_argument("--n-archs", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ghn, task = from_pretrained(args.ckpt), get_task(args.task)
    x = task.x_val[:256]
    specs = arch_specs(task, "bn_free", args.n_archs, role="val")
    g = _gains(ghn, specs[0])
    rows = []
    for i, spec in enumerate(specs):
        r = one_arch(ghn, task, spec, i, x)
        rows.append(r)
        print(f"arch {i} ({spec.num_cells} cells, width {spec.width}, {spec.num_nodes} nodes):")
        for k in ("std_ghn", "std_default", "std_he"):
            print(f"  {k:12s} stem, cells, logits: {[f'{s:.3g}' for s in r[k]]}")
        print("  " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in r.items() if isinstance(v, float)), flush=True)
    print(f"\nlearned gain (0.5 + 1.5 sigmoid) on arch 0: mean {g.mean():.2f}, min {g.min():.2f}, max {g.max():.2f}")
    amp = [a for r in rows for a in r["amp"]]
    geo = math.exp(statistics.mean(math.log(a / b) for a, b in amp))
    print(f"predicted / He-random amplification per layer (geometric mean over {len(amp)} layers): {geo:.2f}")
    for k, v in rows[0].items():
        if isinstance(v, float):
            print(f"mean {k}: {100 * statistics.mean(r[k] for r in rows):.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
