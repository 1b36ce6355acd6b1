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
from torch import Tensor, nn

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

    def inference_model(self, chunk_rows: int = 4096, dtype: torch.dtype | None = None) -> InferenceMLP:
        """The trained student as a lean, inference-only :class:`InferenceMLP` (``dtype``: see its
        :meth:`~InferenceMLP.from_module`)."""
        return InferenceMLP.from_module(self.student, chunk_rows=chunk_rows, dtype=dtype)


@torch.no_grad()
def hyperedge_reliability(
    teacher: torch.nn.Module,
    data: Any,
    *,
    tau: float = 1.0,
    noise_std: float = 1.0,
    num_samples: int = 5,
    seed: int = 0,
) -> torch.Tensor:
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


def make_distill_loss(
    teacher_logits: torch.Tensor,
    *,
    tau: float = 1.0,
    lam: float = 0.0,
    edge_weight: float = 0.0,
    reliability: torch.Tensor | None = None,
    seed: int = 0,
):
    """The LightHGNN(+) loss as a ``loss_fn(logits, data, epoch)`` for :func:`train_node_classifier`."""
    soft = F.softmax(teacher_logits / tau, -1)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    soft_edges: dict[str, torch.Tensor] = {}

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
        reliability = hyperedge_reliability(
            teacher, data, tau=tau, noise_std=noise_std, num_samples=num_noise_samples, seed=seed
        )
    if student is None:
        from graphhyper.hypergraph.models import build_model

        set_seed(seed)
        student = build_model(
            "mlp",
            data.num_features,
            data.num_classes,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            dropout=dropout,
        )
    loss_fn = make_distill_loss(
        t_logits, tau=tau, lam=lam, edge_weight=edge_weight if plus else 0.0, reliability=reliability, seed=seed
    )
    result = train_node_classifier(
        student,
        data,
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        seed=seed,
        progress=progress,
        loss_fn=loss_fn,
    )
    return DistillResult(student, result, t_val, t_test, plus, reliability)


def lighthgnn(teacher: torch.nn.Module, data: Any, **kwargs) -> DistillResult:
    """LightHGNN: soft-label distillation of ``teacher`` into an MLP (see :func:`distill`)."""
    return distill(teacher, data, plus=False, **kwargs)


def lighthgnn_plus(teacher: torch.nn.Module, data: Any, **kwargs) -> DistillResult:
    """LightHGNN+: soft labels plus reliability-sampled hyperedge distillation (see :func:`distill`)."""
    return distill(teacher, data, plus=True, **kwargs)


# ---------------------------------------------------------------------------------------------- lean inference
# dtypes of the fused oneDNN Linear+ReLU path (bfloat16 runs on AVX512-BF16/AMX units where the CPU has them)
_FUSED_DTYPES = (torch.float32, torch.bfloat16)


def _fused_linear_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class InferenceMLP(nn.Module):
    r"""An inference-only copy of a trained MLP student: what a deployed LightHGNN runs.

    It computes exactly the student's eval-mode function (no dropout) with less work per call:

    - BatchNorm after a hidden activation is folded into the next ``Linear``
      (:math:`\mathbf{W}(\mathbf{s}\odot\mathbf{h} + \mathbf{t}) + \mathbf{b} = (\mathbf{W}\,\mathrm{diag}\,\mathbf{s})
      \mathbf{h} + (\mathbf{W}\mathbf{t} + \mathbf{b})`), BatchNorm on the input into the first one;
      LayerNorm (row statistics) is kept;
    - on CPU in float32, each ``Linear`` + ReLU is one fused oneDNN call (``mkldnn._linear_pointwise``) on weights
      packed once in oneDNN's blocked layout; elsewhere ``addmm`` followed by an in-place ReLU;
    - rows are processed in blocks of ``chunk_rows`` so that the hidden activations of a block stay in cache
      instead of making a round trip through memory between layers;
    - it runs under :func:`torch.inference_mode` (no autograd bookkeeping).

    Build it with :meth:`from_module` (or :meth:`DistillResult.inference_model`); the weights are copied, so later
    changes to the student do not reach it.

    Shapes:
        input ``x [N, in_channels]`` (``hg`` is accepted and ignored); output ``[N, out_channels]``.
    """

    # buffers: w{i}, b{i}, lnw{i}, lnb{i} per layer (reached with getattr), and the input LayerNorm's
    w0: Tensor
    in_ln_w: Tensor | None
    in_ln_b: Tensor | None

    def __init__(self, layers: list[dict], chunk_rows: int = 4096) -> None:
        super().__init__()
        if chunk_rows < 1:
            raise InvalidInputError(f"chunk_rows must be >= 1, got {chunk_rows}.")
        self.chunk_rows, self.acts, self.ln_eps = chunk_rows, [], []
        for i, layer in enumerate(layers):
            self.register_buffer(f"w{i}", layer["weight"].detach().clone().contiguous())
            self.register_buffer(f"b{i}", layer["bias"].detach().clone().contiguous())
            ln = layer.get("ln")
            self.register_buffer(f"lnw{i}", None if ln is None else ln[0].detach().clone())
            self.register_buffer(f"lnb{i}", None if ln is None else ln[1].detach().clone())
            self.ln_eps.append(None if ln is None else ln[2])
            self.acts.append(layer["act"])
        self.num_layers = len(layers)
        self.in_channels = layers[0]["weight"].size(1)
        self.out_channels = layers[-1]["weight"].size(0)
        self.register_buffer("in_ln_w", None)
        self.register_buffer("in_ln_b", None)
        self.in_ln_eps: float | None = None

    @classmethod
    def from_module(cls, module: nn.Module, chunk_rows: int = 4096, dtype: torch.dtype | None = None) -> InferenceMLP:
        """Build from an ``MLPClassifier`` (the default student, ``build_model("mlp", ...)``) or an ``nn.MLP``.

        ``dtype=torch.bfloat16`` stores the (folded) weights in bfloat16 and casts the input on the way in; the
        fused oneDNN path then runs on the CPU's BF16 units (AVX512-BF16 or AMX) where it has them. The logits
        match float32 to about ``1e-2`` relative, so check the accuracy on validation before deploying it.
        """
        if dtype not in (None, torch.float32, torch.bfloat16, torch.float16, torch.float64):
            raise InvalidInputError(f"dtype={dtype}: use torch.float32 (default), torch.bfloat16 or torch.float16.")
        from graphhyper.hypergraph.nn import MLP

        mlp = getattr(module, "mlp", module)
        if not isinstance(mlp, MLP):
            raise InvalidInputError(
                f"InferenceMLP needs an MLP student (build_model('mlp', ...) or graphhyper.hypergraph.nn.MLP), got "
                f"{type(module).__name__}; run a custom student with its own forward under torch.inference_mode."
            )
        act = "relu" if isinstance(mlp.act, nn.ReLU) else mlp.act
        lins = [_as_linear(lin) for lin in mlp.lins]
        layers: list[dict[str, Any]] = [dict(weight=lin.weight.detach(), bias=_bias(lin), act=act) for lin in lins]
        layers[-1]["act"] = "none"
        in_ln = None
        if isinstance(mlp.input_norm, nn.BatchNorm1d):
            _fold_bn(mlp.input_norm, layers[0])
        elif isinstance(mlp.input_norm, nn.LayerNorm):
            in_ln = _ln_params(mlp.input_norm)
        for i, norm in enumerate(mlp.norms):
            if isinstance(norm, nn.BatchNorm1d):
                _fold_bn(norm, layers[i + 1])
            elif isinstance(norm, nn.LayerNorm):
                layers[i]["ln"] = _ln_params(norm)
        out = cls(layers, chunk_rows=chunk_rows)
        if in_ln is not None:
            out.in_ln_w, out.in_ln_b, out.in_ln_eps = in_ln[0].clone(), in_ln[1].clone(), in_ln[2]
        return out.to(device=lins[0].weight.device, dtype=dtype)

    def forward(self, x: Tensor, hg: Any = None) -> Tensor:
        """``x [N, in_channels] -> logits [N, out_channels]`` (the student's eval-mode output)."""
        from graphhyper.hypergraph.nn import check_features

        with torch.inference_mode():
            if x.layout != torch.strided:
                x = x.to_dense()
            check_features(x, self.in_channels)
            x = x.to(self.w0.dtype).contiguous()
            fused = x.device.type == "cpu" and x.dtype in _FUSED_DTYPES and _fused_linear_available()
            if x.size(0) <= self.chunk_rows:
                return self._rows(x, fused)
            out = x.new_empty(x.size(0), self.out_channels)
            for start in range(0, x.size(0), self.chunk_rows):
                stop = min(start + self.chunk_rows, x.size(0))
                out[start:stop] = self._rows(x[start:stop], fused)
            return out

    def _packed(self) -> list[Tensor]:
        """The weights in oneDNN's blocked layout for row blocks of ``chunk_rows`` (re-packed if they moved)."""
        weights = [getattr(self, f"w{i}") for i in range(self.num_layers)]
        key = tuple((w.data_ptr(), w._version) for w in weights)  # in-place updates (load_state_dict) re-pack
        if getattr(self, "_pack_key", None) != key:
            self._pack = [torch.ops.mkldnn._reorder_linear_weight(w, self.chunk_rows) for w in weights]
            self._pack_key = key
        return self._pack

    def _rows(self, h: Tensor, fused: bool) -> Tensor:
        if self.in_ln_eps is not None:
            h = F.layer_norm(h, (h.size(1),), self.in_ln_w, self.in_ln_b, self.in_ln_eps)
        packed = self._packed() if fused else None
        for i in range(self.num_layers):
            w, b, act = getattr(self, f"w{i}"), getattr(self, f"b{i}"), self.acts[i]
            if packed is not None and isinstance(act, str):  # packed iff fused
                h = torch.ops.mkldnn._linear_pointwise(h, packed[i], b, act, [], "")
            else:
                h = torch.addmm(b, h, w.t())
                h = h.relu_() if act == "relu" else (h if act == "none" else act(h))
            eps = self.ln_eps[i]
            if eps is not None:
                h = F.layer_norm(h, (h.size(1),), getattr(self, f"lnw{i}"), getattr(self, f"lnb{i}"), eps)
        return h

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, num_layers={self.num_layers}, chunk_rows={self.chunk_rows}"


def _as_linear(m: nn.Module) -> nn.Linear:
    if not isinstance(m, nn.Linear):
        raise InvalidInputError(f"InferenceMLP folds nn.Linear layers only, got {type(m).__name__}.")
    return m


def _bias(lin: nn.Linear) -> Tensor:
    return lin.bias.detach() if lin.bias is not None else lin.weight.new_zeros(lin.out_features)


def _ln_params(norm: nn.LayerNorm) -> tuple[Tensor, Tensor, float]:
    n = norm.normalized_shape[0]
    w = norm.weight.detach() if norm.weight is not None else torch.ones(n)
    b = norm.bias.detach() if norm.bias is not None else torch.zeros(n)
    return w, b, norm.eps


def _fold_bn(bn: nn.BatchNorm1d, layer: dict) -> None:
    """Fold eval-mode ``bn`` (applied to the layer's input) into ``layer``'s weight and bias."""
    if bn.running_mean is None or bn.running_var is None:
        raise InvalidInputError(
            "InferenceMLP cannot fold a BatchNorm without running statistics; "
            "build the student with track_running_stats=True or norm='ln'/'none'."
        )
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach()
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach()
    w = layer["weight"]
    layer["bias"] = layer["bias"] + w @ shift
    layer["weight"] = w * scale


__all__ = [
    "DistillResult",
    "InferenceMLP",
    "distill",
    "hyperedge_reliability",
    "lighthgnn",
    "lighthgnn_plus",
    "make_distill_loss",
]
