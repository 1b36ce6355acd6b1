"""Python source -> heterogeneous directed hypergraph (as HDHGN uses for code classification), and a small
graph-classification dataset built from the Python standard library, labelled by top-level package.

Construction (one hypergraph per source file):

* every ``ast.AST`` node is a node whose **type** is its class name (``FunctionDef``, ``Name``, ...);
  with ``include_values`` every primitive field value (identifier, attribute name, constant) is a leaf node of
  type ``<identifier>`` or ``<literal>`` carrying a hashed **token** id;
* for every AST node and every field holding children there is one hyperedge whose **type** is the field name
  (``body``, ``args``, ``value``, ...): the parent is its **head**, the children (in order) its **tails**, so
  information flows from the children to the parent (HDHGN's convention; the direction follows the tree edge
  parent -> children, read backwards by message passing).

Type vocabularies come from the ``ast`` module itself, so ids are stable for a given Python version.
"""

from __future__ import annotations

import ast
import random
import sysconfig
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import torch

from graphhyper.data.splits import Split, random_split
from graphhyper.errors import DatasetError, InvalidInputError

IDENT, LITERAL = "<identifier>", "<literal>"
_PRIMITIVE = (str, int, float, complex, bool, bytes)


@lru_cache(maxsize=1)
def node_type_vocab() -> tuple[str, ...]:
    """Sorted names of every concrete ``ast.AST`` subclass, then ``<identifier>`` and ``<literal>``."""
    names: set[str] = set()
    stack = [ast.AST]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if sub.__module__ == "ast" and not sub.__name__.startswith("_"):
                names.add(sub.__name__)
    return tuple(sorted(names)) + (IDENT, LITERAL)


@lru_cache(maxsize=1)
def edge_type_vocab() -> tuple[str, ...]:
    """Sorted field names of every ``ast`` node class (the hyperedge types)."""
    fields: set[str] = set()
    for name in node_type_vocab()[:-2]:
        fields.update(getattr(getattr(ast, name, None), "_fields", ()) or ())
    return tuple(sorted(fields))


@dataclass
class CodeGraph:
    """One source file as a typed directed hypergraph plus per-node token ids (``-1`` for AST nodes)."""

    hg: Any  # DirectedHypergraph
    tokens: torch.Tensor
    num_nodes: int

    def features(self, token_buckets: int = 0) -> torch.Tensor:
        """One-hot node type ``[V, T]`` (+ one-hot hashed token ``[V, token_buckets]`` when asked)."""
        types = torch.nn.functional.one_hot(self.hg.node_type, len(node_type_vocab())).float()
        if not token_buckets:
            return types
        tok = torch.zeros(self.num_nodes, token_buckets)
        has = self.tokens >= 0
        tok[has.nonzero().flatten(), self.tokens[has] % token_buckets] = 1.0
        return torch.cat([types, tok], 1)


def _token(value: Any) -> int:
    return zlib.crc32(repr(value).encode("utf-8", "replace")) & 0x7FFFFFFF


def source_to_hypergraph(
    source: str, *, include_values: bool = True, max_nodes: int | None = None, filename: str = "<source>"
) -> CodeGraph:
    """Parse ``source`` and build its heterogeneous directed hypergraph (see the module docstring).

    Raises:
        InvalidInputError: the source does not parse, or has more than ``max_nodes`` nodes.
    """
    from graphhyper.hypergraph import DirectedHypergraph

    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError) as exc:
        raise InvalidInputError(f"{filename}: not valid Python for this interpreter ({exc}).") from exc
    ntype = {n: i for i, n in enumerate(node_type_vocab())}
    etype = {n: i for i, n in enumerate(edge_type_vocab())}
    node_types: list[int] = []
    tokens: list[int] = []
    edges: list[tuple[list[int], list[int]]] = []
    edge_types: list[int] = []

    def add(kind: str, token: int = -1) -> int:
        node_types.append(ntype[kind])
        tokens.append(token)
        if max_nodes is not None and len(node_types) > max_nodes:
            raise InvalidInputError(f"{filename}: more than max_nodes={max_nodes} nodes; raise max_nodes or skip it.")
        return len(node_types) - 1

    stack: list[tuple[ast.AST, int]] = [(tree, add(type(tree).__name__))]
    while stack:
        node, nid = stack.pop()
        for field, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            members: list[int] = []
            for child in children:
                if isinstance(child, ast.AST):
                    cid = add(type(child).__name__)
                    stack.append((child, cid))
                    members.append(cid)
                elif include_values and isinstance(child, _PRIMITIVE):
                    kind = (
                        IDENT
                        if isinstance(child, str) and field in ("id", "name", "arg", "attr", "module")
                        else LITERAL
                    )
                    members.append(add(kind, _token(child)))
            if members and field in etype:
                edges.append((members, [nid]))
                edge_types.append(etype[field])
    if not edges:  # a file with a single statement-free module: give the root a self hyperedge
        edges.append(([], [0]))
        edge_types.append(etype.get("body", 0))
    hg = DirectedHypergraph(
        len(node_types),
        edges,
        node_type=torch.tensor(node_types),
        edge_type=torch.tensor(edge_types),
        num_node_types=len(ntype),
        num_edge_types=len(etype),
    )
    return CodeGraph(hg, torch.tensor(tokens), len(node_types))


@dataclass
class CodeDataset:
    """Graph classification: ``graphs[i]`` is labelled ``y[i]`` (index into ``classes``)."""

    graphs: list[CodeGraph]
    y: torch.Tensor
    classes: tuple[str, ...]
    files: list[str]
    split: Split

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def batch(self, index: Sequence[int] | torch.Tensor, token_buckets: int = 0):
        """Disjoint union of the chosen graphs: ``(x [V, F], hg, batch [V], y [B])``."""
        from graphhyper.hypergraph import DirectedHypergraph

        index = [int(i) for i in index]
        if not index:
            raise InvalidInputError("batch() needs at least one graph index.")
        offs, eoff, parts, ev, ee, heads, nt, et, batch = 0, 0, [], [], [], [], [], [], []
        for b, i in enumerate(index):
            g = self.graphs[i]
            parts.append(g.features(token_buckets))
            ev.append(g.hg.inc_node + offs)
            ee.append(g.hg.inc_edge + eoff)
            heads.append(g.hg.is_head)
            nt.append(g.hg.node_type)
            et.append(g.hg.edge_type)
            batch.append(torch.full((g.num_nodes,), b, dtype=torch.long))
            offs += g.num_nodes
            eoff += g.hg.num_edges
        hg = DirectedHypergraph(
            offs,
            hyperedge_index=torch.stack([torch.cat(ev), torch.cat(ee)]),
            is_head=torch.cat(heads),
            num_edges=eoff,
            node_type=torch.cat(nt),
            edge_type=torch.cat(et),
            num_node_types=len(node_type_vocab()),
            num_edge_types=len(edge_type_vocab()),
        )
        return torch.cat(parts), hg, torch.cat(batch), self.y[index]


DEFAULT_PACKAGES = ("asyncio", "email", "json", "unittest", "xml", "http", "logging", "concurrent")


def load_code_dataset(
    packages: Sequence[str] = DEFAULT_PACKAGES,
    *,
    max_files_per_class: int = 40,
    max_nodes: int = 20_000,
    include_values: bool = True,
    stdlib: str | Path | None = None,
    seed: int = 0,
    train_ratio: float = 0.6,
    val_ratio: float = 0.2,
) -> CodeDataset:
    """Hypergraphs of ``.py`` files from the standard library, labelled by their top-level package.

    Files are sorted, then up to ``max_files_per_class`` per package are drawn with ``seed``; files that do not
    parse or exceed ``max_nodes`` are skipped (and counted in the error if a package ends up empty). The split
    is a seeded random ``train_ratio / val_ratio / rest`` split over files.
    """
    root = Path(stdlib or sysconfig.get_paths()["stdlib"])
    rng = random.Random(seed)
    graphs, labels, files = [], [], []
    for label, pkg in enumerate(packages):
        folder = root / pkg
        candidates = sorted(p for p in folder.rglob("*.py") if "test" not in p.relative_to(root).parts[1:2])
        if not candidates:
            raise DatasetError(f"no Python files under {folder}; pick packages present in {root}.")
        rng.shuffle(candidates)
        taken = 0
        for path in candidates:
            if taken >= max_files_per_class:
                break
            try:
                g = source_to_hypergraph(
                    path.read_text(encoding="utf-8", errors="replace"),
                    include_values=include_values,
                    max_nodes=max_nodes,
                    filename=str(path),
                )
            except InvalidInputError:
                continue
            graphs.append(g)
            labels.append(label)
            files.append(str(path.relative_to(root)))
            taken += 1
        if taken == 0:
            raise DatasetError(f"every file of package '{pkg}' failed to parse or exceeded max_nodes={max_nodes}.")
    split = random_split(len(graphs), seed, train_ratio, val_ratio)
    return CodeDataset(graphs, torch.tensor(labels), tuple(packages), files, split)


__all__ = [
    "CodeDataset",
    "CodeGraph",
    "DEFAULT_PACKAGES",
    "edge_type_vocab",
    "load_code_dataset",
    "node_type_vocab",
    "source_to_hypergraph",
]
