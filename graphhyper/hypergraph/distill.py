r"""LightHGNN and LightHGNN+: distil a hypergraph neural network into an MLP (Feng et al., ICLR 2024).

The student is a structure-free MLP on the node features, so at inference time it needs neither the
hypergraph nor any propagation. It is trained with

.. math::
    \mathcal{L} = \lambda\,\mathrm{CE}(\mathbf{z}^s_{\mathcal{T}}, \mathbf{y}_{\mathcal{T}})
    + (1-\lambda)\,\tau^2\,\frac{1}{|\mathcal{V}|}\sum_{v}
      \mathrm{KL}\big(\sigma(\mathbf{z}^t_v/\tau)\,\|\,\sigma(\mathbf{z}^s_v/\tau)\big)
    \;[+\; \mu\,\tau^2\,\frac{1}{|\mathcal{E}_s|}\sum_{e\in\mathcal{E}_s}
      \mathrm{KL}\big(\bar{\mathbf{p}}^t_e\,\|\,\bar{\mathbf{p}}^s_e\big)]

where :math:`\mathbf{z}^t` are the teacher's logits on every node (soft labels, transductive setting) and
:math:`\mathcal{T}` the training nodes. **LightHGNN+** adds the bracketed topology-aware term: hyperedge soft
labels :math:`\bar{\mathbf{p}}_e` are the mean of the members' tempered class distributions, and
:math:`\mathcal{E}_s` is a set of *reliable* hyperedges sampled each epoch with probability
:math:`\rho_e`. Reliability measures how stable the teacher's hyperedge prediction is when the input
features are perturbed with Gaussian noise: with :math:`\delta_e` the mean KL divergence between the clean and
the noisy hyperedge distributions, :math:`\rho_e = 1 - (\delta_e - \min\delta) / (\max\delta - \min\delta)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import ops
from graphhyper.hypergraph.train import TrainResult, accuracy, predict, set_seed, train_node_classifier


@dataclass
class DistillResult:
    """Student and teacher outcome. Accuracies are fractions; ``student_result`` holds the training history."""

    student: torch.nn.Module
    student_result: TrainResult
    teacher_val_acc: float
    teacher_test_acc: float
    plus: bool
    edge_reliability: torch.Tensor | None = None

    @property
    def test_gap(self) -> float:
        """Teacher test accuracy minus student test accuracy (positive: the student is worse)."""
        return self.teacher_test_acc - self.student_result.test_acc


@torch.no_grad()
def hyperedge_reliability(teacher: torch.nn.Module, data: Any, *, tau: float = 1.0, noise_std: float = 1.0,
                          num_samples: int = 5, seed: int = 0) -> torch.Tensor:
    """Reliability ``rho_e`` in ``[0, 1]`` of every hyperedge of ``data.hg`` under feature noise (1 = most stable).

    The noise is ``noise_std`` times the per-feature standard deviation of ``data.x``.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = data.x.to_dense() if data.x.layout != torch.strided else data.x
    teacher.eval()
    clean = _edge_dist(F.softmax(teacher(x, data.hg) / tau, -1), data.hg)
    scale = x.std(0, keepdim=True) * noise_std
    delta = torch.zeros(data.hg.num_edges, device=x.device)
    for _ in range(num_samples):
        noise = torch.randn(x.shape, generator=gen).to(x.device) * scale
        noisy = _edge_dist(F.softmax(teacher(x + noise, data.hg) / tau, -1), data.hg)
        delta += _kl(clean, noisy)
    delta /= num_samples
    span = delta.max() - delta.min()
    return torch.ones_like(delta) if span <= 0 else 1 - (delta - delta.min()) / span


def _edge_dist(prob: torch.Tensor, hg: Any) -> torch.Tensor:
    return ops.v2e(prob, hg, aggr="mean").clamp_min(1e-8)


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Row-wise KL(p || q) for probability rows."""
    return (p * (p.clamp_min(1e-8).log() - q.clamp_min(1e-8).log())).sum(-1)


def make_distill_loss(teacher_logits: torch.Tensor, *, tau: float = 1.0, lam: float = 0.0,
                      edge_weight: float = 0.0, reliability: torch.Tensor | None = None, seed: int = 0):
    """The LightHGNN(+) loss as a ``loss_fn(logits, data, epoch)`` for :func:`train_node_classifier`."""
    soft = F.softmax(teacher_logits / tau, -1)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    soft_edges: dict[int, torch.Tensor] = {}

    def loss_fn(logits: torch.Tensor, data: Any, epoch: torch.Tensor) -> torch.Tensor:
        train = data.split.train
        ce = F.cross_entropy(logits[train], data.y[train])
        log_s = F.log_softmax(logits / tau, -1)
        kd = F.kl_div(log_s, soft, reduction="batchmean") * tau * tau
        loss = lam * ce + (1 - lam) * kd
        if edge_weight > 0 and reliability is not None:
            if "t" not in soft_edges:
                soft_edges["t"] = _edge_dist(soft, data.hg)
            keep = torch.rand(reliability.shape, generator=gen).to(reliability.device) < reliability
            if bool(keep.any()):
                student_edges = _edge_dist(log_s.exp(), data.hg)
                he = _kl(soft_edges["t"][keep], student_edges[keep]).mean()
                loss = loss + edge_weight * he * tau * tau
        return loss

    return loss_fn


def distill(
    teacher: torch.nn.Module,
    data: Any,
    *,
    plus: bool = False,
    student: torch.nn.Module | None = None,
    hidden_channels: int = 128,
    num_layers: int = 2,
    dropout: float = 0.5,
    tau: float = 1.0,
    lam: float = 0.0,
    edge_weight: float = 1.0,
    noise_std: float = 1.0,
    num_noise_samples: int = 5,
    epochs: int = 500,
    lr: float = 1e-2,
    weight_decay: float = 5e-4,
    patience: int | None = 100,
    seed: int = 0,
    progress: bool = False,
) -> DistillResult:
    """Distil a trained ``teacher`` (``forward(x, hg)``) into an MLP student: LightHGNN, or LightHGNN+ with ``plus``.

    Args:
        teacher: a trained hypergraph model; it is only evaluated.
        data: the :class:`~graphhyper.data.HypergraphDataset` the teacher was trained on.
        plus: add LightHGNN+'s reliability-weighted hyperedge distillation.
        student: your own student (``forward(x, hg)`` ignoring ``hg``); default
            ``build_model("mlp", F, C, hidden_channels, num_layers, dropout)``.
        tau: distillation temperature. lam: weight of the hard-label cross-entropy (``1 - lam`` on the KD term).
        edge_weight: weight ``mu`` of the hyperedge term (LightHGNN+ only).
        noise_std, num_noise_samples: feature perturbation used to score hyperedge reliability.
        epochs, lr, weight_decay, patience, seed, progress: as in :func:`train_node_classifier`
            (early stopping on the student's validation accuracy).
    """
    if not 0 <= lam <= 1 or tau <= 0:
        raise InvalidInputError(f"lam={lam} must be in [0, 1] and tau={tau} > 0.")
    t_logits = predict(teacher, data).detach()
    t_val, t_test = accuracy(t_logits, data.y, data.split.val), accuracy(t_logits, data.y, data.split.test)
    reliability = None
    if plus:
        reliability = hyperedge_reliability(teacher, data, tau=tau, noise_std=noise_std,
                                            num_samples=num_noise_samples, seed=seed)
    if student is None:
        from graphhyper.hypergraph.models import build_model

        set_seed(seed)
        student = build_model("mlp", data.num_features, data.num_classes, hidden_channels=hidden_channels,
                              num_layers=num_layers, dropout=dropout)
    loss_fn = make_distill_loss(t_logits, tau=tau, lam=lam, edge_weight=edge_weight if plus else 0.0,
                                reliability=reliability, seed=seed)
    result = train_node_classifier(student, data, epochs=epochs, lr=lr, weight_decay=weight_decay,
                                   patience=patience, seed=seed, progress=progress, loss_fn=loss_fn)
    return DistillResult(student, result, t_val, t_test, plus, reliability)


def lighthgnn(teacher: torch.nn.Module, data: Any, **kwargs) -> DistillResult:
    """LightHGNN: soft-label distillation of ``teacher`` into an MLP (see :func:`distill`)."""
    return distill(teacher, data, plus=False, **kwargs)


def lighthgnn_plus(teacher: torch.nn.Module, data: Any, **kwargs) -> DistillResult:
    """LightHGNN+: soft labels plus reliability-sampled hyperedge distillation (see :func:`distill`)."""
    return distill(teacher, data, plus=True, **kwargs)


__all__ = ["DistillResult", "distill", "hyperedge_reliability", "lighthgnn", "lighthgnn_plus", "make_distill_loss"]
