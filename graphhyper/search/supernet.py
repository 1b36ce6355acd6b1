"""Differentiable architecture search over the DARTS cell space: DARTS (Liu et al. 2019) and sharpDARTS'
improvements (Hundt et al. 2019).

The supernet has the layout of :func:`graphhyper.arch.spaces.darts.build` (stem, cells, global pool, linear),
but every edge ``i -> j`` of a cell is a :class:`MixedOp` over ``ops`` (built by ``darts.make_op``):

.. math::
    \\bar o^{(i,j)}(x) = \\sum_{o} w_o^{(i,j)}\\, o(x), \\qquad w^{(i,j)} = \\mathrm{softmax}(\\alpha^{(i,j)})

and node ``j`` sums :math:`\\bar o^{(i,j)}(x_i)` over all earlier nodes. Architecture weights ``alpha``
(``[E, |ops|]`` for the normal and for the reduction cell, ``E = sum_j (j + 2)``) and network weights ``w`` are
trained alternately (bilevel):

* **first order**: :math:`\\alpha \\leftarrow \\alpha - \\eta_\\alpha \\nabla_\\alpha L_{val}(w, \\alpha)`;
* **second order** (unrolled): the gradient at :math:`w' = w - \\xi \\nabla_w L_{train}(w, \\alpha)`,
  :math:`\\nabla_\\alpha L_{val}(w', \\alpha) - \\xi \\nabla^2_{\\alpha, w} L_{train}(w, \\alpha)
  \\nabla_{w'} L_{val}(w', \\alpha)`, the Hessian-vector product by central finite differences at
  :math:`w^\\pm = w \\pm \\epsilon \\nabla_{w'} L_{val}`;
* **Max-W** (sharpDARTS): :math:`w = \\mathrm{softmax}(\\alpha) + 1 - \\max \\mathrm{softmax}(\\alpha)`; the
  strongest op keeps weight 1, so the others cannot hide behind a rescaled mixture;
* **cosine power annealing** (sharpDARTS) of the weight learning rate:
  :math:`\\eta(t) = \\eta_{min} + (\\eta_{max} - \\eta_{min}) \\frac{p^{c(t)} - 1}{p - 1}`,
  :math:`c(t) = \\tfrac12 (1 + \\cos(\\pi t / T))`; ``p -> 1`` is plain cosine annealing.

The derived genotype keeps, for every node, the two incoming edges whose strongest non-``none`` op weighs most
(DARTS' rule) and becomes a :class:`~graphhyper.arch.spaces.darts.DartsSpec` — buildable, traceable into an
ArchGraph, trainable or handed to the GHN like any other architecture.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from graphhyper.arch.spaces import darts as _darts_ops
from graphhyper.errors import InvalidInputError, SearchError

__all__ = [
    "DARTS_SEARCH_OPS",
    "cosine_power_annealing",
    "mix_weights",
    "MixedOp",
    "SearchCell",
    "Supernet",
    "DartsConfig",
    "DartsResult",
    "arch_step",
    "weight_step",
    "darts_search",
    "SupernetSearcher",
]

#: The original DARTS operation set (``none`` included, as in the DARTS supernet):
#: :data:`graphhyper.arch.spaces.darts.DARTS_SEARCH_OPS`.
DARTS_SEARCH_OPS = _darts_ops.DARTS_SEARCH_OPS


def cosine_power_annealing(step: int, total: int, lr_max: float, lr_min: float = 0.0, power: float = 10.0) -> float:
    """sharpDARTS' schedule: :math:`\\eta_{min} + (\\eta_{max}-\\eta_{min})(p^{c}-1)/(p-1)`,
    :math:`c = (1 + \\cos(\\pi\\, step/total))/2`. ``power=1`` gives cosine annealing."""
    if total <= 0 or power <= 0:
        raise InvalidInputError(f"cosine_power_annealing needs total > 0 and power > 0 (got {total}, {power}).")
    c = 0.5 * (1.0 + math.cos(math.pi * min(max(step, 0), total) / total))
    frac = c if abs(power - 1.0) < 1e-9 else (power**c - 1.0) / (power - 1.0)
    return lr_min + (lr_max - lr_min) * frac


def mix_weights(alpha: torch.Tensor, max_w: bool = False) -> torch.Tensor:
    """Op weights from architecture logits ``alpha`` ``[E, O]``: softmax, or Max-W ``softmax + 1 - max``."""
    w = alpha.softmax(-1)
    if max_w:
        w = w + 1.0 - w.max(-1, keepdim=True).values
    return w


class MixedOp(nn.Module):
    """:math:`\\sum_o w_o\\, o(x)` over ``ops``; ``[B, C, *S] -> [B, C, *S/stride]``."""

    def __init__(self, C: int, stride: int, ops=DARTS_SEARCH_OPS, dims: int = 2):
        super().__init__()
        from graphhyper.arch.spaces import darts

        self.ops = nn.ModuleList(darts.make_op(o, C, stride, dims=dims, affine=False) for o in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class SearchCell(nn.Module):
    """A DARTS cell in which node ``j`` reads every earlier node through a :class:`MixedOp`."""

    def __init__(
        self,
        nodes: int,
        c_pp: int,
        c_p: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        ops=DARTS_SEARCH_OPS,
        dims: int = 2,
    ):
        super().__init__()
        from graphhyper.arch.spaces import common

        self.reduction, self.nodes = reduction, nodes
        self.pre0 = (
            common.FactorizedReduce(c_pp, C, dims=dims, affine=False)
            if reduction_prev
            else common.ReLUConvBN(c_pp, C, 1, dims=dims, affine=False)
        )
        self.pre1 = common.ReLUConvBN(c_p, C, 1, dims=dims, affine=False)
        self.edges = nn.ModuleList()
        for j in range(nodes):
            for i in range(j + 2):
                self.edges.append(MixedOp(C, 2 if reduction and i < 2 else 1, ops, dims))
        self.out_channels = C * nodes

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        k = 0
        for _ in range(self.nodes):
            states.append(sum(self.edges[k + i](h, weights[k + i]) for i, h in enumerate(states)))
            k += len(states) - 1
        return torch.cat(states[2:], dim=1)


class Supernet(nn.Module):
    """The DARTS supernet. ``forward(x)``: ``[B, in_channels, *S] -> [B, num_classes]`` logits.

    Args:
        width: channels ``C`` of the first cells (stem outputs ``3C``); num_cells: cells (reductions placed by
            ``darts.reduction_positions``); nodes: intermediate nodes per cell; ops: candidate ops;
        dims: 2 (images) or 1 (signals); max_w: use Max-W weights instead of softmax.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 8,
        dims: int = 2,
        width: int = 8,
        num_cells: int = 3,
        nodes: int = 4,
        ops=DARTS_SEARCH_OPS,
        max_w: bool = False,
    ):
        super().__init__()
        from graphhyper.arch.spaces import common, darts

        if not ops or any(darts.canonical_op(o) not in darts.PRIMITIVES for o in ops):
            raise InvalidInputError(f"Supernet ops {ops!r} must be names from darts.PRIMITIVES.")
        self.config = dict(
            in_channels=in_channels,
            num_classes=num_classes,
            image_size=image_size,
            dims=dims,
            width=width,
            num_cells=num_cells,
            nodes=nodes,
        )
        self.ops, self.max_w, self.nodes = tuple(ops), max_w, nodes
        self.reductions = darts.reduction_positions(num_cells, image_size)
        self.stem = nn.Sequential(
            common.conv(dims, in_channels, 3 * width, 3, 1, 1), *common.norm_layer(dims, 3 * width)
        )
        c_pp = c_p = 3 * width
        c, red_prev = width, False
        self.cells = nn.ModuleList()
        for i in range(num_cells):
            red = i in self.reductions
            c = c * 2 if red else c
            cell = SearchCell(nodes, c_pp, c_p, c, red, red_prev, self.ops, dims)
            self.cells.append(cell)
            c_pp, c_p, red_prev = c_p, cell.out_channels, red
        self.head = nn.Sequential(common.global_pool(dims), nn.Linear(c_p, num_classes))
        n_edges = sum(j + 2 for j in range(nodes))
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(n_edges, len(self.ops)))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(n_edges, len(self.ops)))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha_normal, self.alpha_reduce]

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("alpha_")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wn, wr = mix_weights(self.alpha_normal, self.max_w), mix_weights(self.alpha_reduce, self.max_w)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, wr if cell.reduction else wn)
        return self.head(s1)

    def genotype(self):
        """DARTS derivation: per node, the 2 inputs whose best non-``none`` op weighs most, with that op."""
        from graphhyper.arch.spaces import darts

        def derive(alpha: torch.Tensor) -> tuple:
            w = alpha.detach().softmax(-1).numpy()
            live = [k for k, o in enumerate(self.ops) if o != "none"]
            nodes, start = [], 0
            for j in range(self.nodes):
                rows = w[start : start + j + 2]
                best = [(max(rows[i, k] for k in live), i) for i in range(j + 2)]
                edges = sorted(sorted(best, reverse=True)[:2], key=lambda t: t[1])
                nodes.append(tuple((self.ops[max(live, key=lambda k: rows[i, k])], i) for _, i in edges))
                start += j + 2
            return tuple(nodes)

        normal, reduce = derive(self.alpha_normal), derive(self.alpha_reduce)
        concat = tuple(range(2, 2 + self.nodes))
        return darts.Genotype(normal, concat, reduce, concat)

    def derived_spec(self, width: int | None = None, num_cells: int | None = None):
        """The derived genotype as a :class:`~graphhyper.arch.spaces.darts.DartsSpec` (same task geometry)."""
        from graphhyper.arch.spaces import darts

        c = self.config
        cells = num_cells or c["num_cells"]
        return darts.DartsSpec(
            genotype=self.genotype(),
            num_cells=cells,
            width=width or c["width"],
            reductions=darts.reduction_positions(cells, c["image_size"]),
            in_channels=c["in_channels"],
            num_classes=c["num_classes"],
            image_size=c["image_size"],
            dims=c["dims"],
        )


# ---------------------------------------------------------------------------------------------- search
@dataclass
class DartsConfig:
    """Hyper-parameters of :func:`darts_search` (DARTS defaults, shrunk for CPU)."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    lr_min: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 3e-4
    arch_lr: float = 3e-3
    arch_weight_decay: float = 1e-3
    order: int = 1  # 1 = first order, 2 = unrolled second order
    schedule: str = "cosine_power"  # or "cosine"
    power: float = 10.0
    max_w: bool = False
    grad_clip: float = 5.0
    warmup: int = 0  # epochs that train only the weights before alpha starts moving
    seed: int = 0


@dataclass
class DartsResult:
    """Outcome of :func:`darts_search`: the supernet, the derived spec, timing and per-epoch history."""

    supernet: Supernet
    spec: object
    seconds: float
    history: list = field(default_factory=list)


def _loss(model: nn.Module, batch, params: dict | None = None) -> torch.Tensor:
    x, y = batch
    logits = model(x) if params is None else functional_call(model, params, (x,))
    return F.cross_entropy(logits, y)


def arch_step(
    model: Supernet, train_batch, val_batch, arch_opt: torch.optim.Optimizer, order: int = 1, xi: float = 0.05
) -> float:
    """One update of the architecture weights (first order, or unrolled second order); returns the val loss."""
    arch_opt.zero_grad()
    alphas = model.arch_parameters()
    grads: Sequence[torch.Tensor | None]
    if order == 1:
        loss = _loss(model, val_batch)
        grads = torch.autograd.grad(loss, alphas, allow_unused=True)
    elif order == 2:
        names = [n for n, p in model.named_parameters() if not n.startswith("alpha_")]
        weights = model.weight_parameters()
        g_train = torch.autograd.grad(_loss(model, train_batch), weights)
        unrolled = {n: (w - xi * g).detach().requires_grad_(True) for n, w, g in zip(names, weights, g_train)}
        loss = _loss(model, val_batch, unrolled)
        g_raw = torch.autograd.grad(loss, alphas + list(unrolled.values()), allow_unused=True)
        g_all = [torch.zeros_like(p) if g is None else g for p, g in zip(alphas + list(unrolled.values()), g_raw)]
        d_alpha, d_w = g_all[: len(alphas)], g_all[len(alphas) :]
        eps = 0.01 / (torch.sqrt(cast(torch.Tensor, sum((g**2).sum() for g in d_w))) + 1e-12)
        hv = []
        for sign in (1.0, -1.0):
            shifted = {n: (w + sign * eps * d).detach() for n, w, d in zip(names, weights, d_w)}
            h = torch.autograd.grad(_loss(model, train_batch, shifted), alphas, allow_unused=True)
            hv.append([torch.zeros_like(a) if x is None else x for a, x in zip(alphas, h)])
        grads = [da - xi * (hp - hm) / (2 * eps) for da, hp, hm in zip(d_alpha, *hv)]
    else:
        raise InvalidInputError(f"order={order} is not supported; use 1 (first order) or 2 (unrolled).")
    for a, g in zip(alphas, grads):
        a.grad = torch.zeros_like(a) if g is None else g.detach()
    arch_opt.step()
    return float(loss.detach())


def weight_step(model: Supernet, batch, opt: torch.optim.Optimizer, grad_clip: float = 5.0) -> float:
    """One SGD step of the network weights on a training batch; returns the loss."""
    opt.zero_grad()
    loss = _loss(model, batch)
    loss.backward()
    for a in model.arch_parameters():
        a.grad = None
    nn.utils.clip_grad_norm_(model.weight_parameters(), grad_clip)
    opt.step()
    return float(loss.detach())


def darts_search(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    config: DartsConfig | None = None,
    supernet_kw: dict | None = None,
    progress: bool = False,
) -> DartsResult:
    """DARTS / sharpDARTS search on ``(x_train, y_train)``: half the data trains ``w``, the other half ``alpha``.

    ``supernet_kw`` goes to :class:`Supernet` (its ``in_channels``, ``image_size`` and ``dims`` default to the
    data's shape). Returns the supernet, its derived :class:`DartsSpec`, the wall time and per-epoch history.
    """
    cfg = config or DartsConfig()
    if x_train.ndim not in (3, 4) or x_train.shape[0] != y_train.shape[0] or x_train.shape[0] < 4:
        raise InvalidInputError(
            f"darts_search needs inputs [N, C, L] or [N, C, H, W] with N >= 4 labels; got "
            f"{tuple(x_train.shape)} and {tuple(y_train.shape)}."
        )
    torch.manual_seed(cfg.seed)
    dims = x_train.ndim - 2
    kw: dict[str, Any] = dict(
        in_channels=x_train.shape[1],
        image_size=x_train.shape[-1],
        dims=dims,
        num_classes=int(y_train.max()) + 1,
        max_w=cfg.max_w,
    )
    kw.update(supernet_kw or {})
    model = Supernet(**kw)
    g = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(x_train.shape[0], generator=g)
    half = x_train.shape[0] // 2
    tr, va = perm[:half], perm[half:]
    opt = torch.optim.SGD(model.weight_parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    arch_opt = torch.optim.Adam(
        model.arch_parameters(), lr=cfg.arch_lr, betas=(0.5, 0.999), weight_decay=cfg.arch_weight_decay
    )
    steps = max(1, half // cfg.batch_size)
    total = cfg.epochs * steps
    history, t0 = [], time.perf_counter()
    epochs = range(cfg.epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="darts search")
    for epoch in epochs:
        model.train()
        tl, vl = [], []
        for s in range(steps):
            lr = (
                cosine_power_annealing(epoch * steps + s, total, cfg.lr, cfg.lr_min, cfg.power)
                if cfg.schedule == "cosine_power"
                else cosine_power_annealing(epoch * steps + s, total, cfg.lr, cfg.lr_min, 1.0)
            )
            for group in opt.param_groups:
                group["lr"] = lr
            bt = tr[torch.randint(0, len(tr), (cfg.batch_size,), generator=g)]
            bv = va[torch.randint(0, len(va), (cfg.batch_size,), generator=g)]
            train_batch, val_batch = (x_train[bt], y_train[bt]), (x_train[bv], y_train[bv])
            if epoch >= cfg.warmup:
                vl.append(arch_step(model, train_batch, val_batch, arch_opt, cfg.order, xi=lr))
            tl.append(weight_step(model, train_batch, opt, cfg.grad_clip))
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(tl)),
                "val_loss": float(np.mean(vl)) if vl else None,
                "lr": lr,
                "genotype": model.genotype().to_dict(),
            }
        )
    if not all(math.isfinite(h["train_loss"]) for h in history):
        raise SearchError("DARTS search diverged (non-finite loss); lower lr or arch_lr.")
    return DartsResult(model, model.derived_spec(), time.perf_counter() - t0, history)


# ---------------------------------------------------------------------------------------------- adapter
class SupernetSearcher:
    """Adapter: a supernet search reported like a searcher of :mod:`graphhyper.search.searchers`.

    ``run(evaluate)`` does the search once, then spends queries of ``evaluate(spec) -> score`` on the derived
    architecture (``budget=1``) or on the derived genotype of each of ``budget`` seeds; ``history`` holds
    ``(spec, score)`` pairs as a ``Searcher`` does, so the same table code reads both.
    """

    name = "darts"

    def __init__(
        self,
        x_train,
        y_train,
        config: DartsConfig | None = None,
        supernet_kw: dict | None = None,
        spec_kw: dict | None = None,
    ):
        self.x, self.y = x_train, y_train
        self.config = config or DartsConfig()
        self.supernet_kw, self.spec_kw = supernet_kw or {}, spec_kw or {}
        self.history: list[tuple] = []
        self.results: list[DartsResult] = []

    def run(self, evaluate, budget: int = 1) -> SupernetSearcher:
        import dataclasses

        for k in range(budget):
            cfg = dataclasses.replace(self.config, seed=self.config.seed + k)
            res = darts_search(self.x, self.y, cfg, self.supernet_kw)
            spec = res.supernet.derived_spec(**self.spec_kw)
            self.results.append(res)
            self.history.append((spec, float(evaluate(spec))))
        return self

    def best(self):
        if not self.history:
            raise SearchError("SupernetSearcher.run has not been called yet.")
        return max(self.history, key=lambda t: t[1])
