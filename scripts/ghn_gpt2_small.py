"""Predict GPT-2 small (12 x 768, 12 heads, tied, context 1024) with a GHN; validation loss on the stdlib corpus.

    python scripts/ghn_gpt2_small.py --ghn /tmp/ghn-pytext --vocab 50257 --windows 8 --length 256 \\
        --out runs/gpt2_small.json

``--vocab 50257`` is the real GPT-2 small (124 M parameters; byte targets 0..255 scored against all 50,257
outputs), ``--vocab 256`` the same body with the corpus's byte vocabulary (86 M). Reports the prediction time and
peak RSS, whether every predicted tensor is finite, and the mean cross-entropy per byte on ``--windows`` fixed
windows of ``--length`` bytes of the corpus's validation split for the GHN's parameters and for GPT-2's random
initialisation (seed 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import _common  # noqa: E402


@torch.no_grad()
def _val_loss(net, x, y) -> float:
    net.eval()
    total = 0.0
    for i in range(x.shape[0]):
        logits = net(x[i : i + 1])
        total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[i]))
    return total / x.shape[0]


def main(argv=None) -> int:
    from graphhyper.arch.spaces import gpt
    from graphhyper.data.pycorpus import load_pycorpus
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.transformer_tasks import eval_windows

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", required=True)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    p.add_argument(
        "--attention-nodes", type=int, default=None, help="set the GHN's log-length attention rule (0 = off)"
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = gpt.GPTSpec(**{**gpt.GPT2_SMALL.__dict__, "vocab": args.vocab})
    if args.ghn == "random":  # an untrained GHN, as a control
        from graphhyper.ghn.model import GHN

        torch.manual_seed(0)
        ghn = GHN().eval()
    else:
        ghn = from_pretrained(args.ghn).eval()
    if args.attention_nodes is not None:
        ghn.config.attention_nodes = args.attention_nodes
        ghn.config.validate()
    t0 = time.perf_counter()
    graph = gpt.spec_to_graph(spec)
    t_trace = time.perf_counter() - t0
    with torch.no_grad():
        pred = ghn.predict(graph)
    t_pred = time.perf_counter() - t0 - t_trace
    peak_pred = _common.peak_rss_gb()
    finite = all(bool(torch.isfinite(v).all()) for v in pred.values())
    torch.manual_seed(0)
    net = gpt.build(spec)
    n_params = sum(q.numel() for q in net.parameters())
    x, y = eval_windows(load_pycorpus().val, args.length, args.windows)
    loss_random = _val_loss(net, x, y)
    missing = sorted({n for n, _ in net.named_parameters()} - set(pred))
    net.load_state_dict({k: v.detach() for k, v in pred.items()}, strict=False)
    loss_ghn = _val_loss(net, x, y)
    res = {
        "command": "python scripts/ghn_gpt2_small.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": _common.machine_line(),
        "spec": spec.to_json(),
        "parameters": n_params,
        "unpredicted": missing + list(pred.unpredicted),
        "trace_seconds": round(t_trace, 2),
        "predict_seconds": round(t_pred, 2),
        "peak_rss_gb_after_predict": round(peak_pred, 2),
        "peak_rss_gb": round(_common.peak_rss_gb(), 2),
        "all_finite": finite,
        "val_loss_ghn": loss_ghn,
        "val_loss_random": loss_random,
        "attention_nodes": ghn.config.attention_nodes,
        "windows": [args.windows, args.length],
    }
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
