#!/usr/bin/env python
"""Published GHN-3 weights, two code paths: the reference's own ``ghn(model)`` against graphhyper's ``predict``.

Same process, same weights (the ``ghn3tm8`` configuration built by the reference code with seeded random
weights, its state dict loaded into graphhyper's :class:`~graphhyper.ghn.reference.ReferenceGHN`), interleaved
rounds, medians. Both sides include building the graph (the network itself is built once, untimed): the
reference walks autograd after a forward pass of the model; graphhyper traces on meta tensors and builds the
reference's view from that trace. Also times torchvision's own random init of the same model (the floor: a
prediction cannot be cheaper than allocating the parameters).

Needs the reference code on ``PYTHONPATH`` (never a dependency of graphhyper):

    PYTHONPATH=REF/deps:REF/ppuda:REF/ghn3 python scripts/bench/ghn_reference_speed.py --models resnet50
    PYTHONPATH=... python scripts/bench/ghn_reference_speed.py --all --rounds 1      # all 80 torchvision models
    PYTHONPATH=... python scripts/bench/ghn_reference_speed.py --models "" --gpt2   # GPT-2 small only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import torch
from _common import machine_line

GHN3_TM8 = dict(
    hid=64,
    max_shape=(64, 64, 16, 16),
    num_classes=1000,
    heads=8,
    layers=3,
    is_ghn2=False,
    weight_norm=True,
    ve=True,
    layernorm=True,
)


def build_pair(seed: int = 0):
    """The reference GHN3 and graphhyper's PublishedGHN with identical (seeded random) weights."""
    from ghn3 import GHN3

    from graphhyper.ghn.reference.ghn import PublishedGHN
    from graphhyper.ghn.reference.model import ReferenceGHN

    torch.manual_seed(seed)
    ref = GHN3(**GHN3_TM8, pretrained=True)
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    ref.fix_embed_layers()
    ours = PublishedGHN(ReferenceGHN.from_reference_state_dict(state), "ghn3", "ghn3tm8 (random weights)")
    return ref.eval(), ours.eval()


def _input_shape(name: str) -> tuple[int, ...]:
    return (1, 3, 299, 299) if name.startswith("inception") else (1, 3, 224, 224)


def paths(ref, ours, name: str) -> dict:
    """The three timed calls on one model. The network is built once, outside the timing: both GHNs overwrite its
    parameters (the reference's ``ghn(net)`` builds its graph of ``net`` on every call, ours traces on every call);
    the floor is torchvision building the same network with its random init."""
    import torchvision

    net = torchvision.models.get_model(name)

    def reference():
        with torch.no_grad():
            ref(net)

    def graphhyper():
        ours.apply(net, strict=False, input_shape=_input_shape(name))

    def random_init():
        torchvision.models.get_model(name)

    return {"reference ghn(model)": reference, "graphhyper predict+apply": graphhyper, "torchvision init": random_init}


def gpt2_paths(ref, ours, tokens: int = 16) -> dict:
    """GPT-2 small (Hugging Face ``GPT2LMHeadModel(GPT2Config())``, random init), a ``[1, tokens]`` input.

    The reference's graph builder runs ``model(torch.randn(2, 3, 224, 224))`` unless the model has a ``get_var()``
    returning its output; a GPT-2 takes token ids, so the model gets ``get_var = lambda: model(ids).logits``
    (the same ids our trace is given) and ``ghn(model)`` then builds its graph and writes the parameters. The
    floor is building the model with its own random init."""
    from transformers import GPT2Config, GPT2LMHeadModel

    net = GPT2LMHeadModel(GPT2Config())
    ids = torch.zeros(1, tokens, dtype=torch.long)
    net.get_var = lambda: net(ids).logits

    def reference():
        with torch.no_grad():
            ref(net)

    def graphhyper():
        ours.apply(net, strict=False, example_inputs=(ids,))

    def random_init():
        GPT2LMHeadModel(GPT2Config())

    return {"reference ghn(model)": reference, "graphhyper predict+apply": graphhyper, "torchvision init": random_init}


def time_model(ref, ours, name: str, rounds: int, warm_up: bool = True) -> dict[str, float]:
    fns = gpt2_paths(ref, ours) if name == "gpt2" else paths(ref, ours, name)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values() if warm_up else ():
        fn()
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet50")
    p.add_argument("--all", action="store_true", help="all torchvision classifiers (totals)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip", default="", help="comma list of models to leave out (e.g. vit_h_14 on a 24 GiB machine)")
    p.add_argument("--no-warm-up", action="store_true", help="time first calls too (for --all --rounds 1)")
    p.add_argument(
        "--gpt2", action="store_true", help="also GPT-2 small (Hugging Face, random init; needs transformers), apart"
    )
    a = p.parse_args(argv)
    try:
        import ghn3  # noqa: F401
    except ImportError:
        print("needs the reference code (ghn3 and ppuda) on PYTHONPATH; see the docstring", file=sys.stderr)
        return 2
    import torchvision

    warnings.filterwarnings("ignore")
    torch.set_num_threads(a.threads)
    listed = [n for n in a.models.split(",") if n]
    names = torchvision.models.list_models(module=torchvision.models) if a.all else listed
    names = [n for n in names if n not in set(a.skip.split(","))]
    ref, ours = build_pair()
    print(machine_line())
    total: dict[str, float] = {}
    for name in names:
        med = time_model(ref, ours, name, a.rounds, warm_up=not a.no_warm_up)
        for k, v in med.items():
            total[k] = total.get(k, 0.0) + v
        ratio = med["reference ghn(model)"] / med["graphhyper predict+apply"]
        floor = med["graphhyper predict+apply"] / med["torchvision init"]
        row = "  ".join(f"{k} {v:7.3f} s" for k, v in med.items())
        print(f"{name:22s} {row}  reference/ours {ratio:5.2f}x  ours/init {floor:5.2f}x", flush=True)
    if len(names) > 1:
        ratio = total["reference ghn(model)"] / total["graphhyper predict+apply"]
        print(f"TOTAL over {len(names)} models: " + "  ".join(f"{k} {v:.2f} s" for k, v in total.items()))
        print(f"reference / graphhyper: {ratio:.2f}x")
    if a.gpt2:
        med = time_model(ref, ours, "gpt2", a.rounds, warm_up=not a.no_warm_up)
        row = "  ".join(f"{k.replace('torchvision', 'transformers')} {v:7.3f} s" for k, v in med.items())
        ratio = med["reference ghn(model)"] / med["graphhyper predict+apply"]
        print(f"{'gpt2 (small, 16 tokens)':22s} {row}  reference/ours {ratio:5.2f}x", flush=True)
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
