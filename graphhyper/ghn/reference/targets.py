"""Which parameter each node of a :class:`ReferenceGraph` predicts, and how the published GHNs group nodes.

The published code matches a node's ``node_info`` name against the model's "layered modules": one entry per
module for its weight-like tensor (``layer_scale``, else ``in_proj_weight``, else ``pos_embedding`` keyed as
``<module>.pos_embedding.weight``, else ``weight``) and one for its bias (``in_proj_bias``, else ``bias``). We
rebuild those entries from the parameter names and shapes alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graphhyper.ghn.reference.graph import ReferenceGraph

__all__ = ["Target", "group_key", "host_targets", "layered_entries", "match_targets"]

_WEIGHT_ATTRS = ("layer_scale", "in_proj_weight", "pos_embedding", "weight")
_BIAS_ATTRS = ("in_proj_bias", "bias")
_NODE_SUFFIXES = (".weight", ".bias", "in_proj_weight", "in_proj_bias")


@dataclass(frozen=True)
class Target:
    """A node and the parameter it predicts: ``name`` (as in ``named_parameters``), its ``shape``, whether it
    is a weight (``is_w``), the classifier flags, and for a 1-d weight the module's bias name (or ``None``)."""

    node: int
    name: str
    shape: tuple[int, ...]
    is_w: bool
    last_weight: bool
    last_bias: bool
    bias_name: str | None


def layered_entries(shapes: Mapping[str, Sequence[int]]) -> dict[str, tuple[str, bool]]:
    """``{published key: (parameter name, is_weight)}`` for a model's parameters."""
    by_module: dict[str, dict[str, str]] = {}
    for name in shapes:
        prefix, _, attr = name.rpartition(".")
        by_module.setdefault(prefix, {})[attr] = name
    out: dict[str, tuple[str, bool]] = {}
    for prefix, attrs in by_module.items():
        for attr in _WEIGHT_ATTRS:
            if attr in attrs:
                key = f"{prefix}.pos_embedding.weight" if attr == "pos_embedding" else f"{prefix}.{attr}"
                out[key] = (attrs[attr], True)
                break
        for attr in _BIAS_ATTRS:
            if attr in attrs:
                out[f"{prefix}.{attr}"] = (attrs[attr], False)
                break
    return out


def _candidates(param: str, ghn3_names: bool) -> list[str]:
    name = param if param.endswith(_NODE_SUFFIXES) else param + ".weight"
    names = [name]
    if ghn3_names:
        names.append(name.replace("to_qkv", "attn.to_qkv").replace("to_out", "attn.to_out"))
    return names


def match_targets(graph: ReferenceGraph, shapes: Mapping[str, Sequence[int]], ghn3_names: bool = True) -> list[Target]:
    """The nodes that predict a parameter, in node order.

    ``ghn3_names`` also tries ghn3's ``to_qkv -> attn.to_qkv`` / ``to_out -> attn.to_out`` renaming and lets
    several nodes share a parameter; without it (ppuda) a matched entry is used once.
    """
    entries = layered_entries(shapes)
    used: set[str] = set()
    targets = []
    for row in graph.node_info:
        for cand in _candidates(row.param, ghn3_names):
            if cand in entries and cand not in used:
                break
        else:
            continue
        if not ghn3_names:
            used.add(cand)
        pname, is_w = entries[cand]
        shape = tuple(int(s) for s in shapes[pname])
        prefix = pname.rpartition(".")[0]
        bias = f"{prefix}.bias" if prefix else "bias"
        bias_name = bias if (is_w and len(shape) == 1 and bias in shapes) else None
        targets.append(Target(row.node, pname, shape, is_w, row.last_weight, row.last_bias, bias_name))
    return targets


def host_targets(graph: ReferenceGraph, shapes: Mapping[str, Sequence[int]], ghn3_names: bool = True) -> list[Target]:
    """Targets for the parameters the published code leaves at their initialisation (graphhyper's fill rule).

    Such a parameter (a ConvNeXt layer scale, a ViT class token, a Swin relative-position table, an auxiliary
    head's weights) has no node of its own. It is decoded from a *host*: the last weight node inside the
    parameter's own module; if that module has none, the last weight node of the nearest enclosing module that
    has one; at the root, the graph's first weight node (the input stem: a ViT's class token lives in the
    embedding its patch projection makes). The decoded block then goes through the published path for a tensor
    of its shape and kind (grouping, tiling, normalisation), as if the published graph had given it a node;
    :meth:`~graphhyper.ghn.reference.model.ReferenceGHN.predict_graph` decodes a token-like ``1 x ... x D``
    tensor as a bias of length ``D``.
    """
    targets = match_targets(graph, shapes, ghn3_names)
    covered = {t.name for t in targets} | {t.bias_name for t in targets if t.bias_name}
    hosts = [t for t in targets if t.is_w]
    if not hosts:
        return []
    out = []
    for name, shape in shapes.items():
        if name in covered:
            continue
        host = _host(name, hosts)
        is_w = not name.rpartition(".")[2].endswith("bias")
        out.append(Target(host.node, name, tuple(int(s) for s in shape), is_w, False, False, None))
    return out


def _host(name: str, hosts: Sequence[Target]) -> Target:
    """The last host inside ``name``'s module, else inside the nearest enclosing module, else the first host."""
    module = name.rpartition(".")[0]
    while module:
        inside = [h for h in hosts if h.name.startswith(module + ".")]
        if inside:
            return inside[-1]
        module = module.rpartition(".")[0]
    return hosts[0]


def _min_sz(sz: Sequence[int], max_shape: Sequence[int], j: int) -> int:
    """``n = min(sz_j, M_j)``; a multiple of 3 becomes ``4n/3``; ``n ≥ M_j / 2`` becomes ``M_j``."""
    n = min(int(sz[j]), int(max_shape[j]))
    if n % 3 == 0:
        n = n // 3 * 4
    if n >= max_shape[j] / 2:
        n = int(max_shape[j])
    return n


def group_key(t: Target, max_shape: Sequence[int], vit_pos: bool) -> tuple[int, ...]:
    """The published grouping key of a target (nodes with one key are decoded together).

    1-d: ``(m0, -1)`` for the classifier bias, else ``(m0, 0)``; classifier weight ``(m0, m1)``; 2-d
    ``(m0, m1, 1, 1)``; 3-d ``(1, c, ⌊√n⌋, ⌊√n⌋)`` for a ViT position embedding ``(1, n, c)`` (GHN-3 only),
    else ``(m0, m1, m2)``; 4-d ``(m0, m1, h, w)``; ``m_j`` from :func:`_min_sz`.
    """
    sz = t.shape

    def m(j: int) -> int:
        return _min_sz(sz, max_shape, j)

    if len(sz) == 1:
        return (m(0), -1) if t.last_bias else (m(0), 0)
    if t.last_weight:
        return (m(0), m(1))
    if len(sz) == 2:
        return (m(0), m(1), 1, 1)
    if len(sz) == 3:
        if vit_pos and sz[0] == 1 and min(sz[1:]) > 1:
            s = int(math.floor(sz[1] ** 0.5))
            return (1, sz[2], s, s)
        return (m(0), m(1), m(2))
    return (m(0), m(1), sz[2], sz[3])
