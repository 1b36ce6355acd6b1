"""Graph encoders of a GHN: node embedding, GatedGNN (GHN-2 style) and a graph transformer (GHN-3 style).

All encoders take a :class:`~graphhyper.ghn.features.GraphBatch` (graphs concatenated along the node axis,
never padded) and return node states ``h`` of shape ``[N, hidden]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from graphhyper.ghn.features import SHAPE_RAW_DIM, GraphBatch


class ShapeEncoding(nn.Module):
    r"""Continuous encoding of the shape descriptors of every node.

    Each raw descriptor :math:`s` (a log2 of a width, kernel, group count, ...) is scaled to about
    :math:`[0, 1]` and expanded into Fourier features

    .. math::
        \phi(s) = [\sin(\pi 2^j s / 17), \cos(\pi 2^j s / 17)]_{j=0}^{F-1} \;\Vert\; [s / 17]

    followed by a linear map to ``hidden``. With ``constant_norm=True`` (the MIP option) the raw term is
    dropped, so every descriptor is encoded by its (sin, cos) pairs only -- MIP's
    :math:`[\cos(\pi\gamma/2), \sin(\pi\gamma/2)]` at several frequencies -- and
    :math:`\lVert\phi(s)\rVert^2 = S F` for every input (``S = SHAPE_RAW_DIM`` descriptors, ``F`` frequencies).

    Shapes: ``[N, SHAPE_RAW_DIM] -> [N, hidden]``.
    """

    freqs: torch.Tensor  # buffer

    def __init__(self, hidden: int, num_freqs: int = 6, constant_norm: bool = False):
        super().__init__()
        self.constant_norm = constant_norm
        self.register_buffer(
            "freqs", math.pi * 2.0 ** torch.arange(num_freqs, dtype=torch.float32) / 17.0, persistent=False
        )
        in_dim = SHAPE_RAW_DIM * 2 * num_freqs + (0 if constant_norm else SHAPE_RAW_DIM)
        self.proj = nn.Linear(in_dim, hidden)

    def features(self, raw: torch.Tensor) -> torch.Tensor:
        r"""The encoding :math:`\phi(s)` before the linear map: ``[N, SHAPE_RAW_DIM] -> [N, in_dim]``."""
        ang = raw.unsqueeze(-1) * self.freqs  # [N, S, F]
        feats = [ang.sin().flatten(1), ang.cos().flatten(1)]
        if not self.constant_norm:
            feats.append(raw / 17.0)
        return torch.cat(feats, dim=1)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.proj(self.features(raw))


class NodeEmbedding(nn.Module):
    r"""``h0 = op_embedding[op] + ShapeEncoding(shape)`` = a linear map of the input :math:`[e_{op};\ \phi(s)]`.

    With ``constant_norm`` (MIP) that input has the same norm :math:`\sqrt{1 + S F}` for every node: the op is
    one-hot and :math:`\phi` has no raw term. As in MIP the *input* has constant norm; ``h0`` itself is not
    renormalised.
    """

    def __init__(self, num_ops: int, hidden: int, constant_norm: bool = False):
        super().__init__()
        self.op = nn.Embedding(num_ops, hidden)
        self.shape = ShapeEncoding(hidden, constant_norm=constant_norm)
        self.constant_norm = constant_norm

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        return self.op(batch.op_idx) + self.shape(batch.shape_raw)


class GatedGNN(nn.Module):
    r"""GHN-2 style gated GNN: forward then backward sweeps over the DAG, ``rounds`` times.

    In the forward sweep nodes are visited level by level in topological order (all nodes of a level,
    across all graphs of the batch, in one step) and updated from their already-updated predecessors:

    .. math::
        m_v = \sum_{u \in \mathrm{pred}(v)} \mathrm{MLP}(h_u), \qquad h_v \leftarrow \mathrm{GRU}(m_v, h_v)

    The backward sweep does the same on the reversed graph (successors, reverse topological order).
    Cost: one batched step per DAG level, no Python loop over nodes.

    Shapes: ``h0 [N, hidden] -> h [N, hidden]``.
    """

    def __init__(self, hidden: int, rounds: int = 1):
        super().__init__()
        self.rounds = rounds
        self.msg = nn.ModuleDict(
            {d: nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)) for d in ("fwd", "bwd")}
        )
        self.gru = nn.ModuleDict({d: nn.GRUCell(hidden, hidden) for d in ("fwd", "bwd")})
        self.norm = nn.LayerNorm(hidden)

    def _sweep(self, h: torch.Tensor, batch: GraphBatch, direction: str) -> torch.Tensor:
        sched = batch.schedule(direction)
        key = "fwd" if direction == "forward" else "bwd"
        mlp, gru = self.msg[key], self.gru[key]
        for nodes, src, local in zip(sched.nodes, sched.src, sched.dst_local):
            msg = mlp(h.index_select(0, src))
            agg = msg.new_zeros(nodes.numel(), msg.shape[1]).index_add_(0, local, msg)
            h = h.index_copy(0, nodes, gru(agg, h.index_select(0, nodes)))
        return h

    def forward(self, h: torch.Tensor, batch: GraphBatch) -> torch.Tensor:
        for _ in range(self.rounds):
            h = self._sweep(h, batch, "forward")
            h = self._sweep(h, batch, "backward")
        return self.norm(h)


class GraphTransformerLayer(nn.Module):
    """Pre-norm transformer layer whose attention logits get an additive per-head bias."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))

    def forward(self, x: torch.Tensor, bias: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """``x [N, hidden]``, ``bias [heads, N, N]``; ``scale`` multiplies the attention logits (queries and bias)."""
        n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(n, 3, self.heads, d // self.heads).permute(1, 2, 0, 3)
        if scale != 1.0:
            q, bias = q * scale, bias * scale
        att = F.scaled_dot_product_attention(
            q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), attn_mask=bias.unsqueeze(0)
        )
        x = x + self.out(att.squeeze(0).transpose(0, 1).reshape(n, d))
        return x + self.ff(self.ln2(x))


class GraphTransformer(nn.Module):
    r"""GHN-3 style graph transformer with shortest-path and degree biases.

    Node input: :math:`h_v + e^{in}[\deg^-(v)] + e^{out}[\deg^+(v)]` (degrees clamped to ``max_degree``).
    Attention between nodes :math:`i, j` of the *same* graph:

    .. math::
        \alpha_{ij} = \mathrm{softmax}_j\Big(\frac{q_i^\top k_j}{\sqrt{d_h}} + b_{\mathrm{spd}(i,j)}\Big)

    with :math:`\mathrm{spd}` the undirected shortest-path distance clamped to ``cutoff + 1``. Attention is
    computed per graph on that graph's own nodes (no padding to the largest graph; memory is
    :math:`\sum_g N_g^2`, not :math:`G \cdot \max_g N_g^2`).

    ``nodes_ref`` (``forward``; 0 = off) is the log-length attention rule: a graph of :math:`N > N_{ref}` nodes
    gets its attention logits (the whole bracket above) multiplied by :math:`\log N / \log N_{ref}`, so that the
    softmax over more nodes stays as concentrated as over the largest graph seen in training; graphs with
    :math:`N \le N_{ref}` are computed exactly as without the rule.

    Shapes: ``h0 [N, hidden] -> h [N, hidden]``.
    """

    def __init__(self, hidden: int, layers: int = 3, heads: int = 4, cutoff: int = 8, max_degree: int = 15):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        self.cutoff, self.max_degree, self.heads = cutoff, max_degree, heads
        self.deg_in = nn.Embedding(max_degree + 1, hidden)
        self.deg_out = nn.Embedding(max_degree + 1, hidden)
        self.spd_bias = nn.Embedding(cutoff + 2, heads)
        self.layers = nn.ModuleList(GraphTransformerLayer(hidden, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        nn.init.zeros_(self.spd_bias.weight)

    def forward(self, h: torch.Tensor, batch: GraphBatch, nodes_ref: int = 0) -> torch.Tensor:
        h = (
            h
            + self.deg_in(batch.in_deg.clamp(max=self.max_degree))
            + self.deg_out(batch.out_deg.clamp(max=self.max_degree))
        )
        biases = [self.spd_bias(g.spd(self.cutoff).to(h.device)).permute(2, 0, 1).to(h.dtype) for g in batch.graphs]
        ptr = batch.ptr
        outs = []
        for gi, bias in enumerate(biases):
            x = h[int(ptr[gi]) : int(ptr[gi + 1])]
            scale = log_length_scale(x.shape[0], nodes_ref)
            for layer in self.layers:
                x = layer(x, bias, scale)
            outs.append(x)
        return self.norm(torch.cat(outs))


def log_length_scale(nodes: int, nodes_ref: int) -> float:
    """``log(nodes) / log(nodes_ref)`` when ``nodes > nodes_ref >= 2``, else 1 (the rule off or not needed)."""
    if nodes_ref < 2 or nodes <= nodes_ref:
        return 1.0
    return math.log(nodes) / math.log(nodes_ref)


def build_encoder(kind: str, hidden: int, **kw) -> nn.Module:
    """``"gatedgnn"`` or ``"transformer"``."""
    if kind == "gatedgnn":
        return GatedGNN(hidden, rounds=kw.get("rounds", 1))
    if kind == "transformer":
        return GraphTransformer(
            hidden, layers=kw.get("layers", 3), heads=kw.get("heads", 4), cutoff=kw.get("cutoff", 8)
        )
    raise ValueError(f"unknown encoder {kind!r}; choose 'gatedgnn' or 'transformer'")
