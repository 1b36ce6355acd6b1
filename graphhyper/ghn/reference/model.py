"""The published GHN-2 (ppuda) and GHN-3 (ghn3) hypernetworks in their parameter layout.

:class:`ReferenceGHN` loads a published state dict unchanged and predicts, for a :class:`ReferenceGraph` and the
target model's parameter shapes, the tensors the published code writes into the model: the same nodes mapped
to the same parameters, the same grouping of nodes by decoded block shape, the same slicing/tiling of the
decoded block to the parameter's shape and the same fan-in normalisation.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from graphhyper.errors import CheckpointError, InvalidInputError
from graphhyper.ghn.reference.graph import PRIMITIVES_DEEPNETS1M, ReferenceGraph
from graphhyper.ghn.reference.layers import MLP, GatedGNN, GraphormerLayer, ShapeEncoder, TiledDecoder
from graphhyper.ghn.reference.targets import Target, group_key, host_targets, match_targets
from graphhyper.ghn.reference.tiling import normalize, tile_ghn3, tile_ppuda, weight_scale

__all__ = ["ReferenceGHN", "infer_config", "map_published_keys", "resolve_config"]

_CONFIG_KEYS = {
    "hid",
    "max_shape",
    "num_classes",
    "heads",
    "layers",
    "is_ghn2",
    "weight_norm",
    "ve",
    "layernorm",
    "ppuda",
    "pretrained",
    "hypernet",
    "decoder",
    "debug_level",
}


def _spatial_from_embed(n_rows: int) -> int:
    """The ``S`` of ``max_shape`` whose spatial table has ``n_rows`` rows (9 rows: 11, else 16)."""
    return 11 if n_rows == 9 else 16


def infer_config(state_dict: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The configuration the published loader assumes for a bare state dict (ghn3 ``from_pretrained``).

    GHN-2 when a ``gnn.gru.`` key exists; ``hid`` from ``embed.weight``; ``max_shape = (√rows, √rows, S, S)``
    from ``decoder.conv.2.weight`` and the spatial table (``S`` = 11 or 16); ``num_classes`` from the
    classifier predictor; ``layers`` = number of ``gnn.*.ln1.weight``; ``heads = 16 if hid > 64 else 8``;
    weight normalisation and virtual edges on; layer norm when ``ln.weight`` exists.
    """
    if "embed.weight" not in state_dict or "decoder.conv.2.weight" not in state_dict:
        raise CheckpointError(
            "state dict has no 'embed.weight' / 'decoder.conv.2.weight': not a published GHN-2/GHN-3 checkpoint; "
            "pass the checkpoint's 'state_dict' entry (and its 'config' if it has one)"
        )
    hid = int(state_dict["embed.weight"].shape[-1])
    ch = int(round(int(state_dict["decoder.conv.2.weight"].shape[0]) ** 0.5))
    num_classes = int(state_dict["decoder.class_layer_predictor.1.weight"].shape[0])
    sp = state_dict.get("shape_enc.embed_spatial.weight")
    s = _spatial_from_embed(int(sp.shape[0])) if sp is not None else (16 if num_classes >= 1000 else 11)
    is_ghn2 = any(k.startswith("gnn.gru.") for k in state_dict)
    layers = sum(1 for k in state_dict if k.startswith("gnn.") and k.endswith("ln1.weight"))
    return {
        "hid": hid,
        "max_shape": (ch, ch, s, s),
        "num_classes": num_classes,
        "heads": 16 if hid > 64 else 8,
        "layers": layers,
        "is_ghn2": is_ghn2,
        "weight_norm": True,
        "ve": True,
        "layernorm": "ln.weight" in state_dict,
        "ppuda": is_ghn2,
    }


def resolve_config(config: Mapping[str, Any] | None, state_dict: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The config a state dict loads with: :func:`infer_config` when ``config`` is ``None``; else ``config``
    with ``is_ghn2`` read from the keys (a ``gnn.gru.`` key) when absent, as ppuda's checkpoints carry no such
    entry. A stated ``is_ghn2`` that contradicts the keys is refused (:class:`CheckpointError`)."""
    if config is None:
        config = infer_config(state_dict)
    is_ghn2 = any(k.startswith("gnn.gru.") for k in state_dict)
    if "is_ghn2" in config and bool(config["is_ghn2"]) != is_ghn2:
        raise CheckpointError(
            f"config says is_ghn2={config['is_ghn2']} but the state dict {'has' if is_ghn2 else 'has no'} "
            "GatedGNN keys (gnn.gru.*); fix the config's is_ghn2 or pass config=None to infer it"
        )
    return {**config, "is_ghn2": is_ghn2}


def map_published_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Published names -> ours: 1×1 convolution weights of ppuda's decoder become linear weights, and the
    first Graphormer layer's structure tables (``gnn.0.centrality_embed_in`` after ghn3's
    ``fix_embed_layers``) sit at the top level."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if k.startswith("decoder.") and v.dim() == 4:
            v = v.reshape(v.shape[0], v.shape[1])
        for name in ("centrality_embed_in", "centrality_embed_out", "input_dist_embed"):
            if k == f"gnn.0.{name}.weight":
                k = f"{name}.weight"
        out[k] = v
    return out


FILL_MODES = ("reference", "all")


def _check_fill(fill: str) -> None:
    if fill not in FILL_MODES:
        raise InvalidInputError(
            f"fill must be 'reference' (what the published code predicts) or 'all' (also the parameters it "
            f"leaves at init, by graphhyper's host rule), got {fill!r}."
        )


def _check_graph(graph: ReferenceGraph) -> None:
    """Raise :class:`InvalidInputError` for a graph the published forward pass cannot read."""
    n = graph.num_nodes
    fix = "build the graph with graphhyper.ghn.reference (one node type per node, an [N, N] adjacency)"
    if graph.adjacency.shape != (n, n):
        raise InvalidInputError(f"adjacency has shape {tuple(graph.adjacency.shape)} for {n} nodes; {fix}")
    if n == 0:
        raise InvalidInputError(f"the graph has no nodes; {fix}")
    types = graph.node_feat.view(-1)
    if int(types.min()) < 0 or int(types.max()) >= len(PRIMITIVES_DEEPNETS1M):
        raise InvalidInputError(
            f"node types must index PRIMITIVES_DEEPNETS1M (0..{len(PRIMITIVES_DEEPNETS1M) - 1}), "
            f"got {int(types.min())}..{int(types.max())}; {fix}"
        )
    if int(graph.adjacency.min()) < 0:
        raise InvalidInputError(f"adjacency values must be >= 0 (0: no edge, k: distance k); {fix}")
    bad = [r.node for r in graph.node_info if not 0 <= r.node < n]
    if bad:
        raise InvalidInputError(f"node_info rows name nodes {bad[:10]} outside 0..{n - 1}; {fix}")


class ReferenceGHN(nn.Module):
    """A published GHN: op embedding + shape encoding -> GatedGNN (GHN-2) or Graphormer (GHN-3) -> [LayerNorm]
    -> decoders (``decoder`` for ≥2-d tensors and the classifier, ``decoder_1d`` + ``bias_class`` for 1-d).

    ``config`` holds the published keys: ``hid``, ``max_shape`` (``(O, I, S, S)``), ``num_classes``, ``heads``,
    ``layers``, ``is_ghn2``, ``weight_norm``, ``ve``, ``layernorm``; ``ppuda`` (default: ``is_ghn2``) picks
    ppuda's GHN forward pass (its decoder, tiling and key grouping) instead of ghn3's ``GHN3`` forward pass.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise InvalidInputError(f"unknown GHN config keys {sorted(unknown)}; use only {sorted(_CONFIG_KEYS)}")
        cfg = dict(config)
        if cfg.get("hypernet", "gatedgnn") != "gatedgnn" or cfg.get("decoder", "conv") != "conv":
            raise InvalidInputError(
                f"only the published GHNs (hypernet='gatedgnn', decoder='conv') are supported, got "
                f"hypernet={cfg.get('hypernet')!r}, decoder={cfg.get('decoder')!r}; use a GHN-2 or GHN-3 checkpoint"
            )
        self.hid = int(cfg["hid"])
        self.max_shape = tuple(int(s) for s in cfg["max_shape"])
        if len(self.max_shape) != 4:
            raise InvalidInputError(f"max_shape must have 4 entries (O, I, S, S), got {self.max_shape}")
        self.num_classes = int(cfg["num_classes"])
        self.is_ghn2 = bool(cfg.get("is_ghn2", False))
        self.use_ppuda = bool(cfg.get("ppuda", self.is_ghn2))
        self.weight_norm = bool(cfg.get("weight_norm", False))
        self.ve = bool(cfg.get("ve", False))
        self.layernorm = bool(cfg.get("layernorm", False))
        self.config = {**cfg, "ppuda": self.use_ppuda}
        hid = self.hid
        if self.layernorm:
            self.ln = nn.LayerNorm(hid)
        self.embed = nn.Embedding(len(PRIMITIVES_DEEPNETS1M), hid)
        self.shape_enc = ShapeEncoder(hid, self.num_classes, self.max_shape)
        self.gnn: nn.Module
        if self.is_ghn2:
            self.gnn = GatedGNN(hid, ve=self.ve)
        else:
            heads, layers = int(cfg.get("heads", 8)), int(cfg.get("layers", 3))
            self.gnn = nn.ModuleList([GraphormerLayer(hid, heads, first=j == 0) for j in range(layers)])
            self.centrality_embed_in = nn.Embedding(GraphormerLayer.max_degree + 1, hid)
            self.centrality_embed_out = nn.Embedding(GraphormerLayer.max_degree + 1, hid)
            self.input_dist_embed = nn.Embedding(GraphormerLayer.max_input_dist + 1, hid)
        self.decoder = TiledDecoder(hid, self.max_shape, self.num_classes)
        max_ch = max(self.max_shape[:2])
        self.decoder_1d = MLP(hid, (hid * 2, 2 * max_ch), last_relu=False)
        self.bias_class = nn.Sequential(nn.ReLU(), nn.Linear(max_ch, self.num_classes))

    # -- loading -------------------------------------------------------------------------------------------

    @classmethod
    def from_reference_state_dict(
        cls, state_dict: Mapping[str, torch.Tensor], config: Mapping[str, Any] | None = None
    ) -> ReferenceGHN:
        """Build from a published state dict (its config inferred as the published loader does when ``None``).

        Raises :class:`CheckpointError` naming the keys that are missing or unexpected, or whose shapes differ.
        """
        config = resolve_config(config, state_dict)
        try:
            ghn = cls(config)
        except InvalidInputError as e:
            raise CheckpointError(f"bad GHN config in checkpoint: {e}") from e
        ours = map_published_keys(state_dict)
        own = ghn.state_dict()
        missing = sorted(set(own) - set(ours))
        unexpected = sorted(set(ours) - set(own))
        if missing or unexpected:
            raise CheckpointError(
                f"GHN state dict does not match config {dict(config)}: missing keys {missing[:20]}, "
                f"unexpected keys {unexpected[:20]}; pass the checkpoint's own config (or config=None to infer it)"
            )
        bad = [k for k in own if tuple(own[k].shape) != tuple(ours[k].shape)]
        if bad:
            raise CheckpointError(
                "GHN state dict shapes do not match config: "
                + ", ".join(f"{k}: {tuple(ours[k].shape)} vs {tuple(own[k].shape)}" for k in bad[:20])
                + "; pass the checkpoint's own config (or config=None to infer it)"
            )
        ghn.load_state_dict(ours)
        return ghn.eval()

    @classmethod
    def from_published(cls, name_or_path: str | os.PathLike[str]) -> ReferenceGHN:
        """A published GHN by name (``"ghn3tm8"``, ``"ghn2_imagenet"``, ...) or file, read by
        :func:`graphhyper.ghn.reference.published.load_published` (allow-list unpickling or converted
        safetensors), with the file's config when it has one, else the inferred one."""
        from graphhyper.ghn.reference.published import load_published

        ckpt = load_published(name_or_path)
        return cls.from_reference_state_dict(ckpt.state_dict, ckpt.config)

    # -- forward -------------------------------------------------------------------------------------------

    def embed_nodes(self, graph: ReferenceGraph, node_shapes: Sequence[Sequence[int] | None]) -> torch.Tensor:
        """Node embeddings after the graph network (and layer norm): ``[N, hid]``."""
        x = self.shape_enc(self.embed(graph.node_feat.view(-1)), node_shapes)
        if self.is_ghn2:
            x = self.gnn(x, graph.edges())
        else:
            x = self._graphormer(x, graph.adjacency)
        if self.layernorm:
            x = self.ln(x)
        return x

    def _graphormer(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        adj = adjacency.long()
        one_hop = (adj == 1).long()
        md, mi = GraphormerLayer.max_degree, GraphormerLayer.max_input_dist
        x = x + self.centrality_embed_in(one_hop.sum(0).clip(0, md))
        x = x + self.centrality_embed_out(one_hop.sum(1).clip(0, md))
        x = x + self.input_dist_embed(adj[0].clip(0, mi))
        layers = [m for m in self.gnn.children() if isinstance(m, GraphormerLayer)]
        bias = layers[0].attn.edge_bias(adj) if layers else None
        for layer in layers:
            x = layer(x, bias)
        return x

    @torch.no_grad()
    def predict_graph(
        self,
        graph: ReferenceGraph,
        shapes: Mapping[str, Sequence[int]],
        out: Mapping[str, torch.Tensor] | None = None,
        fill: str = "reference",
    ) -> dict[str, torch.Tensor]:
        """Predicted tensors ``{parameter name: tensor}`` for the model whose ``named_parameters`` shapes are
        ``shapes`` and whose reference graph is ``graph``: every parameter the published code would set.

        With ``out`` (``{name: tensor of that shape}``, e.g. a module's parameters), each prediction is written
        into its ``out`` tensor, large tiled weights directly by the tiling gather, and those tensors are returned.

        A node ``p`` of ``node_info`` predicts the parameter named ``p`` (``p.weight`` when ``p`` names a module);
        a 1-d weight (a norm layer's) also gives its module's bias from the second row of ``decoder_1d``.
        Parameters without a node (a ViT's class token, ...) are absent, as the published code leaves them
        (``fill="reference"``); ``fill="all"`` decodes those too, from a host node
        (:func:`~graphhyper.ghn.reference.targets.host_targets`), in groups of their own so the reference's
        predictions stay bit-identical. :meth:`predicted_names` lists what will be returned without running the
        network.
        """
        _check_graph(graph)
        _check_fill(fill)
        targets = match_targets(graph, shapes, ghn3_names=not self.use_ppuda)
        node_shapes: list[Sequence[int] | None] = [None] * graph.num_nodes
        for row in graph.node_info:
            if row.shape is not None:
                node_shapes[row.node] = row.shape
        for t in targets:
            node_shapes[t.node] = t.shape
        x = self.embed_nodes(graph, node_shapes)
        result = self._decode_targets(x, targets, out or {})
        if fill == "all":
            result.update(self._decode_hosted(x, host_targets(graph, shapes, not self.use_ppuda), out or {}))
        return result

    def _decode_hosted(
        self, x: torch.Tensor, hosted: Sequence[Target], out: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """:meth:`_decode_targets` for host targets. A token-like tensor (``1 x ... x 1 x D``: a class token, a
        register) is decoded as a bias of length ``D`` (the published bias rule, ``tanh(p/5)``: small and centred,
        where tiling one decoded number across ``D`` would give a constant) and reshaped."""
        tokens = {t.name: t.shape for t in hosted if len(t.shape) > 1 and math.prod(t.shape[:-1]) == 1}
        flat = [dataclasses.replace(t, shape=(t.shape[-1],), is_w=False) if t.name in tokens else t for t in hosted]
        result = self._decode_targets(x, flat, {k: v for k, v in out.items() if k not in tokens})
        for name, shape in tokens.items():
            result[name] = result[name].view(shape)
            if name in out:
                result[name] = out[name].copy_(result[name])
        return result

    def _decode_targets(
        self, x: torch.Tensor, targets: Sequence[Target], out: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Decode ``targets`` from the node embeddings ``x``, grouped by their published key."""
        groups: dict[tuple[int, ...], list[Target]] = {}
        for t in targets:
            groups.setdefault(group_key(t, self.max_shape, vit_pos=not self.use_ppuda), []).append(t)
        result: dict[str, torch.Tensor] = {}
        for key, members in groups.items():
            blocks = self._decode(key, x[torch.tensor([t.node for t in members])])
            for t, block in zip(members, blocks):
                result.update(self._finish(t, block, out))
        return result

    def predicted_names(
        self, graph: ReferenceGraph, shapes: Mapping[str, Sequence[int]], fill: str = "reference"
    ) -> list[str]:
        """The parameter names :meth:`predict_graph` returns for this graph and model (with the same ``fill``)."""
        _check_graph(graph)
        _check_fill(fill)
        names = []
        for t in match_targets(graph, shapes, ghn3_names=not self.use_ppuda):
            names.append(t.name)
            if t.bias_name is not None:
                names.append(t.bias_name)
        if fill == "all":
            names += [t.name for t in host_targets(graph, shapes, ghn3_names=not self.use_ppuda)]
        return names

    def _decode(self, key: tuple[int, ...], x: torch.Tensor) -> torch.Tensor:
        """Decoded blocks for a group of nodes: ``[n, O, I, h, w]`` (weights), ``[n, nc, in]`` (classifier
        weight), ``[n, 2, max_ch]`` (1-d: weight row 0, bias row 1), ``[n, 2, nc]`` (classifier bias) or
        ``[n, 2·max_ch, 1, 1]`` (3-d keys)."""
        n = x.shape[0]
        if len(key) == 2 and key[1] > 0:
            want = (key[0], key[1], 1, 1)
            if self.use_ppuda:
                return self.decoder.forward_ppuda(x, want, class_pred=True)
            return self.decoder.forward_ghn3(x, want, class_pred=True, centred=not self.is_ghn2)
        if len(key) == 3:
            return self.decoder_1d(x).view(n, -1, 1, 1)
        if len(key) == 2:
            w = self.decoder_1d(x).view(n, 2, -1)
            return self.bias_class(w) if key[1] < 0 else w
        if self.use_ppuda:
            return self.decoder.forward_ppuda(x, key, class_pred=False)
        return self.decoder.forward_ghn3(x, key, class_pred=False, centred=not self.is_ghn2)

    def _finish(self, t: Target, block: torch.Tensor, out: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Slice/tile one decoded block to its parameter(s) and normalise (into ``out[name]`` when given).

        1-d blocks ``[2, c]`` hold a weight (row 0) and a bias (row 1): a 1-d weight takes row 0 and its
        module's bias row 1; a bias node takes row 1.
        """
        items = [(t.name, t.is_w, block)]
        if len(t.shape) == 1:
            items = [(t.name, t.is_w, block[0 if t.is_w else 1])]
            if t.is_w and t.bias_name is not None:
                items.append((t.bias_name, False, block[1]))
        return {name: self._fit(w, t.shape, is_w, out.get(name)) for name, is_w, w in items}

    def _fit(
        self, w: torch.Tensor, shape: tuple[int, ...], is_w: bool, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One decoded block tiled to ``shape`` and normalised, in a tensor of its own (not a view of the block),
        or written into ``out``.

        The published order is tile, then normalise. A 2-d or 4-d weight's normalisation is one factor that
        depends on ``shape`` only, so here the (small) block is scaled before it is tiled: the same products,
        and one pass over the (large) result instead of three (tile, scale, copy)."""
        block = w
        scale = weight_scale(shape) if self.weight_norm and len(shape) in (2, 4) else None
        if scale is not None:
            w = w * scale
        if self.use_ppuda:
            w = tile_ppuda(w, shape)
        else:
            w = tile_ghn3(w, shape, centred=not self.is_ghn2, out=out if scale is not None else None)
        if self.weight_norm and scale is None:
            w = normalize(w, is_w)
        if out is not None:
            return w if w is out else out.copy_(w)
        shared = w.untyped_storage().data_ptr() == block.untyped_storage().data_ptr()
        return w.clone() if shared else w.contiguous()
