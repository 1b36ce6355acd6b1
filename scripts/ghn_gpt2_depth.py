"""Which of depth / heads / context makes a GHN-predicted decoder worse than GPT-2's init (issue 18).

    python scripts/ghn_gpt2_depth.py --ghn runs/ghn-pytext-spec2 [--windows 4] [--length 64]

Three measurements, all on width-768 decoders (MLP 4x, tied, vocabulary 256) and ``--windows`` fixed windows of
``--length`` bytes of the corpus's validation split (loss = mean cross-entropy per byte):

1. **One knob at a time.** From the 4-block, 12-head, context-64 decoder that the GHN predicts better than GPT-2's
   init, move depth (8, 12), heads (4) or context (256, 1024) toward GPT-2 small, and finally all of them. Per
   shape: the loss of the GHN's prediction and of GPT-2's init (seed 0), and the residual-stream RMS
   ``sqrt(mean(x^2))`` after the embedding and after each block.
2. **Residual-write scale.** The predicted depth-4 and depth-12 decoders with every layer that writes into the
   residual stream (``proj`` and ``out``, weight and bias) multiplied by ``c``: ``c = 1 / sqrt(2 depth)`` is GPT-2's
   rule (one factor per residual write count), plus a few fixed ``c``; and with only their biases multiplied by
   ``sqrt(8 / (2 depth))`` (the coherent bias sum brought back to its 4-block size).
3. **Where the depth-12 damage sits.** A 12-block decoder built from the *depth-4* prediction's blocks
   (0, 1, 2 x 9, 3; embedding, final LN from the depth-12 prediction) against the depth-12 prediction itself and
   its first k blocks: whether deep stacking hurts (a dynamics / scale problem) or the GHN predicts different
   blocks for a deeper graph (a generalisation problem of the graph encoder).
4. **How much is a constant prior.** The loss when every position gets the final residual stream's mean (over
   windows and positions) -- a constant next-byte distribution --, the share of the final residual's mean square
   that varies across tokens, and for reference the loss of the train split's byte frequencies.

``--attention-nodes 67`` repeats them with the GHN's log-length attention rule (``GHNConfig.attention_nodes``;
67 nodes is the largest 4-block training decoder).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import _common  # noqa: E402

SHAPES = [
    ("base: 4 blocks, 12 heads, context 64", dict(depth=4, heads=12, context=64)),
    ("depth 8", dict(depth=8, heads=12, context=64)),
    ("depth 12", dict(depth=12, heads=12, context=64)),
    ("heads 4", dict(depth=4, heads=4, context=64)),
    ("context 256", dict(depth=4, heads=12, context=256)),
    ("context 1024", dict(depth=4, heads=12, context=1024)),
    ("GPT-2 small body: 12 blocks, 12 heads, context 1024", dict(depth=12, heads=12, context=1024)),
]


@torch.no_grad()
def _measure(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, list[float]]:
    """Mean loss per byte and residual-stream RMS after the embedding and after each block (mean over windows)."""
    net.eval()
    rms: list[float] = [float((net.tok(x) + net.pos[:, : x.shape[1]]).pow(2).mean().sqrt())]
    h = net.tok(x) + net.pos[:, : x.shape[1]]
    for block in net.blocks:
        h = block(h)
        rms.append(float(h.pow(2).mean().sqrt()))
    logits = net.head(net.ln(h))
    return float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))), rms


def _loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return _measure(net, x, y)[0]


def _predicted(ghn, x: torch.Tensor, **kw):
    """``(GPT-2 init, GHN prediction)`` of a width-768 vocabulary-256 decoder."""
    from graphhyper.arch.spaces import gpt

    spec = gpt.GPTSpec(width=768, vocab=256, **kw)
    torch.manual_seed(0)
    init = gpt.build(spec)
    torch.manual_seed(0)
    net = gpt.build(spec)
    with torch.no_grad():
        ghn.apply(net, example_inputs=x[:1])
    return init, net


def _one_knob(ghn, x, y) -> None:
    print("\n## 1. one knob at a time (loss GHN | GPT-2 init; residual RMS after embedding and each block)")
    for name, kw in SHAPES:
        init, net = _predicted(ghn, x, **kw)
        (li, ri), (lg, rg) = _measure(init, x, y), _measure(net, x, y)
        print(f"{name}: GHN {lg:.2f} | init {li:.2f}", flush=True)
        print("  RMS GHN : " + " ".join(f"{v:.2f}" for v in rg))
        print("  RMS init: " + " ".join(f"{v:.2f}" for v in ri), flush=True)


@torch.no_grad()
def _scaled(net, c: float, biases_only: bool = False):
    """A copy of ``net`` with the residual-writing layers (``proj``, ``out``) multiplied by ``c``."""
    import copy

    out = copy.deepcopy(net)
    for block in out.blocks:
        for lin in (block.proj, block.out):
            lin.bias.mul_(c)
            if not biases_only:
                lin.weight.mul_(c)
    return out


def _write_scale(ghn, x, y) -> None:
    print("\n## 2. residual-write scale (loss of the GHN prediction with proj/out multiplied by c)")
    for depth in (4, 12):
        _, net = _predicted(ghn, x, depth=depth, heads=12, context=64)
        cells = [f"c=1: {_loss(net, x, y):.2f}"]
        for c in (1 / math.sqrt(2 * depth), 0.5, 0.1):
            cells.append(f"c={c:.3f}: {_loss(_scaled(net, c), x, y):.2f}")
        cb = math.sqrt(8 / (2 * depth))
        cells.append(f"biases only x{cb:.3f}: {_loss(_scaled(net, cb, biases_only=True), x, y):.2f}")
        print(f"depth {depth}: " + ", ".join(cells), flush=True)


@torch.no_grad()
def _stacked(ghn, x, y) -> None:
    print("\n## 3. where the depth-12 damage sits")
    from graphhyper.arch.spaces import gpt

    _, net4 = _predicted(ghn, x, depth=4, heads=12, context=64)
    _, net12 = _predicted(ghn, x, depth=12, heads=12, context=64)
    print(f"depth-4 prediction {_loss(net4, x, y):.2f}; depth-12 prediction {_loss(net12, x, y):.2f}")
    stacked = _copy_blocks(net12, net4, [0, 1] + [2] * 9 + [3])
    print(f"12 blocks built from the depth-4 prediction's blocks (0, 1, 2 x 9, 3): {_loss(stacked, x, y):.2f}")
    for k in (2, 4, 8):
        spec = gpt.GPTSpec(depth=k, width=768, heads=12, vocab=256, context=64)
        torch.manual_seed(0)
        head = _copy_blocks(gpt.build(spec), net12, list(range(k)), embed=net12)
        print(f"first {k} blocks of the depth-12 prediction: {_loss(head, x, y):.2f}", flush=True)


@torch.no_grad()
def _copy_blocks(target, source, picks: list[int], embed=None):
    """A copy of ``target`` whose block ``i`` is ``source.blocks[picks[i]]`` (embedding/final LN from ``embed``)."""
    import copy

    out = copy.deepcopy(target)
    for i, j in enumerate(picks):
        out.blocks[i].load_state_dict(source.blocks[j].state_dict())
    if embed is not None:
        out.tok.weight.copy_(embed.tok.weight)
        out.pos.copy_(embed.pos[:, : out.pos.shape[1]])
        out.ln.load_state_dict(embed.ln.state_dict())
    return out


@torch.no_grad()
def _unigram(ghn, x, y) -> None:
    print("\n## 4. how much of the prediction is a constant (unigram) prior")
    from graphhyper.data.pycorpus import load_pycorpus

    counts = torch.bincount(torch.from_numpy(load_pycorpus().train.astype("int64")), minlength=256).double()
    log_p = (counts + 1).div(counts.sum() + 256).log()
    print(f"train-split byte unigram (add-one) on these windows: {float(-log_p[y.reshape(-1)].mean()):.2f}")
    for depth in (2, 4, 8, 12):
        _, net = _predicted(ghn, x, depth=depth, heads=12, context=64)
        h = net.tok(x) + net.pos[:, : x.shape[1]]
        h = net.blocks(h)
        const = net.head(net.ln(h.mean(dim=(0, 1), keepdim=True).expand_as(h)))
        loss_const = float(torch.nn.functional.cross_entropy(const.reshape(-1, const.shape[-1]), y.reshape(-1)))
        share = float(h.var(dim=(0, 1)).mean() / h.pow(2).mean())
        print(
            f"depth {depth}: GHN {_loss(net, x, y):.2f}, from the mean final residual alone {loss_const:.2f}; "
            f"token-dependent share of the final residual's mean square {share:.3f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    from graphhyper.data.pycorpus import load_pycorpus
    from graphhyper.ghn import from_pretrained
    from graphhyper.ghn.transformer_tasks import eval_windows

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ghn", required=True)
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--attention-nodes", type=int, default=0, help="the GHN's log-length attention rule (0 = off)")
    p.add_argument("--parts", default="1,2,3,4", help="which measurements to run (comma-separated 1-4)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(_common.machine_line(), flush=True)
    ghn = from_pretrained(args.ghn).eval()
    ghn.config.attention_nodes = args.attention_nodes
    ghn.config.validate()
    x, y = eval_windows(load_pycorpus().val, args.length, args.windows)
    parts = {"1": _one_knob, "2": _write_scale, "3": _stacked, "4": _unigram}
    for part in args.parts.split(","):
        parts[part](ghn, x, y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
