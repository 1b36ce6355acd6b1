"""A space of GPT-2-style decoder-only transformers (byte-level language models) for GHN experiments.

A :class:`GPTSpec` fixes depth, width, heads, MLP ratio, tied input/output embeddings, vocabulary and context
length. :func:`build` makes the ``nn.Module`` (pre-LN blocks, causal ``scaled_dot_product_attention``, GELU MLP,
learned absolute positions, GPT-2's initialisation: ``N(0, 0.02)`` weights, output projections of the residual
branches scaled by ``1 / sqrt(2 depth)``, zero biases); :func:`spec_to_graph` traces it on meta tensors.

Splits (see :data:`SPLITS`): ``"id"`` (small, what a GHN trains on), ``"wide"`` (widths 96-128, never seen in
training) and ``"deep"`` (8-12 blocks). :data:`GPT2_SMALL` is the real GPT-2 small shape (12 x 768, 12 heads,
MLP 4x, tied, context 1024; 124 M parameters with GPT-2's 50,257-token vocabulary).

Shapes: ``idx [B, T]`` (int64 token ids, ``T <= context``) -> logits ``[B, T, vocab]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InvalidInputError

__all__ = [
    "GPTSpec",
    "SPLITS",
    "GPT2_SMALL",
    "Block",
    "GPT",
    "sample_spec",
    "sample_specs",
    "build",
    "spec_to_graph",
    "count_params",
]


@dataclass(frozen=True)
class GPTSpec:
    """One decoder: ``depth`` blocks of width ``width`` with ``heads`` heads and an MLP of ``mlp_ratio * width``."""

    depth: int = 2
    width: int = 32
    heads: int = 2
    mlp_ratio: int = 4
    tied: bool = True
    vocab: int = 256
    context: int = 64

    def __post_init__(self):
        for name in ("depth", "width", "heads", "mlp_ratio", "vocab", "context"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"GPTSpec.{name} is {value!r}; it must be a positive integer.")
        if not isinstance(self.tied, bool):
            raise InvalidInputError(f"GPTSpec.tied is {self.tied!r}; it must be true or false.")
        if self.width % self.heads:
            raise InvalidInputError(
                f"GPTSpec width {self.width} is not divisible by heads {self.heads}; pick heads dividing the width."
            )

    @property
    def input_shape(self) -> tuple[int, int]:
        return (1, self.context)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GPTSpec:
        return cls(**json.loads(text))

    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


#: Sampler choices per split: depths, widths, head counts (those dividing the width are kept), MLP ratios.
SPLITS: dict[str, dict[str, tuple]] = {
    "id": dict(depth=(2, 3, 4), width=(32, 48, 64), heads=(2, 4), mlp_ratio=(2, 4), tied=(True, False)),
    "wide": dict(depth=(2, 3, 4), width=(96, 128), heads=(4, 8), mlp_ratio=(2, 4), tied=(True, False)),
    "deep": dict(depth=(8, 10, 12), width=(32, 48, 64), heads=(2, 4), mlp_ratio=(2, 4), tied=(True, False)),
}

GPT2_SMALL = GPTSpec(depth=12, width=768, heads=12, mlp_ratio=4, tied=True, vocab=50257, context=1024)


def sample_spec(seed: int, split: str = "id", vocab: int = 256, context: int = 64) -> GPTSpec:
    """One spec of ``split`` drawn with ``random.Random(seed)`` (reproducible across machines)."""
    if split not in SPLITS:
        raise InvalidInputError(f"Unknown GPT split {split!r}; choose one of {sorted(SPLITS)}.")
    rng = random.Random(seed)
    c = SPLITS[split]
    width = rng.choice(c["width"])
    heads = rng.choice([h for h in c["heads"] if width % h == 0])
    return GPTSpec(
        depth=rng.choice(c["depth"]),
        width=width,
        heads=heads,
        mlp_ratio=rng.choice(c["mlp_ratio"]),
        tied=rng.choice(c["tied"]),
        vocab=vocab,
        context=context,
    )


def sample_specs(n: int, seed: int = 0, split: str = "id", **kw) -> list[GPTSpec]:
    """``n`` specs of ``split``: spec ``j`` uses seed ``seed * 100_003 + j``."""
    return [sample_spec(seed * 100_003 + j, split, **kw) for j in range(n)]


class Block(nn.Module):
    r"""Pre-LN transformer block: :math:`x \leftarrow x + W_o\,\mathrm{Attn}(\mathrm{LN}_1(x))`,
    :math:`x \leftarrow x + W_2\,\mathrm{GELU}(W_1\,\mathrm{LN}_2(x))`; ``x [B, T, width]``."""

    def __init__(self, width: int, heads: int, mlp_ratio: int, causal: bool):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, mlp_ratio * width)
        self.out = nn.Linear(mlp_ratio * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


def gpt2_init(module: nn.Module, depth: int) -> None:
    """GPT-2's initialisation: linear / embedding weights ``N(0, 0.02)``, residual output projections
    ``N(0, 0.02 / sqrt(2 depth))``, zero biases, layer norms at ``(1, 0)``; position tables ``N(0, 0.01)``."""
    for name, p in module.named_parameters():
        if p.dim() < 2:
            continue  # layer norms keep (1, 0); biases are zeroed below
        if name.endswith(("proj.weight", "out.weight")):
            nn.init.normal_(p, std=0.02 / math.sqrt(2 * depth))
        elif name == "pos":
            nn.init.normal_(p, std=0.01)
        else:
            nn.init.normal_(p, std=0.02)
    for m in module.modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


class GPT(nn.Module):
    """The decoder of a :class:`GPTSpec`: token embedding + positions, blocks, final LN, (tied) output head."""

    def __init__(self, spec: GPTSpec):
        super().__init__()
        self.spec = spec
        self.tok = nn.Embedding(spec.vocab, spec.width)
        self.pos = nn.Parameter(torch.zeros(1, spec.context, spec.width))
        self.blocks = nn.Sequential(*[Block(spec.width, spec.heads, spec.mlp_ratio, True) for _ in range(spec.depth)])
        self.ln = nn.LayerNorm(spec.width)
        self.head = nn.Linear(spec.width, spec.vocab, bias=False)
        if spec.tied:
            self.head.weight = self.tok.weight
        if not self.pos.is_meta:
            gpt2_init(self, spec.depth)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos[:, : idx.shape[1]]
        return self.head(self.ln(self.blocks(x)))


def build(spec: GPTSpec) -> GPT:
    """The ``nn.Module`` of ``spec`` (GPT-2 initialisation drawn from torch's global RNG)."""
    return GPT(spec)


def count_params(spec: GPTSpec) -> int:
    """Number of distinct parameters (a tied head counts once)."""
    with torch.device("meta"):
        return sum(p.numel() for p in build(spec).parameters())


def spec_to_graph(spec: GPTSpec):
    """Trace ``build(spec)`` on meta tensors into an :class:`~graphhyper.arch.ArchGraph`."""
    from .. import trace

    with torch.device("meta"):
        net = build(spec)
    return trace(net, example_inputs=torch.zeros(spec.input_shape, dtype=torch.long, device="meta"))
