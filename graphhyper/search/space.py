"""Search spaces as a small grammar that compiles to Optuna define-by-run ``suggest_*`` calls.

A space is a tree of *decisions* inside plain containers (dicts, lists, tuples; anything else is a constant):

=============================== ===========================================================================
``Choice(name, options)``       one of ``options`` (``trial.suggest_categorical``) — e.g. the op of an edge
``Int(name, low, high, step)``  an integer (``trial.suggest_int``) — e.g. a width or a cell count
``Float(name, low, high, log)`` a float (``trial.suggest_float``) — e.g. a learning rate (not enumerable)
``Optional(name, body)``        a block that is present or not (``suggest_categorical(name, [False, True])``)
``Repeat(name, body, lo, hi)``  ``n`` copies of ``body`` (``suggest_int``); each copy has its own decisions
                                (scoped ``name.i.``); ``body`` may be a function ``i -> block``
``Shared(decision)``            the same decision wherever it appears, also inside repeats (not scoped)
=============================== ===========================================================================

Using one ``Choice`` object (or one name) in several places outside a ``Repeat`` shares it too: Optuna returns
the same value for the same name within a trial.

:class:`SearchSpace` wraps the tree with the architecture-specific parts: ``decode`` (resolved tree ->
architecture object), ``to_str``, ``hash`` (structural: equal for equivalent architectures), ``build``
(-> ``nn.Module``) and ``graph`` (-> what the predictor encodes). :func:`nb201_space` and :func:`darts_space` are
the two built-in spaces, written in this grammar.

>>> ops = ["conv3x3", "conv1x1", "skip"]
>>> space = SearchSpace({
...     "stem": Choice("stem", ["conv", "conv2"]),
...     "blocks": Repeat("block", {"op": Choice("op", ops), "se": Optional("se", {"ratio": Int("r", 2, 8, 2)})},
...                      1, 3),
...     "act": Shared(Choice("act", ["relu", "gelu"])),
... }, name="toy")
>>> arch = space.sample(seed=0)
>>> space.from_params(space.params(arch)) == arch
True
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any, Callable

from graphhyper.errors import SearchError

__all__ = [
    "Choice",
    "Int",
    "Float",
    "Optional",
    "Repeat",
    "Shared",
    "walk",
    "SearchSpace",
    "nb201_space",
    "darts_space",
]


# ----------------------------------------------------------------------------------------------- grammar
@dataclass(frozen=True)
class Choice:
    """Categorical decision over ``options`` (strings, numbers, booleans or ``None``)."""

    name: str
    options: tuple

    def __init__(self, name: str, options):
        options = tuple(options)
        if not options:
            raise SearchError(f"Choice {name!r} has no options; give at least one.")
        for o in options:
            if not (o is None or isinstance(o, (str, int, float, bool))):
                raise SearchError(
                    f"Choice {name!r} option {o!r} is a {type(o).__name__}; Optuna stores only str, "
                    "int, float, bool or None. Use a string key and map it in decode=."
                )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "options", options)


@dataclass(frozen=True)
class Int:
    """Integer decision ``low <= v <= high`` on a grid of ``step``."""

    name: str
    low: int
    high: int
    step: int = 1

    def __post_init__(self):
        if self.high < self.low or self.step < 1:
            raise SearchError(
                f"Int {self.name!r} needs low <= high and step >= 1 (got {self.low}, {self.high}, {self.step})."
            )


@dataclass(frozen=True)
class Float:
    """Float decision in ``[low, high]`` (``log=True`` samples on a log scale)."""

    name: str
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Optional:
    """A block present or absent; resolves to the block or ``None``."""

    name: str
    body: Any


@dataclass(frozen=True)
class Repeat:
    """``low..high`` copies of ``body`` (or of ``body(i)`` when it is callable), each with scoped decisions."""

    name: str
    body: Any
    low: int
    high: int

    def __post_init__(self):
        if not 0 <= self.low <= self.high:
            raise SearchError(f"Repeat {self.name!r} needs 0 <= low <= high (got {self.low}, {self.high}).")


@dataclass(frozen=True)
class Shared:
    """A decision that keeps its global name everywhere (one value per architecture, even inside repeats)."""

    decision: Any


class _Branch(Exception):
    def __init__(self, name, options):
        self.name, self.options = name, options


class _Replay:
    """Trial-like object: fixed values first, then random draws (``rng``) or a branch signal (enumeration)."""

    def __init__(self, fixed: dict | None = None, rng: random.Random | None = None, strict: bool = False):
        self.fixed, self.rng, self.strict = dict(fixed or {}), rng, strict
        self.params: dict = {}

    def _get(self, name, options, draw):
        if name in self.params:
            return self.params[name]
        if name in self.fixed:
            value = self.fixed[name]
            if options is not None and value not in options:
                raise SearchError(f"Value {value!r} of decision {name!r} is not among its options {list(options)}.")
        elif self.rng is None:
            if self.strict:
                raise SearchError(f"Decision {name!r} has no value; give every active decision in params.")
            raise _Branch(name, options)
        else:
            value = draw()
        self.params[name] = value
        return value

    def _random(self) -> random.Random:
        if self.rng is None:  # _get draws only when a generator was given
            raise SearchError("No random generator to draw a value from; pass rng= or a value for every decision.")
        return self.rng

    def suggest_categorical(self, name, choices):
        return self._get(name, tuple(choices), lambda: self._random().choice(tuple(choices)))

    def suggest_int(self, name, low, high, step=1, log=False):
        opts = tuple(range(low, high + 1, step))
        return self._get(name, opts, lambda: self._random().choice(opts))

    def suggest_float(self, name, low, high, log=False, step=None):
        if self.rng is None and name not in self.fixed:
            raise SearchError(f"Float decision {name!r} cannot be enumerated; use Choice or Int for finite spaces.")
        if log:
            import math

            return self._get(name, None, lambda: math.exp(self._random().uniform(math.log(low), math.log(high))))
        return self._get(name, None, lambda: self._random().uniform(low, high))


def walk(node, trial, scope: str = ""):
    """Resolve ``node`` with ``trial`` (an Optuna trial or any object with ``suggest_*``); returns plain data."""
    if isinstance(node, Choice):
        return trial.suggest_categorical(scope + node.name, list(node.options))
    if isinstance(node, Int):
        return trial.suggest_int(scope + node.name, node.low, node.high, step=node.step)
    if isinstance(node, Float):
        return trial.suggest_float(scope + node.name, node.low, node.high, log=node.log)
    if isinstance(node, Shared):
        return walk(node.decision, trial, "")
    if isinstance(node, Optional):
        on = trial.suggest_categorical(scope + node.name, [False, True])
        return walk(node.body, trial, scope) if on else None
    if isinstance(node, Repeat):
        n = trial.suggest_int(scope + node.name, node.low, node.high)
        out = []
        for i in range(n):
            body = node.body(i) if callable(node.body) else node.body
            out.append(walk(body, trial, f"{scope}{node.name}.{i}."))
        return out
    if isinstance(node, dict):
        return {k: walk(v, trial, scope) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [walk(v, trial, scope) for v in node]
    return node


def _canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# ----------------------------------------------------------------------------------------------- space
class SearchSpace:
    """A grammar tree plus the functions that turn a resolved tree into an architecture.

    Args:
        root: the grammar tree (see the module docstring).
        name: used in study names and reports.
        decode: resolved tree -> architecture object (default: the resolved tree itself).
        to_str: architecture -> readable string (default: canonical JSON).
        hash: architecture -> structural hash; equal hashes are the same architecture and are evaluated once
            (default: sha1 of the canonical JSON of the active decisions).
        build: architecture -> ``nn.Module`` (needed by proxy and training objectives).
        graph: architecture -> what :class:`~graphhyper.search.predictor.Predictor` encodes (an NB201 cell or an
            :class:`~graphhyper.arch.ArchGraph`); default: trace ``build(arch)``.
    """

    def __init__(
        self,
        root,
        name: str = "space",
        decode: Callable | None = None,
        to_str: Callable | None = None,
        hash: Callable | None = None,
        build: Callable | None = None,
        graph: Callable | None = None,
        input_shape: tuple | None = None,
    ):
        self.root, self.name = root, name
        self._decode, self._to_str, self._hash = decode, to_str, hash
        self._build, self._graph, self.input_shape = build, graph, input_shape
        self._params_of: dict[str, dict] = {}
        self._enum: list | None = None

    # -- resolution
    def _finish(self, resolved, params: dict):
        arch = self._decode(resolved) if self._decode else resolved
        self._params_of[self.to_str(arch)] = dict(params)
        return arch

    def suggest(self, trial):
        """Define-by-run: call ``trial.suggest_*`` for every active decision and return the architecture."""
        resolved = walk(self.root, trial)
        return self._finish(resolved, dict(getattr(trial, "params", {})))

    def from_params(self, params: dict):
        """The architecture of a complete ``{decision name: value}`` mapping (e.g. ``trial.params``)."""
        rec = _Replay(params, strict=True)
        return self._finish(walk(self.root, rec), rec.params)

    def sample(self, seed: int | None = None, rng: random.Random | None = None):
        """A uniformly drawn architecture (each decision uniform, conditional ones drawn when active)."""
        rec = _Replay(rng=rng or random.Random(seed))
        return self._finish(walk(self.root, rec), rec.params)

    def params(self, arch) -> dict:
        """The decisions that produced ``arch`` (it must come from this space's suggest/sample/from_params)."""
        key = self.to_str(arch)
        if key not in self._params_of:
            raise SearchError(
                f"{key[:80]} was not produced by space {self.name!r}; build architectures with "
                "space.sample / space.from_params / space.suggest."
            )
        return dict(self._params_of[key])

    def mutate(self, arch, rng: random.Random):
        """Change one active decision of ``arch`` to another value (descendant decisions redrawn if needed)."""
        params = self.params(arch)
        names = [n for n in params if self._options(n, params) and len(self._options(n, params)) > 1]
        if not names:
            return self.sample(rng=rng)
        name = rng.choice(names)
        opts = [o for o in self._options(name, params) if o != params[name]]
        new = dict(params)
        new[name] = rng.choice(opts)
        rec = _Replay(new, rng=rng)
        return self._finish(walk(self.root, rec), rec.params)

    def _options(self, name, params):
        rec = _Replay({k: v for k, v in params.items() if k != name})
        try:
            walk(self.root, rec)
        except _Branch as b:
            return b.options if b.name == name else None
        return None

    def enumerate(self, limit: int = 1_000_000) -> list:
        """Every architecture of a finite space (depth-first over decisions); raises past ``limit``."""
        if self._enum is not None:
            return self._enum
        out: list = []
        stack: list[dict] = [{}]
        while stack:
            prefix = stack.pop()
            rec = _Replay(prefix)
            try:
                resolved = walk(self.root, rec)
            except _Branch as b:
                if b.options is None:
                    raise SearchError(f"Decision {b.name!r} is continuous; the space cannot be enumerated.") from None
                stack.extend({**prefix, b.name: o} for o in reversed(b.options))
                continue
            out.append(self._finish(resolved, rec.params))
            if len(out) > limit:
                raise SearchError(f"Space {self.name!r} has more than {limit} architectures; sample it instead.")
        self._enum = out
        return out

    def distributions(self) -> int:
        """Number of decisions in the largest architecture (upper bound on one trial's params)."""
        return max(len(self.params(a)) for a in [self.sample(seed=s) for s in range(8)])

    # -- architecture functions
    def to_str(self, arch) -> str:
        return self._to_str(arch) if self._to_str else _canonical_json(arch)

    def hash(self, arch) -> str:
        if self._hash:
            return str(self._hash(arch))
        return hashlib.sha1(self.to_str(arch).encode()).hexdigest()[:16]

    def build(self, arch):
        if self._build is None:
            raise SearchError(
                f"Space {self.name!r} has no build function; pass build= to SearchSpace to make "
                "nn.Modules (needed by proxy and training objectives)."
            )
        return self._build(arch)

    def graph(self, arch):
        if self._graph is not None:
            return self._graph(arch)
        from graphhyper.arch import trace

        if self.input_shape is None:
            raise SearchError(f"Space {self.name!r} needs graph= or input_shape= to turn architectures into graphs.")
        return trace(self.build(arch), input_shape=self.input_shape)

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r})"


# ----------------------------------------------------------------------------------------------- built-ins
def nb201_space(C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> SearchSpace:
    """NAS-Bench-201: one ``Choice`` of op per edge (``edge_1<-0``, ...); architectures are 6-tuples of ops."""
    from graphhyper.arch.spaces import nb201

    root = [Choice(f"edge_{to}<-{src}", nb201.OPS) for to, src in nb201.EDGES]
    return SearchSpace(
        root,
        name="nb201",
        decode=tuple,
        to_str=nb201.to_str,
        hash=nb201.cell_hash,
        build=lambda c: nb201.build(c, C=C, N=N, num_classes=num_classes, in_channels=in_channels),
        graph=lambda c: c,
        input_shape=(1, in_channels, 32, 32),
    )


def _darts_cell(kind: str, ops: tuple, nodes: int):
    def node(i: int):
        pairs = [f"{a},{b}" for a, b in itertools.combinations(range(i + 2), 2)]
        return {
            "inputs": Choice(f"{kind}.n{i}.inputs", pairs),
            "ops": [Choice(f"{kind}.n{i}.op{k}", ops) for k in range(2)],
        }

    return [node(i) for i in range(nodes)]


def darts_space(
    in_channels: int = 1,
    num_classes: int = 10,
    image_size: int = 8,
    dims: int = 2,
    nodes: int = 4,
    ops: tuple | None = None,
    cells: tuple = (3, 5),
    widths: tuple = (8, 12, 16),
    head: str = "linear",
) -> SearchSpace:
    """The DARTS cell space: normal and reduction cells of ``nodes`` nodes, each node reads 2 earlier nodes through
    ``ops``; plus the number of cells (``Int``) and the width (``Choice``). Architectures are
    :class:`~graphhyper.arch.spaces.darts.DartsSpec` objects (defaults sized for the digits task)."""
    from graphhyper.arch.spaces import darts

    ops = tuple(ops or (*darts.DARTS_OPS, "conv_1x1", "conv_3"))  # the DARTS ops plus two plain convs
    root = {
        "normal": _darts_cell("normal", ops, nodes),
        "reduce": _darts_cell("reduce", ops, nodes),
        "num_cells": Int("num_cells", cells[0], cells[1]),
        "width": Choice("width", widths),
    }

    def cell(nodes_):
        return tuple(tuple((op, int(inp)) for op, inp in zip(n["ops"], n["inputs"].split(","))) for n in nodes_)

    def decode(r):
        normal, reduce = cell(r["normal"]), cell(r["reduce"])
        geno = darts.Genotype(normal, darts.loose_ends(normal), reduce, darts.loose_ends(reduce))
        return darts.DartsSpec(
            genotype=geno,
            num_cells=r["num_cells"],
            width=r["width"],
            reductions=darts.reduction_positions(r["num_cells"], image_size),
            head=head,
            in_channels=in_channels,
            num_classes=num_classes,
            image_size=image_size,
            dims=dims,
        )

    return SearchSpace(
        root,
        name="darts",
        decode=decode,
        to_str=lambda s: s.to_json(),
        hash=lambda s: s.hash(),
        build=darts.build,
        graph=darts.spec_to_graph,
        input_shape=(1, in_channels) + (image_size,) * dims,
    )
