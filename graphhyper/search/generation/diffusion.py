"""Discrete graph diffusion over the categorical decisions of an architecture space (DiffusionNAG-style).

An architecture of a cell space is a fixed set of *slots* (the edges of a NB201 cell, the op and input
choices of a DARTS cell), each holding one of ``K`` categories. :class:`CategoricalSpace` describes the slots,
which categories each slot may take, how slots touch each other in the cell graph, and how tokens map to and from
architectures. :class:`DiscreteDiffusion` is a D3PM (Austin et al. 2021) on those tokens:

* **forward** — a categorical transition per step,
  :math:`q(x_t \\mid x_{t-1}) = \\mathrm{Cat}(\\alpha_t\\, x_{t-1} + (1-\\alpha_t)\\, m)`, so that
  :math:`q(x_t \\mid x_0) = \\mathrm{Cat}(\\bar\\alpha_t\\, x_0 + (1-\\bar\\alpha_t)\\, m)` with
  :math:`\\bar\\alpha_t = \\prod_{s \\le t} \\alpha_s` (cosine schedule). ``m`` is uniform over a slot's allowed
  categories (``transition="uniform"``) or the slot's marginal in the training set (``"marginal"``, DiGress).
* **denoiser** — a small transformer over the slots (token + slot + time embeddings, attention biased towards
  slots that share a node of the cell graph) predicting :math:`\\hat p(x_0 \\mid x_t)`, ``[B, S, K]``; trained
  with the cross-entropy of :math:`x_0`.
* **reverse** — :math:`p(x_{t-1} \\mid x_t) = \\sum_{x_0} q(x_{t-1} \\mid x_t, x_0)\\, \\hat p(x_0 \\mid x_t)`
  (exact posterior of the categorical forward process).
* **guidance** — a differentiable score :math:`f(P)` of a relaxed one-hot architecture ``P`` ``[B, S, K]``
  (a surrogate's predicted accuracy, minus a distance to a target accuracy or a parameter budget) tilts the
  denoiser: :math:`\\log \\tilde p(x_0 \\mid x_t) = \\log \\hat p(x_0 \\mid x_t) + \\lambda\\, \\nabla_P f(P)`
  at :math:`P = \\hat p(x_0 \\mid x_t)`. For a score linear in ``P`` this is exactly
  :math:`\\tilde p(x_0) \\propto \\hat p(x_0)\\, e^{\\lambda f(x_0)}`.

>>> space = nb201_categorical()
>>> model = DiscreteDiffusion(space)
>>> tokens = space.encode_many(space.training_set(seed=0)[:256])
>>> train_diffusion(model, tokens, steps=10, seed=0)                   # doctest: +SKIP
>>> archs = model.sample(8, seed=0)                                    # doctest: +SKIP
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graphhyper.arch.spaces import darts as _darts_ops
from graphhyper.errors import InvalidInputError, SearchError

__all__ = [
    "Guidance",
    "CategoricalSpace",
    "nb201_categorical",
    "DARTS_OPS",
    "darts_categorical",
    "training_set",
    "SlotTransformer",
    "DiscreteDiffusion",
    "guidance_gradient",
    "train_diffusion",
    "metrics",
]

Guidance = Callable[[torch.Tensor], torch.Tensor]  # relaxed one-hot [B, S, K] -> score [B] (higher is better)


# ---------------------------------------------------------------------------------------------- spaces
@dataclass
class CategoricalSpace:
    """Architectures of a cell space as ``S`` categorical slots with at most ``K`` categories each.

    Args:
        name: the space's name (``"nb201"``, ``"darts"``).
        allowed: ``[S, K]`` bool, the categories each slot may take (structure, not learnt).
        encode: architecture -> list of ``S`` ints.
        decode: list of ``S`` ints -> architecture.
        is_valid: architecture -> bool (e.g. the cell connects its input to its output).
        adjacency: ``[S, S]`` bool, slots that touch in the cell graph (biases the denoiser's attention).
        key: architecture -> hashable identity used for uniqueness and novelty.
        enumerate: optional, every architecture of the space (finite spaces).
        features: optional ``P [B, S, K] -> [B, D]`` differentiable featurisation for surrogates
            (default: the flattened one-hot).
        params: optional ``P [B, S, K] -> [B]`` differentiable (expected) parameter count.
    """

    name: str
    allowed: torch.Tensor
    encode: Callable
    decode: Callable
    is_valid: Callable
    adjacency: torch.Tensor
    key: Callable = field(default=lambda arch: arch)
    enumerate: Callable | None = None
    features: Callable | None = None
    params: Callable | None = None

    @property
    def num_slots(self) -> int:
        return int(self.allowed.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.allowed.shape[1])

    def encode_many(self, archs) -> torch.Tensor:
        """``[N, S]`` long tokens of ``archs``."""
        rows = [list(self.encode(a)) for a in archs]
        t = torch.tensor(rows, dtype=torch.long).reshape(len(rows), self.num_slots)
        if len(rows) and not bool(self.allowed[torch.arange(self.num_slots), t].all()):
            raise InvalidInputError(
                f"Some architectures use a category their slot does not allow in space "
                f"{self.name!r}; check that they belong to this space."
            )
        return t

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[N, S] -> [N, S, K]`` float one-hot."""
        return F.one_hot(tokens, self.num_classes).float()

    def featurize(self, P: torch.Tensor) -> torch.Tensor:
        """Surrogate features of relaxed one-hot ``P`` ``[B, S, K]`` (differentiable)."""
        return self.features(P) if self.features is not None else P.flatten(1)


def _nb201_paths() -> list[tuple[int, ...]]:
    # edges: 0:(1<-0) 1:(2<-0) 2:(2<-1) 3:(3<-0) 4:(3<-1) 5:(3<-2); the four input->output paths
    return [(3,), (0, 4), (1, 5), (0, 2, 5)]


def _nb201_path_features(P: torch.Tensor) -> torch.Tensor:
    """Path encoding (BANANAS): for every input->output path, the probability of each sequence of live ops
    (``none`` cuts a path). ``[B, 6, 5] -> [B, 4 + 16 + 16 + 64]``."""
    live = P[:, :, 1:]  # drop 'none'
    feats = []
    for path in _nb201_paths():
        acc = live[:, path[0]]
        for e in path[1:]:
            acc = (acc[:, :, None] * live[:, e][:, None, :]).flatten(1)
        feats.append(acc)
    return torch.cat(feats, dim=1)


def nb201_categorical() -> CategoricalSpace:
    """NAS-Bench-201 cells: 6 edge slots x 5 ops. Valid = some path of non-``none`` ops links input and output."""
    from graphhyper.arch.spaces import nb201

    ops = list(nb201.OPS)
    edges = list(nb201.EDGES)
    adj = torch.tensor([[i != j and bool(set(a) & set(b)) for j, b in enumerate(edges)] for i, a in enumerate(edges)])
    conv3, conv1 = ops.index("nor_conv_3x3"), ops.index("nor_conv_1x1")

    def is_valid(cell) -> bool:
        try:
            cell = nb201.check_cell(cell)
        except Exception:  # noqa: BLE001 - anything that does not parse is invalid
            return False
        reach = {0}
        for (dst, src), op in zip(edges, cell):
            if op != "none" and src in reach:
                reach.add(dst)
        return 3 in reach

    def params(P: torch.Tensor) -> torch.Tensor:
        # NB201 CIFAR-10 network (C=16, N=5): 73,306 + 5 * (n3x3 * (9*5376+224) + n1x1 * (5376+224))
        n3, n1 = P[..., conv3].sum(-1), P[..., conv1].sum(-1)
        return 73306.0 + 5.0 * (n3 * (9 * 5376 + 224) + n1 * (5376 + 224))

    return CategoricalSpace(
        name="nb201",
        allowed=torch.ones(6, len(ops), dtype=torch.bool),
        encode=lambda cell: [ops.index(o) for o in nb201.check_cell(cell)],
        decode=lambda toks: tuple(ops[int(t)] for t in toks),
        is_valid=is_valid,
        adjacency=adj,
        key=lambda cell: tuple(cell),
        enumerate=nb201.all_cells,
        features=lambda P: torch.cat([P.flatten(1), _nb201_path_features(P)], dim=1),
        params=params,
    )


#: The operations of the original DARTS cell space (without ``none``): :data:`graphhyper.arch.spaces.darts.DARTS_OPS`.
DARTS_OPS = _darts_ops.DARTS_OPS


def darts_categorical(nodes: int = 4, ops: tuple | None = None) -> CategoricalSpace:
    """DARTS genotypes (normal + reduction cell): per cell and node, two (op, input) pairs. Slots are
    ``[op, input]`` per edge, ``4 * nodes * 2`` in all; an input slot of node ``i`` allows ``0 .. i+1``.
    Valid = the two inputs of every node differ (the DARTS derivation rule)."""
    op_list = list(ops or DARTS_OPS)
    allowed, adj = _darts_slots(nodes, op_list)

    def encode(geno) -> list[int]:
        return _darts_encode(geno, nodes, op_list)

    def decode(toks):
        return _darts_decode(toks, nodes, op_list)

    def is_valid(geno) -> bool:
        return _darts_is_valid(geno, nodes)

    def key(geno):
        return (tuple(geno.normal), tuple(geno.reduce))

    return CategoricalSpace(
        name="darts", allowed=allowed, encode=encode, decode=decode, is_valid=is_valid, adjacency=adj, key=key
    )


def _darts_slots(nodes: int, ops: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The allowed-token mask and slot adjacency of :func:`darts_categorical` (slots ``(cell, node, edge, kind)``)."""
    K = max(len(ops), nodes + 1)
    slots = []  # (cell, node, edge, kind)
    for cell in range(2):
        for node in range(nodes):
            for e in range(2):
                slots += [(cell, node, e, "op"), (cell, node, e, "in")]
    allowed = torch.zeros(len(slots), K, dtype=torch.bool)
    for s, (_, node, _, kind) in enumerate(slots):
        allowed[s, : len(ops) if kind == "op" else node + 2] = True
    adj = torch.tensor([[a != b and a[:2] == b[:2] for b in slots] for a in slots])
    return allowed, adj


def _darts_encode(geno, nodes: int, ops: list[str]) -> list[int]:
    from graphhyper.arch.spaces import darts

    out = []
    for cell in (geno.normal, geno.reduce):
        if len(cell) != nodes or any(len(node) != 2 for node in cell):
            raise InvalidInputError(
                f"This DARTS categorical space has {nodes} nodes of 2 edges per cell; got "
                f"{cell!r}. Build it with darts_categorical(nodes={len(cell)})."
            )
        for node in cell:
            for op, inp in node:
                op = darts.canonical_op(op)
                if op not in ops:
                    raise InvalidInputError(f"Op {op!r} is not in this space's ops {ops}; pass ops=.")
                out += [ops.index(op), int(inp)]
    return out


def _darts_decode(toks, nodes: int, ops: list[str]):
    from graphhyper.arch.spaces import darts

    toks = [int(t) for t in toks]
    half = len(toks) // 2
    cells = []
    for c in range(2):
        part = toks[c * half : (c + 1) * half]
        edges = [(ops[min(part[i], len(ops) - 1)], part[i + 1]) for i in range(0, half, 2)]
        cells.append(tuple(tuple(edges[2 * n : 2 * n + 2]) for n in range(nodes)))
    concat = tuple(range(2, 2 + nodes))
    return darts.Genotype(normal=cells[0], normal_concat=concat, reduce=cells[1], reduce_concat=concat)


def _darts_is_valid(geno, nodes: int) -> bool:
    try:
        cells = (geno.normal, geno.reduce)
        return all(len(c) == nodes and all(len(n) == 2 and n[0][1] != n[1][1] for n in c) for c in cells)
    except Exception:  # noqa: BLE001
        return False


def training_set(space: CategoricalSpace, seed: int = 0, fraction: float = 0.5, n: int | None = None) -> list:
    """Unlabelled training architectures: a seeded ``fraction`` of the valid architectures of an enumerable
    space (the rest stays unseen, so novelty is measurable), or ``n`` valid random ones otherwise."""
    rng = random.Random(seed)
    if space.enumerate is not None:
        archs = [a for a in space.enumerate() if space.is_valid(a)]
        rng.shuffle(archs)
        return archs[: max(1, int(round(fraction * len(archs))))] if n is None else archs[:n]
    if n is None:
        raise SearchError(f"Space {space.name!r} cannot be enumerated; pass n= to training_set.")
    out: list = []
    allowed = space.allowed.numpy()
    while len(out) < n:
        toks = [rng.choice(np.flatnonzero(row).tolist()) for row in allowed]
        arch = space.decode(toks)
        if space.is_valid(arch):
            out.append(arch)
    return out


# ---------------------------------------------------------------------------------------------- denoiser
class _Block(nn.Module):
    """Pre-norm transformer block with an additive attention bias ``[S, S]`` (same in train and eval mode)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, S, H = h.shape
        q, k, v = self.qkv(self.norm1(h)).reshape(B, S, 3, self.heads, H // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        h = h + self.proj(att.transpose(1, 2).reshape(B, S, H))
        return h + self.mlp(self.norm2(h))


class SlotTransformer(nn.Module):
    """Denoiser :math:`\\hat p(x_0 \\mid x_t, t)` over the slots of a cell.

    :math:`h^{(0)}_s = E_{tok}[x_{t,s}] + E_{slot}[s] + \\mathrm{MLP}(\\mathrm{sinusoid}(t))`, then ``layers``
    pre-norm transformer blocks whose attention logits get :math:`+\\beta A_{ss'}` (``A`` the slot adjacency,
    :math:`\\beta` learnt), then a linear read-out masked to the slot's allowed categories.

    Shapes: tokens ``[B, S]`` long, ``t`` ``[B]`` long -> logits ``[B, S, K]`` (``-inf`` where not allowed).
    """

    allowed: torch.Tensor  # buffers (registered in __init__)
    adjacency: torch.Tensor

    def __init__(
        self, allowed: torch.Tensor, adjacency: torch.Tensor, hidden: int = 64, layers: int = 2, heads: int = 4
    ):
        super().__init__()
        S, K = allowed.shape
        self.hidden, self.heads = hidden, heads
        self.register_buffer("allowed", allowed.clone())
        self.register_buffer("adjacency", adjacency.float())
        self.tok = nn.Embedding(K, hidden)
        self.slot = nn.Embedding(S, hidden)
        self.time = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.adj_bias = nn.Parameter(torch.zeros(()))
        self.blocks = nn.ModuleList(_Block(hidden, heads) for _ in range(layers))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, K))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.tok.weight, std=0.5)
        nn.init.normal_(self.slot.weight, std=0.5)

    def _time_embedding(self, t: torch.Tensor) -> torch.Tensor:
        half = self.hidden // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
        ang = t.float()[:, None] * freqs[None]
        return self.time(torch.cat([ang.sin(), ang.cos()], dim=1))

    def forward(self, tokens: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        S = tokens.shape[1]
        h = self.tok(tokens) + self.slot.weight[None, :S] + self._time_embedding(t)[:, None]
        bias = (self.adj_bias * self.adjacency).to(h.dtype)
        for block in self.blocks:
            h = block(h, bias)
        logits = self.out(h)
        return logits.masked_fill(~self.allowed[None], float("-inf"))

    def __repr__(self) -> str:
        S, K = self.allowed.shape
        return f"{type(self).__name__}(slots={S}, classes={K}, hidden={self.hidden})"


# ---------------------------------------------------------------------------------------------- diffusion
class DiscreteDiffusion(nn.Module):
    """D3PM over a :class:`CategoricalSpace` (see the module docstring for the process and the guidance).

    Args:
        space: the categorical space.
        steps: number of diffusion steps ``T``.
        transition: ``"uniform"`` or ``"marginal"`` (set from data by :func:`train_diffusion`).
        hidden, layers: denoiser size.
    """

    prior: torch.Tensor  # buffers (registered in __init__)
    abar: torch.Tensor
    alpha: torch.Tensor

    def __init__(
        self, space: CategoricalSpace, steps: int = 32, transition: str = "uniform", hidden: int = 64, layers: int = 2
    ):
        super().__init__()
        if transition not in ("uniform", "marginal"):
            raise InvalidInputError(f"transition={transition!r} is unknown; use 'uniform' or 'marginal'.")
        if steps < 1:
            raise InvalidInputError(f"steps={steps} must be >= 1.")
        self.space, self.steps, self.transition = space, steps, transition
        self.denoiser = SlotTransformer(space.allowed, space.adjacency, hidden, layers)
        allowed = space.allowed.float()
        self.register_buffer("prior", allowed / allowed.sum(1, keepdim=True))  # m: [S, K]
        s = 0.008
        x = torch.linspace(0, steps, steps + 1, dtype=torch.float64) / steps
        abar = torch.cos((x + s) / (1 + s) * math.pi / 2) ** 2
        abar = (abar / abar[0]).clamp(min=0.0)
        abar[-1] = 0.0  # x_T carries no information about x_0
        self.register_buffer("abar", abar.float())  # abar[t], t = 0..T
        alpha = (abar[1:] / abar[:-1].clamp(min=1e-12)).clamp(0, 1)
        self.register_buffer("alpha", torch.cat([torch.ones(1), alpha.float()]))  # alpha[t], t = 1..T

    def set_marginal(self, tokens: torch.Tensor) -> None:
        """Use the per-slot category frequencies of ``tokens`` ``[N, S]`` as the transition's stationary ``m``."""
        counts = self.space.one_hot(tokens).sum(0) + 1e-3 * self.space.allowed.float()
        self.prior.copy_(counts / counts.sum(1, keepdim=True))
        self.transition = "marginal"

    # -- forward process
    def q_probs(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """:math:`q(x_t \\mid x_0)`: ``x0`` ``[B, S]`` long, ``t`` ``[B]`` -> ``[B, S, K]``."""
        a = self.abar[t][:, None, None]
        return a * self.space.one_hot(x0) + (1 - a) * self.prior[None]

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw :math:`x_t \\sim q(x_t \\mid x_0)` -> ``[B, S]`` long."""
        return _categorical(self.q_probs(x0, t), generator)

    def loss(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Cross-entropy of :math:`x_0` under :math:`\\hat p(x_0 \\mid x_t)` at uniformly drawn ``t``."""
        B = x0.shape[0]
        t = torch.randint(1, self.steps + 1, (B,), generator=generator)
        logits = self.denoiser(self.q_sample(x0, t, generator), t)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x0.reshape(-1))

    # -- reverse process
    def posterior(self, xt: torch.Tensor, t: int, p0: torch.Tensor) -> torch.Tensor:
        """:math:`p(x_{t-1} \\mid x_t) = \\sum_{x_0} q(x_{t-1} \\mid x_t, x_0)\\, p_0(x_0)` -> ``[B, S, K]``."""
        m = self.prior[None]  # [1, S, K]
        a_t, ab_prev = self.alpha[t], self.abar[t - 1]
        xt_oh = self.space.one_hot(xt)
        m_xt = (m * xt_oh).sum(-1, keepdim=True)  # m[x_t]: [B, S, 1]
        lik = a_t * xt_oh + (1 - a_t) * m_xt  # q(x_t | x_{t-1}=j), over j: [B, S, K]
        # q(x_t | x_0=k) over k (the normaliser of each branch)
        z = self.abar[t] * xt_oh + (1 - self.abar[t]) * m_xt
        w = p0 / z.clamp(min=1e-12)  # p0(k) / q(x_t | k)
        # sum_k w_k * lik_j * (ab_prev [j=k] + (1-ab_prev) m_j)
        mix = ab_prev * w + (1 - ab_prev) * m * w.sum(-1, keepdim=True)
        probs = lik * mix * self.space.allowed[None]
        return probs / probs.sum(-1, keepdim=True).clamp(min=1e-12)

    def guided_p0(self, xt: torch.Tensor, t: int, guidance: Guidance | None, scale: float) -> torch.Tensor:
        """:math:`\\tilde p(x_0 \\mid x_t)`: the denoiser's estimate tilted by ``scale * grad f``."""
        tt = torch.full((xt.shape[0],), t, dtype=torch.long)
        with torch.no_grad():
            logits = self.denoiser(xt, tt)
        if guidance is not None and scale != 0:
            logits = logits + scale * guidance_gradient(guidance, logits.softmax(-1))
            logits = logits.masked_fill(~self.space.allowed[None], float("-inf"))
        return logits.softmax(-1)

    @torch.no_grad()
    def sample_tokens(
        self, n: int, seed: int = 0, guidance: Guidance | None = None, scale: float = 0.0, batch_size: int = 1024
    ) -> torch.Tensor:
        """Ancestral sampling -> ``[n, S]`` long tokens (seeded; ``guidance`` tilts every step)."""
        g = torch.Generator().manual_seed(int(seed))
        out = []
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            xt = _categorical(self.prior[None].expand(b, -1, -1), g)
            for t in range(self.steps, 0, -1):
                p0 = self.guided_p0(xt, t, guidance, scale)
                xt = _categorical(p0 if t == 1 else self.posterior(xt, t, p0), g)
            out.append(xt)
        return torch.cat(out) if out else torch.zeros(0, self.space.num_slots, dtype=torch.long)

    @torch.no_grad()
    def edit_tokens(
        self, x0: torch.Tensor, t_start: int, seed: int = 0, guidance: Guidance | None = None, scale: float = 0.0
    ) -> torch.Tensor:
        """Local proposals around ``x0`` ``[n, S]`` (SDEdit for D3PM): draw :math:`x_{t_0} \\sim q(x_{t_0} \\mid
        x_0)`, then run the (guided) reverse process from ``t_start`` down to 0 -> ``[n, S]`` long. Small
        ``t_start`` keeps most slots of ``x0``; ``t_start = steps`` is a fresh sample."""
        if not 1 <= t_start <= self.steps:
            raise InvalidInputError(f"t_start={t_start} must be in 1..{self.steps} (the model's diffusion steps).")
        g = torch.Generator().manual_seed(int(seed))
        xt = self.q_sample(x0, torch.full((x0.shape[0],), t_start, dtype=torch.long), g)
        for t in range(t_start, 0, -1):
            p0 = self.guided_p0(xt, t, guidance, scale)
            xt = _categorical(p0 if t == 1 else self.posterior(xt, t, p0), g)
        return xt

    def sample(self, n: int, seed: int = 0, guidance: Guidance | None = None, scale: float = 0.0) -> list:
        """``n`` architectures of the space (decoded tokens; validity is not forced — see :func:`metrics`)."""
        was = self.training
        self.eval()
        try:
            toks = self.sample_tokens(n, seed, guidance, scale)
        finally:
            self.train(was)
        return [self.space.decode(row.tolist()) for row in toks]


def guidance_gradient(guidance: Guidance, P: torch.Tensor) -> torch.Tensor:
    """:math:`\\nabla_P \\sum_b f(P_b)` for relaxed one-hot ``P`` ``[B, S, K]``."""
    with torch.enable_grad():
        P = P.detach().requires_grad_(True)
        score = guidance(P)
        if score.shape != P.shape[:1]:
            raise InvalidInputError(f"A guidance function must map [B, S, K] to [B]; it returned {tuple(score.shape)}.")
        (grad,) = torch.autograd.grad(score.sum(), P)
    return grad


def _categorical(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    shape = probs.shape[:-1]
    flat = probs.reshape(-1, probs.shape[-1]).clamp(min=0)
    return torch.multinomial(flat, 1, generator=generator).reshape(shape)


def train_diffusion(
    model: DiscreteDiffusion,
    tokens: torch.Tensor,
    steps: int = 1500,
    batch_size: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
    marginal: bool | None = None,
    progress: bool = False,
) -> list[float]:
    """Fit the denoiser on unlabelled architectures ``tokens`` ``[N, S]`` (Adam, cosine lr); returns losses."""
    if tokens.ndim != 2 or tokens.shape[0] == 0:
        raise InvalidInputError(f"tokens must be a non-empty [N, S] tensor; got shape {tuple(tokens.shape)}.")
    if marginal or (marginal is None and model.transition == "marginal"):
        model.set_marginal(tokens)
    g = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(seed)
    model.denoiser.reset_parameters()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    losses = []
    model.train()
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="diffusion", leave=False)
    for _ in it:
        idx = torch.randint(0, tokens.shape[0], (batch_size,), generator=g)
        loss = model.loss(tokens[idx], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def metrics(space: CategoricalSpace, samples, train) -> dict[str, float]:
    """Validity, uniqueness (distinct valid / valid) and novelty (valid distinct not in ``train`` / distinct
    valid), as fractions — the DiffusionNAG definitions."""
    valid = [a for a in samples if space.is_valid(a)]
    keys = {space.key(a) for a in valid}
    seen = {space.key(a) for a in train}
    n = max(1, len(samples))
    return {
        "validity": len(valid) / n,
        "uniqueness": len(keys) / max(1, len(valid)),
        "novelty": len(keys - seen) / max(1, len(keys)),
    }
