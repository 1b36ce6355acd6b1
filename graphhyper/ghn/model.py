"""The graph hypernetwork: architecture graph -> every named parameter tensor, in one forward pass.

>>> ghn = GHN(GHNConfig(hidden=32))
>>> model = torchvision.models.resnet18()                           # doctest: +SKIP
>>> params = ghn.predict(model, input_shape=(1, 3, 224, 224))       # doctest: +SKIP
>>> out = torch.func.functional_call(model, params, (x,))           # doctest: +SKIP
>>> ghn.apply(model, params)                                        # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, OrderedDict, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from graphhyper.errors import CheckpointError, InvalidInputError, UnknownOpError
from graphhyper.ghn.decoders import (
    WEIGHT_SCALES,
    Theta0,
    build_decoder,
    check_shape,
    mip_output,
    normalize_output,
    normalized_from_factors,
)
from graphhyper.ghn.encoders import GraphTransformer, NodeEmbedding, build_encoder
from graphhyper.ghn.features import ROLE_INDEX, ROLES, GraphBatch, PackedGraph, pack_graph


def _default_vocab() -> list[str]:
    from graphhyper.arch import ops

    return list(ops.VOCAB)


_ENCODERS = ("gatedgnn", "transformer")
_DECODERS = ("lowrank", "tiled")
#: Allowed ranges of the integer fields: wide enough for any GHN one would train, narrow enough that the shapes a
#: config implies can be computed (on the meta device) without overflow and in well under a second.
_INT_RANGES = {
    "hidden": (1, 2**16),
    "rank": (1, 2**12),
    "code_dim": (2, 2**12),
    "layers": (0, 64),
    "heads": (1, 2**16),
    "cutoff": (0, 2**12),
    "rounds": (0, 64),
    "max_dim": (1, 2**31 - 1),
    "attention_nodes": (0, 2**31 - 1),
}
_MAX_VOCAB = 2**16


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class GHNConfig:
    """Hyper-parameters of a :class:`GHN` (stored as JSON beside every checkpoint).

    Attributes:
        hidden: node / parameter embedding size.
        encoder: ``"gatedgnn"`` (GHN-2) or ``"transformer"`` (GHN-3).
        decoder: ``"lowrank"`` (LoGAH) or ``"tiled"`` (GHN-2).
        mip: magnitude-invariant parametrisation (Ortiz et al., ICLR 2024): constant-norm input encodings, a free
            learned ``theta0`` per parameter kind and the additive output ``theta = theta0 + delta`` with no
            output normalisation (see docs/ghn.md, "MIP").
        rank: rank of the low-rank decoder.
        code_dim: size of the low-rank decoder's Fourier index codes (even). A predicted ``[o, i]`` weight is
            ``Phi_o M_A M_B^T Phi_i^T`` with ``Phi_n`` of ``code_dim`` columns, so its rank is at most
            ``min(rank, code_dim)``; widths past ``code_dim`` get rank-deficient weights (docs/ghn.md, "Decoder
            rank and code size").
        layers, heads, cutoff: transformer depth, heads and shortest-path cutoff.
        rounds: forward+backward sweeps of the GatedGNN.
        max_dim: largest parameter dimension the decoder accepts.
        vocab: op vocabulary the op embedding rows correspond to (by name).
        weight_scale: how predicted weights and embeddings are scaled (without MIP; see
            :func:`~graphhyper.ghn.decoders.normalize_output`): ``"spectral"`` (default: largest singular value
            ``gain * init_std(fan_in) * sqrt(fan_out)``, width-aware) or ``"rms"`` (entry RMS ``gain *
            init_std(fan_in)``; every GHN saved before the option existed, whose JSON has no such key, loads as
            ``"rms"`` and predicts as it did).
        attention_nodes: the transformer encoder's log-length attention rule (prediction time; 0, the default,
            is off): a graph of ``N > attention_nodes`` nodes gets its attention logits multiplied by
            ``log N / log attention_nodes``; set it to the node count of the largest training graph (67 for the
            4-block pytext decoders). Graphs no larger are predicted exactly as without it. See docs/ghn.md,
            "Depth: GPT-2 small".
    """

    hidden: int = 64
    encoder: str = "transformer"
    decoder: str = "lowrank"
    mip: bool = False
    rank: int = 16
    code_dim: int = 64
    layers: int = 3
    heads: int = 4
    cutoff: int = 8
    rounds: int = 1
    max_dim: int = 2**17
    vocab: list[str] = field(default_factory=_default_vocab)
    weight_scale: str = "spectral"
    attention_nodes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GHNConfig:
        """Build and :meth:`validate` a config from its JSON form (missing keys take their defaults, except
        ``weight_scale``: a config saved before it existed was trained with ``"rms"``)."""
        if not isinstance(data, dict):
            raise InvalidInputError(f"A GHN config is a JSON object, got {type(data).__name__}.")
        known = set(cls.__dataclass_fields__)
        extra = sorted(map(str, set(data) - known))
        if extra:
            raise InvalidInputError(f"Unknown GHN config keys {_short(extra)}; expected a subset of {sorted(known)}.")
        config = cls(**{"weight_scale": "rms", **data})
        config.validate()
        return config

    def validate(self) -> None:
        """Check every field's type and range, so that building the GHN cannot fail or explode in size.

        Raises:
            InvalidInputError: naming the field, the value and the allowed values.
        """
        for name, (low, high) in _INT_RANGES.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidInputError(
                    f"GHN config '{name}' is {_short(value)}; it must be an integer in [{low}, {high}]."
                )
        for name, choices in (("encoder", _ENCODERS), ("decoder", _DECODERS), ("weight_scale", WEIGHT_SCALES)):
            if getattr(self, name) not in choices:
                raise InvalidInputError(
                    f"GHN config '{name}' is {_short(getattr(self, name))}; choose one of {choices}."
                )
        if not isinstance(self.mip, bool):
            raise InvalidInputError(f"GHN config 'mip' is {_short(self.mip)}; it must be true or false.")
        if self.code_dim % 2:
            raise InvalidInputError(
                f"GHN config 'code_dim' is {self.code_dim}; it must be even (sine and cosine halves), e.g. 64 or 128."
            )
        if self.attention_nodes == 1:
            raise InvalidInputError(
                "GHN config 'attention_nodes' is 1 (log 1 = 0); use 0 (off) or the node count of the largest "
                "training graph (>= 2)."
            )
        if self.encoder == "transformer" and self.hidden % self.heads:
            raise InvalidInputError(
                f"GHN config 'hidden' ({self.hidden}) must be divisible by 'heads' "
                f"({self.heads}) for the transformer encoder."
            )
        self._validate_vocab()

    def _validate_vocab(self) -> None:
        vocab = self.vocab
        if not isinstance(vocab, list) or not 1 <= len(vocab) <= _MAX_VOCAB:
            got = f"a list of {len(vocab)}" if isinstance(vocab, list) else type(vocab).__name__
            raise InvalidInputError(f"GHN config 'vocab' must be a list of 1 to {_MAX_VOCAB} op names, got {got}.")
        bad = [v for v in vocab if not isinstance(v, str) or not v]
        if bad:
            raise InvalidInputError(f"GHN config 'vocab' holds entries that are not op names: {_short(bad[:5])}.")
        dup = sorted(op for op, n in Counter(vocab).items() if n > 1)
        if dup:
            raise InvalidInputError(
                f"GHN config 'vocab' lists {_short(dup[:5])} more than once; each op needs one row."
            )


class Prediction(dict):
    """``{parameter name: tensor}`` plus the report of what was not predicted.

    Attributes:
        unpredicted: parameters of the module that the GHN did not predict (empty for the supported vocabulary).
        unknown_ops: ``(node name, target)`` of ops outside the vocabulary (they were embedded as ``"unknown"``).
    """

    def __init__(self, *args, unpredicted: Sequence[str] = (), unknown_ops: Sequence = (), **kw):
        super().__init__(*args, **kw)
        self.unpredicted = list(unpredicted)
        self.unknown_ops = list(unknown_ops)


def unpredicted_error(missing: Sequence[str]) -> InvalidInputError:
    """The error of ``apply(strict=True)`` when parameters of the module were not predicted."""
    return InvalidInputError(
        f"The GHN did not predict {len(missing)} parameter(s): {list(missing)[:8]}. "
        "Pass strict=False to write the others anyway (they keep their values), or register the missing ops."
    )


def check_apply_args(prediction: Prediction | None, trace_kwargs: dict[str, Any]) -> None:
    """``apply`` takes a prediction to write or the trace options to make one, not both and not neither."""
    if prediction is None and not {"input_shape", "example_inputs"} & trace_kwargs.keys():
        raise InvalidInputError(
            "apply needs the prediction to write, apply(module, ghn.predict(module, input_shape=...)), or "
            "the module's input to predict it, apply(module, input_shape=(1, 3, 224, 224))."
        )
    if prediction is not None and trace_kwargs:
        raise InvalidInputError(
            f"apply got a prediction and trace options {sorted(trace_kwargs)}: the options only serve to "
            "predict the module; pass one or the other."
        )


def _checked_state(module: nn.Module, prediction: Prediction, strict: bool) -> dict[str, torch.Tensor]:
    """The tensors of ``prediction`` to load into ``module``, after every check that could refuse them."""
    missing = sorted(set(prediction.unpredicted) | ({n for n, _ in module.named_parameters()} - prediction.keys()))
    if strict and missing:
        raise unpredicted_error(missing)
    own = module.state_dict()
    unexpected = sorted(prediction.keys() - own.keys())
    if unexpected:
        raise InvalidInputError(
            f"Predicted names not in the module: {unexpected[:8]}; was the prediction made for "
            "another architecture? Predict this module with predict(module, ...)."
        )
    wrong = [
        f"{k}: predicted {tuple(v.shape)}, module {tuple(own[k].shape)}"
        for k, v in prediction.items()
        if tuple(v.shape) != tuple(own[k].shape)
    ]
    if wrong:
        raise InvalidInputError(
            f"Predicted shapes differ from the module's: {wrong[:4]}; predict this module with predict(module, ...)."
        )
    state: OrderedDict[str, torch.Tensor] = OrderedDict((k, v.detach()) for k, v in prediction.items())
    # the module's own version metadata: modules that migrate old checkpoints (torchvision's MNASNet) read it
    state._metadata = getattr(own, "_metadata", OrderedDict())  # type: ignore[attr-defined]
    return state


_CHUNK_NUMEL = 2**25  # elements decoded at once, bounds the transient memory for very large targets


def legacy_mip_error(config: GHNConfig, names: Iterable[str], where: str) -> CheckpointError | None:
    """The error for weights of a GHN with ``mip=True`` saved in the layout before MIP as published, else ``None``.

    That layout decoded ``theta0`` from the node embedding (``decoder.base.*`` next to ``decoder.delta.*``) and
    renormalised the sum; its weights mean nothing to the current MIP GHN.
    """
    if not config.mip or not any(n.startswith(("decoder.base.", "decoder.delta.")) for n in names):
        return None
    return CheckpointError(
        f"{where} is a GHN with mip=true in the layout of graphhyper before MIP as published (theta0 decoded "
        "from the node embeddings, output renormalised); this graphhyper implements MIP with a free learned theta0 "
        "and cannot load it. Retrain it (scripts/train_ghn.py --mip, or `graphhyper ghn train --mip`), or load it "
        "with graphhyper at commit 99edd9b or earlier."
    )


class GHN(nn.Module):
    r"""Graph hypernetwork: :math:`\{\theta_p\}_{p} = \mathrm{Dec}(\mathrm{Enc}(G))`.

    Node embeddings :math:`h^0_v = E_{op}[o_v] + \mathrm{ShapeEnc}(s_v)` go through the encoder (GatedGNN
    or graph transformer); each parameter :math:`p` owned by node :math:`v` is decoded from
    :math:`h_v + E_{role}[p] + E_{slot}[p]`, all parameters of one shape in one batched call, then
    normalised per op (:func:`~graphhyper.ghn.decoders.normalize_output`). With ``config.mip`` the decoded
    tensor is instead a residual added to the free base :math:`\theta_0` of its kind
    (:class:`~graphhyper.ghn.decoders.Theta0`, :func:`~graphhyper.ghn.decoders.mip_output`).
    """

    gain: nn.Linear | None  # output gain of the normalised (non-MIP) output
    theta0: Theta0 | None

    def __init__(self, config: GHNConfig | None = None):
        super().__init__()
        self.config = config = config or GHNConfig()
        config.validate()
        self.op_index = {op: i for i, op in enumerate(config.vocab)}
        self.unknown_index = self.op_index.get("unknown", 0)
        self.embed = NodeEmbedding(len(config.vocab), config.hidden, constant_norm=config.mip)
        self.encoder = build_encoder(
            config.encoder,
            config.hidden,
            rounds=config.rounds,
            layers=config.layers,
            heads=config.heads,
            cutoff=config.cutoff,
        )
        self.role = nn.Embedding(len(ROLES), config.hidden)
        self.slot = nn.Embedding(8, config.hidden)
        self.gain = None if config.mip else nn.Linear(config.hidden, 1)
        self.decoder = build_decoder(
            config.decoder, config.hidden, rank=config.rank, max_dim=config.max_dim, code_dim=config.code_dim
        )
        self.theta0 = Theta0() if config.mip else None
        if self.gain is not None:
            nn.init.zeros_(self.gain.weight)
            nn.init.constant_(self.gain.bias, -1.1)  # gain 0.5 + 1.5 * sigmoid(-1.1) ~ 0.87

    # ------------------------------------------------------------------ core
    def pack(self, graph_or_module, **trace_kwargs) -> tuple[PackedGraph, Any]:
        """Trace (when given a module) and pack one architecture."""
        if isinstance(graph_or_module, PackedGraph):
            return graph_or_module, None
        if isinstance(graph_or_module, nn.Module):
            from graphhyper.arch import trace

            g = trace(graph_or_module, **trace_kwargs)
        else:
            g = graph_or_module
        return pack_graph(g), g

    def forward(self, packed: Sequence[PackedGraph]) -> list[dict[str, torch.Tensor]]:
        """Predict the parameters of every packed graph: a list of ``{name: tensor}``, one per graph."""
        dev = self.role.weight.device
        batch = GraphBatch(list(packed), self.op_index, self.unknown_index).to(dev)
        h0 = self.embed(batch)
        if isinstance(self.encoder, GraphTransformer):
            h = self.encoder(h0, batch, nodes_ref=self.config.attention_nodes)
        else:
            h = self.encoder(h0, batch)
        groups: dict[tuple, list[tuple[int, Any, int]]] = defaultdict(list)
        for gi, pg in enumerate(packed):
            off = int(batch.ptr[gi])
            for spec in pg.params:
                check_shape(spec.name, spec.shape, self.config.max_dim)
                groups[(spec.shape, spec.role)].append((gi, spec, off + spec.node))
        out: list[dict[str, torch.Tensor]] = [{} for _ in packed]
        for (shape, role), items in groups.items():
            node = torch.tensor([it[2] for it in items], device=dev)
            slot = torch.tensor([it[1].slot for it in items], device=dev)
            fan_in = torch.tensor([float(it[1].fan_in) for it in items], device=dev)
            emb = self.role.weight[ROLE_INDEX[role]] + self.slot(slot)
            numel = max(1, math.prod(shape))
            step = max(1, _CHUNK_NUMEL // numel)
            for a in range(0, len(items), step):
                sl = slice(a, a + step)
                val = self._decode(h[node[sl]] + emb[sl], shape, role, fan_in[sl])
                for (gi, spec, _), t in zip(items[sl], val.unbind(0)):
                    out[gi][spec.name] = t
        return out

    def _decode(self, hp: torch.Tensor, shape: tuple[int, ...], role: str, fan_in: torch.Tensor) -> torch.Tensor:
        """Parameters ``[G, *shape]`` of one chunk of a shape group from their embeddings ``hp [G, hidden]``."""
        if self.theta0 is not None:
            return mip_output(self.theta0(role, shape), self.decoder(hp, shape), role, fan_in)
        assert self.gain is not None  # every GHN without MIP has its output gain
        gain = self.gain(hp).squeeze(-1)
        factors: Any = getattr(self.decoder, "factors", None)
        if factors is not None and role in ("weight", "embedding") and len(shape) >= 2:
            a, b = factors(hp, shape)
            return normalized_from_factors(a, b, shape, role, fan_in, gain, self.config.weight_scale)
        return normalize_output(self.decoder(hp, shape), role, fan_in, gain, self.config.weight_scale)

    # ------------------------------------------------------------------ public API
    def predict(self, module_or_graph, *, on_unknown: str = "report", **trace_kwargs) -> Prediction:
        """Predict every parameter of one architecture.

        Args:
            module_or_graph: an ``nn.Module`` (traced on meta tensors; pass e.g. ``input_shape=(1, 3, 224, 224)``
                through ``trace_kwargs``), an :class:`~graphhyper.arch.ArchGraph` or a packed graph.
            on_unknown: ``"report"`` (default: unknown ops are embedded as ``"unknown"``, listed in
                ``result.unknown_ops`` and warned about) or ``"error"`` (raise :class:`UnknownOpError`).

        Returns:
            :class:`Prediction`: ``{full parameter name: tensor}``, differentiable w.r.t. the GHN, directly usable
            with ``torch.func.functional_call``; ``.unpredicted`` lists parameters not predicted.
        """
        return self.predict_many([module_or_graph], on_unknown=on_unknown, **trace_kwargs)[0]

    def predict_many(self, items: Sequence, *, on_unknown: str = "report", **trace_kwargs) -> list[Prediction]:
        """Batch prediction: all architectures in one encoder pass and one decoder call per shape group."""
        if on_unknown not in ("report", "error"):
            raise InvalidInputError(f"on_unknown must be 'report' or 'error', got {on_unknown!r}")
        packed, sources = [], []
        for it in items:
            pg, _ = self.pack(it, **trace_kwargs)
            if pg.unknown_ops:
                msg = (
                    f"{len(pg.unknown_ops)} op(s) outside the op vocabulary: {pg.unknown_ops[:5]}. They were "
                    "embedded as 'unknown'; register them with graphhyper.arch.ops.register_module_op / "
                    "register_function_op for a faithful prediction."
                )
                if on_unknown == "error":
                    raise UnknownOpError(msg)
                warnings.warn(msg, stacklevel=2)
            packed.append(pg)
            sources.append(it)
        preds = self(packed)
        results = []
        for pg, src, pred in zip(packed, sources, preds):
            missing = list(pg.unpredicted)
            if isinstance(src, nn.Module):
                missing = sorted(set(missing) | {n for n, _ in src.named_parameters() if n not in pred})
            results.append(Prediction(pred, unpredicted=missing, unknown_ops=pg.unknown_ops))
        return results

    @torch.no_grad()
    def apply(  # type: ignore[override]  # GHN.apply(module) fills a module; nn.Module.apply(fn) is not used on a GHN
        self, module: nn.Module, prediction: Prediction | None = None, *, strict: bool = True, **trace_kwargs
    ) -> Prediction:
        """Write predicted parameters into ``module`` with ``load_state_dict`` semantics.

        Args:
            module: the module to fill in place. Modules on the meta device get real tensors (``assign=True``).
            prediction: a :class:`Prediction` already made for this module by :meth:`predict` (written as is, no
                second forward pass); when omitted the module is predicted here, and ``trace_kwargs`` (e.g.
                ``input_shape=(1, 3, 224, 224)``) are passed to the trace as in :meth:`predict`.
            strict: with ``True`` (default) any parameter of the module that is not predicted raises
                :class:`InvalidInputError` before anything is written.

        Raises:
            InvalidInputError: a parameter is not predicted (strict), a predicted name is not in the module or its
                shape differs, or both ``prediction`` and trace options are given. Nothing is written then.
        """
        check_apply_args(prediction, trace_kwargs)
        if prediction is None:
            prediction = self.predict(module, **trace_kwargs)
        state = _checked_state(module, prediction, strict)
        module.load_state_dict(state, strict=False, assign=any(p.is_meta for p in module.parameters()))
        return prediction

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
