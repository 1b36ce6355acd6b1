"""DARTS-style cell search space with the DeepNets-1M recipe.

A network is a stem, ``num_cells`` cells and a head. A cell is a small DAG: its inputs are the outputs of the
two previous cells (nodes 0 and 1), each intermediate node ``i >= 2`` sums one operation per incoming edge
``(op, input)``, and the cell output concatenates the ``concat`` nodes along channels (the sampler uses the
"loose ends", nodes no other node reads). Reduction cells (stride 2 on edges from nodes 0 and 1) halve the
spatial size and double the width; they sit at ``num_cells // 3`` and ``2 * num_cells // 3`` as in DARTS, but
only while the spatial size is even and the result is at least 2 (an 8x8 digit admits two: 8 -> 4 -> 2).

Splits (``sample_spec(seed, split=...)``), after DeepNets-1M, scaled down to train on a CPU:

========== ======== ======== ============ ======================== =====
split      cells    nodes    edges/node   widths C                 norm
========== ======== ======== ============ ======================== =====
id         4-10     1-4      2            8, 12, 16, 24, 32        bn
wide       4-10     1-4      2            48, 64                   bn
deep       12-18    1-4      2            8, 12, 16, 24, 32        bn
dense      4-10     5-6      2-3          8, 12, 16, 24, 32        bn
bn_free    4-10     1-4      2            8, 12, 16, 24, 32        none
========== ======== ======== ============ ======================== =====

Every range can be overridden per call (``sample_spec(..., widths=(64, 128), cells=(8, 20))``).

>>> spec = sample_spec(0, split="id", in_channels=1, num_classes=10, image_size=8)
>>> net = build(spec)                              # forward: [B, 1, 8, 8] -> [B, 10]
>>> spec == DartsSpec.from_json(spec.to_json())
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import random
from dataclasses import dataclass

import torch
from torch import nn

from ...errors import InvalidInputError, UnknownOpError
from . import common as C_

PRIMITIVES = (
    "none",
    "skip_connect",
    "max_pool",
    "avg_pool",
    "sep_conv_3",
    "sep_conv_5",
    "dil_conv_3",
    "dil_conv_5",
    "conv_1x1",
    "conv_7x1_1x7",
    "conv_3",
    "conv_5",
    "conv_7",
    "msa",
    "se",
)
#: The original DARTS operation set (Liu et al., 2019), ``none`` included, as in the DARTS supernet: the first
#: eight :data:`PRIMITIVES` (the rest are ppuda's additions).
DARTS_SEARCH_OPS = PRIMITIVES[:8]
#: The original DARTS operations a derived genotype holds (:data:`DARTS_SEARCH_OPS` without ``none``).
DARTS_OPS = tuple(op for op in DARTS_SEARCH_OPS if op != "none")
#: Spellings from DARTS / ppuda genotypes accepted as input and normalised to :data:`PRIMITIVES`.
ALIASES = {
    "max_pool_3x3": "max_pool",
    "avg_pool_3x3": "avg_pool",
    "sep_conv_3x3": "sep_conv_3",
    "sep_conv_5x5": "sep_conv_5",
    "dil_conv_3x3": "dil_conv_3",
    "dil_conv_5x5": "dil_conv_5",
    "conv_3x3": "conv_3",
    "conv_5x5": "conv_5",
    "conv_7x7": "conv_7",
    "cse": "se",
    "identity": "skip_connect",
    "skip": "skip_connect",
    "zero": "none",
}
STEMS = ("conv", "conv2")
HEADS = ("linear", "mlp")
SPLITS = ("id", "wide", "deep", "dense", "bn_free")
#: Ops the sampler draws from (``none`` is kept out: a sampled net should compute something on every edge).
SAMPLED_OPS = tuple(op for op in PRIMITIVES if op != "none")


def canonical_op(name: str) -> str:
    """Normalise an op name (DARTS/ppuda spellings accepted) or raise :class:`UnknownOpError`."""
    op = ALIASES.get(name, name)
    if op not in PRIMITIVES:
        raise UnknownOpError(
            f"Unknown DARTS op {name!r}. Use one of {', '.join(PRIMITIVES)} (DARTS spellings such as "
            f"'sep_conv_3x3' are accepted too)."
        )
    return op


def make_op(name: str, C: int, stride: int, dims: int = 2, affine: bool = True, norm: str = "bn") -> nn.Module:
    """Build the module for one cell edge: ``[B, C, *S] -> [B, C, *ceil(S / stride)]``.

    ``name`` is one of :data:`PRIMITIVES`; ``dims=1`` builds the 1-D counterpart (Conv1d, pool1d).
    """
    op = canonical_op(name)
    kw = dict(dims=dims, affine=affine, norm=norm)
    if op == "none":
        return C_.Zero(stride, dims)
    if op == "skip_connect":
        return nn.Identity() if stride == 1 else C_.FactorizedReduce(C, C, dims=dims, affine=affine, norm=norm)
    if op in ("max_pool", "avg_pool"):
        return C_.pool(dims, op[:3], 3, stride, 1)
    if op.startswith("sep_conv"):
        return C_.SepConv(C, C, int(op[-1]), stride, **kw)
    if op.startswith("dil_conv"):
        return C_.DilConv(C, C, int(op[-1]), stride, **kw)
    if op == "conv_1x1":
        return C_.ReLUConvBN(C, C, 1, stride, 0, **kw)
    if op == "conv_7x1_1x7":
        return C_.FactorizedConv(C, C, 7, stride, **kw)
    if op.startswith("conv_"):
        k = int(op[-1])
        return C_.ReLUConvBN(C, C, k, stride, k // 2, **kw)
    if op == "msa":
        return C_.SpatialSelfAttention(C, stride, dims)
    return C_.SqueezeExcite(C, stride, dims)


# ----------------------------------------------------------------------------------------------- genotype
Edge = tuple  # (op: str, input: int)


def _as_cell(nodes, name: str) -> tuple:
    try:
        cell = tuple(tuple((canonical_op(str(op)), int(inp)) for op, inp in node) for node in nodes)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"Genotype cell '{name}' is malformed ({exc}). Write it as a list of nodes, each a list of "
            f"(op, input) pairs, e.g. [[('sep_conv_3', 0), ('skip_connect', 1)], [('conv_3', 2), ('se', 0)]]."
        ) from None
    return cell


@dataclass(frozen=True)
class Genotype:
    """Normal and reduction cells: each a tuple of nodes, each node a tuple of ``(op, input)`` edges.

    Node ``i`` of the tuple is cell node ``i + 2``; inputs 0 and 1 are the two previous cells' outputs.
    ``*_concat`` lists the cell nodes (``>= 2``) whose outputs are concatenated into the cell output.
    """

    normal: tuple
    normal_concat: tuple
    reduce: tuple
    reduce_concat: tuple

    def __post_init__(self):
        for kind in ("normal", "reduce"):
            cell = _as_cell(getattr(self, kind), kind)
            concat = tuple(int(i) for i in getattr(self, kind + "_concat"))
            _validate_cell(cell, concat, kind)
            object.__setattr__(self, kind, cell)
            object.__setattr__(self, kind + "_concat", concat)

    @classmethod
    def from_darts(cls, normal, normal_concat, reduce, reduce_concat) -> Genotype:
        """From the flat DARTS format: two consecutive ``(op, input)`` pairs per node."""

        def pairs(flat):
            return [flat[i : i + 2] for i in range(0, len(flat), 2)]

        return cls(pairs(list(normal)), tuple(normal_concat), pairs(list(reduce)), tuple(reduce_concat))

    def to_dict(self) -> dict:
        return {
            k: [[list(e) for e in node] for node in getattr(self, k)]
            if k in ("normal", "reduce")
            else list(getattr(self, k))
            for k in ("normal", "normal_concat", "reduce", "reduce_concat")
        }


def _validate_cell(cell: tuple, concat: tuple, kind: str) -> None:
    if not cell:
        raise InvalidInputError(f"Genotype cell '{kind}' has no nodes. Give it at least one node with one edge.")
    for i, node in enumerate(cell):
        if not node:
            raise InvalidInputError(
                f"Node {i + 2} of the '{kind}' cell has no input edges. Give every node at least one (op, input)."
            )
        for op, inp in node:
            if not 0 <= inp < i + 2:
                raise InvalidInputError(
                    f"Edge ({op!r}, {inp}) of node {i + 2} in the '{kind}' cell reads node {inp}, but node {i + 2} "
                    f"can only read nodes 0..{i + 1} (0, 1 = previous cells, then earlier nodes). Fix the input index."
                )
    n = len(cell) + 2
    if not concat or any(not 2 <= c < n for c in concat) or len(set(concat)) != len(concat):
        raise InvalidInputError(
            f"'{kind}_concat'={list(concat)} is invalid for a cell with nodes 2..{n - 1}: list distinct "
            f"intermediate nodes, e.g. the loose ends {list(loose_ends(cell))}."
        )


def loose_ends(cell: tuple) -> tuple:
    """Intermediate nodes (``>= 2``) that no other node of ``cell`` reads: the default concat."""
    used = {inp for node in cell for _, inp in node}
    return tuple(i + 2 for i in range(len(cell)) if i + 2 not in used)


# ----------------------------------------------------------------------------------------------- spec
def reduction_positions(num_cells: int, image_size: int, max_reductions: int = 2) -> tuple:
    """DARTS reduction positions (``n // 3``, ``2n // 3``), kept while the spatial size stays even and >= 2."""
    positions, size = [], image_size
    for p in sorted({num_cells // 3, 2 * num_cells // 3})[:max_reductions]:
        if size % 2 or size // 2 < 2:
            break
        positions.append(p)
        size //= 2
    return tuple(positions)


@dataclass(frozen=True)
class DartsSpec:
    """One network of the DARTS / DeepNets-1M space (frozen, hashable, JSON round-trips exactly).

    ``reductions`` are the indices of reduction cells; ``width`` is the channel count ``C`` of the first cells;
    ``stem`` in :data:`STEMS` (``conv``: 3x3 conv to ``3C`` + norm; ``conv2``: conv to ``C``, norm, ReLU, conv to
    ``3C``, norm); ``head`` in :data:`HEADS` (``linear``: GAP + Linear; ``mlp``: GAP + Linear(``head_hidden``) +
    ReLU + Linear). ``image_size`` is the side of a square image (``dims=2``) or the signal length (``dims=1``).
    """

    genotype: Genotype
    num_cells: int
    width: int
    reductions: tuple = ()
    stem: str = "conv"
    head: str = "linear"
    head_hidden: int = 0
    norm: str = "bn"
    in_channels: int = 3
    num_classes: int = 10
    image_size: int = 32
    dims: int = 2

    def __post_init__(self):
        for name in ("num_cells", "width", "head_hidden", "in_channels", "num_classes", "image_size", "dims"):
            value = getattr(self, name)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                object.__setattr__(self, name, int(value))
        object.__setattr__(self, "reductions", tuple(int(r) for r in self.reductions))
        _validate_spec(self)

    @property
    def num_nodes(self) -> int:
        return len(self.genotype.normal)

    @property
    def input_shape(self) -> tuple:
        """Shape of one input sample with batch 1: ``(1, in_channels, *[image_size] * dims)``."""
        return (1, self.in_channels) + (self.image_size,) * self.dims

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "genotype"}
        d["reductions"] = list(self.reductions)
        return {"genotype": self.genotype.to_dict(), **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> DartsSpec:
        if not isinstance(d, dict) or "genotype" not in d:
            raise InvalidInputError("A DartsSpec dict needs a 'genotype' entry; produce it with DartsSpec.to_json().")
        known = {f.name for f in dataclasses.fields(cls)} - {"genotype"}
        unknown = set(d) - known - {"genotype"}
        if unknown:
            raise InvalidInputError(f"Unknown DartsSpec fields {sorted(unknown)}; valid fields: {sorted(known)}.")
        g = d["genotype"]
        if not isinstance(g, dict):
            raise InvalidInputError("DartsSpec genotype must be a dict with normal/normal_concat/reduce/reduce_concat.")
        try:
            geno = Genotype(g["normal"], g["normal_concat"], g["reduce"], g["reduce_concat"])
        except KeyError as exc:
            raise InvalidInputError(
                f"DartsSpec genotype lacks {exc}; give normal, normal_concat, reduce, reduce_concat."
            ) from None
        return cls(genotype=geno, **{k: v for k, v in d.items() if k != "genotype"})

    @classmethod
    def from_json(cls, s: str) -> DartsSpec:
        try:
            d = json.loads(s)
        except (TypeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"Not a DartsSpec JSON string ({exc}); produce one with spec.to_json().") from None
        return cls.from_dict(d)

    def hash(self) -> str:
        """Isomorphism-aware hash: equal for specs that differ only in edge order within a node, node numbering
        or concat order (all compute the same function up to a permutation of weights)."""
        parts = [
            _cell_canon(self.genotype.normal, self.genotype.normal_concat),
            _cell_canon(self.genotype.reduce, self.genotype.reduce_concat),
            json.dumps({k: v for k, v in self.to_dict().items() if k != "genotype"}, sort_keys=True),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _cell_canon(cell: tuple, concat: tuple) -> str:
    expr = ["s0", "s1"]
    for node in cell:
        terms = sorted(f"{op}({expr[inp]})" for op, inp in node)
        expr.append(hashlib.sha1("+".join(terms).encode()).hexdigest()[:16])
    return "cat[" + ",".join(sorted(expr[c] for c in concat)) + "]"


def _choice_error(name, value, options):
    return InvalidInputError(f"DartsSpec {name}={value!r} is invalid. Use one of {tuple(options)}.")


def _validate_spec(s: DartsSpec) -> None:
    if not isinstance(s.genotype, Genotype):
        raise InvalidInputError("DartsSpec.genotype must be a Genotype (build it with Genotype(...) or from_darts).")
    if s.dims not in (1, 2):
        raise _choice_error("dims", s.dims, (1, 2))
    for name, options in (("stem", STEMS), ("head", HEADS), ("norm", C_.NORMS)):
        if getattr(s, name) not in options:
            raise _choice_error(name, getattr(s, name), options)
    for name in ("num_cells", "width", "in_channels", "num_classes", "image_size"):
        if not isinstance(getattr(s, name), int) or getattr(s, name) < 1:
            raise InvalidInputError(f"DartsSpec {name}={getattr(s, name)!r} must be a positive integer.")
    if s.width % 2:
        raise InvalidInputError(f"DartsSpec width={s.width} must be even (reductions split channels in halves).")
    if s.head == "mlp" and s.head_hidden < 1:
        raise InvalidInputError("DartsSpec head='mlp' needs head_hidden >= 1 (the hidden width of the MLP head).")
    size = s.image_size
    if list(s.reductions) != sorted(set(s.reductions)) or any(not 0 <= r < s.num_cells for r in s.reductions):
        raise InvalidInputError(
            f"DartsSpec reductions={list(s.reductions)} must be distinct, increasing cell "
            f"indices in 0..{s.num_cells - 1}; reduction_positions() gives valid ones."
        )
    for _ in s.reductions:
        if size % 2 or size // 2 < 2:
            raise InvalidInputError(
                f"DartsSpec has {len(s.reductions)} reduction cells but image_size={s.image_size} can only be "
                f"halved {len(reduction_positions(99, s.image_size, 99))} time(s) (size must stay even and >= 2). "
                f"Use fewer reductions, e.g. reduction_positions(num_cells, image_size)."
            )
        size //= 2


# ----------------------------------------------------------------------------------------------- sampler
@dataclass(frozen=True)
class SplitConfig:
    """Ranges one split samples from (inclusive ``(low, high)`` pairs; ``widths`` is a set of choices)."""

    cells: tuple = (4, 10)
    nodes: tuple = (1, 4)
    edges: tuple = (2, 2)
    widths: tuple = (8, 12, 16, 24, 32)
    norm: str = "bn"
    stems: tuple = STEMS
    heads: tuple = HEADS
    head_hiddens: tuple = (32, 64, 128)
    ops: tuple = SAMPLED_OPS


SPLIT_CONFIGS = {
    "id": SplitConfig(),
    "wide": SplitConfig(widths=(48, 64)),
    "deep": SplitConfig(cells=(12, 18)),
    "dense": SplitConfig(nodes=(5, 6), edges=(2, 3)),
    "bn_free": SplitConfig(norm="none"),
}


def split_config(split: str, **overrides) -> SplitConfig:
    """The :class:`SplitConfig` of ``split`` with ``overrides`` (any SplitConfig field) applied."""
    if split not in SPLIT_CONFIGS:
        raise InvalidInputError(f"Unknown DARTS split {split!r}. Use one of {SPLITS}.")
    bad = set(overrides) - {f.name for f in dataclasses.fields(SplitConfig)}
    if bad:
        raise InvalidInputError(
            f"Unknown sampler option(s) {sorted(bad)}; valid: {[f.name for f in dataclasses.fields(SplitConfig)]}."
        )
    return dataclasses.replace(SPLIT_CONFIGS[split], **overrides)


def _sample_cell(rng: random.Random, n_nodes: int, cfg: SplitConfig) -> tuple:
    cell = []
    for i in range(n_nodes):
        k = min(rng.randint(*cfg.edges), i + 2)
        inputs = sorted(rng.sample(range(i + 2), k))
        cell.append(tuple((rng.choice(cfg.ops), inp) for inp in inputs))
    return tuple(cell)


def sample_spec(
    seed: int,
    split: str = "id",
    in_channels: int = 3,
    num_classes: int = 10,
    image_size: int = 32,
    dims: int = 2,
    **overrides,
) -> DartsSpec:
    """Sample one :class:`DartsSpec` of ``split`` reproducibly from ``seed`` (``overrides``: SplitConfig fields)."""
    cfg = split_config(split, **overrides)
    rng = random.Random(f"darts/{split}/{seed}")
    n_nodes = rng.randint(*cfg.nodes)
    normal, reduce = _sample_cell(rng, n_nodes, cfg), _sample_cell(rng, n_nodes, cfg)
    num_cells = rng.randint(*cfg.cells)
    head = rng.choice(cfg.heads)
    return DartsSpec(
        genotype=Genotype(normal, loose_ends(normal), reduce, loose_ends(reduce)),
        num_cells=num_cells,
        width=rng.choice(cfg.widths),
        reductions=reduction_positions(num_cells, image_size),
        stem=rng.choice(cfg.stems),
        head=head,
        head_hidden=rng.choice(cfg.head_hiddens) if head == "mlp" else 0,
        norm=cfg.norm,
        in_channels=in_channels,
        num_classes=num_classes,
        image_size=image_size,
        dims=dims,
    )


def sample_specs(n: int, seed: int = 0, split: str = "id", **kwargs) -> list[DartsSpec]:
    """``n`` specs of ``split``; spec ``j`` is ``sample_spec(seed * 1_000_003 + j, split, **kwargs)``."""
    return [sample_spec(seed * 1_000_003 + j, split, **kwargs) for j in range(n)]


# ----------------------------------------------------------------------------------------------- network
class Cell(nn.Module):
    """One DARTS cell: preprocess both inputs to ``C`` channels, run the node DAG, concatenate ``concat``."""

    def __init__(self, nodes, concat, c_pp, c_p, C, reduction, reduction_prev, dims, norm):
        super().__init__()
        kw = dict(dims=dims, norm=norm)
        self.pre0 = C_.FactorizedReduce(c_pp, C, **kw) if reduction_prev else C_.ReLUConvBN(c_pp, C, 1, **kw)
        self.pre1 = C_.ReLUConvBN(c_p, C, 1, **kw)
        self.edges = nn.ModuleList()
        self.inputs = [[inp for _, inp in node] for node in nodes]
        for node in nodes:
            for op, inp in node:
                self.edges.append(make_op(op, C, 2 if reduction and inp < 2 else 1, **kw))
        self.concat = list(concat)
        self.out_channels = C * len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        k = 0
        for inputs in self.inputs:
            total = None
            for inp in inputs:
                y = self.edges[k](states[inp])
                total = y if total is None else total + y
                k += 1
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


def _stem(spec: DartsSpec) -> nn.Sequential:
    d, c, norm = spec.dims, spec.width, spec.norm
    if spec.stem == "conv":
        return nn.Sequential(C_.conv(d, spec.in_channels, 3 * c, 3, 1, 1), *C_.norm_layer(d, 3 * c, norm))
    return nn.Sequential(
        C_.conv(d, spec.in_channels, c, 3, 1, 1),
        *C_.norm_layer(d, c, norm),
        nn.ReLU(),
        C_.conv(d, c, 3 * c, 3, 1, 1),
        *C_.norm_layer(d, 3 * c, norm),
    )


def _head(spec: DartsSpec, c_in: int) -> nn.Sequential:
    if spec.head == "linear":
        return nn.Sequential(C_.global_pool(spec.dims), nn.Linear(c_in, spec.num_classes))
    return nn.Sequential(
        C_.global_pool(spec.dims),
        nn.Linear(c_in, spec.head_hidden),
        nn.ReLU(),
        nn.Linear(spec.head_hidden, spec.num_classes),
    )


class DartsNetwork(nn.Module):
    """Stem, cells, head. ``forward(x)``: ``[B, in_channels, *S] -> [B, num_classes]`` logits."""

    def __init__(self, spec: DartsSpec):
        super().__init__()
        self.spec = spec
        g = spec.genotype
        self.stem = _stem(spec)
        c_pp = c_p = 3 * spec.width
        c, red_prev = spec.width, False
        self.cells = nn.ModuleList()
        for i in range(spec.num_cells):
            red = i in spec.reductions
            c = c * 2 if red else c
            nodes, concat = (g.reduce, g.reduce_concat) if red else (g.normal, g.normal_concat)
            cell = Cell(nodes, concat, c_pp, c_p, c, red, red_prev, spec.dims, spec.norm)
            self.cells.append(cell)
            c_pp, c_p, red_prev = c_p, cell.out_channels, red
        self.head = _head(spec, c_p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1)


def build(spec: DartsSpec) -> DartsNetwork:
    """The ``nn.Module`` of ``spec`` (parameters initialised by PyTorch defaults)."""
    if isinstance(spec, str):
        spec = DartsSpec.from_json(spec)
    if not isinstance(spec, DartsSpec):
        raise InvalidInputError(f"darts.build expects a DartsSpec (or its JSON), got {type(spec).__name__}.")
    return DartsNetwork(spec)


def count_params(spec: DartsSpec) -> int:
    """Number of parameters of ``build(spec)``, counted on the meta device (no memory, milliseconds)."""
    with torch.device("meta"):
        return sum(p.numel() for p in build(spec).parameters())


def spec_to_graph(spec: DartsSpec):
    """Trace ``build(spec)`` on meta tensors into an :class:`~graphhyper.arch.ArchGraph` (no real forward)."""
    from .. import trace  # lazy: arch/__init__ imports spaces only on demand

    with torch.device("meta"):
        net = build(spec)
    return trace(net, input_shape=spec.input_shape)
