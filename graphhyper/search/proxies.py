"""Zero-cost proxies: score an untrained ``nn.Module`` from one batch (or no data at all).

Each proxy is a function ``proxy(module, batch) -> float`` where ``batch`` is ``(inputs, targets)`` (targets
are class indices; data-free proxies only read the input shape). Higher is better for every proxy. None of
them changes the module: proxies that alter weights work on a copy, the others clear the gradients they make.

Definitions follow Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS" (ICLR 2021), with ``θ`` the
weights of every convolution and linear layer and ``L`` the cross-entropy of the batch:

============ =========================================================================================
proxy        score
============ =========================================================================================
synflow      :math:`\\sum \\theta \\odot \\partial R / \\partial \\theta` with all weights replaced by
             :math:`|\\theta|`, BN in eval mode, float64, input of ones, :math:`R = \\sum f(1)` (data-free)
snip         :math:`\\sum |\\theta \\odot \\partial L / \\partial \\theta|`
grad_norm    :math:`\\sum_{\\text{layers}} \\lVert \\partial L / \\partial \\theta \\rVert_2`
jacob_cov    :math:`-\\sum_i \\log(\\lambda_i + k) + (\\lambda_i + k)^{-1}`, :math:`\\lambda` the eigenvalues
             of the correlation matrix of the per-sample input Jacobians (Mellor et al. 2021, v1), k = 1e-5
naswot       :math:`\\log|\\det K_H|`, :math:`K_H` the Hamming-agreement kernel of the ReLU codes (v2)
params       number of trainable parameters (data-free)
flops        multiply-accumulates of one sample through conv and linear layers (data-free)
============ =========================================================================================

>>> from graphhyper.arch.spaces import nb201
>>> net = nb201.build(nb201.all_cells()[-1])
>>> batch = synthetic_batch((3, 32, 32), num_classes=10, batch_size=16, seed=0)
>>> scores = compute(net, batch, ["synflow", "params"])       # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Iterable, Sequence, cast

import torch
from torch import nn

from graphhyper._files import atomic_target
from graphhyper.errors import InvalidInputError, SearchError

__all__ = [
    "Batch",
    "synthetic_batch",
    "snip",
    "grad_norm",
    "synflow",
    "jacob_cov",
    "naswot",
    "params",
    "flops",
    "PROXIES",
    "DATA_FREE",
    "get",
    "compute",
    "score_space",
    "nb201_prior",
]

Batch = tuple  # (inputs [B, ...], targets [B])
_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def synthetic_batch(input_shape: Sequence[int], num_classes: int = 10, batch_size: int = 64, seed: int = 0) -> Batch:
    """A reproducible Gaussian batch ``([batch_size, *input_shape], [batch_size])`` with uniform random labels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *input_shape), generator=gen)
    y = torch.randint(0, num_classes, (batch_size,), generator=gen)
    return x, y


def _split(batch) -> Batch:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], torch.Tensor):
        return batch[0], batch[1]
    raise InvalidInputError(
        "A proxy batch must be an input tensor or an (inputs, targets) pair of tensors; "
        "make one with graphhyper.search.proxies.synthetic_batch(input_shape)."
    )


def _targets(batch) -> Batch:
    x, y = _split(batch)
    if y is None:
        raise InvalidInputError(
            "This proxy needs class targets: pass (inputs, targets), e.g. from "
            "synthetic_batch(input_shape, num_classes)."
        )
    return x, y


class _TrainMode:
    """Run ``module`` in train mode (batch statistics) and restore its mode and buffers (BN running stats)."""

    def __init__(self, module: nn.Module):
        self.module = module

    def __enter__(self):
        self.was_training = self.module.training
        self.buffers = {k: v.clone() for k, v in self.module.named_buffers()}
        self.module.train()
        return self.module

    def __exit__(self, *exc):
        self.module.train(self.was_training)
        with torch.no_grad():
            for k, v in self.module.named_buffers():
                v.copy_(self.buffers[k])
        return False


def _weighted_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, _WEIGHTED)]


def _loss_grads(module: nn.Module, batch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, dL/dweight) of every conv/linear layer, module in train mode, gradients cleared afterwards."""
    x, y = _targets(batch)
    weights = [cast(torch.Tensor, m.weight) for m in _weighted_layers(module)]
    with _TrainMode(module):
        loss = nn.functional.cross_entropy(module(x), y)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [(w.detach(), g if g is not None else torch.zeros_like(w)) for w, g in zip(weights, grads)]


def snip(module: nn.Module, batch) -> float:
    """SNIP saliency :math:`\\sum |\\theta \\odot \\partial L / \\partial \\theta|` (needs targets)."""
    return float(sum((w * g).abs().sum() for w, g in _loss_grads(module, batch)))


def grad_norm(module: nn.Module, batch) -> float:
    """Sum over conv/linear layers of the L2 norm of :math:`\\partial L / \\partial \\theta` (needs targets)."""
    return float(sum(g.norm() for _, g in _loss_grads(module, batch)))


def synflow(module: nn.Module, batch) -> float:
    """SynFlow: data-free path-norm saliency (only the input *shape* of ``batch`` is used)."""
    x, _ = _split(batch)
    net = copy.deepcopy(module).double().eval()
    with torch.no_grad():
        for p in net.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    layers = _weighted_layers(net)
    weights = [cast(torch.Tensor, m.weight) for m in layers]
    out = net(torch.ones((1, *x.shape[1:]), dtype=torch.float64))
    grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    total = sum(float((w.detach() * g).sum()) for w, g in zip(weights, grads) if g is not None)
    return total if math.isfinite(total) else float("inf")


def jacob_cov(module: nn.Module, batch) -> float:
    """Jacobian covariance (NASWOT v1): decorrelated input Jacobians across the batch score high."""
    x, _ = _split(batch)
    x = x.detach().clone().requires_grad_(True)
    with _TrainMode(module):
        out = module(x)
        (jac,) = torch.autograd.grad(out.sum(), x)
    jac = jac.reshape(jac.shape[0], -1).double()
    corr = torch.corrcoef(jac)
    corr = torch.nan_to_num(corr, nan=0.0)
    eig = torch.linalg.eigvalsh(corr).clamp(min=0)
    k = 1e-5
    return float(-(torch.log(eig + k) + 1.0 / (eig + k)).sum())


def naswot(module: nn.Module, batch) -> float:
    """NASWOT (Mellor et al. 2021, v2): log-determinant of the Hamming kernel of the ReLU activation codes."""
    x, _ = _split(batch)
    n = x.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64)

    def hook(_mod, _inp, out):
        codes = (out.detach().reshape(n, -1) > 0).double()
        kernel.add_(codes @ codes.t() + (1 - codes) @ (1 - codes).t())

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.ReLU)]
    try:
        with _TrainMode(module), torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if sign > 0 else float("-inf")


def params(module: nn.Module, batch=None) -> float:
    """Number of trainable parameters (``batch`` is ignored)."""
    return float(sum(p.numel() for p in module.parameters() if p.requires_grad))


def flops(module: nn.Module, batch) -> float:
    """Multiply-accumulates of ONE sample through every conv and linear layer (measured with forward hooks)."""
    x, _ = _split(batch)
    total = [0]

    def hook(mod, _inp, out):
        if isinstance(mod, nn.Linear):
            total[0] += mod.in_features * out.numel()
        else:
            k = mod.weight[0].numel()  # in_channels / groups * prod(kernel)
            total[0] += k * out.numel()

    handles = [m.register_forward_hook(hook) for m in _weighted_layers(module)]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(x[:1])
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return float(total[0])


PROXIES: dict[str, Callable[[nn.Module, object], float]] = {
    "synflow": synflow,
    "jacob_cov": jacob_cov,
    "naswot": naswot,
    "snip": snip,
    "grad_norm": grad_norm,
    "params": params,
    "flops": flops,
}
#: Proxies that read only the input shape, never data or labels.
DATA_FREE = ("synflow", "params", "flops")


def get(name: str) -> Callable[[nn.Module, object], float]:
    """The proxy function called ``name`` (see :data:`PROXIES`)."""
    if name not in PROXIES:
        raise SearchError(f"Unknown zero-cost proxy {name!r}. Choose from {sorted(PROXIES)}.")
    return PROXIES[name]


def compute(
    module: nn.Module, batch, names: Iterable[str] = ("synflow", "jacob_cov", "snip", "params"), seed: int = 0
) -> dict[str, float]:
    """Several proxies of one module and batch: ``{name: score}``; ``seed`` fixes dropout and similar noise."""
    out = {}
    for name in names:
        fn = get(name)
        torch.manual_seed(seed)
        out[name] = fn(module, batch)
    return out


def score_space(
    space,
    archs,
    proxy: str = "jacob_cov",
    batch_size: int = 16,
    num_classes: int = 10,
    seed: int = 0,
    cache=None,
    progress: bool = True,
) -> dict[str, float]:
    """Zero-cost ``proxy`` of every architecture in ``archs`` (built with ``space.build``, input
    ``space.input_shape``): ``{structural hash: score}``. No benchmark is queried.

    ``cache``: a JSON file; scores already there (same proxy/batch/seed/space) are reused and new ones added.
    """
    import json
    from pathlib import Path

    from tqdm.auto import tqdm

    if space.input_shape is None:
        raise SearchError(f"Space {space.name!r} has no input_shape; give SearchSpace(..., input_shape=(1, C, H, W)).")
    key = f"{space.name}/{proxy}/b{batch_size}/s{seed}/{tuple(space.input_shape)}"
    path = Path(cache) if cache else None
    stored: dict = {}
    if path is not None and path.exists():
        stored = json.loads(path.read_text()).get(key, {})
    batch = synthetic_batch(tuple(space.input_shape[1:]), num_classes, batch_size, seed)
    fn = get(proxy)
    out = {}
    todo = {space.hash(a): a for a in archs}
    for i, (h, arch) in enumerate(tqdm(todo.items(), desc=f"{proxy} prior", disable=not progress, mininterval=5)):
        if h not in stored:
            torch.manual_seed(seed)
            stored[h] = fn(space.build(arch), batch)
            if path is not None and (i % 500 == 499):
                _save_scores(path, key, stored)
        out[h] = stored[h]
    if path is not None:
        _save_scores(path, key, stored)
    return out


def _save_scores(path, key: str, scores: dict) -> None:
    import json

    doc = json.loads(path.read_text()) if path.exists() else {}
    doc[key] = {h: (v if math.isfinite(v) else None) for h, v in scores.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as tmp:
        tmp.write_text(json.dumps(doc))


def nb201_prior(cache=None, progress: bool = True) -> dict[str, float]:
    """Zero-cost prior for NB201 searches: ``{cell hash: jacob_cov}`` for one representative of every distinct cell.

    Each cell is built as a reduced NB201 network (C=8, N=2) and scored on ONE synthetic 3x16x16 batch of 16
    Gaussian images (seed 0). No benchmark entry is read, so using it costs no query. About 0.1 s per cell on
    one core (4,930 distinct cells); ``cache`` (a JSON path, default ``~/.cache/graphhyper/nb201_prior.json``)
    keeps the scores.
    """
    import os
    from pathlib import Path

    from graphhyper.search.space import nb201_space

    if cache is None:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "graphhyper" / "nb201_prior.json"
    sp = nb201_space(C=8, N=2)
    sp.input_shape = (1, 3, 16, 16)
    reps: dict = {}
    for a in sp.enumerate():
        reps.setdefault(sp.hash(a), a)
    return score_space(sp, list(reps.values()), "jacob_cov", batch_size=16, seed=0, cache=cache, progress=progress)
