"""Building blocks shared by the cell search spaces (DARTS / DeepNets-1M and NAS-Bench-201).

Every block works in one or two spatial dimensions (``dims=1``: ``[B, C, L]`` signals, ``dims=2``:
``[B, C, H, W]`` images) and takes ``norm="bn"`` (batch norm) or ``norm="none"`` (no normalisation).
A block with ``stride=2`` maps a spatial size ``S`` to ``ceil(S / 2)``; every block of a reduction cell
therefore produces the same size.
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import InvalidInputError

NORMS = ("bn", "none")


def _check_dims(dims: int) -> None:
    if dims not in (1, 2):
        raise InvalidInputError(
            f"dims={dims!r} is not supported. Use dims=2 for images [B, C, H, W] or dims=1 for signals [B, C, L]."
        )


def conv(dims: int, c_in: int, c_out: int, kernel, stride=1, padding=0, dilation=1, groups=1, bias=False):
    """``nn.Conv1d`` or ``nn.Conv2d`` with the given geometry (``kernel`` may be a tuple for 2-D)."""
    _check_dims(dims)
    cls = nn.Conv1d if dims == 1 else nn.Conv2d
    return cls(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)


def norm_layer(dims: int, channels: int, norm: str = "bn", affine: bool = True) -> list[nn.Module]:
    """A one-element list with the normalisation layer, or an empty list for ``norm="none"``."""
    if norm == "none":
        return []
    if norm != "bn":
        raise InvalidInputError(f"norm={norm!r} is unknown. Use one of {NORMS}.")
    return [(nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(channels, affine=affine)]


def pool(dims: int, kind: str, kernel: int = 3, stride: int = 1, padding: int = 1) -> nn.Module:
    """Max or average pooling; average pooling does not count padded zeros."""
    _check_dims(dims)
    if kind == "max":
        return (nn.MaxPool1d if dims == 1 else nn.MaxPool2d)(kernel, stride=stride, padding=padding)
    return (nn.AvgPool1d if dims == 1 else nn.AvgPool2d)(
        kernel, stride=stride, padding=padding, count_include_pad=False
    )


def global_pool(dims: int) -> nn.Module:
    """Global average pooling followed by flattening: ``[B, C, *S] -> [B, C]``."""
    _check_dims(dims)
    return nn.Sequential((nn.AdaptiveAvgPool1d if dims == 1 else nn.AdaptiveAvgPool2d)(1), nn.Flatten(1))


class ReLUConvBN(nn.Sequential):
    r"""ReLU, convolution, normalisation: :math:`\mathrm{BN}(W * \mathrm{ReLU}(x))`.

    Shapes: ``[B, C_in, *S] -> [B, C_out, *S']`` with ``S' = ceil(S / stride)`` for "same" padding.
    """

    def __init__(self, c_in, c_out, kernel, stride=1, padding=0, dilation=1, dims=2, affine=True, norm="bn"):
        super().__init__(
            nn.ReLU(inplace=False),
            conv(dims, c_in, c_out, kernel, stride, padding, dilation),
            *norm_layer(dims, c_out, norm, affine),
        )


class SepConv(nn.Sequential):
    r"""DARTS separable convolution: two (ReLU, depthwise k-conv, pointwise 1x1 conv, BN) stacks.

    Only the first depthwise convolution is strided. ``[B, C_in, *S] -> [B, C_out, *S']``.
    """

    def __init__(self, c_in, c_out, kernel, stride, dims=2, affine=True, norm="bn"):
        pad = kernel // 2
        super().__init__(
            nn.ReLU(inplace=False),
            conv(dims, c_in, c_in, kernel, stride, pad, groups=c_in),
            conv(dims, c_in, c_in, 1),
            *norm_layer(dims, c_in, norm, affine),
            nn.ReLU(inplace=False),
            conv(dims, c_in, c_in, kernel, 1, pad, groups=c_in),
            conv(dims, c_in, c_out, 1),
            *norm_layer(dims, c_out, norm, affine),
        )


class DilConv(nn.Sequential):
    r"""Dilated separable convolution (dilation 2): ReLU, depthwise dilated k-conv, pointwise conv, BN."""

    def __init__(self, c_in, c_out, kernel, stride, dilation=2, dims=2, affine=True, norm="bn"):
        pad = dilation * (kernel - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            conv(dims, c_in, c_in, kernel, stride, pad, dilation, groups=c_in),
            conv(dims, c_in, c_out, 1),
            *norm_layer(dims, c_out, norm, affine),
        )


class FactorizedConv(nn.Sequential):
    r"""Factorised 7x1 then 1x7 convolution (``conv_7x1_1x7``): ReLU, (1, k) conv, (k, 1) conv, BN.

    In 1-D it is a kernel-k convolution followed by a kernel-1 convolution (the same factorisation
    with the missing axis dropped).
    """

    def __init__(self, c_in, c_out, kernel, stride, dims=2, affine=True, norm="bn"):
        pad = kernel // 2
        if dims == 2:
            first = conv(2, c_in, c_in, (1, kernel), (1, stride), (0, pad))
            second = conv(2, c_in, c_out, (kernel, 1), (stride, 1), (pad, 0))
        else:
            first = conv(1, c_in, c_in, kernel, stride, pad)
            second = conv(1, c_in, c_out, 1)
        super().__init__(nn.ReLU(inplace=False), first, second, *norm_layer(dims, c_out, norm, affine))


class Zero(nn.Module):
    r"""The ``none`` operation: :math:`0 \cdot x`, subsampled by ``stride`` (keeps shapes consistent)."""

    def __init__(self, stride: int = 1, dims: int = 2):
        super().__init__()
        self.stride, self.dims = stride, dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        if self.dims == 1:
            return x[:, :, :: self.stride].mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


class FactorizedReduce(nn.Module):
    r"""Halve the spatial size with two offset strided 1x1 convolutions, concatenated, then BN.

    :math:`y = \mathrm{BN}([W_1 * r(x)_{::2};\; W_2 * r(x)_{1::2}])` with :math:`r = \mathrm{ReLU}`.
    Needs an even spatial size. ``[B, C_in, *S] -> [B, C_out, *S/2]``.
    """

    def __init__(self, c_in: int, c_out: int, dims: int = 2, affine: bool = True, norm: str = "bn"):
        super().__init__()
        self.dims = dims
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = conv(dims, c_in, c_out // 2, 1, stride=2)
        self.conv_2 = conv(dims, c_in, c_out - c_out // 2, 1, stride=2)
        self.norm = nn.Sequential(*norm_layer(dims, c_out, norm, affine))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:] if self.dims == 1 else x[:, :, 1:, 1:]
        return self.norm(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def _downsample(dims: int, stride: int) -> nn.Module:
    return pool(dims, "avg", 3, stride, 1) if stride > 1 else nn.Identity()


class SpatialSelfAttention(nn.Module):
    r"""Multi-head self-attention over spatial positions (``msa``).

    The feature map is read as a sequence of :math:`N = \prod S` tokens of width :math:`C`:
    :math:`Y = \mathrm{MHA}(T, T, T)` with :math:`T = \mathrm{flatten}(x)^\top \in \mathbb{R}^{B \times N \times C}`,
    reshaped back to ``[B, C, *S]``. With ``stride=2`` the input is first average-pooled (3, stride 2).
    The number of heads is the largest of 4, 2, 1 that divides ``C`` with at least 8 channels per head.
    """

    def __init__(self, channels: int, stride: int = 1, dims: int = 2):
        super().__init__()
        self.down = _downsample(dims, stride)
        heads = next((h for h in (4, 2) if channels % h == 0 and channels // h >= 8), 1)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        tokens = x.flatten(2).transpose(1, 2)
        out, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return out.transpose(1, 2).reshape(x.shape)


class SqueezeExcite(nn.Module):
    r"""Squeeze-and-excitation (``se``): :math:`y = x \odot \sigma(W_2\, \mathrm{ReLU}(W_1\, \mathrm{GAP}(x)))`.

    :math:`W_1: C \to \max(C/4, 4)`, :math:`W_2` back to :math:`C` (1x1 convolutions with bias).
    With ``stride=2`` the input is first average-pooled (3, stride 2). ``[B, C, *S] -> [B, C, *S']``.
    """

    def __init__(self, channels: int, stride: int = 1, dims: int = 2, reduction: int = 4):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.down = _downsample(dims, stride)
        self.gate = nn.Sequential(
            (nn.AdaptiveAvgPool1d if dims == 1 else nn.AdaptiveAvgPool2d)(1),
            conv(dims, channels, hidden, 1, bias=True),
            nn.ReLU(inplace=False),
            conv(dims, hidden, channels, 1, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        return x * self.gate(x)
