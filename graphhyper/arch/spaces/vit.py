"""A space of small vision transformers for 8x8 digits (2-D) and MNIST-1D signals (1-D) in GHN experiments.

A :class:`ViTSpec` fixes the input (``dims``, ``image_size``, ``in_channels``), the patch size, depth, width,
heads and MLP ratio. :func:`build` makes the module: a patch embedding (a convolution with kernel = stride =
patch), learned positions, non-causal pre-LN blocks (:class:`~graphhyper.arch.spaces.gpt.Block`), mean pooling
over tokens, a final LN and a linear classifier; PyTorch's default initialisation except positions
``N(0, 0.02)``.

Patch sizes must divide the input: digits (8x8) use 2 or 4 (16 or 4 tokens), MNIST-1D (length 40) 4, 5 or 8
(10, 8 or 5 tokens). Splits: ``"id"`` (small), ``"wide"`` (widths 96-128), ``"deep"`` (8-12 blocks).

Shapes: ``x [B, C, H, W]`` (or ``[B, C, L]``) -> logits ``[B, num_classes]``.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ...errors import InvalidInputError
from .gpt import Block

__all__ = ["ViTSpec", "SPLITS", "PATCHES", "ViT", "sample_spec", "sample_specs", "build", "spec_to_graph"]

#: Patch sizes per (dims, image_size).
PATCHES: dict[tuple[int, int], tuple[int, ...]] = {(2, 8): (2, 4), (1, 40): (4, 5, 8)}

SPLITS: dict[str, dict[str, tuple]] = {
    "id": dict(depth=(2, 3, 4), width=(32, 48, 64), heads=(2, 4), mlp_ratio=(2, 4)),
    "wide": dict(depth=(2, 3, 4), width=(96, 128), heads=(4, 8), mlp_ratio=(2, 4)),
    "deep": dict(depth=(8, 10, 12), width=(32, 48, 64), heads=(2, 4), mlp_ratio=(2, 4)),
}


@dataclass(frozen=True)
class ViTSpec:
    """One ViT: input ``dims``/``image_size``/``in_channels``, ``patch``, ``depth`` x ``width``, ``heads``, MLP."""

    dims: int = 2
    image_size: int = 8
    in_channels: int = 1
    num_classes: int = 10
    patch: int = 2
    depth: int = 2
    width: int = 32
    heads: int = 2
    mlp_ratio: int = 2

    def __post_init__(self):
        for name in (
            "dims",
            "image_size",
            "in_channels",
            "num_classes",
            "patch",
            "depth",
            "width",
            "heads",
            "mlp_ratio",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"ViTSpec.{name} is {value!r}; it must be a positive integer.")
        if self.dims not in (1, 2):
            raise InvalidInputError(f"ViTSpec.dims is {self.dims!r}; use 1 (signals) or 2 (images).")
        if self.patch < 1 or self.image_size % self.patch:
            raise InvalidInputError(
                f"ViTSpec patch {self.patch} does not divide image_size {self.image_size}; pick a divisor "
                f"(digits: 2 or 4, MNIST-1D: 4, 5 or 8)."
            )
        if self.width % self.heads:
            raise InvalidInputError(f"ViTSpec width {self.width} is not divisible by heads {self.heads}.")

    @property
    def tokens(self) -> int:
        return (self.image_size // self.patch) ** self.dims

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, self.in_channels) + (self.image_size,) * self.dims

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ViTSpec:
        return cls(**json.loads(text))

    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def sample_spec(
    seed: int, split: str = "id", dims: int = 2, image_size: int = 8, in_channels: int = 1, num_classes: int = 10
) -> ViTSpec:
    """One spec of ``split`` for the given input, drawn with ``random.Random(seed)``."""
    if split not in SPLITS:
        raise InvalidInputError(f"Unknown ViT split {split!r}; choose one of {sorted(SPLITS)}.")
    patches = PATCHES.get((dims, image_size)) or tuple(p for p in (2, 4, 5, 8) if image_size % p == 0) or (1,)
    rng = random.Random(seed)
    c = SPLITS[split]
    width = rng.choice(c["width"])
    return ViTSpec(
        dims=dims,
        image_size=image_size,
        in_channels=in_channels,
        num_classes=num_classes,
        patch=rng.choice(patches),
        depth=rng.choice(c["depth"]),
        width=width,
        heads=rng.choice([h for h in c["heads"] if width % h == 0]),
        mlp_ratio=rng.choice(c["mlp_ratio"]),
    )


def sample_specs(n: int, seed: int = 0, split: str = "id", **kw) -> list[ViTSpec]:
    """``n`` specs of ``split``: spec ``j`` uses seed ``seed * 100_003 + j``."""
    return [sample_spec(seed * 100_003 + j, split, **kw) for j in range(n)]


class ViT(nn.Module):
    """The ViT of a :class:`ViTSpec` (see the module docstring)."""

    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.spec = spec
        conv = nn.Conv2d if spec.dims == 2 else nn.Conv1d
        self.patch = conv(spec.in_channels, spec.width, spec.patch, stride=spec.patch)
        self.pos = nn.Parameter(torch.zeros(1, spec.tokens, spec.width))
        self.blocks = nn.Sequential(*[Block(spec.width, spec.heads, spec.mlp_ratio, False) for _ in range(spec.depth)])
        self.ln = nn.LayerNorm(spec.width)
        self.head = nn.Linear(spec.width, spec.num_classes)
        if not self.pos.is_meta:
            nn.init.normal_(self.pos, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2) + self.pos  # [B, tokens, width]
        return self.head(self.ln(self.blocks(t).mean(1)))


def build(spec: ViTSpec) -> ViT:
    """The ``nn.Module`` of ``spec`` (initialisation drawn from torch's global RNG)."""
    return ViT(spec)


def spec_to_graph(spec: ViTSpec):
    """Trace ``build(spec)`` on meta tensors into an :class:`~graphhyper.arch.ArchGraph`."""
    from .. import trace

    with torch.device("meta"):
        net = build(spec)
    return trace(net, input_shape=spec.input_shape)
