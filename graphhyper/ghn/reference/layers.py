"""Building blocks of the published GHN-2 (ppuda) and GHN-3 (ghn3) hypernetworks, in their parameter layout.

Every module here is named so that the published state dicts load without renaming (``embed``, ``shape_enc``,
``gnn``, ``decoder``, ``decoder_1d``, ``bias_class``, ...); the maths follows the published forward passes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from graphhyper.errors import InvalidInputError

__all__ = [
    "GatedGNN",
    "GraphormerLayer",
    "MLP",
    "ShapeEncoder",
    "TiledDecoder",
]


class MLP(nn.Module):
    """``fc``: ``Linear -> ReLU -> ... -> Linear -> act``, where the last ``act`` is ReLU or the identity.

    The published layout keeps an activation module after every linear layer, so the linear layers sit at the
    even indices of ``fc`` (``fc.0``, ``fc.2``, ...).
    """

    def __init__(self, in_features: int, hid: Sequence[int], last_relu: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for j, n in enumerate(hid):
            layers.append(nn.Linear(in_features if j == 0 else hid[j - 1], n))
            last = j == len(hid) - 1
            layers.append(nn.ReLU() if (not last or last_relu) else nn.Identity())
        self.fc = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def _lookup_index(values: list[int], value: int, special: dict[int, int]) -> int:
    """Index of ``value`` in the sorted ``values`` as the published shape encoder resolves it.

    ``special`` maps a value to the value it stands for (checked first); a listed value gives its own index; a
    value in ``[1, values[-1])`` gives the nearest listed value (the smaller one on a tie); anything else gives
    the last index.
    """
    value = special.get(value, value)
    pos = bisect.bisect_left(values, value)
    if pos < len(values) and values[pos] == value:
        return pos
    if 1 <= value < values[-1]:
        lo, hi = pos - 1, pos
        if lo < 0:
            return hi
        return lo if value - values[lo] <= values[hi] - value else hi
    return len(values) - 1


class ShapeEncoder(nn.Module):
    """Adds an embedding of a node's 4-d shape ``(out, in, h, w)`` to its op embedding.

    ``x' = x + [E_ch(out) | E_ch(in) | E_sp(h) | E_sp(w)]``, each part ``hid // 4`` wide. Channel values are
    ``{1, 3, num_classes} ∪ 8·[1, 8) ∪ 16·[4, 256) ∪ 32·[128, 256]``; spatial values are the odd numbers below
    ``max(12, max_shape[3])`` plus 14 and 16. A value not listed maps to the nearest listed one (4..7 channels to
    8, a 2-wide kernel to 3); nodes without a shape use the extra last index of each table.
    """

    def __init__(self, hid: int, num_classes: int, max_shape: Sequence[int]) -> None:
        super().__init__()
        chans = {1, 3, num_classes}
        chans.update(range(8, 64, 8))
        chans.update(range(64, 4096, 16))
        chans.update(range(4096, 8193, 32))
        self.channels = sorted(chans)
        self.spatial = sorted(set(range(1, max(12, int(max_shape[3])), 2)) | {14, 16})
        self._ch_special = {c: 8 for c in range(4, 8)}
        self._sp_special = {2: 3}
        self.embed_spatial = nn.Embedding(len(self.spatial) + 1, hid // 4)
        self.embed_channel = nn.Embedding(len(self.channels) + 1, hid // 4)

    @staticmethod
    def to_4d(shape: Sequence[int]) -> tuple[int, ...]:
        """``(a,) -> (a, 1, 1, 1)``, ``(a, b) -> (a, b, 1, 1)``, ``(1, n, c) -> (1, c, ⌊√n⌋, ⌊√n⌋)`` (a ViT
        position embedding with ``n, c > 1``), other ``(a, b, c) -> (a, b, c, 1)``."""
        sz = tuple(int(s) for s in shape)
        if len(sz) == 1:
            sz = (sz[0], 1)
        if len(sz) == 2:
            sz = (sz[0], sz[1], 1, 1)
        if len(sz) == 3:
            if sz[0] == 1 and min(sz[1:]) > 1:
                s = int(math.floor(sz[1] ** 0.5))
                sz = (1, sz[2], s, s)
            else:
                sz = (sz[0], sz[1], sz[2], 1)
        return sz

    def indices(self, shapes: Sequence[Sequence[int] | None]) -> torch.Tensor:
        """``LongTensor [N, 4]`` of table indices for every node's shape (``None``: the "no shape" index)."""
        n_ch, n_sp = len(self.channels), len(self.spatial)
        rows = []
        for shape in shapes:
            if shape is None:
                rows.append([n_ch, n_ch, n_sp, n_sp])
                continue
            sz = self.to_4d(shape)
            rows.append(
                [_lookup_index(self.channels, sz[i], self._ch_special) for i in (0, 1)]
                + [_lookup_index(self.spatial, sz[i], self._sp_special) for i in (2, 3)]
            )
        return torch.tensor(rows, dtype=torch.long).view(-1, 4)

    def forward(self, x: torch.Tensor, shapes: Sequence[Sequence[int] | None]) -> torch.Tensor:
        ind = self.indices(shapes).to(x.device)
        emb = torch.cat(
            (
                self.embed_channel(ind[:, 0]),
                self.embed_channel(ind[:, 1]),
                self.embed_spatial(ind[:, 2]),
                self.embed_spatial(ind[:, 3]),
            ),
            dim=1,
        )
        return x + emb


class GatedGNN(nn.Module):
    """GHN-2's gated graph network: one forward then one backward sweep over the nodes in topological order.

    Sweeping node ``v`` (forward: over incoming edges ``u -> v``; backward: over outgoing edges, in reverse
    order): ``m_v = Σ_{u: d(u,v)=1} MLP(h_u) + Σ_{u: d(u,v)≥1} MLP_ve(h_u) / d(u, v)`` (the second sum only with
    virtual edges), then ``h_v ← GRUCell(m_v, h_v)``. Each node is updated once per sweep, with ``m_v = 0`` when
    it has no neighbour in that direction. ``MLP = Linear(C, C/2) -> ReLU -> Linear(C/2, C) -> ReLU`` (hidden
    ``C`` without virtual edges).
    """

    def __init__(self, hid: int, ve: bool) -> None:
        super().__init__()
        self.ve = ve
        self.mlp = MLP(hid, (hid // 2 if ve else hid, hid), last_relu=True)
        if ve:
            self.mlp_ve = MLP(hid, (hid // 2, hid), last_relu=True)
        self.gru = nn.GRUCell(hid, hid)

    def forward(self, x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, C]``; ``edges``: ``LongTensor [E, 3]`` of ``(source, target, distance)``."""
        h = x.clone()
        if edges.numel() == 0:
            return h
        last = int(edges[:, 1].max()) + 1
        dist = edges[:, 2].to(h.dtype).view(-1, 1)
        one_hop = edges[:, 2] == 1
        for end, forward in ((1, True), (0, False)):
            start = edges[:, 1 - end]
            order = range(last) if forward else range(last - 1, -1, -1)
            for v in order:
                into = edges[:, end] == v
                m = torch.zeros(1, h.shape[1], dtype=h.dtype)
                sel = into & one_hop
                if bool(sel.any()):
                    m = m + self.mlp(h[start[sel]]).sum(0, keepdim=True)
                if self.ve and bool(into.any()):
                    m = m + (self.mlp_ve(h[start[into]]) / dist[into]).sum(0, keepdim=True)
                h[v : v + 1] = self.gru(m, h[v : v + 1])
        return h


class _EdgeEmbedding(nn.Module):
    """``embed``: a learned table over edge values (published initialised from sinusoids; loaded here)."""

    def __init__(self, hid: int, max_len: int = 257) -> None:
        super().__init__()
        self.embed = nn.Embedding(max_len, hid)


class _Attention(nn.Module):
    """Multi-head self-attention with an additive per-head edge bias.

    ``A_h = softmax(Q_h K_hᵀ / √d + B_h)``, ``out = to_out(concat_h A_h V_h)``. In the first layer
    ``B = proj_e([E(a_ij + 2) | E(a_ji + 2)])`` (``E`` the edge table, ``proj_e = Linear(2C, C) -> ReLU ->
    Linear(C, heads)``); later layers reuse that bias.
    """

    def __init__(self, dim: int, heads: int, with_edges: bool) -> None:
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Identity())
        if with_edges:
            self.edge_embed = _EdgeEmbedding(dim)
            self.proj_e = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, heads))

    def edge_bias(self, adjacency: torch.Tensor) -> torch.Tensor:
        """``adjacency [N, N]`` -> ``[heads, N, N]``.

        The bias of a pair depends only on ``(a_ij, a_ji)``, whose values come from the small edge table, so
        ``proj_e`` runs once per possible pair of table rows and each of the ``N²`` entries gathers its row:
        the same products as running ``proj_e`` on every entry, without ``N²`` MLP evaluations."""
        table = self.edge_embed.embed.weight
        size = table.shape[0]
        a = adjacency + 2
        if a.numel() == 0 or int(a.min()) < 0 or int(a.max()) >= size:
            return self._edge_bias_per_entry(adjacency)  # out-of-table values fail here as in the published code
        k = int(a.max()) + 1  # rows of the table in use
        rows = table[:k]
        grid = torch.cat((rows.unsqueeze(1).expand(k, k, -1), rows.unsqueeze(0).expand(k, k, -1)), -1)
        per_pair = self.proj_e(grid.reshape(k * k, -1))
        return per_pair[a * k + a.t()].permute(2, 0, 1)

    def _edge_bias_per_entry(self, adjacency: torch.Tensor) -> torch.Tensor:
        pair = torch.stack((adjacency, adjacency.t()), dim=-1) + 2
        emb = self.edge_embed.embed(pair)
        return self.proj_e(emb.reshape(*emb.shape[:2], -1)).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        n, c = x.shape
        qkv = self.to_qkv(x).reshape(n, 3, self.heads, c // self.heads).permute(1, 2, 0, 3)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        if bias is not None:
            attn = attn + bias
        out = (attn.softmax(dim=-1) @ v).transpose(0, 1).reshape(n, c)
        return self.to_out(out)


class _FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Identity(), nn.Linear(hidden, dim), nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GraphormerLayer(nn.Module):
    """Pre-norm transformer layer: ``x += Attn(LN1(x), B)``; ``x += FF(LN2(x))`` (``FF``: ``C -> 4C -> C``, GELU).

    The first layer (``first=True``) also adds structure embeddings before attending:
    ``x += E_in(min(deg_in, 100)) + E_out(min(deg_out, 100)) + E_dist(min(a_0j, 1000))`` where degrees count
    the edges with value 1 and ``a_0j`` is node ``j``'s distance from the input node (row 0 of the adjacency).
    """

    max_degree = 100
    max_input_dist = 1000

    def __init__(self, dim: int, heads: int, first: bool) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = _Attention(dim, heads, with_edges=first)
        self.ln2 = nn.LayerNorm(dim, eps=1e-5)
        self.ff = _FeedForward(dim, dim * 4)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), bias)
        return x + self.ff(self.ln2(x))


def _center_window(size: int, want: int) -> slice:
    """The published GHN-3 spatial crop: ``[c - ⌊want/2⌋, c + ⌈want/2⌉)`` around ``c = ⌊size/2⌋`` (start ≥ 0)."""
    c = size // 2
    return slice(max(0, c - want // 2), c + int(math.ceil(want / 2)))


class TiledDecoder(nn.Module):
    """The published weight decoder: node embedding -> a ``(out, in, h, w)`` block of at most ``max_shape``.

    ``fc``: ``Linear(C, 4C·S·S) -> ReLU``, viewed as ``[4C, S, S]``; ``conv``: per spatial position
    ``Linear(4C, 8C) -> ReLU -> Linear(8C, out·in)`` (stored as linear layers, or as 1×1 convolutions in ppuda's
    checkpoints); ``class_layer_predictor``: ``ReLU -> Linear(out, num_classes)`` over the out-channel axis of
    the block's spatial position (centre for GHN-3, top-left for ppuda) for classifier weights.
    """

    def __init__(self, hid: int, max_shape: Sequence[int], num_classes: int) -> None:
        super().__init__()
        self.out_shape = tuple(int(s) for s in max_shape)
        o, i, s1, s2 = self.out_shape
        h0, h1 = hid * 4, hid * 8
        self.fc = nn.Sequential(nn.Linear(hid, h0 * s1 * s2), nn.ReLU())
        self.conv = nn.Sequential(nn.Linear(h0, h1), nn.ReLU(), nn.Linear(h1, o * i), nn.Identity())
        self.class_layer_predictor = nn.Sequential(nn.ReLU(), nn.Linear(o, num_classes))

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C] -> [N, 4C, S, S]``."""
        return self.fc(x).view(x.shape[0], -1, *self.out_shape[2:])

    def _hidden_window(self, x: torch.Tensor, rs: slice, cs: slice) -> torch.Tensor:
        """``self._hidden(x)[:, :, rs, cs]``, computing only the rows of ``fc`` that the window keeps:
        ``[N, C] -> [N, 4C, a, b]``. Each kept entry is the same dot product as in the full map; a group with
        a ``1 × 1`` key costs ``1 / S²`` of the full ``Linear(C, 4C·S·S)``."""
        s1, s2 = self.out_shape[2:]
        rs, cs = slice(*rs.indices(s1)), slice(*cs.indices(s2))
        a, b = len(range(s1)[rs]), len(range(s2)[cs])
        if (a, b) == (s1, s2):
            return self._hidden(x)
        lin = self.fc[0]
        assert isinstance(lin, nn.Linear)
        idx = torch.arange(lin.out_features, device=x.device).view(-1, s1, s2)[:, rs, cs].reshape(-1)
        return self.fc[1](F.linear(x, lin.weight[idx], lin.bias[idx])).view(x.shape[0], -1, a, b)

    def _pixelwise(self, h: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``conv`` at every spatial position: ``[N, 4C, a, b] -> [N, R, a, b]`` (``R`` rows of the last layer,
        all ``out·in`` of them unless ``rows`` picks some)."""
        y = self.conv[1](self.conv[0](h.permute(0, 2, 3, 1)))
        last = self.conv[2]
        assert isinstance(last, nn.Linear)
        if rows is None:
            y = last(y)
        else:
            y = F.linear(y, last.weight[rows], last.bias[rows])
        return y.permute(0, 3, 1, 2)

    def forward_ghn3(self, x: torch.Tensor, want: Sequence[int], class_pred: bool, centred: bool) -> torch.Tensor:
        """GHN-3's decoding of a group with key ``want = (o, i, a, b)``.

        The ``[4C, S, S]`` map is cropped to ``a × b`` (centred window for GHN-3, top-left for GHN-3's GHN-2
        mode), decoded to ``[N, O, I, a', b']``, cut to ``i`` input channels, bilinearly resized to ``a × b``
        when both exceed ``S``, then either cut to ``o`` outputs or, for a classifier,
        mapped through ``class_layer_predictor`` at the centre position to ``[N, num_classes, in]``.

        Only what survives the cuts is computed (the rows of ``fc`` in the window, the ``o·i`` rows of the last
        ``conv`` layer): the same dot products as decoding the full block and cutting it afterwards.
        """
        n = x.shape[0]
        if centred:
            window = (_center_window(self.out_shape[2], want[2]), _center_window(self.out_shape[3], want[3]))
        else:
            window = (slice(0, want[2]), slice(0, want[3]))
        h = self._hidden_window(x, *window)
        o, i = self.out_shape[:2]
        n_out, n_in = (o if class_pred else min(o, want[0])), min(i, want[1])
        rows = None if (n_out, n_in) == (o, i) else (torch.arange(n_out)[:, None] * i + torch.arange(n_in)).view(-1)
        y = self._pixelwise(h, rows)
        y = y.reshape(n, n_out, n_in, *y.shape[2:])
        if min(want[2:]) > min(self.out_shape[2], want[2], self.out_shape[3], want[3]):
            # the published code resizes one node's block (it asserts a group of one); each block alike here
            flat = F.interpolate(y.flatten(0, 1), tuple(want[2:]), mode="bilinear")
            y = flat.view(n, -1, *flat.shape[1:])
        if class_pred:
            k = y.shape[-1] // 2
            return self.class_layer_predictor(y[:, :, :, k, k].permute(0, 2, 1)).permute(0, 2, 1)
        return y

    def forward_ppuda(self, x: torch.Tensor, want: Sequence[int], class_pred: bool) -> torch.Tensor:
        """ppuda's decoding of a group with key ``want = (o, i, a, b)`` (top-left crops throughout).

        When few input channels are wanted (``i ≤ I/2``) or fewer outputs (``o < O``, not a classifier), only
        the rows ``[n_out·I]`` of the last layer are computed, taken in runs of ``n_in`` with stride
        ``I / n_in`` (``n_in = 4i/3`` for ``i`` a multiple of 3 below ``I``, else ``min(i, I)``), cut to
        ``min(i, I)`` inputs and, when ``a, b > S``, tiled 2×2 spatially. A classifier block then goes through
        ``class_layer_predictor`` at spatial position ``(·, 0)``: ``[N, num_classes, in, h]`` -> ``h = 0``.
        """
        n = x.shape[0]
        o_max, i_max, s1, s2 = self.out_shape
        h = self._hidden(x)[:, :, : want[2], : want[3]]
        hh, ww = min(s1, want[2]), min(s2, want[3])
        if want[1] <= i_max // 2 or (want[0] < o_max and not class_pred):
            if want[1] < i_max and want[1] % 3 == 0:
                n_in = want[1] // 3 * 4
            else:
                n_in = min(want[1], i_max)
            n_out = o_max if class_pred else min(o_max, want[0])
            rows = torch.arange(n_out * i_max)
            if (n_out * i_max) % n_in:
                raise InvalidInputError(
                    f"ppuda's decoder cannot decode a block of {want[1]} input channels ({n_out}·{i_max} rows "
                    f"in runs of {n_in}); the published GHN-2 code fails on it too. Load the checkpoint with "
                    "config ppuda=False to run it as ghn3's from_pretrained does"
                )
            if n_in < i_max:
                rows = rows.reshape(-1, n_in)[:: i_max // n_in].flatten()
            y = self._pixelwise(h, rows)
            y = y.reshape(n, n_out, n_in, hh, ww)[:, :, : min(i_max, want[1])]
            if min(want[2:]) > min(hh, ww):
                y = y.repeat((1, 1, 1, 2, 2))
        else:
            y = self._pixelwise(h).reshape(n, o_max, -1, hh, ww)
        if class_pred:
            z = y[:, :, :, :, 0]  # [N, O, in, h]
            z = self.class_layer_predictor(z.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            return z[:, :, :, 0]
        return y
