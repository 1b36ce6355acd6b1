"""NAS-Bench-201: the cell space of Dong & Yang (ICLR 2020), all 15,625 cells.

A cell is a 4-node DAG (node 0 = cell input, node 3 = cell output); each of its 6 edges ``i <- j`` (``j < i``)
carries one of :data:`OPS`, and node ``i`` is the sum of its incoming edges. A cell is written as a tuple of
6 op names in edge order ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``, or as the benchmark's arch string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

The network (CIFAR setting): stem 3x3 conv (``in_channels -> C``) + BN; three stages of ``N`` cells with
widths ``C, 2C, 4C``, separated by residual reduction blocks; BN + ReLU, global average pooling, linear
classifier. The ops are ``ReLU -> Conv -> BN`` (``nor_conv_kxk``), 3x3 average pooling (stride 1, padding not
counted), identity and zero. With ``C=16, N=5``, 10 classes and 3 input channels the parameter count is
``73,306 + 5 * (n3x3 * 48,608 + n1x1 * 5,600)`` (:func:`expected_num_params`).

>>> cell = parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
>>> to_str(cell) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
True
"""

from __future__ import annotations

import hashlib
import itertools
import random

import numpy as np
import torch
from torch import nn

from ...errors import InvalidInputError, UnknownOpError
from . import common as C_

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: ``(to, from)`` node pairs of the 6 edges, in the order of the arch string and of cell tuples.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_CELLS = len(OPS) ** len(EDGES)
HASH_MODES = ("semantic", "functional", "nb201")
_FORMAT_HINT = "Write it as '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op in " + ", ".join(OPS) + "."


# ----------------------------------------------------------------------------------------------- strings
def parse(arch_str: str) -> tuple:
    """Parse a NAS-Bench-201 arch string into a 6-tuple of op names in :data:`EDGES` order."""
    if not isinstance(arch_str, str):
        raise InvalidInputError(f"NB201 arch string must be a str, got {type(arch_str).__name__}. {_FORMAT_HINT}")
    nodes = arch_str.strip().split("+")
    if len(nodes) != 3:
        raise InvalidInputError(
            f"NB201 arch string {arch_str!r} has {len(nodes)} node groups, expected 3 separated by '+'. {_FORMAT_HINT}"
        )
    cell = []
    for i, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")):
            raise InvalidInputError(f"Node group {group!r} of {arch_str!r} must start and end with '|'. {_FORMAT_HINT}")
        items = [t for t in group.strip("|").split("|")]
        if len(items) != i:
            raise InvalidInputError(f"Node {i} in {arch_str!r} has {len(items)} edges, expected {i}. {_FORMAT_HINT}")
        for j, item in enumerate(items):
            op, sep, src = item.partition("~")
            if not sep or src != str(j):
                raise InvalidInputError(f"Edge {item!r} of node {i} in {arch_str!r} must read 'op~{j}'. {_FORMAT_HINT}")
            cell.append(_check_op(op))
    return tuple(cell)


def _check_op(op: str) -> str:
    if op not in OPS:
        raise UnknownOpError(f"Unknown NAS-Bench-201 op {op!r}. Use one of {', '.join(OPS)}.")
    return op


def check_cell(cell) -> tuple:
    """Return ``cell`` as a validated 6-tuple of op names (an arch string is parsed)."""
    if isinstance(cell, str):
        return parse(cell)
    try:
        cell = tuple(cell)
    except TypeError:
        raise InvalidInputError(f"A NB201 cell is a 6-tuple of op names or an arch string, got {cell!r}.") from None
    if len(cell) != len(EDGES):
        raise InvalidInputError(
            f"A NB201 cell has 6 edges ({', '.join(f'{i}<-{j}' for i, j in EDGES)}), got {len(cell)} ops: {cell!r}."
        )
    return tuple(_check_op(op) for op in cell)


def to_str(cell) -> str:
    """Format a cell as the NAS-Bench-201 arch string."""
    cell = check_cell(cell)
    groups, k = [], 0
    for i in (1, 2, 3):
        groups.append("|" + "|".join(f"{cell[k + j]}~{j}" for j in range(i)) + "|")
        k += i
    return "+".join(groups)


def all_cells() -> list[tuple]:
    """All 15,625 cells in NAS-Bench-201 index order (edge ``1<-0`` varies slowest... as ``itertools.product``).

    Note: the benchmark's own index order differs; map through :func:`to_str` and the arch strings.
    """
    return [tuple(c) for c in itertools.product(OPS, repeat=len(EDGES))]


def index(cell) -> int:
    """Position of ``cell`` in :func:`all_cells` (base-5 number of its op indices)."""
    idx = 0
    for op in check_cell(cell):
        idx = idx * len(OPS) + OPS.index(op)
    return idx


def sample_specs(n: int, seed: int = 0, split: str = "id") -> list[tuple]:
    """``n`` distinct cells drawn uniformly without replacement, reproducibly from ``seed``."""
    if split not in ("id", "train", "id_test"):
        raise InvalidInputError(
            f"NB201 has no split {split!r}: its 15,625 cells form one in-distribution space. Use split='id'."
        )
    if not 0 <= n <= NUM_CELLS:
        raise InvalidInputError(f"Cannot draw {n} distinct NB201 cells; there are {NUM_CELLS}.")
    cells = all_cells()
    return [cells[i] for i in random.Random(f"nb201/{seed}").sample(range(NUM_CELLS), n)]


# ----------------------------------------------------------------------------------------------- isomorphism
def canonical(cell, mode: str) -> str:
    """Canonical expression of the cell's output under ``mode`` (one of ``HASH_MODES``; see
    :func:`cell_hash`, which hashes it). Two cells with the same expression compute the same function."""
    cell = check_cell(cell)
    if mode == "nb201":
        return _canonical_nb201(cell)
    nodes: list[list[str]] = [["x"]]  # each node: the multiset of its summands; [] is zero
    k = 0
    for i in (1, 2, 3):
        terms: list[str] = []
        for j in range(i):
            op, v = cell[k], nodes[j]
            k += 1
            if op == "none" or not v:
                continue
            if op == "skip_connect":
                terms.extend(v)
            elif op == "avg_pool_3x3" and mode == "functional":  # linear: pool(a + b) = pool(a) + pool(b)
                terms.extend(f"{op}({t})" for t in v)
            else:
                terms.append(f"{op}({_render(v)})")
        nodes.append(sorted(terms))
    return _render(nodes[3]) if nodes[3] else "zero"


def _render(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else "[" + "+".join(sorted(terms)) + "]"


def _canonical_nb201(cell: tuple) -> str:
    """AutoDL-Projects ``Structure.to_unique_str(consider_zero=True)``, re-implemented."""
    nodes, k = ["x"], 0
    for i in (1, 2, 3):
        terms = []
        for j in range(i):
            op, v = cell[k], nodes[j]
            k += 1
            terms.append("#" if op == "none" or v == "#" else v if op == "skip_connect" else f"({v})@{op}")
        nodes.append("+".join(sorted(terms)))
    return nodes[3]


def cell_hash(cell, mode: str = "semantic") -> str:
    """Isomorphism-aware hash of the function a cell computes.

    ``mode="semantic"`` (default): each node is the multiset of its summands; ``none`` edges and anything
    computed only from zero are dropped (a cell whose output does not depend on its input hashes as ``zero``),
    ``skip_connect`` passes its input's summands through (sums are associative), other ops wrap their input
    expression. Two cells get the same hash exactly when their output expressions are equal, i.e. they differ
    only in which equivalent edge an op sits on or in dead (zero-fed or unread) edges.

    ``mode="functional"`` also uses that parameter-free average pooling is linear (``pool(a + b) = pool(a) +
    pool(b)``): cells that differ only in that get the same hash too.

    ``mode="nb201"`` replicates the benchmark's own ``to_unique_str(consider_zero=True)``; it gives the published
    6,466 classes. That rule keeps a ``#`` marker for every zero term (``a + 0`` differs from ``a``), does not
    treat a node fed only by zero as zero downstream, and splices sums passed by skip connections as strings
    (not canonical), so it splits classes the semantic rule merges: 4,930 semantic, 4,660 functional classes
    (see ``scripts/nb201_unique_cells.py``; every class of every mode is one function, checked numerically).
    """
    if mode not in HASH_MODES:
        raise InvalidInputError(f"cell_hash mode={mode!r} is unknown. Use one of {HASH_MODES}.")
    return hashlib.sha1(canonical(cell, mode).encode()).hexdigest()[:16]


def numeric_fingerprints(seed: int = 0, C: int = 4, size: int = 5) -> dict:
    """Evaluate every cell on one random input with generic random weights shared per op type (float64).

    Returns ``{cell: fingerprint}``: a tuple of the first output values rounded to 1e-6, or ``None`` when the
    output does not depend on the input (zero is kept symbolic: an op reading zero gives zero, as in
    :func:`cell_hash`). Cells that compute the same function get equal fingerprints, so this checks the hash
    modes empirically (``functional`` should give exactly the same partition). Takes a few seconds.
    """
    gen = torch.Generator().manual_seed(seed)
    ops = {o: make_op(o, C).double().eval() for o in OPS}
    with torch.no_grad():
        for module in ops.values():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
            for m in module.modules():
                if isinstance(m, nn.BatchNorm2d) and m.running_mean is not None and m.running_var is not None:
                    m.running_mean.normal_(generator=gen)
                    m.running_var.uniform_(0.5, 2.0, generator=gen)
        x = torch.randn(1, C, size, size, generator=gen, dtype=torch.float64)
        return _fingerprints(ops, x)


def _fingerprints(ops: dict, x: torch.Tensor) -> dict:
    def apply(op, v):
        return None if v is None or op == "none" else ops[op](v)

    def add(*vs):
        present = [v for v in vs if v is not None]
        return None if not present else sum(present[1:], present[0])

    ox = {o: apply(o, x) for o in OPS}
    on1 = {(a, o): apply(o, ox[a]) for a in OPS for o in OPS}
    on2 = {(a, b, c, o): apply(o, add(ox[b], on1[a, c])) for a in OPS for b in OPS for c in OPS for o in OPS}
    out = {}
    for cell in all_cells():
        a, b, c, d, e, f = cell
        v = add(ox[d], on1[a, e], on2[a, b, c, f])
        out[cell] = None if v is None else tuple(v.flatten()[:16].round(decimals=6).tolist())
    return out


def cell_graph(cell) -> tuple[list[str], np.ndarray]:
    """Op-on-node DAG for accuracy predictors: 8 nodes ``[input, 6 edge ops in EDGES order, output]``.

    Returns ``(ops, adjacency)`` with ``adjacency[a, b] = 1`` for data flow ``a -> b``: the op of edge
    ``i <- j`` reads the input node (``j == 0``) or every op node of an edge ending in ``j``; the output node
    reads every op node of an edge ending in node 3. ``none`` ops stay as nodes (fixed 8-node size).
    """
    cell = check_cell(cell)
    adj = np.zeros((8, 8), dtype=np.int64)
    into = {n: [1 + e for e, (to, _) in enumerate(EDGES) if to == n] for n in (1, 2, 3)}
    for e, (_, src) in enumerate(EDGES):
        for a in [0] if src == 0 else into[src]:
            adj[a, 1 + e] = 1
    for a in into[3]:
        adj[a, 7] = 1
    return ["input", *cell, "output"], adj


# ----------------------------------------------------------------------------------------------- network
def make_op(name: str, C: int) -> nn.Module:
    """One NB201 edge op at width ``C`` (stride 1, same width in and out)."""
    _check_op(name)
    if name == "none":
        return C_.Zero(1)
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return C_.pool(2, "avg", 3, 1, 1)
    k = 1 if name == "nor_conv_1x1" else 3
    return C_.ReLUConvBN(C, C, k, 1, k // 2)


class Cell(nn.Module):
    """NB201 cell: ``node_i = sum_{j<i} op_{i<-j}(node_j)``, output node 3. ``[B, C, H, W] -> [B, C, H, W]``."""

    def __init__(self, cell: tuple, C: int):
        super().__init__()
        self.cell = check_cell(cell)
        self.edges = nn.ModuleList(make_op(op, C) for op in self.cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for i in (1, 2, 3):
            total = self.edges[k](nodes[0])
            k += 1
            for j in range(1, i):
                total = total + self.edges[k](nodes[j])
                k += 1
            nodes.append(total)
        return nodes[3]


class ResidualReduction(nn.Module):
    r"""NB201 reduction block: :math:`y = \mathrm{RCB}_{3}(\mathrm{RCB}_{3,s2}(x)) + W_{1x1} * \mathrm{AvgPool}_2(x)`.

    ``[B, C_in, H, W] -> [B, C_out, H/2, W/2]`` (RCB = ReLU-Conv-BN).
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = C_.ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = C_.ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Network(nn.Module):
    """The NAS-Bench-201 network: ``[B, in_channels, H, W] -> [B, num_classes]`` logits."""

    def __init__(self, cell, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.cell = check_cell(cell)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers.extend(Cell(self.cell, c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.pool = C_.global_pool(2)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.lastact(self.cells(self.stem(x)))))


def build(cell, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> NB201Network:
    """The NB201 ``nn.Module`` of ``cell`` (6-tuple or arch string)."""
    for name, v in (("C", C), ("N", N), ("num_classes", num_classes), ("in_channels", in_channels)):
        if not isinstance(v, int) or v < 1:
            raise InvalidInputError(f"nb201.build {name}={v!r} must be a positive integer.")
    return NB201Network(cell, C, N, num_classes, in_channels)


def expected_num_params(cell, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> int:
    """Closed-form parameter count of :func:`build` (``73,306 + 5 * (n3x3 * 48,608 + n1x1 * 5,600)`` by default).

    Fixed part: stem ``9 * in * C + 2C``; reductions ``C_in -> C_out``: ``9 C_in C_out + 9 C_out^2 + 4 C_out +
    C_in C_out``; final BN ``2 * 4C``; classifier ``4C * classes + classes``. Per cell and stage width ``c``:
    ``9c^2 + 2c`` per ``nor_conv_3x3``, ``c^2 + 2c`` per ``nor_conv_1x1``, 0 for the others.
    """
    cell = check_cell(cell)
    widths = (C, 2 * C, 4 * C)
    fixed = 9 * in_channels * C + 2 * C
    fixed += sum(9 * a * b + 9 * b * b + 4 * b + a * b for a, b in ((C, 2 * C), (2 * C, 4 * C)))
    fixed += 2 * 4 * C + 4 * C * num_classes + num_classes
    per3 = sum(9 * c * c + 2 * c for c in widths)
    per1 = sum(c * c + 2 * c for c in widths)
    return fixed + N * (cell.count("nor_conv_3x3") * per3 + cell.count("nor_conv_1x1") * per1)


def spec_to_graph(cell, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3, image_size: int = 32):
    """Trace the NB201 network of ``cell`` on meta tensors into an :class:`~graphhyper.arch.ArchGraph`."""
    from .. import trace  # lazy

    with torch.device("meta"):
        net = build(cell, C, N, num_classes, in_channels)
    return trace(net, input_shape=(1, in_channels, image_size, image_size))
