"""Model zoo: ``build_model(name, in_channels, num_classes, **overrides)`` -> an ``nn.Module`` whose
``forward(x, hg)`` returns logits.

Every entry stacks the layers of :mod:`graphhyper.hypergraph.nn` the way its paper does (input dropout, ``L``
layers, hidden size, activation, dropout, classification head); the defaults are the paper's or the reference
code's settings as we read them, and every one can be overridden:

>>> model = build_model("hgnn", in_channels=16, num_classes=3, hidden_channels=32)
>>> list_models()[:3]
['allset-deepsets', 'allset-transformer', 'conhd']

Sparse features: with ``feature_layout="auto"`` (every model's default) a model whose first step is a linear map of
the features multiplies a CSR copy of them when they are sparse enough (bag-of-words), made once per feature
tensor; ``build_model(..., feature_layout="dense")`` or ``model.feature_layout = "dense"`` forces the dense
product. See :mod:`graphhyper.hypergraph.features`.

Node classifiers return ``[V, num_classes]``; ``"conhd"`` and ``"whatsnet"`` return one row per incidence
``[nnz, num_classes]``
(edge-dependent node classification); ``"hdhgn"`` returns node logits, or graph logits when given ``batch``.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import features, ops, sampling
from graphhyper.hypergraph import nn as hnn
from graphhyper.hypergraph.nn import as_hypergraph, check_features, csr_order, dropout, reset_module
from graphhyper.hypergraph.nn._fused import relu_dropout

_ACTS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "elu": F.elu, "gelu": F.gelu, "tanh": torch.tanh}


def _act(name: str) -> Callable[[Tensor], Tensor]:
    if name not in _ACTS:
        raise InvalidInputError(f"Unknown activation {name!r}; choose one of {sorted(_ACTS)}.")
    return _ACTS[name]


_input_dropout = features.dropout


def _entry(forward: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Wrap a model's ``forward(x, hg, ...)``: the user's features are checked for NaN/inf once per tensor and
    handed to the first layer in the model's ``feature_layout`` (CSR when sparse enough, see
    :func:`graphhyper.hypergraph.features.model_input`); the layers then run in
    :func:`~graphhyper.hypergraph.ops.trusted_inputs` (what they pass to the ops is computed from checked
    features and the parameters)."""

    @functools.wraps(forward)
    def wrapped(self: nn.Module, x: Tensor, *args, **kwargs) -> Tensor:
        x = features.model_input(x, getattr(self, "feature_layout", "auto"), _takes_sparse(self))
        with ops.trusted_inputs():
            return forward(self, x, *args, **kwargs)

    return wrapped


def _takes_sparse(model: nn.Module) -> bool:
    """Whether ``model``'s first use of the features is a linear map that takes CSR input (the model's
    ``_takes_sparse()``; models without one get dense features)."""
    method = getattr(model, "_takes_sparse", None)
    return bool(method()) if callable(method) else False


def _first_conv_takes_sparse(convs: nn.ModuleList) -> bool:
    return bool(len(convs) and getattr(convs[0], "sparse_input", False))


def _wrap(x: Tensor, hg, self_loops: bool = False):
    hg = as_hypergraph(hg, x.size(0))
    return hg.cache("with_self_loops", hg.add_self_loops) if self_loops else hg


def _layer_plan(convs: nn.ModuleList, hg, self_loops: bool) -> Sequence[tuple[Any, int | None]] | None:
    """:func:`graphhyper.hypergraph.sampling.layer_plan` of ``hg`` when it is a trimmable sample and every conv
    declares ``trim_safe`` (its output at a node needs only what a trim keeps), else ``None``."""
    if isinstance(hg, Tensor) or not all(getattr(conv, "trim_safe", False) for conv in convs):
        return None
    return sampling.layer_plan(hg, len(convs), self_loops)


# ---------------------------------------------------------------------------------------------- model classes
class HypergraphClassifier(nn.Module):
    """A stack of hypergraph convolutions: input dropout, then ``conv -> activation -> dropout`` per layer, the
    last conv producing the logits. ``self_loops`` adds a singleton hyperedge per node first (cached on ``hg``)."""

    def __init__(
        self,
        convs: list[nn.Module],
        act: str = "relu",
        dropout: float = 0.5,
        input_dropout: float = 0.0,
        self_loops: bool = False,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.act_name, self.act = act, _act(act)
        self.dropout, self.input_dropout, self.self_loops = dropout, input_dropout, self_loops

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]  # every hypergraph layer has one; nn.Module does not

    def _takes_sparse(self) -> bool:
        return _first_conv_takes_sparse(self.convs)

    @_entry
    def forward(self, x: Tensor, hg) -> Tensor:
        """``[V, C]`` logits; on a trimmable :class:`~graphhyper.hypergraph.sampling.NodeSampler` sample (see
        :func:`~graphhyper.hypergraph.sampling.layer_plan`), ``[B, C]`` logits of its ``B`` seeds."""
        plan = self._layer_plan(hg)
        if plan is None:
            plan = [(_wrap(x, hg, self.self_loops), None)] * len(self.convs)
        x = _input_dropout(x, self.input_dropout, self.training)
        for i, (conv, (hg_l, rows)) in enumerate(zip(self.convs, plan)):
            x = self._conv(conv, x, hg_l, rows)
            if i < len(self.convs) - 1:
                x = self._act_dropout(x)
        return x

    def _act_dropout(self, x: Tensor) -> Tensor:
        """``dropout(act(x))``; ReLU as one autograd node that keeps only its output (see
        :func:`graphhyper.hypergraph.nn._fused.relu_dropout`)."""
        if self.act_name == "relu":
            return relu_dropout(x, self.dropout, self.training)
        return dropout(self.act(x), self.dropout, self.training)

    def _layer_plan(self, hg) -> Sequence[tuple[Any, int | None]] | None:
        """Per-layer trims of a sampled ``hg`` when every conv supports them (``trim_safe``)."""
        return _layer_plan(self.convs, hg, self.self_loops)

    def _conv(self, conv: nn.Module, x: Tensor, hg, rows: int | None) -> Tensor:
        """``conv(x, hg)``, or its first ``rows`` rows (``trim_safe`` convs take ``out_rows``)."""
        return conv(x, hg) if rows is None else conv(x, hg, out_rows=rows)


class HyperGCN(HypergraphClassifier):
    """HyperGCN / FastHyperGCN: with ``fast`` the mediator graph is built once from the raw features (cached on
    ``hg``) and shared by every layer; otherwise each layer rebuilds it from its own signal."""

    def __init__(self, convs: list[nn.Module], fast: bool = False, use_mediator: bool = True, **kw) -> None:
        super().__init__(convs, **kw)
        self.fast, self.use_mediator = fast, use_mediator

    def forward(self, x: Tensor, hg) -> Tensor:
        hg = _wrap(x, hg)
        self._graph = None
        if self.fast:
            key = f"hypergcn_fast_graph:{self.use_mediator}"
            self._graph = hg.cache(key, lambda: hnn.hypergcn_graph(x, hg, self.use_mediator))
        return super().forward(x, hg)

    def _conv(self, conv: nn.Module, x: Tensor, hg, rows: int | None) -> Tensor:
        return conv(x, hg, graph=self._graph)[:rows]


class UniGCNII(nn.Module):
    """UniGCNII: ``Linear -> ReLU`` (the initial representation ``x0``), ``L`` :class:`UniGCNIIConv` layers with
    ReLU and dropout, then a ``Linear`` head. Self-loop hyperedges are added as in the paper."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_channels: int,
        num_layers: int,
        alpha: float,
        lamda: float,
        dropout: float,
        input_dropout: float,
    ) -> None:
        super().__init__()
        self.lin_in = nn.Linear(in_channels, hidden_channels)
        self.convs = nn.ModuleList(
            hnn.UniGCNIIConv(hidden_channels, alpha=alpha, lamda=lamda, layer=i + 1) for i in range(num_layers)
        )
        self.lin_out = nn.Linear(hidden_channels, num_classes)
        self.dropout, self.input_dropout = dropout, input_dropout

    def reset_parameters(self) -> None:
        reset_module(self)

    def _takes_sparse(self) -> bool:
        return True

    @_entry
    def forward(self, x: Tensor, hg) -> Tensor:
        """``[V, C]`` logits; ``[B, C]`` for the seeds of a trimmable sample (as :class:`HypergraphClassifier`)."""
        plan = _layer_plan(self.convs, hg, self_loops=True)
        if plan is None:
            plan = [(_wrap(x, hg, self_loops=True), None)] * len(self.convs)
        x = _input_dropout(x, self.input_dropout, self.training)
        x0 = x = F.relu(features.apply_linear(self.lin_in, x))
        for conv, (hg_l, rows) in zip(self.convs, plan):
            x = F.relu(conv(dropout(x, self.dropout, self.training), hg_l, x0=x0[: x.shape[0]], out_rows=rows))
        return self.lin_out(dropout(x, self.dropout, self.training))


class SetModel(nn.Module):
    """AllSet / ED-HNN shape: input dropout, optional input projection (its output is ``x0`` for restarts), ``L``
    layers each preceded by dropout (AllSet: not the first, whose input only gets the input dropout) and followed
    by the activation, then dropout and an MLP classifier."""

    def __init__(
        self,
        convs: Sequence[nn.Module],
        classifier: nn.Module,
        lin_in: nn.Module | None = None,
        dropout: float = 0.5,
        input_dropout: float = 0.0,
        act: str = "relu",
        pass_x0: bool = False,
        dropout_first: bool = True,
    ) -> None:
        super().__init__()
        self.lin_in, self.convs, self.classifier = lin_in, nn.ModuleList(convs), classifier
        self.dropout, self.input_dropout, self.act_name, self.pass_x0 = dropout, input_dropout, act, pass_x0
        self.dropout_first = dropout_first
        self.act = _act(act)

    def reset_parameters(self) -> None:
        reset_module(self)

    def _takes_sparse(self) -> bool:
        return isinstance(self.lin_in, nn.Linear) or (self.lin_in is None and _first_conv_takes_sparse(self.convs))

    @_entry
    def forward(self, x: Tensor, hg) -> Tensor:
        hg = _wrap(x, hg)
        x = _input_dropout(x, self.input_dropout, self.training)
        if isinstance(self.lin_in, nn.Linear):
            x = self.act(features.apply_linear(self.lin_in, x))
        elif self.lin_in is not None:
            x = self.act(self.lin_in(x))
        x0 = x
        for i, conv in enumerate(self.convs):
            if i > 0 or self.dropout_first:
                x = dropout(x, self.dropout, self.training)
            x = conv(x, hg, x0=x0) if self.pass_x0 else conv(x, hg)
            x = self.act(x)
        return self.classifier(dropout(x, self.dropout, self.training))


class CoNHD(nn.Module):
    """CoNHD for edge-dependent node classification: ``h_{v,e} = ReLU(W x_v)``, ``L`` :class:`CoNHDConv` steps
    (weights shared across steps by default, as in the reference) and a linear head per incidence.

    ``forward(x [V, F], hg, pe=None) -> [nnz, num_classes]``, rows in the order of ``hg.hyperedge_index`` (or of
    the given ``hyperedge_index`` columns); with ``pe_channels = P > 0`` every step adds the per-incidence order
    encoding ``pe [nnz, P]`` to its operators' inputs (see :class:`CoNHDConv`). ``per_incidence`` tells node
    classification
    (:func:`~graphhyper.hypergraph.train.node_logits`) to mean-pool each node's rows."""

    per_incidence = True

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_channels: int,
        num_layers: int,
        dropout: float,
        input_dropout: float,
        share_weights: bool,
        **conv_kw,
    ) -> None:
        super().__init__()
        self.lin_in = nn.Linear(in_channels, hidden_channels)
        n_convs = 1 if share_weights else num_layers
        self.convs = nn.ModuleList(hnn.CoNHDConv(hidden_channels, dropout=dropout, **conv_kw) for _ in range(n_convs))
        self.head = nn.Linear(hidden_channels, num_classes)
        self.num_layers, self.input_dropout, self.hidden_channels = num_layers, input_dropout, hidden_channels
        self.pe_channels = int(conv_kw.get("pe_channels", 0))

    def reset_parameters(self) -> None:
        reset_module(self)

    def _takes_sparse(self) -> bool:
        return True

    @_entry
    def forward(self, x: Tensor, hg, pe: Tensor | None = None) -> Tensor:
        raw = hg if isinstance(hg, Tensor) else None
        hg = _wrap(x, hg)
        if raw is not None and pe is not None:
            pe = pe[csr_order(raw, hg.num_nodes)]
        # ReLU(W x_v) per node, then copied to the node's incidences (the same rows as projecting each copy)
        h = ops.gather_nodes(F.relu(features.apply_linear(self.lin_in, x)), hg)
        h = dropout(h, self.input_dropout, self.training)
        h0 = h
        for i in range(self.num_layers):
            h = self.convs[i % len(self.convs)](h, hg, h0=h0, pe=pe)
        out = self.head(h)
        if raw is not None:
            out = out[torch.argsort(csr_order(raw, hg.num_nodes))]
        return out


class HDHGN(nn.Module):
    """HDHGN: ``Linear`` input projection, ``L`` :class:`HDHGNConv` layers with dropout, and a linear head on the
    nodes, or on the per-graph mean when ``batch [V]`` (graph id of each node) is given."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_channels: int,
        num_layers: int,
        heads: int,
        num_node_types: int,
        num_edge_types: int,
        dropout: float,
        input_dropout: float,
    ) -> None:
        super().__init__()
        self.lin_in = nn.Linear(in_channels, hidden_channels)
        self.convs = nn.ModuleList(
            hnn.HDHGNConv(hidden_channels, num_node_types, num_edge_types, heads=heads) for _ in range(num_layers)
        )
        self.head = nn.Linear(hidden_channels, num_classes)
        self.dropout, self.input_dropout = dropout, input_dropout

    def reset_parameters(self) -> None:
        reset_module(self)

    @_entry
    def forward(self, x: Tensor, hg, batch: Tensor | None = None) -> Tensor:
        from graphhyper.hypergraph import Hypergraph

        hg = _wrap(x, hg)
        x = self.lin_in(dropout(x, self.input_dropout, self.training))
        for conv in self.convs:
            x = dropout(conv(x, hg), self.dropout, self.training)
        if batch is not None:
            if batch.shape != (x.size(0),):
                raise InvalidInputError(f"batch must have shape [{x.size(0)}] (graph id per node).")
            n = int(batch.max()) + 1 if batch.numel() else 0
            index = torch.stack([torch.arange(x.size(0), device=x.device), batch.long()])
            pool = Hypergraph(x.size(0), hyperedge_index=index, num_edges=n, allow_empty_edges=True)
            x = ops.v2e(x, pool, aggr="mean")  # each graph is a hyperedge over its nodes
        return self.head(x)


class MLPClassifier(nn.Module):
    """Structure-free baseline (and the distillation student): input dropout + :class:`MLP`. ``hg`` is ignored."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_channels: int,
        num_layers: int,
        dropout: float,
        input_dropout: float,
        norm: str,
    ) -> None:
        super().__init__()
        self.mlp = hnn.MLP(in_channels, hidden_channels, num_classes, num_layers, dropout, norm)
        self.input_dropout = input_dropout

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def _takes_sparse(self) -> bool:
        return isinstance(self.mlp.input_norm, nn.Identity)

    @_entry
    def forward(self, x: Tensor, hg=None) -> Tensor:
        check_features(x, self.mlp.in_channels)
        return self.mlp(_input_dropout(x, self.input_dropout, self.training))


class APPNPClassifier(nn.Module):
    """Predict then propagate: input dropout, an :class:`MLP` to class logits, then :class:`HypergraphAPPNP`
    (``num_steps`` personalised-PageRank steps with teleport ``alpha`` over the HGNN or HGNN+ operator)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_channels: int,
        num_layers: int,
        dropout: float,
        input_dropout: float,
        norm: str,
        num_steps: int,
        alpha: float,
        operator: str,
        edge_dropout: float,
    ) -> None:
        super().__init__()
        self.mlp = hnn.MLP(in_channels, hidden_channels, num_classes, num_layers, dropout, norm)
        self.prop = hnn.HypergraphAPPNP(num_steps, alpha, operator, edge_dropout)
        self.input_dropout = input_dropout

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def _takes_sparse(self) -> bool:
        return isinstance(self.mlp.input_norm, nn.Identity)

    @_entry
    def forward(self, x: Tensor, hg) -> Tensor:
        hg = _wrap(x, hg)
        return self.prop(self.mlp(_input_dropout(x, self.input_dropout, self.training)), hg)


# ---------------------------------------------------------------------------------------------- builders
def _stack(in_c: int, n_cls: int, c: dict, make: Callable[[int, int, bool], nn.Module], width: int | None = None):
    """``num_layers`` convs ``in -> hidden -> ... -> classes``; ``width`` is the input size after a hidden layer
    (``hidden * heads`` for concatenating attention layers)."""
    L, hid = c["num_layers"], c["hidden_channels"]
    widths = [in_c] + [width or hid] * (L - 1)
    outs = [hid] * (L - 1) + [n_cls]
    return [make(w, o, i == L - 1) for i, (w, o) in enumerate(zip(widths, outs))]


def _classifier(kind: Callable[..., nn.Module], **fixed) -> Callable[[int, int, dict], nn.Module]:
    def build(in_c: int, n_cls: int, c: dict) -> nn.Module:
        kw = {k: c[k] for k in ("act", "dropout", "input_dropout")}
        return HypergraphClassifier(_stack(in_c, n_cls, c, lambda i, o, last: kind(i, o, c)), **kw, **fixed)

    return build


def _unigat(in_c: int, n_cls: int, c: dict) -> nn.Module:
    def make(i, o, last):
        heads = 1 if last else c["heads"]
        return hnn.UniGATConv(i, o, heads=heads, dropout=c["attention_dropout"])

    convs = _stack(in_c, n_cls, c, make, width=c["hidden_channels"] * c["heads"])
    kw = {k: c[k] for k in ("act", "dropout", "input_dropout")}
    return HypergraphClassifier(convs, self_loops=True, **kw)


def _hypergcn(in_c: int, n_cls: int, c: dict) -> nn.Module:
    convs = _stack(in_c, n_cls, c, lambda i, o, last: hnn.HyperGCNConv(i, o, c["use_mediator"]))
    kw = {k: c[k] for k in ("act", "dropout", "input_dropout")}
    return HyperGCN(convs, fast=c["fast"], use_mediator=c["use_mediator"], **kw)


def _hcha(in_c: int, n_cls: int, c: dict) -> nn.Module:
    def make(i, o, last):
        heads = 1 if last or not c["use_attention"] else c["heads"]
        return hnn.HCHAConv(i, o, use_attention=c["use_attention"], heads=heads, dropout=c["attention_dropout"])

    width = c["hidden_channels"] * (c["heads"] if c["use_attention"] else 1)
    kw = {k: c[k] for k in ("act", "dropout", "input_dropout")}
    return HypergraphClassifier(_stack(in_c, n_cls, c, make, width=width), **kw)


def _unigcnii(in_c: int, n_cls: int, c: dict) -> nn.Module:
    keys = ("hidden_channels", "num_layers", "alpha", "lamda", "dropout", "input_dropout")
    return UniGCNII(in_c, n_cls, **{k: c[k] for k in keys})


def _set_classifier(c: dict, n_cls: int) -> nn.Module:
    h = c["hidden_channels"]
    return hnn.MLP(h, c["classifier_hidden"], n_cls, c["classifier_layers"], c["dropout"], c["norm"])


def _allset(transformer: bool) -> Callable[[int, int, dict], nn.Module]:
    def build(in_c: int, n_cls: int, c: dict) -> nn.Module:
        h = c["hidden_channels"]
        convs: list[nn.Module] = []
        for i in range(c["num_layers"]):
            src = in_c if i == 0 else h
            if transformer:
                convs.append(
                    hnn.AllSetTransformerConv(
                        src, h, c["heads"], c["mlp_layers"], c["dropout"], attention_dropout=c["attention_dropout"]
                    )
                )
            else:
                convs.append(
                    hnn.AllDeepSetsConv(
                        src, h, h, c["mlp_layers"], c["aggr"], c["dropout"], c["norm"], mlp_dropout=c["mlp_dropout"]
                    )
                )
        return SetModel(
            convs,
            _set_classifier(c, n_cls),
            dropout=c["dropout"],
            input_dropout=c["input_dropout"],
            act=c["act"],
            dropout_first=False,
        )

    return build


def _edhnn(in_c: int, n_cls: int, c: dict) -> nn.Module:
    h = c["hidden_channels"]
    kw = dict(
        mlp1_layers=c["mlp1_layers"],
        mlp2_layers=c["mlp2_layers"],
        mlp3_layers=c["mlp3_layers"],
        aggr=c["aggr"],
        alpha=c["alpha"],
        dropout=c["dropout"],
        norm=c["norm"],
    )
    if c["share_weights"]:
        convs = [hnn.EDHNNConv(h, h, **kw)] * c["num_layers"]  # one module applied num_layers times
    else:
        convs = [hnn.EDHNNConv(h, h, **kw) for _ in range(c["num_layers"])]
    return SetModel(
        convs,
        _set_classifier(c, n_cls),
        lin_in=nn.Linear(in_c, h),
        dropout=c["dropout"],
        input_dropout=c["input_dropout"],
        act=c["act"],
        pass_x0=True,
    )


def _conhd(in_c: int, n_cls: int, c: dict) -> nn.Module:
    keys = (
        "hidden_channels",
        "num_layers",
        "dropout",
        "input_dropout",
        "share_weights",
        "num_blocks",
        "operator",
        "heads",
        "num_inducing",
        "pe_channels",
        "layer_norm",
    )
    return CoNHD(in_c, n_cls, **{k: c[k] for k in keys})


def _whatsnet(in_c: int, n_cls: int, c: dict) -> nn.Module:
    from graphhyper.hypergraph.nn.whatsnet import Whatsnet

    return Whatsnet(in_c, n_cls, **c)


def _hdhgn(in_c: int, n_cls: int, c: dict) -> nn.Module:
    keys = ("hidden_channels", "num_layers", "heads", "num_node_types", "num_edge_types", "dropout", "input_dropout")
    return HDHGN(in_c, n_cls, **{k: c[k] for k in keys})


def _appnp(in_c: int, n_cls: int, c: dict) -> nn.Module:
    keys = (
        "hidden_channels",
        "num_layers",
        "dropout",
        "input_dropout",
        "norm",
        "num_steps",
        "alpha",
        "operator",
        "edge_dropout",
    )
    return APPNPClassifier(in_c, n_cls, **{k: c[k] for k in keys})


def _mlp(in_c: int, n_cls: int, c: dict) -> nn.Module:
    keys = ("hidden_channels", "num_layers", "dropout", "input_dropout", "norm")
    return MLPClassifier(in_c, n_cls, **{k: c[k] for k in keys})


# ---------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: the builder, its default hyperparameters and a one-line description."""

    builder: Callable[[int, int, dict], nn.Module]
    defaults: dict = field(default_factory=dict)
    summary: str = ""
    optim: dict = field(default_factory=lambda: dict(lr=0.01, weight_decay=5e-4))


_BASE = dict(hidden_channels=128, num_layers=2, dropout=0.5, input_dropout=0.0, act="relu")
_UNI = dict(_BASE, hidden_channels=64, dropout=0.6, input_dropout=0.6)
_SET = dict(_BASE, classifier_hidden=64, classifier_layers=2, norm="ln")
_SLOW = dict(lr=0.001, weight_decay=0.0)  # deep MLP/LayerNorm models: the reference codes train with lr 1e-3

_REGISTRY: dict[str, ModelSpec] = {
    "hgnn": ModelSpec(_classifier(lambda i, o, c: hnn.HGNNConv(i, o)), dict(_BASE), "HGNN (Feng et al. 2019)"),
    "hgnnp": ModelSpec(_classifier(lambda i, o, c: hnn.HGNNPConv(i, o)), dict(_BASE), "HGNN+ (Gao et al. 2022)"),
    "hnhn": ModelSpec(
        _classifier(lambda i, o, c: hnn.HNHNConv(i, o, alpha=c["alpha"], beta=c["beta"])),
        dict(_BASE, hidden_channels=400, dropout=0.3, alpha=-1.5, beta=-0.5),
        "HNHN (Dong et al. 2020)",
        dict(lr=0.001, weight_decay=5e-4),
    ),
    "hypergcn": ModelSpec(
        _hypergcn, dict(_BASE, hidden_channels=16, use_mediator=True, fast=False), "HyperGCN (Yadati et al. 2019)"
    ),
    "fasthypergcn": ModelSpec(
        _hypergcn, dict(_BASE, hidden_channels=16, use_mediator=True, fast=True), "FastHyperGCN (Yadati et al. 2019)"
    ),
    "unigcn": ModelSpec(
        _classifier(lambda i, o, c: hnn.UniGCNConv(i, o), self_loops=True),
        dict(_UNI),
        "UniGCN (Huang and Yang 2021)",
    ),
    "unigat": ModelSpec(
        _unigat,
        dict(_UNI, hidden_channels=8, heads=8, attention_dropout=0.6, act="elu"),
        "UniGAT (Huang and Yang 2021)",
    ),
    "unigin": ModelSpec(
        _classifier(lambda i, o, c: hnn.UniGINConv(i, o), self_loops=True),
        dict(_UNI),
        "UniGIN (Huang and Yang 2021)",
    ),
    "unigcnii": ModelSpec(
        _unigcnii,
        dict(hidden_channels=64, num_layers=32, alpha=0.1, lamda=0.5, dropout=0.2, input_dropout=0.6),
        "UniGCNII (Huang and Yang 2021)",
    ),
    "hcha": ModelSpec(
        _hcha, dict(_BASE, use_attention=False, heads=1, attention_dropout=0.0), "HCHA (Bai et al. 2021)"
    ),
    "allset-deepsets": ModelSpec(
        _allset(False),
        # dropout 0.5 (the other models' value) keeps AllDeepSets at the class prior on Cora-CA; 0.2 trains
        dict(_SET, hidden_channels=64, mlp_layers=2, aggr="mean", dropout=0.2, input_dropout=0.2, mlp_dropout=0.0),
        "AllDeepSets (Chien et al. 2022)",
        _SLOW,
    ),
    "allset-transformer": ModelSpec(
        _allset(True),
        # the reference scripts (jianhao2016/AllSet src/run_AllSetTransformer.sh): one V->E->V block, 2-layer
        # PMA feed-forward, a linear classifier, hidden 128 and 8 heads on Cora-CA (per-dataset sizes and heads
        # in graphhyper.experiments.protocol), dropout 0.5, input dropout 0.2, Adam lr 1e-3, no decay
        dict(
            _SET,
            hidden_channels=128,
            num_layers=1,
            mlp_layers=2,
            heads=8,
            classifier_layers=1,
            classifier_hidden=128,
            input_dropout=0.2,
            attention_dropout=0.0,
        ),
        "AllSetTransformer (Chien et al. 2022)",
        _SLOW,
    ),
    "ed-hnn": ModelSpec(
        _edhnn,
        dict(
            _SET,
            hidden_channels=256,
            mlp1_layers=1,
            mlp2_layers=1,
            mlp3_layers=1,
            aggr="mean",
            alpha=0.5,
            share_weights=False,
            norm="ln",
        ),
        "ED-HNN (Wang et al. 2023)",
        _SLOW,
    ),
    "conhd": ModelSpec(
        _conhd,
        dict(
            hidden_channels=64,
            num_layers=2,
            dropout=0.6,
            input_dropout=0.0,
            share_weights=True,
            num_blocks=2,
            operator="unp",
            heads=4,
            num_inducing=4,
            pe_channels=0,
            layer_norm=True,
        ),
        "CoNHD (Zheng and Worring 2025), per-incidence logits",
        _SLOW,
    ),
    "whatsnet": ModelSpec(
        _whatsnet,
        # the "# WHATsNET" line of the authors' run_StackOverflowBiology.sh (young917/EdgeDependentNodeLabel)
        dict(
            hidden_channels=64,
            att_channels=128,
            node_channels=128,
            edge_channels=128,
            edge_in_channels=128,
            num_layers=2,
            heads=4,
            num_inducing=4,
            num_att_layers=2,
            dropout=0.7,
            pe_channels=0,
            layer_norm=False,
        ),
        "WHATsNet (Choe et al. 2023), per-incidence logits",
        _SLOW,
    ),
    "hdhgn": ModelSpec(
        _hdhgn,
        dict(
            hidden_channels=128,
            num_layers=4,
            heads=8,
            num_node_types=1,
            num_edge_types=1,
            dropout=0.2,
            input_dropout=0.0,
        ),
        "HDHGN (Yang et al. 2023), heterogeneous directed hypergraphs",
        _SLOW,
    ),
    "appnp": ModelSpec(
        _appnp,
        dict(
            hidden_channels=128,
            num_layers=2,
            dropout=0.5,
            input_dropout=0.0,
            norm="none",
            num_steps=10,
            alpha=0.1,
            operator="hgnn",
            edge_dropout=0.0,
        ),
        "APPNP on a hypergraph operator (predict then propagate; Gasteiger et al. 2019)",
    ),
    "mlp": ModelSpec(
        _mlp, dict(hidden_channels=128, num_layers=2, dropout=0.5, input_dropout=0.0, norm="none"), "MLP baseline"
    ),
}


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`, sorted."""
    return sorted(_REGISTRY)


def model_defaults(name: str) -> dict:
    """The default hyperparameters of ``name`` (a copy)."""
    return dict(_spec(name).defaults)


def train_defaults(name: str) -> dict:
    """Suggested optimiser settings for ``name`` (``{"lr": ..., "weight_decay": ...}``, Adam), from its paper or
    reference code: 1e-2 for the convolutional models, 1e-3 for HNHN and the deep MLP/LayerNorm ones (AllSet,
    ED-HNN, CoNHD, HDHGN), which collapse to the class prior at 1e-2."""
    return dict(_spec(name).optim)


def register_model(
    name: str,
    builder: Callable[[int, int, dict], nn.Module],
    defaults: dict,
    summary: str = "",
    overwrite: bool = False,
    optim: dict | None = None,
) -> None:
    """Add a model: ``builder(in_channels, num_classes, config) -> nn.Module`` with ``config = defaults |
    overrides``. Refuses to replace an existing name unless ``overwrite``."""
    if name in _REGISTRY and not overwrite:
        raise InvalidInputError(f"A model named {name!r} is already registered; pass overwrite=True to replace it.")
    _REGISTRY[name] = ModelSpec(builder, dict(defaults), summary, dict(optim or dict(lr=0.01, weight_decay=5e-4)))


def _spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise InvalidInputError(f"Unknown model {name!r}. Known models: {', '.join(list_models())}.")
    return _REGISTRY[name]


def build_model(name: str, in_channels: int, num_classes: int, **overrides) -> nn.Module:
    """Build the model ``name`` for ``in_channels`` input features and ``num_classes`` outputs.

    ``overrides`` replace the defaults (see :func:`model_defaults`); an unknown key raises
    :class:`~graphhyper.errors.InvalidInputError` listing the accepted ones. Every model also takes
    ``feature_layout``: ``"auto"`` (default: CSR input to the first linear map when the features are sparse
    enough), ``"dense"`` (always dense) or ``"sparse"`` (CSR whatever the density); see
    :mod:`graphhyper.hypergraph.features`. It is the attribute ``model.feature_layout`` and can be changed later.
    """
    spec = _spec(name)
    unknown = sorted(set(overrides) - set(spec.defaults) - {"feature_layout"})
    if unknown:
        raise InvalidInputError(
            f"Model {name!r} has no hyperparameter(s) {unknown}; accepted: {sorted(spec.defaults)}."
        )
    for what, value in (("in_channels", in_channels), ("num_classes", num_classes)):
        if not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{what} must be a positive int, got {value!r}.")
    layout = features.check_layout(overrides.pop("feature_layout", "auto"))
    config = {**spec.defaults, **overrides}
    hidden = config.get("hidden_channels", 1)
    if isinstance(hidden, bool) or not isinstance(hidden, numbers.Integral) or hidden < 1:
        raise InvalidInputError(
            f"Model {name!r}: hidden_channels must be a positive int, got {hidden!r}; e.g. "
            f"hidden_channels={spec.defaults.get('hidden_channels', 64)}."
        )
    if config.get("num_layers", 1) < 1:
        raise InvalidInputError(f"num_layers must be >= 1, got {config['num_layers']}.")
    model = spec.builder(in_channels, num_classes, config)
    if layout != "auto":
        features.set_feature_layout(model, layout)
    return model


__all__ = [
    "build_model",
    "list_models",
    "model_defaults",
    "train_defaults",
    "register_model",
    "ModelSpec",
    "HypergraphClassifier",
    "HyperGCN",
    "UniGCNII",
    "SetModel",
    "CoNHD",
    "HDHGN",
    "MLPClassifier",
]
