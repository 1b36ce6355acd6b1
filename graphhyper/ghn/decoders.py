"""Decoders of a GHN: parameter embeddings ``[G, hidden]`` -> raw tensors ``[G, *shape]``.

Every decoder is called once per *shape group* (all parameters of one shape across all architectures of a
batch), so decoding cost is a handful of batched matmuls, not a Python loop over parameters.

* :class:`TiledDecoder` -- GHN-2 baseline: one fixed tile (``16 x 16 x 3 x 3``) per parameter, repeated and
  cropped to the target shape.
* :class:`LowRankDecoder` -- LoGAH-style: a rank-``r`` factorisation whose factors are generated row by row
  from Fourier codes of the row / column index, so its size does not depend on the target width.
* :class:`Theta0` -- the MIP option (Ortiz et al., ICLR 2024): free learned tensors ``theta0``, one per
  parameter kind, tiled / cropped to each target; :func:`mip_output` adds the decoded residual to them,
  ``theta = theta0 + delta``, with no renormalisation of the sum.

Without MIP, :func:`normalize_output` applies the operation-dependent output normalisation; its ``weight_scale``
picks how the size of a weight is measured: ``"rms"`` (entry RMS, GHN-2's fan-in rule) or ``"spectral"`` (largest
singular value, so that a low-rank prediction cannot amplify its own row space more than a random init does; see
:func:`spectral_target`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from graphhyper.errors import InvalidInputError

#: Bounds of the output normalisation (see :func:`normalize_output`).
BIAS_BOUND = 0.25
NORM_BIAS_BOUND = 0.5
NORM_WEIGHT_SPREAD = 0.5  # norm-layer scales live in (1 - spread, 1 + spread)
GAIN_MIN, GAIN_MAX = 0.5, 2.0  # learned gain of weights, times the He scale
#: Tile sizes of the free MIP tensors theta0: weights ``THETA0_TILE x THETA0_TILE (x 9 kernel positions)``, vectors.
THETA0_TILE = 32
THETA0_VEC_TILE = 64
MIP_VECTOR_SCALE = 0.1  # fixed factor of the MIP residual of vectors and scalars (see mip_output)
#: How the size of a predicted weight / embedding is normalised (``GHNConfig.weight_scale``).
WEIGHT_SCALES = ("rms", "spectral")
POWER_SQUARINGS = 8  # the spectral norm's power iteration runs on Gram^(2^8) (r x r for the low-rank decoder)


def check_shape(name: str, shape: tuple[int, ...], max_dim: int) -> None:
    """Raise :class:`InvalidInputError` when a dimension of ``shape`` exceeds the decoder's ``max_dim``."""
    big = [s for s in shape if s > max_dim]
    if big:
        raise InvalidInputError(
            f"Parameter '{name}' has shape {tuple(shape)}; dimension {max(big)} exceeds this GHN's max_dim={max_dim} "
            f"(the largest width its index codes are defined for). Use a GHN configured with max_dim >= {max(big)} "
            "(GHNConfig(max_dim=...)) or predict this model's other parameters and initialise this one yourself."
        )


class LowRankDecoder(nn.Module):
    r"""Low-rank (CP) decoder whose size is independent of the target width.

    For a parameter of shape :math:`(o, i, k_1, \dots)` with embedding :math:`h`:

    .. math::
        A = \Phi_o\, M_A(h) \in \mathbb{R}^{o \times r},\quad B = \Phi_i\, M_B(h) \in \mathbb{R}^{i \times r},
        \quad C = \Psi_{k}\, M_C(h) \in \mathbb{R}^{K \times r}

    .. math::
        W_{a,b,c} = \tfrac{1}{\sqrt r}\sum_{\rho=1}^{r} A_{a\rho} B_{b\rho} C_{c\rho}

    where :math:`\Phi_n \in \mathbb{R}^{n \times D}` are fixed unit-norm Fourier codes of the indices
    :math:`0..n-1` (random frequencies, shared by rows and columns so consecutive layers can align channel
    ``a`` of one layer with input ``a`` of the next), :math:`\Psi_k` Fourier codes of centred kernel
    coordinates, and :math:`M_\cdot(h)` linear maps of the embedding. 2-D weights drop :math:`C`; vectors are
    :math:`v = \Phi_n m(h) + c(h)`.

    Shapes: ``h [G, hidden]`` -> ``[G, *shape]``.
    """

    freqs: torch.Tensor  # buffers
    phases: torch.Tensor

    def __init__(self, hidden: int, rank: int = 16, code_dim: int = 64, max_dim: int = 2**17, seed: int = 0):
        super().__init__()
        self.rank, self.code_dim, self.max_dim = rank, code_dim, max_dim
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("freqs", torch.rand(code_dim // 2, generator=gen) * math.pi)
        self.register_buffer("phases", torch.rand(code_dim // 2, generator=gen) * 2 * math.pi)
        self.kdim = 24
        self.row = nn.Linear(hidden, code_dim * rank)
        self.col = nn.Linear(hidden, code_dim * rank)
        self.ker = nn.Linear(hidden, self.kdim * rank)
        self.vec = nn.Linear(hidden, code_dim)
        self.off = nn.Linear(hidden, 1)
        self._cache: dict[tuple, torch.Tensor] = {}

    def codes(self, n: int) -> torch.Tensor:
        """Unit-norm Fourier codes of the indices ``0..n-1``: ``[n, code_dim]``."""
        key = ("idx", n, self.freqs.device, self.freqs.dtype)
        if key not in self._cache:
            ang = torch.arange(n, device=self.freqs.device, dtype=self.freqs.dtype).unsqueeze(1) * self.freqs
            ang = ang + self.phases
            self._cache[key] = torch.cat([ang.sin(), ang.cos()], 1) / math.sqrt(self.code_dim // 2)
        return self._cache[key]

    def kernel_codes(self, dims: tuple[int, ...]) -> torch.Tensor:
        """Codes of the centred coordinates of a kernel of extent ``dims``: ``[prod(dims), 24]``."""
        key = ("ker", dims, self.freqs.device)
        if key not in self._cache:
            dims3 = (tuple(dims) + (1, 1, 1))[:3]
            w = torch.arange(4, dtype=torch.float32) * (math.pi / 4)
            axes = [torch.arange(k, dtype=torch.float32) - (k - 1) / 2 for k in dims3]
            grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)  # [K, 3]
            ang = grid.unsqueeze(-1) * w  # [K, 3, 4]
            feats = torch.cat([ang.cos(), ang.sin()], -1).reshape(grid.shape[0], -1) / math.sqrt(12)
            self._cache[key] = feats.to(self.freqs.device)
        return self._cache[key]

    def factors(self, h: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Factors ``(A [G, o, r], B [G, prod(shape[1:]), r])`` with ``W = A B^T`` (``1/sqrt(r)`` folded in A)."""
        g, r, d = h.shape[0], self.rank, self.code_dim
        a = self.codes(shape[0]).to(h.dtype) @ self.row(h).view(g, d, r)  # [G, o, r]
        b = self.codes(shape[1]).to(h.dtype) @ self.col(h).view(g, d, r)  # [G, i, r]
        if len(shape) > 2:
            c = self.kernel_codes(tuple(shape[2:])).to(h.dtype) @ self.ker(h).view(g, self.kdim, r)  # [G, K, r]
            b = (b.unsqueeze(2) * c.unsqueeze(1)).reshape(g, -1, r)
        return a / math.sqrt(r), b

    def forward(self, h: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        g = h.shape[0]
        if len(shape) == 0:
            return self.off(h).view(g)
        if len(shape) == 1:
            return torch.einsum("nd,gd->gn", self.codes(shape[0]).to(h.dtype), self.vec(h)) + self.off(h)
        a, b = self.factors(h, shape)
        return (a @ b.transpose(1, 2)).view(g, *shape)


def kernel_index(dims: tuple[int, ...]) -> torch.Tensor:
    """Index in a flattened 3x3 tile of every entry of a kernel of extent ``dims`` (centred, wrapped): ``[K]``."""
    dims2 = (tuple(dims) + (1, 1))[:2] if len(dims) <= 2 else (dims[0], math.prod(dims[1:]))
    rows = [(torch.arange(k) - (k - 1) // 2 + 1) % 3 for k in dims2]
    return (rows[0].view(-1, 1) * 3 + rows[1].view(1, -1)).reshape(-1)


class TiledDecoder(nn.Module):
    r"""GHN-2 tiled decoder (baseline).

    An MLP maps :math:`h` to one tile :math:`T \in \mathbb{R}^{t_o \times t_i \times 3 \times 3}`; the target
    :math:`W_{a,b,p,q} = T_{a \bmod t_o,\, b \bmod t_i,\, p', q'}` with :math:`(p', q')` the kernel position
    centred in the 3x3 tile (wrapped when the kernel is larger). Vectors tile a length-``t_v`` output.
    Its output size grows as ``hidden * t_o * t_i * 9`` -- the cost LoGAH removes.

    Shapes: ``h [G, hidden]`` -> ``[G, *shape]``.
    """

    def __init__(
        self,
        hidden: int,
        tile: tuple[int, int] = (16, 16),
        mlp_hidden: int = 64,
        vec_tile: int = 64,
        max_dim: int = 2**17,
    ):
        super().__init__()
        self.to_, self.ti = tile
        self.tv, self.max_dim = vec_tile, max_dim
        self.mlp = nn.Sequential(
            nn.Linear(hidden, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, self.to_ * self.ti * 9)
        )
        self.vec = nn.Linear(hidden, vec_tile)

    _kernel_index = staticmethod(kernel_index)

    def forward(self, h: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        g = h.shape[0]
        dev = h.device
        if len(shape) == 0:
            return self.vec(h)[:, 0]
        if len(shape) == 1:
            return self.vec(h)[:, torch.arange(shape[0], device=dev) % self.tv]
        tile = self.mlp(h).view(g, self.to_, self.ti, 9)
        ki = self._kernel_index(tuple(shape[2:])).to(dev) if len(shape) > 2 else torch.tensor([4], device=dev)
        w = tile[..., ki]  # kernel positions first: never materialise 9 x the target
        w = w[:, torch.arange(shape[0], device=dev) % self.to_]
        w = w[:, :, torch.arange(shape[1], device=dev) % self.ti]
        return w.reshape(g, *shape)


def tile_to(tile: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    r"""Repeat and crop ``tile`` to ``shape``, as the tiled decoder does.

    Weights: :math:`W_{a,b,k} = T_{a \bmod t_o,\, b \bmod t_i,\, \kappa(k)}` with ``tile [t_o, t_i, 9]`` for
    kernels (:math:`\kappa` = :func:`kernel_index`) and ``[t_o, t_i]`` for 2-D shapes; vectors
    :math:`v_a = t_{a \bmod t_v}`; scalars are the 0-d tile itself.
    """
    if len(shape) == 0:
        return tile
    dev = tile.device
    if len(shape) == 1:
        return tile[torch.arange(shape[0], device=dev) % tile.shape[0]]
    w = tile[..., kernel_index(tuple(shape[2:])).to(dev)] if len(shape) > 2 else tile
    w = w[torch.arange(shape[0], device=dev) % tile.shape[0]]
    w = w[:, torch.arange(shape[1], device=dev) % tile.shape[1]]
    return w.reshape(shape)


class Theta0(nn.Module):
    r"""The MIP base parameters :math:`\theta_0`: free learned tensors, independent of the input graph.

    MIP (Ortiz, Guttag, Dalca, ICLR 2024) predicts :math:`\theta = \theta_0 + h(x)` with :math:`\theta_0` a
    separate learned copy of the primary network's parameters. A GHN predicts for any architecture, so there is
    one :math:`\theta_0` per *parameter kind* -- the role (:data:`~graphhyper.ghn.features.ROLES`), with 2-D
    matrices and kernels (>= 3-D) apart -- repeated and cropped to each target by :func:`tile_to`:

    * ``weight`` ``[32, 32]``, ``weight_kernel`` ``[32, 32, 9]``: :math:`\mathcal N(0, 1)` (times the fixed
      :math:`\sqrt{2/\mathrm{fan\_in}}` of :func:`mip_output`: He-normal, ``kaiming_normal_``);
      ``embedding``, ``embedding_kernel``: :math:`\mathcal N(0, 1)` (``nn.Embedding``'s init);
    * ``norm_weight`` ``[64]``: ones; ``bias``, ``norm_bias``, ``vector`` ``[64]`` and ``scalar`` ``[]``: zeros.

    ``forward(role, shape)`` returns the unscaled base of one target, shape ``shape``.
    """

    KINDS = (
        "weight",
        "weight_kernel",
        "embedding",
        "embedding_kernel",
        "bias",
        "norm_weight",
        "norm_bias",
        "vector",
        "scalar",
    )

    def __init__(self, tile: int = THETA0_TILE, vec_tile: int = THETA0_VEC_TILE):
        super().__init__()
        tiles: dict[str, torch.Tensor] = {}
        for role in ("weight", "embedding"):
            tiles[role] = torch.randn(tile, tile)
            tiles[f"{role}_kernel"] = torch.randn(tile, tile, 9)
        for role in ("bias", "norm_weight", "norm_bias", "vector"):
            tiles[role] = torch.ones(vec_tile) if role == "norm_weight" else torch.zeros(vec_tile)
        tiles["scalar"] = torch.zeros(())
        self.tiles = nn.ParameterDict({k: nn.Parameter(v) for k, v in tiles.items()})

    @staticmethod
    def kind(role: str, shape: tuple[int, ...]) -> str:
        """The :attr:`KINDS` entry of a parameter of ``role`` and ``shape``."""
        return f"{role}_kernel" if len(shape) > 2 else role

    def forward(self, role: str, shape: tuple[int, ...]) -> torch.Tensor:
        tile = self.tiles[self.kind(role, shape)]
        if tile.dim() != min(len(shape), 3):
            raise InvalidInputError(
                f"A parameter of role {role!r} has shape {tuple(shape)}, which MIP's theta0 of that role "
                f"({tuple(tile.shape)}) cannot be tiled to; give it a role that matches its rank."
            )
        return tile_to(tile, shape)


def mip_output(theta0: torch.Tensor, delta: torch.Tensor, role: str, fan_in: torch.Tensor) -> torch.Tensor:
    r"""MIP's additive output of a group: ``theta0 [*shape]``, ``delta [G, *shape]``, ``fan_in [G]`` -> ``[G, *shape]``.

    .. math::
        \theta = \sqrt{2/\mathrm{fan\_in}}\,(\theta_0 + \Delta) \ \text{(weight)},\qquad
        \theta = \theta_0 + \Delta \ \text{(embedding)},\qquad
        \theta = \theta_0 + \varepsilon\,\Delta \ \text{(vectors, scalars)}

    The factors are fixed constants of the target (He scale; :math:`\varepsilon` = ``MIP_VECTOR_SCALE`` = 0.1,
    which only sets the residual's size at initialisation, as an output-layer init would: decoded vectors start
    with an RMS of about 1, which would put norm scales at :math:`1 \pm 1`). So :math:`\theta` is affine in
    :math:`\Delta` -- doubling the residual doubles :math:`\theta - \theta|_{\Delta=0}` -- and the sum is
    neither renormalised nor squashed.
    """
    out = theta0.unsqueeze(0) + (delta if role in ("weight", "embedding") else MIP_VECTOR_SCALE * delta)
    if role == "weight":
        out = out * torch.sqrt(2.0 / fan_in.to(out.dtype)).view(-1, *([1] * (out.dim() - 1)))
    return out


def normalize_output(
    raw: torch.Tensor, role: str, fan_in: torch.Tensor, gain: torch.Tensor, weight_scale: str = "rms"
) -> torch.Tensor:
    r"""Operation-dependent normalisation of a decoded group ``raw [G, *shape]``.

    * ``weight``: :math:`W = \gamma(g)\sqrt{2/\mathrm{fan\_in}}\; \hat W / \mathrm{rms}(\hat W)`
      (He scaling times a learned gain :math:`\gamma(g) = 0.5 + 1.5\sigma(g) \in (0.5, 2)`, bounded away from
      zero so a meta-batch cannot collapse to uniform logits).
    * ``embedding`` (``[num, dim]``, ``fan_in = dim``): :math:`\gamma(g)\, \hat W / (\mathrm{rms}(\hat W)
      \sqrt{\mathrm{dim}})`, entries of order :math:`1/\sqrt{\mathrm{dim}}`, so that a head tied to the embedding
      (GPT-2) starts with logits of order one instead of :math:`\sqrt{\mathrm{dim}}`.
    * ``norm_weight``: :math:`1 + 0.5\tanh(\hat w) \in (0.5, 1.5)`; ``norm_bias``: :math:`0.5 \tanh(\hat b)`.
    * ``bias`` / other vectors: :math:`0.25 \tanh(\hat b)`; scalars: :math:`\tanh`.

    With ``weight_scale="spectral"`` weights and embeddings are instead divided by their largest singular value
    (of the ``[fan_out, fan_in]`` matrix view) and scaled to :func:`spectral_target`. ``fan_in`` and ``gain`` are
    ``[G]``.
    """
    if role in ("weight", "embedding"):
        ones = [1] * (raw.dim() - 1)
        if weight_scale == "spectral":
            mat = raw.reshape(raw.shape[0], raw.shape[1], -1)
            gram = mat @ mat.transpose(1, 2) if mat.shape[1] <= mat.shape[2] else mat.transpose(1, 2) @ mat
            sigma = spectral_norm(gram, gram, gram_a_identity=True)
            return (
                raw / sigma.view(-1, *ones) * spectral_target(role, fan_in, gain, tuple(raw.shape[1:])).view(-1, *ones)
            )
        dims = tuple(range(1, raw.dim()))
        rms = raw.pow(2).mean(dim=dims, keepdim=True).add(1e-8).sqrt()
        return raw / rms * _weight_scale(role, fan_in, gain).view(-1, *ones)
    if role == "norm_weight":
        return 1 + NORM_WEIGHT_SPREAD * torch.tanh(raw)
    if role == "norm_bias":
        return NORM_BIAS_BOUND * torch.tanh(raw)
    if role in ("bias", "vector"):
        return BIAS_BOUND * torch.tanh(raw)
    return torch.tanh(raw)


def _weight_scale(role: str, fan_in: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Entry RMS of a predicted ``weight`` (``gamma * sqrt(2 / fan_in)``) or ``embedding`` (``gamma / sqrt(dim)``)."""
    # bounded away from 0: a learnable scale that can reach 0 lets a meta-batch collapse to uniform logits
    scale = GAIN_MIN + (GAIN_MAX - GAIN_MIN) * torch.sigmoid(gain)
    if role == "weight":
        scale = scale * torch.sqrt(2.0 / fan_in.to(gain.dtype))
    elif role == "embedding":  # rows of norm ~gain: a tied output head (GPT-2) then gives O(1) logits
        scale = scale * torch.rsqrt(fan_in.to(gain.dtype))
    return scale


def spectral_target(role: str, fan_in: torch.Tensor, gain: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    r"""Largest singular value of a predicted weight with ``weight_scale="spectral"``: ``[G]``.

    For the ``[o, m]`` matrix view of ``shape`` (``o = shape[0]``, ``m = prod(shape[1:])``):

    .. math::
        \sigma_{\max}(W) = s(\mathrm{fan\_in})\,\sqrt{o}\quad (o \ge 2),\qquad
        \sigma_{\max}(W) = s(\mathrm{fan\_in})\,\sqrt{m}\quad (o = 1)

    with :math:`s` the entry RMS of the ``"rms"`` rule (:math:`\gamma\sqrt{2/\mathrm{fan\_in}}` for weights,
    :math:`\gamma/\sqrt{\mathrm{dim}}` for embeddings). Why: an i.i.d. random tensor with entry std :math:`s` maps a
    unit input of any direction to a vector of norm about :math:`s\sqrt{o}`; a decoded weight of rank :math:`r` with
    the same entry RMS maps the unit inputs of its row space to norm :math:`s\sqrt{o}\sqrt{m/r}` or more -- and the
    row spaces of consecutive predicted layers line up, so under the RMS rule activations and logits grow with
    :math:`\sqrt{\mathrm{width}/r}`. This rule gives the inputs a prediction amplifies most the random init's
    typical gain, at every width (the ratio does not depend on :math:`o`, :math:`m` or :math:`r`). A single row
    (``o = 1``: a position table ``[1, T, d]``, which is added, not applied) keeps the RMS rule, which for one row
    is the same as :math:`\sigma_{\max} = s\sqrt{m}`.
    """
    rows = shape[0] if shape[0] > 1 else math.prod(shape[1:])
    return _weight_scale(role, fan_in, gain) * math.sqrt(rows)


def spectral_norm(gram_a: torch.Tensor, gram_b: torch.Tensor, gram_a_identity: bool = False) -> torch.Tensor:
    r"""Largest singular value of :math:`W = AB^\top` from the Gram matrices ``A^T A``, ``B^T B`` (``[G, r, r]``).

    The nonzero squared singular values of :math:`W` are the eigenvalues of :math:`G_A G_B`; the top eigenvector
    :math:`u` comes from power iteration on :math:`(G_A G_B)^{256}` (:data:`POWER_SQUARINGS` squarings) without
    gradient, and the value is the
    Rayleigh quotient of the input :math:`x = Bu`,
    :math:`\sigma^2 = \lVert W x\rVert^2 / \lVert x\rVert^2 = u^\top G_B G_A G_B u / u^\top G_B u`, whose
    gradient is the gradient of :math:`\sigma_{\max}` at convergence (no eigendecomposition to differentiate).
    With ``gram_a_identity`` (a materialised ``W``: ``A = I``; pass the smaller of ``W W^T``, ``W^T W`` as both
    arguments) :math:`G_A` is skipped and the value is :math:`\sqrt{\lambda_{\max}(G_B)}`.
    Returns ``[G]``.
    """
    with torch.no_grad():
        prod = gram_b if gram_a_identity else gram_a @ gram_b
        for _ in range(POWER_SQUARINGS):  # prod^(2^k), rescaled: the other eigen-directions die out fast
            prod = prod / prod.abs().amax((1, 2), keepdim=True).clamp_min(1e-30)
            prod = prod @ prod
        u = torch.ones(prod.shape[0], prod.shape[1], 1, dtype=prod.dtype, device=prod.device)
        u = u + 0.01 * torch.arange(prod.shape[1], dtype=prod.dtype, device=prod.device).view(1, -1, 1)
        for _ in range(2):
            u = prod @ u
            u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-30)
    gb_u = gram_b @ u
    num = gb_u if gram_a_identity else gram_a @ gb_u
    sq = (gb_u * num).sum((1, 2)) / (u * gb_u).sum((1, 2)).clamp_min(1e-30)
    return sq.clamp_min(1e-16).sqrt()


def normalized_from_factors(
    a: torch.Tensor,
    b: torch.Tensor,
    shape: tuple[int, ...],
    role: str,
    fan_in: torch.Tensor,
    gain: torch.Tensor,
    weight_scale: str = "rms",
) -> torch.Tensor:
    r""":func:`normalize_output` of ``W = A B^T`` without materialising ``W`` twice.

    The RMS comes from the Gram matrices, :math:`\lVert AB^\top\rVert_F^2 = \sum (A^\top A) \circ (B^\top B)`
    (``"spectral"``: the largest singular value, :func:`spectral_norm`), and the scale is folded into :math:`A`,
    so the output is written by a single batched matmul.
    """
    gram_a, gram_b = a.transpose(1, 2) @ a, b.transpose(1, 2) @ b
    if weight_scale == "spectral":
        coef = spectral_target(role, fan_in, gain, shape) / spectral_norm(gram_a, gram_b)
    else:
        sq = (gram_a * gram_b).sum((1, 2))
        numel = a.shape[1] * b.shape[1]
        coef = _weight_scale(role, fan_in, gain) / (sq / numel + 1e-8).sqrt()
    return ((a * coef.view(-1, 1, 1)) @ b.transpose(1, 2)).view(a.shape[0], *shape)


def build_decoder(kind: str, hidden: int, rank: int = 16, max_dim: int = 2**17, code_dim: int = 64) -> nn.Module:
    """``kind`` in ``{"tiled", "lowrank"}`` (with MIP the same decoder predicts the residual; ``rank`` and
    ``code_dim`` are the low-rank decoder's)."""
    if kind == "lowrank":
        return LowRankDecoder(hidden, rank=rank, code_dim=code_dim, max_dim=max_dim)
    if kind == "tiled":
        return TiledDecoder(hidden, max_dim=max_dim)
    raise ValueError(f"unknown decoder {kind!r}; choose 'tiled' or 'lowrank'")


__all__ = [
    "LowRankDecoder",
    "TiledDecoder",
    "Theta0",
    "kernel_index",
    "tile_to",
    "mip_output",
    "normalize_output",
    "normalized_from_factors",
    "spectral_norm",
    "spectral_target",
    "WEIGHT_SCALES",
    "build_decoder",
    "check_shape",
]
