"""Fitting a decoded block to a parameter's shape, and the published fan-in normalisation.

The published GHNs decode at most ``max_shape``-sized blocks; a parameter larger than its block gets the block
repeated along its output then input channels, a smaller one a slice. GHN-3 takes spatial windows around the
centre of the block, GHN-2 (and ppuda) from its top-left corner. The functions follow each published variant
exactly, including its handling of 1-d, 2-d and 3-d targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["normalize", "tile_ghn3", "tile_ppuda", "weight_scale"]


def _window(size: int, want: int) -> slice:
    """``[⌊size/2⌋ - ⌊want/2⌋, ⌊size/2⌋ + ⌈want/2⌉)``."""
    c = size // 2
    return slice(c - want // 2, c + int(math.ceil(want / 2)))


def _slice_ghn3(w: torch.Tensor, t: Sequence[int], centred: bool) -> torch.Tensor:
    s = w.shape
    if len(t) == 1:
        if len(s) == 2:
            return w[: min(t[0], s[0]), 0]
        if len(s) > 2:
            return w[: min(t[0], s[0]), 0, s[-2] // 2, s[-1] // 2]
        return w[: min(t[0], s[0])]
    if len(t) == 2:
        if len(s) == 2:
            return w[: min(t[0], s[0]), : min(t[1], s[1])]
        return w[: min(t[0], s[0]), : min(t[1], s[1]), s[-2] // 2, s[-1] // 2]
    if len(t) == 3:
        if len(s) == 3:
            return w[: min(t[0], s[0]), : min(t[1], s[1]), : min(t[2], s[2])]
        # a ViT position embedding decoded as (1, c, h, w): (1, h·w, c) plus a class-token row, which the
        # published code samples from N(0, 0.02²) because the GHNs never saw class tokens
        w = w.reshape(s[0], s[1], -1).permute(0, 2, 1)
        w = w[: min(t[0], w.shape[0]), : min(t[1], w.shape[1]), : min(t[2], w.shape[2])]
        token = torch.normal(mean=0.0, std=0.02, size=(1, 1, w.shape[2]))
        return torch.cat((token.to(w), w), dim=1)
    if len(s) <= 2:
        return w[: min(t[0], s[0]), : min(t[1], s[1])].unsqueeze(2).unsqueeze(3)
    s2, s3 = min(t[2], s[2]), min(t[3], s[3]) if len(s) > 3 else 1
    if not centred:
        return w[: min(t[0], s[0]), : min(t[1], s[1]), :s2, :s3]
    return w[: min(t[0], s[0]), : min(t[1], s[1]), _window(s[-2], s2), _window(s[-1], s3)]


def tile_ghn3(w: torch.Tensor, t: Sequence[int], centred: bool = True, out: torch.Tensor | None = None) -> torch.Tensor:
    """ghn3's fitting of a decoded block ``w`` to the target shape ``t``.

    1. Slice: 1-d/2-d targets read the block's centre position; 4-d targets keep a ``min(t, s)`` window of
       the kernel (centred, or top-left when ``centred`` is false, as in GHN-3's GHN-2 mode).
    2. Tile: repeat along dim 0 to ``t[0]``, then along dim 1 to ``t[1]`` (3-d blocks: along dim 2 when dim 1
       fits).
    3. Cut to ``t`` (4-d: the centred / top-left ``t[2] × t[3]`` window).

    With ``out`` (a tensor of shape ``t``), a 2-d or 4-d block whose last step is a tiling gather that already
    has shape ``t`` is gathered straight into ``out`` (and ``out`` returned); otherwise the result is returned.
    """
    w = _slice_ghn3(w, t, centred)
    s = w.shape
    if len(s) != len(t):
        raise ValueError(f"decoded block {tuple(s)} cannot be fitted to {tuple(t)}")
    steps = [(d, t[d]) for d in range(min(2, len(t))) if t[d] > s[d]]
    if len(t) == 3 and len(s) == 3 and t[1] <= s[1] and t[2] > s[2]:
        steps.append((2, t[2]))
    direct = out is not None and len(t) in (2, 4) and bool(steps) and tuple(s[2:]) == tuple(t[2:])
    direct = direct and all(s[d] == t[d] for d in range(2) if d not in dict(steps))
    direct = direct and out is not None and out.dtype == w.dtype and out.device == w.device and out.is_contiguous()
    for k, (dim, size) in enumerate(steps):
        last = direct and k == len(steps) - 1
        w = _tile(w, dim, size, out if last else None)
    if direct:
        return out if out is not None else w
    if len(t) <= 3:
        return w[tuple(slice(0, n) for n in t)]
    if not centred:
        return w[: t[0], : t[1], : t[2], : t[3]]
    return w[: t[0], : t[1], _window(w.shape[-2], t[2]), _window(w.shape[-1], t[3])]


def _tile(w: torch.Tensor, dim: int, size: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """``w`` repeated along ``dim`` and cut to ``size`` (``repeat`` then slice), written once (into ``out`` when
    given): entry ``k`` of the result is entry ``k mod w.shape[dim]`` of ``w``. When ``size`` is a multiple of
    ``w.shape[dim]`` (the usual case: channel counts are powers of two) this is one broadcast copy, several times
    faster than a gather; otherwise a gather."""
    n_src = w.shape[dim]
    reps = size // n_src
    shape = (*w.shape[:dim], size, *w.shape[dim + 1 :])
    if reps * n_src != size:
        index = torch.arange(size, device=w.device) % n_src
        return w.index_select(dim, index) if out is None else torch.index_select(w, dim, index, out=out)
    if out is None:
        out = torch.empty(shape, dtype=w.dtype, device=w.device)
    split = (*w.shape[:dim], reps, n_src, *w.shape[dim + 1 :])
    out.view(split).copy_(w.unsqueeze(dim).expand(split))
    return out


def _slice_ppuda(w: torch.Tensor, t: Sequence[int]) -> torch.Tensor:
    s = w.shape
    if len(t) == 1:
        if len(s) == 2:
            return w[: min(t[0], s[0]), 0]
        if len(s) > 2:
            return w[: min(t[0], s[0]), 0, 0, 0]
        return w
    if len(t) == 2:
        return w[: min(t[0], s[0]), : min(t[1], s[1]), 0, 0] if len(s) > 2 else w
    if len(t) == 3:
        return w[: min(t[0], s[0]), : min(t[1], s[1]), : min(t[2], s[2]), 0] if len(s) > 3 else w
    return w[: min(t[0], s[0]), : min(t[1], s[1]), : min(t[2], s[2]), : min(t[3], s[3])]


def tile_ppuda(w: torch.Tensor, t: Sequence[int]) -> torch.Tensor:
    """ppuda's fitting of a decoded block ``w`` to ``t``: slice top-left (1-d/2-d targets read spatial position
    ``(0, 0)``), repeat along dim 0 then dim 1, cut to ``t``."""
    w = _slice_ppuda(w, t)
    s = w.shape
    if len(s) != len(t):
        raise ValueError(f"decoded block {tuple(s)} cannot be fitted to {tuple(t)}")
    if t[0] > s[0]:
        n = int(math.ceil(t[0] / s[0]))
        w = w.repeat((n,) + (1,) * (len(t) - 1))[: t[0]]
    if len(t) > 1 and t[1] > s[1]:
        n = int(math.ceil(t[1] / s[1]))
        w = w.repeat((1, n) + (1,) * (len(t) - 2))
        if len(t) == 3:
            # ppuda indexes (not slices) channel t[1] here, so such targets fail in the published code too
            raise ValueError(f"ppuda cannot tile a 3-d block {tuple(s)} to {tuple(t)} along dim 1")
        w = w[:, : t[1]]
    return w[tuple(slice(0, n) for n in t)]


def weight_scale(shape: Sequence[int]) -> float | None:
    """The factor :func:`normalize` multiplies a ≥2-d tensor of ``shape`` by (``None``: left as is)."""
    sz = tuple(shape)
    if len(sz) > 2 and sz[2] >= 11 and sz[0] == 1:
        return None
    no_relu = len(sz) > 2 and (sz[1] == 1 or sz[2] < sz[3])
    beta = 1.0 if no_relu else 2.0
    return float((beta / math.prod(sz[1:])) ** 0.5)


def normalize(p: torch.Tensor, is_w: bool) -> torch.Tensor:
    """The published fan-in normalisation of a fitted tensor.

    ≥2-d: ``p · √(β / fan_in)`` with ``fan_in = p[0].numel()``, ``β = 1`` when ``p`` is ≥3-d and
    ``p.shape[1] = 1`` or ``h < w``, else ``β = 2``; a ≥3-d ``(1, n, c)``-like tensor with ``n ≥ 11`` (position
    embedding) is left as is (:func:`weight_scale`). 1-d weights: ``2σ(p/2)`` (in ``[0, 2]``); 1-d biases:
    ``tanh(p/5)``.
    """
    if p.dim() > 1:
        scale = weight_scale(p.shape)
        return p if scale is None else p * scale
    if is_w:
        return 2 * torch.sigmoid(0.5 * p)
    return torch.tanh(0.2 * p)
