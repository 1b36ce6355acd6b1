"""Which parameters a published GHN predicts: the published code, graphhyper as it (``fill="reference"``), and
graphhyper with ``fill="all"`` (the parameters the published code leaves at init, decoded from a host node).

    python scripts/ghn_coverage.py --suite torchvision,timm,hf --out docs/bench/ghn_coverage.md
    PYTHONPATH=$PWD:/work/ref/deps:/work/ref/facebookresearch+ppuda:/work/ref/SamsungSAILMontreal+ghn3 \\
        python scripts/ghn_coverage.py --suite torchvision,timm,hf --reference    # adds the published code's column

Coverage depends on the architecture and the GHN family, not on the weights: the GHN-3-T configuration with
seeded random weights is used. The published code's column runs ghn3's own ``GHN3(model, Graph(model))`` on a
copy of the model whose parameters are NaN and counts the tensors it set (as scripts/oracle_ghn_reference.py
does); a model it cannot take is listed with its error. Suites: the 80 torchvision classifiers, a set of timm
families (needs ``timm``), two small Hugging Face models (GPT-2, BERT).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torchvision

from graphhyper.ghn.reference.ghn import PublishedGHN
from graphhyper.ghn.reference.model import ReferenceGHN

TIMM = [
    "resnet18", "efficientnet_b0", "convnext_atto", "vit_tiny_patch16_224", "deit_tiny_patch16_224",
    "swin_tiny_patch4_window7_224", "regnety_002", "mobilevit_xxs", "levit_128s", "poolformer_s12",
    "coatnet_0_rw_224", "eva02_tiny_patch14_224", "mixer_b16_224", "cait_xxs24_224", "beit_base_patch16_224",
]  # fmt: skip


def _torchvision() -> Iterator[tuple[str, torch.nn.Module, dict[str, Any]]]:
    for name in sorted(torchvision.models.list_models(module=torchvision.models)):
        size = 299 if name == "inception_v3" else 224
        extra = {"init_weights": False} if name in ("googlenet", "inception_v3") else {}
        if name == "vit_h_14":
            continue  # 632 M parameters: tracing it needs more memory than coverage is worth
        model = torchvision.models.get_model(name, **extra).eval()
        yield f"torchvision:{name}", model, {"input_shape": (1, 3, size, size)}


def _timm() -> Iterator[tuple[str, torch.nn.Module, dict[str, Any]]]:
    import timm

    for name in TIMM:
        m = timm.create_model(name, pretrained=False).eval()
        yield f"timm:{name}", m, {"input_shape": (1, *m.default_cfg.get("input_size", (3, 224, 224)))}


def _hf() -> Iterator[tuple[str, torch.nn.Module, dict[str, Any]]]:
    from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

    ids = {"example_inputs": (torch.zeros(1, 16, dtype=torch.long),)}
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=500, n_positions=64))
    bert = BertModel(BertConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128))
    yield "hf:gpt2-tiny", gpt2.eval(), ids
    yield "hf:bert-tiny", bert.eval(), ids


SUITES = {"torchvision": _torchvision, "timm": _timm, "hf": _hf}


def _published_column(ref: Any, model: torch.nn.Module) -> str:
    from oracle_ghn_reference import reference_graph, reference_predictions

    try:
        return str(len(reference_predictions(ref, model, reference_graph(model, False), False)))
    except Exception as exc:  # the published code failing is a result here
        return f"fails: {type(exc).__name__}"


def _row(name: str, model: torch.nn.Module, kw: dict[str, Any], ghn: PublishedGHN, ref: Any) -> str:
    params = dict(model.named_parameters())
    arch, graph = ghn._graph_of(model, dict(kw))
    shapes = dict(arch.parameters)
    as_ref = set(ghn.model.predicted_names(graph, shapes))
    full = set(ghn.model.predicted_names(graph, shapes, fill="all"))
    left = sorted({n.rsplit(".", 1)[-1] for n in set(params) - as_ref})
    values = sum(p.numel() for n, p in params.items() if n in as_ref) / max(1, sum(p.numel() for p in params.values()))
    published = _published_column(ref, model) if ref is not None else "-"
    return (
        f"| {name} | {len(params)} | {published} | {len(as_ref)} ({100 * values:.1f}% of values) | "
        f"{len(full & set(params))} | {', '.join(left[:4])}{' ...' if len(left) > 4 else ''} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="torchvision,timm,hf", help="comma-separated: torchvision, timm, hf")
    ap.add_argument("--reference", action="store_true", help="also run the published code (needs its checkout)")
    ap.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from oracle_ghn_reference import build_reference

    ref, sd, cfg = build_reference("ghn3tm8", seed=0) if args.reference else (None, None, None)
    if sd is None:
        from oracle_ghn_reference import full_config

        cfg = {k: v for k, v in full_config("ghn3tm8").items() if k != "ppuda"}
        model = ReferenceGHN({**cfg, "ppuda": False})
    else:
        model = ReferenceGHN.from_reference_state_dict(sd, cfg)
    ghn = PublishedGHN(model, "ghn3", "ghn3tm8 (random weights)").eval()
    lines = [
        "| model | parameter tensors | published code sets | graphhyper, fill=reference | graphhyper, fill=all "
        "| left at init by the published rule |",
        "|---|---|---|---|---|---|",
    ]
    t0 = time.perf_counter()
    for suite in args.suite.split(","):
        for name, net, kw in SUITES[suite]():
            lines.append(_row(name, net, kw, ghn, ref))
            print(lines[-1], flush=True)
    print(f"# {len(lines) - 2} models in {time.perf_counter() - t0:.0f} s")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
