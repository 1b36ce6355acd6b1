"""The published GHNs' graph of an architecture, built from our trace.

The published GHNs read a graph made by ghn3's builder (``ghn3.graph.Graph``; ghn3 also loads the GHN-2
checkpoints and builds their graphs with it): a walk over autograd after a real forward pass of the model in its
own mode (a fresh model trains, so GoogLeNet's and Inception's auxiliary heads are in it), then filters and patches.
:func:`reference_graph` rebuilds that graph from an :class:`~graphhyper.arch.ArchGraph` (our symbolic trace, no
forward pass) with the same rules:

1. **Autograd view.** Every traced node that depends on a parameter becomes what autograd records for it: one node
   per parameter tensor (a conv's weight then its bias; a linear layer's bias first and its weight after the whole
   input sub-graph, as ``addmm(bias, x, weight.t())`` is walked), or one function node named as autograd names it
   (``AddBackward0``, ``MeanBackward1``, ...). Nodes are numbered in the walk's order: depth-first from the outputs,
   operands in call order (:attr:`Node.inputs`). Edges run from a function's inputs to its first parameter, from
   there to any bias, and from the last parameter on. Attention is input projection -> scores [-> softmax] ->
   values -> output projection (``nn.MultiheadAttention`` runs ``scaled_dot_product_attention``: no softmax).
2. **Filter** (the reference's ``_filter_graph``). Nodes whose op the GHNs have no word for are removed and their
   edges rewired around them (``u -> removed -> v`` becomes ``u -> v``): parameters of modules other than 2-d
   convolutions, linear / attention layers, 2-d batch norm, layer norm and embeddings; the biases of normalisation
   layers; every function but global mean, pooling, softmax, add, concat and multiply. A multiply is kept (as
   ``cse``, the squeeze-and-excitation product) only in networks with a sigmoid / swish and only next to one in
   the walk; a global mean in such networks only next to the classifier (``classifier.*``, ``fc.*``,
   ``head*``); an add / concat only with more than one input.
3. **Fix edges** (``fix_weight_edges``, ``fix_softmax_edges``): a weight without inputs that feeds its own bias
   swaps places with it; the node after a softmax loses its other inputs.
4. **Input and order.** An ``input`` node feeds every weight without inputs; nodes are sorted topologically by
   generations (Kahn's algorithm, ties by walk order), as ``networkx.topological_sort`` does. A positional
   embedding added to the activations is followed by its own ``sum`` node; a global average after the last layer
   (SqueezeNet's classifier convolution) is moved before it.
5. **Virtual edges**: every pair at shortest-path distance ``2 <= d <= ve_cutoff`` gets weight ``d``.

Node sizes follow ``_construct_features``: a parameter's shape, ``(1, 1, k, k)`` for pooling, ``(1, C, s, s)``
with ``s = floor(sqrt(L))`` for a ``(1, L, C)`` parameter, and 2-d for a 1x1 classifier convolution.

Where the reference patches particular models by class (ViT's positional embedding, SqueezeNet's head, Swin's
patch merging) the view applies the same change wherever the same structure occurs, and parameters are typed by
the layer that uses them (the reference types them by the class of the module that owns them; the two agree on
torchvision). ``scripts/oracle_ghn_graph.py`` compares the two builders: identical graphs on 77 of the 80 torchvision
classifiers; on Swin-V2 the reference's own patching makes a cycle, its topological sort fails and it keeps an
unsorted graph, which the view does not reproduce. ppuda's older builder (GHN-2's original code) differs from
ghn3's on some models (squeeze-and-excitation networks, SqueezeNet, auxiliary heads) and is not what this view
reproduces.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from graphhyper.arch.graph import ArchGraph, Node
from graphhyper.errors import InvalidInputError
from graphhyper.ghn.reference.graph import PRIMITIVES_DEEPNETS1M, NodeInfo, ReferenceGraph

__all__ = ["reference_graph", "REFERENCE_FUNCTIONS"]

#: Autograd function names (the part before ``Backward``) the reference keeps, and their primitive.
REFERENCE_FUNCTIONS: dict[str, str] = {
    "Mean": "glob_avg",
    "AdaptiveAvgPool2D": "glob_avg",
    "MaxPool2DWithIndices": "max_pool",
    "AvgPool2D": "avg_pool",
    "Softmax": "msa",
    "Mul": "cse",
    "Add": "sum",
    "Cat": "concat",
}

#: Our op -> autograd function name (what the reference's walk sees for a parameter-free node).
_FUNCTION_NAMES: dict[str, str] = {
    "add": "AddBackward0",
    "mul": "MulBackward0",
    "concat": "CatBackward0",
    "mean": "MeanBackward1",
    "max_pool": "MaxPool2DWithIndicesBackward0",
    "avg_pool": "AvgPool2DBackward0",
    "softmax": "SoftmaxBackward0",
    "relu": "ReluBackward0",
    "relu6": "HardtanhBackward0",
    "hard_tanh": "HardtanhBackward0",
    "hard_swish": "HardswishBackward0",
    "hard_sigmoid": "HardsigmoidBackward0",
    "sigmoid": "SigmoidBackward0",
    "silu": "SiluBackward0",
    "gelu": "GeluBackward0",
    "tanh": "TanhBackward0",
    "flatten": "ViewBackward0",
    "reshape": "ViewBackward0",
    "dropout": "NativeDropoutBackward0",
}

_CLASSIFIER_PREFIXES = ("classifier", "fc", "head")
_LAYER_CALLS = ("linear", "attention", "conv")


@dataclass
class _Raw:
    """A node of the emulated autograd graph: a parameter (``module`` set) or a function."""

    name: str
    module: str | None = None  # owner module path of a parameter
    op: str | None = None  # reference primitive of a supported parameter; None: unsupported
    shape: tuple[int, ...] | None = None
    kernel: tuple[int, ...] | None = None  # pooling kernel
    added: bool = False  # a parameter added to the activations (a positional embedding)
    norm_bias: bool = False


@dataclass
class _Dag:
    """Nodes by id, their order (the walk's, then the reference's) and edges as successor / predecessor sets."""

    raw: dict[int, _Raw] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    succ: dict[int, set[int]] = field(default_factory=dict)
    pred: dict[int, set[int]] = field(default_factory=dict)
    next_id: int = -1

    def new(self, node: _Raw) -> int:
        k = self.next_id = self.next_id + 1
        self.raw[k], self.succ[k], self.pred[k] = node, set(), set()
        self.order.append(k)
        return k

    def link(self, u: int, v: int) -> None:
        if u != v:
            self.succ[u].add(v)
            self.pred[v].add(u)

    def unlink(self, u: int, v: int) -> None:
        self.succ[u].discard(v)
        self.pred[v].discard(u)

    def contract(self, k: int) -> None:
        """Remove ``k``, joining each of its predecessors to each of its successors."""
        for u in self.pred[k]:
            self.succ[u].discard(k)
            for v in self.succ[k]:
                self.link(u, v)
        for v in self.succ[k]:
            self.pred[v].discard(k)
        del self.succ[k], self.pred[k], self.raw[k]


# ================================================================================================================
# 1. the autograd view of a traced graph


def _param_op(node: Node, pname: str) -> str | None:
    """The reference primitive of parameter ``pname`` of leaf module ``node``; None where it has none."""
    op = node.op
    conv2d = op == "conv" and any(len(s) == 4 for s in node.params.values())
    if op in ("linear", "attention") or conv2d:
        if "bias" in pname:
            return "bias"
        if op == "conv" and _int(node.attrs.get("groups", 1)) > 1:
            return "dil_conv" if min(_ints(node.attrs.get("dilation", 1))) > 1 else "sep_conv"
        return "conv"
    if op == "batch_norm" and node.out_shape is not None and len(node.out_shape) == 4:
        return "bn"
    return {"layer_norm": "ln", "embedding": "pos_enc"}.get(op)


def _int(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def _ints(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in v) if isinstance(v, (tuple, list)) else (int(v),)


def _function_name(node: Node) -> str:
    if node.op == "adaptive_avg_pool":
        out = node.out_shape
        return "MeanBackward1" if out is not None and all(d == 1 for d in out[2:]) else "AdaptiveAvgPool2DBackward0"
    if node.op in _FUNCTION_NAMES:
        return _FUNCTION_NAMES[node.op]
    return "".join(w.title() for w in node.op.split("_")) + "Backward0"


def _kernel(node: Node) -> tuple[int, ...] | None:
    if node.op not in ("max_pool", "avg_pool"):
        return None
    k = node.attrs.get("kernel_size")
    if k is None:
        return (1, 1, 3, 3)  # the reference's own default when autograd keeps no kernel size
    k = _ints(k)
    return (1, 1, *(k * 2 if len(k) == 1 else k))


def _is_module(node: Node) -> bool:
    """Leaf-module nodes carry their class name as target; traced functions a dotted name (``torch.cat``)."""
    return "." not in node.target


def _param_raws(node: Node) -> list[_Raw]:
    """One raw node per parameter of ``node``, with its reference primitive (None where it has none).

    Parameters of leaf modules are typed by the module (:func:`_param_op`); those a traced function uses directly
    by what the function does with them: the ``weight`` / ``bias`` of a submodule passed to a linear / attention /
    convolution call as that layer's (not, e.g., Swin-V2's ``logit_scale``),
    and a parameter added to the activations as a positional embedding (``pos_enc``); others have none.
    """
    module = _is_module(node)
    raws = []
    for pname, shape in node.params.items():
        owner = pname.rsplit(".", 1)[0] if "." in pname else ""
        layer_param = pname.rsplit(".", 1)[-1] in ("weight", "bias")
        op = _param_op(node, pname) if module or (node.op in _LAYER_CALLS and layer_param) else None
        op = "pos_enc" if node.op == "add" and not module else op
        norm_bias = module and "norm" in node.target.lower() and pname.endswith(".bias")
        raws.append(_Raw(pname, owner, op, tuple(shape), added=node.op == "add" and not module, norm_bias=norm_bias))
    return raws


def _split_linear(raws: list[_Raw]) -> tuple[list[_Raw], list[_Raw]]:
    """``(bias, weights)`` of a linear map: ``addmm(bias, x, weight.t())`` meets the bias first and the weight
    only after the whole input sub-graph."""
    biases = [r for r in raws if "bias" in r.name.rsplit(".", 1)[-1]]
    return biases[:1], [r for r in raws if r not in biases[:1]]


def _projection_groups(node: Node, raws: list[_Raw]) -> list[list[_Raw]]:
    """An attention node's parameters grouped by owner module: ``[input projection, output projection]``.

    A module (``nn.MultiheadAttention``) lists its own parameters before its ``out_proj``'s; for a traced
    function (torchvision's ``shifted_window_attention``) the input projection is the wider one (``3C x C``).
    """
    groups: dict[str, list[_Raw]] = {}
    for r in raws:
        groups.setdefault(r.module or "", []).append(r)
    out = list(groups.values())
    if not _is_module(node):
        out.sort(key=lambda g: -max((r.shape[0] for r in g if r.shape and len(r.shape) == 2), default=0))
    return out


class _Walk:
    """Depth-first walk from the outputs over the traced graph, emitting the autograd view."""

    def __init__(self, graph: ArchGraph) -> None:
        self.graph = graph
        self.index = {n.name: i for i, n in enumerate(graph.nodes)}
        preds = graph.predecessors()
        self.children: list[list[int]] = []
        for i, node in enumerate(graph.nodes):
            order = [self.index[x] for x in node.inputs if x in self.index] or sorted(preds[i])
            self.children.append([j for j in dict.fromkeys(order) if j in set(preds[i])])
        self.grad = self._needs_grad()
        self.dag = _Dag()
        self.exit: dict[int, int] = {}
        self.later: dict[int, list[tuple[_Raw, int]]] = {}  # raw nodes met after the inputs, and their target
        self.inlets: dict[int, tuple[int, int]] = {}  # the raw node the first input feeds, and the others

    def _needs_grad(self) -> list[bool]:
        grad: list[bool] = []
        for i, node in enumerate(self.graph.nodes):
            upstream = bool(node.params) or any(grad[j] for j in self.children[i])
            grad.append(node.op not in ("input", "constant") and upstream)
        return grad

    def run(self) -> _Dag:
        outputs = [i for i, n in enumerate(self.graph.nodes) if n.op == "output"]
        for out in outputs:
            for j in self.children[out]:
                if self.grad[j]:
                    self._visit(j)
        return self.dag

    def _visit(self, root: int) -> None:
        """Iterative DFS (graphs can be deeper than Python's recursion limit)."""
        stack: list[tuple[int, int, list[int]]] = []
        start = self._enter(root)
        if start is None:
            return
        stack.append((root, start, []))
        while stack:
            i, start, done = stack[-1]
            todo = [j for j in self.children[i] if self.grad[j] and j not in done]
            if todo:
                j = todo[0]
                done.append(j)
                if j not in self.exit:
                    s = self._enter(j)
                    if s is not None:
                        stack.append((j, s, []))
                        continue
                continue
            stack.pop()
            self._leave(i, start)

    def _enter(self, i: int) -> int | None:
        """Emit the raw nodes met when autograd's walk reaches node ``i``; return the one its inputs feed."""
        if i in self.exit:
            return None
        node = self.graph.nodes[i]
        raws = _param_raws(node)
        if node.op == "attention" and raws:
            return self._enter_attention(i, node, raws)
        later: list[_Raw] = []
        if node.op == "linear" and _is_module(node):
            raws, later = _split_linear(raws)
        ids = [self.dag.new(r) for r in raws] or [self.dag.new(_Raw(_function_name(node), kernel=_kernel(node)))]
        start = ids[0]
        for k in ids[1:]:
            self._leaf_edge(start, k)
        self.exit[i] = ids[-1]
        self.later[i] = [(r, start) for r in later]
        self.inlets[i] = (start, start)
        if later and not raws and self._after_norm(i):
            self.inlets[i] = (-1, -1)  # the inputs feed the weight, met after them (see _leave)
        return start

    def _after_norm(self, i: int) -> bool:
        """A bias-free linear layer right after a layer norm (a patch-merging reduction): its weight sits on the
        data path, ``norm -> weight -> next``, as the reference rewires Swin's ``norm -> reduction``."""
        inputs = [j for j in self.children[i] if self.grad[j]]
        return len(inputs) == 1 and self.graph.nodes[inputs[0]].op == "layer_norm"

    def _linear(self, raws: list[_Raw]) -> tuple[int, list[tuple[_Raw, int]]]:
        bias, weights = _split_linear(raws)
        k = self.dag.new(bias[0]) if bias else self.dag.new(_Raw("MmBackward0"))
        return k, [(w, k) for w in weights]

    def _enter_attention(self, i: int, node: Node, raws: list[_Raw]) -> int:
        """Attention: input projection -> scores -> (softmax) -> values -> output projection.

        ``nn.MultiheadAttention`` runs ``scaled_dot_product_attention`` (no softmax node in autograd); a traced
        attention function that owns the projections computes ``softmax(q k^T + bias) v`` itself, and a
        further input of it (a relative position bias) joins at the ``+``.
        """
        groups = _projection_groups(node, raws)
        out_k, out_later = self._linear(groups[-1]) if len(groups) > 1 else (self.dag.new(_Raw("MmBackward0")), [])
        extra = out_k
        if _is_module(node):
            mid = self.dag.new(_Raw("ScaledDotProductAttentionBackward0"))
            self.dag.link(mid, out_k)
        else:
            av, soft = self.dag.new(_Raw("BmmBackward0")), self.dag.new(_Raw("SoftmaxBackward0"))
            extra, mid = self.dag.new(_Raw("AddBackward0")), self.dag.new(_Raw("BmmBackward0"))
            for u, v in ((av, out_k), (soft, av), (extra, soft), (mid, extra)):
                self.dag.link(u, v)
        in_k, in_later = self._linear(groups[0])
        self.dag.link(in_k, mid)
        if not _is_module(node):
            self.dag.link(in_k, av)  # the values
        self.exit[i] = out_k
        self.later[i] = in_later + out_later
        self.inlets[i] = (in_k, extra)
        return out_k

    def _leaf_edge(self, start: int, k: int) -> None:
        if "bias" in self.dag.raw[k].name:
            self.dag.link(start, k)
        else:
            self.dag.link(k, start)

    def _leave(self, i: int, start: int) -> None:
        first, rest = self.inlets.pop(i)
        later = [(self.dag.new(r), into) for r, into in self.later.pop(i)]
        for k, into in later:
            self.dag.link(k, into)  # a weight (through its transpose) into its bias / matmul
        if first < 0:
            first = rest = later[0][0]
        for n, j in enumerate(j for j in self.children[i] if self.grad[j]):
            self.dag.link(self.exit[j], first if n == 0 else rest)


# ================================================================================================================
# 2.-3. the reference's filters and fixes


def _prefix(name: str) -> str:
    ind = name.find("Backward")
    return name if ind < 0 else name[:ind]


def _unsupported(dag: _Dag) -> list[str]:
    names: dict[str, None] = {}
    for k in dag.order:
        r = dag.raw[k]
        if r.module is not None:
            supported = r.op is not None and not r.norm_bias
        else:
            supported = _prefix(r.name) in REFERENCE_FUNCTIONS
        if not supported:
            names[r.name] = None
    return list(names)


def _neighbours(dag: _Dag, pos: int) -> dict[int, str] | None:
    """Lower-cased names of the nodes 1, 2, 3 before and 1 after ``pos`` in the current order (Python's negative
    indices wrap, as the reference's do); None when ``pos + 1`` is past the end."""
    n = len(dag.order)
    if pos + 1 >= n:
        return None
    return {j: dag.raw[dag.order[pos + j]].name.lower() for j in (-1, -2, -3, 1)}


def _keep(dag: _Dag, pos: int, n_in: dict[int, int], has_cse: bool) -> bool:
    name = dag.raw[dag.order[pos]].name
    nb = _neighbours(dag, pos)
    head = True if nb is None else any(nb[j].startswith(_CLASSIFIER_PREFIXES) for j in (-1, -2))
    if name.startswith("Mean"):
        return head if has_cse else True
    if name.startswith("Mul"):
        if not has_cse or head or nb is None:
            return False
        return (
            nb[-2].startswith(("hard", "sigmoid"))
            or nb[-3].startswith(("relu", "mean"))
            or nb[1].startswith(("hard", "sigmoid", "relu"))
        )
    if name.startswith(("Cat", "Add")):
        return n_in[dag.order[pos]] > 1
    return False


def _filter(dag: _Dag, names: Sequence[str] | None = None) -> None:
    """The reference's ``_filter_graph``: drop (and bridge) every node whose name contains one of ``names``
    unless :func:`_keep` says otherwise; in-degrees are those before any removal.

    The words are taken in order, as the reference does; only :func:`_keep` reads the current order (for names
    starting ``Mean`` / ``Mul`` / ``Cat`` / ``Add``), and bridging a set of nodes gives the same edges in any
    order, so the order list is rebuilt only where :func:`_keep` needs it, and each word's nodes are found by
    one scan of all names (:class:`_Names`) instead of a test per node."""
    if names is None:
        names = ["Mul", *_unsupported(dag), "Mean", "Add", "Cat"]
    n_in = {k: len(dag.pred[k]) for k in dag.order}
    has_cse = any("sigmoid" in dag.raw[k].name.lower() or "swish" in dag.raw[k].name.lower() for k in dag.order)
    index = _Names([dag.raw[k].name for k in dag.order])
    nodes = list(dag.order)
    gone: set[int] = set()
    for word in names:
        hits = [nodes[p] for p in index.containing(word) if nodes[p] not in gone]
        special = [k for k in hits if dag.raw[k].name.startswith(_KEEP_PREFIXES)]
        kept: set[int] = set()
        if special:
            dag.order = [k for k in dag.order if k not in gone]
            pos = {k: p for p, k in enumerate(dag.order)}
            kept = {k for k in special if _keep(dag, pos[k], n_in, has_cse)}
        for k in hits:
            if k not in kept:
                dag.contract(k)
                gone.add(k)
    dag.order = [k for k in dag.order if k not in gone]


_KEEP_PREFIXES = ("Mean", "Mul", "Cat", "Add")


class _Names:
    """Node names joined into one string, so that finding the names that contain a word is one C-level scan."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.text = "\n".join(names)
        self.starts = [0]
        for name in names[:-1]:
            self.starts.append(self.starts[-1] + len(name) + 1)

    def containing(self, word: str) -> list[int]:
        """Positions (ascending) of the names that contain ``word``."""
        out: list[int] = []
        at = self.text.find(word) if word else -1
        while at >= 0:
            p = bisect.bisect_right(self.starts, at) - 1
            if word in self.names[p] and (not out or out[-1] != p):
                out.append(p)
            at = self.text.find(word, at + 1)
        if not word:
            out = list(range(len(self.names)))
        return out


def _fix_weight_edges(dag: _Dag) -> None:
    """A weight without inputs that feeds its own bias (which has other inputs) swaps places with the bias; so
    does one that feeds a softmax (query / key / value projections)."""
    for i in list(dag.order):
        weight = dag.raw[i]
        if dag.pred[i] or "weight" not in weight.name:
            continue
        pos = {k: p for p, k in enumerate(dag.order)}
        for out in sorted(dag.succ[i], key=pos.__getitem__):
            same = weight.module is not None and weight.module == dag.raw[out].module
            qkv = not dag.pred[i] and "softmax" in dag.raw[out].name.lower()
            if (same or qkv) and dag.pred[out] - {i}:
                _swap(dag, i, out, len(dag.succ[i]))


def _swap(dag: _Dag, i: int, out: int, n_out: int) -> None:
    """Swap the contents of nodes ``i`` (weight) and ``out`` (bias); then weight -> bias and the weight's other
    outputs move to the bias (positions keep their edges, as the reference swaps list entries)."""
    dag.raw[i], dag.raw[out] = dag.raw[out], dag.raw[i]
    dag.unlink(i, out)
    dag.link(out, i)
    if n_out == 1:
        for v in list(dag.succ[out] - {i}):
            dag.unlink(out, v)
            dag.link(i, v)


def _count_paths(dag: _Dag, src: int, dst: int, cap: int = 2) -> int:
    """Number of paths ``src -> ... -> dst`` (at most ``cap``)."""
    memo: dict[int, int] = {}
    order = _reverse_topo_from(dag, src)
    for k in order:
        memo[k] = 1 if k == dst else min(cap, sum(memo.get(v, 0) for v in dag.succ[k]))
    return memo.get(src, 0)


def _reverse_topo_from(dag: _Dag, src: int) -> list[int]:
    seen: set[int] = set()
    out: list[int] = []
    stack: list[tuple[int, bool]] = [(src, False)]
    while stack:
        k, done = stack.pop()
        if done:
            out.append(k)
            continue
        if k in seen:
            continue
        seen.add(k)
        stack.append((k, True))
        stack.extend((v, False) for v in dag.succ[k] if v not in seen)
    return out


def _fix_softmax_edges(dag: _Dag) -> None:
    """The node after a softmax keeps only the softmax as input (counted on the graph before any change)."""
    succ0 = {k: set(v) for k, v in dag.succ.items()}
    frozen = _Dag(dag.raw, dag.order, succ0, {})
    for i in list(dag.order):
        if "softmax" not in dag.raw[i].name.lower():
            continue
        for out in sorted(dag.succ[i]):
            for j in sorted(dag.pred[out] - {i}):
                n_paths = _count_paths(frozen, j, out)
                if n_paths > 1 or j not in dag.succ[i]:
                    dag.unlink(j, out)
                if n_paths == 1 and j not in dag.succ[i]:
                    dag.link(j, i)


# ================================================================================================================
# 4. input node, topological order, post-sort fixes


def _add_input(dag: _Dag) -> int:
    sources = [k for k in dag.order if not dag.pred[k] and "weight" in dag.raw[k].name]
    k = dag.new(_Raw("input"))
    for s in sources:
        dag.link(k, s)
    return k


def _toposort(dag: _Dag) -> list[int]:
    """``networkx.topological_sort`` of the graph with nodes in ``dag.order``: generations of Kahn's algorithm,
    each generation in discovery order (children in node order)."""
    pos = {k: p for p, k in enumerate(dag.order)}
    indeg = {k: len(dag.pred[k]) for k in dag.order}
    gen = [k for k in dag.order if indeg[k] == 0]
    out: list[int] = []
    while gen:
        out.extend(gen)
        nxt = []
        for k in gen:
            for v in sorted(dag.succ[k], key=pos.__getitem__):
                indeg[v] -= 1
                if indeg[v] == 0:
                    nxt.append(v)
        gen = nxt
    if len(out) != len(dag.order):
        raise InvalidInputError(
            "the reference view of this architecture has a cycle; trace it again with graphhyper.arch.trace and "
            "report the model if it persists"
        )
    return out


def _matrix(dag: _Dag, order: list[int]) -> tuple[list[_Raw], torch.Tensor]:
    pos = {k: p for p, k in enumerate(order)}
    adj = torch.zeros(len(order), len(order), dtype=torch.long)
    for k in order:
        for v in dag.succ[k]:
            adj[pos[k], pos[v]] = 1
    return [dag.raw[k] for k in order], adj


def _insert_pos_enc_sums(nodes: list[_Raw], adj: torch.Tensor) -> tuple[list[_Raw], torch.Tensor]:
    """A positional embedding added to the activations gets its own ``sum`` node right after it, which takes
    over the embedding's edges while the embedding feeds only the sum."""
    i = 0
    while i < len(nodes):
        if nodes[i].added and nodes[i].op == "pos_enc":
            nodes.insert(i + 1, _Raw("AddBackward0"))
            n = adj.shape[0]
            grown = torch.zeros(n + 1, n + 1, dtype=adj.dtype)
            keep = [p for p in range(n + 1) if p != i]
            grown[torch.tensor(keep)[:, None], torch.tensor(keep)[None, :]] = adj
            grown[i, i + 1] = 1
            adj = grown
            i += 1
        i += 1
    return nodes, adj


def _move_global_pool(nodes: list[_Raw]) -> list[_Raw]:
    """A global mean after the classifier's weight and bias moves before them (labels move, edges stay)."""
    if len(nodes) > 3 and nodes[-1].name.startswith("Mean") and nodes[-3].module is not None:
        nodes.insert(len(nodes) - 3, nodes.pop())
    return nodes


# ================================================================================================================
# 5. virtual edges and features


def _virtual_edges(adj: torch.Tensor, cutoff: int) -> torch.Tensor:
    """Add ``A[i, j] = d`` for every pair at directed shortest-path distance ``2 <= d <= cutoff``.

    Nodes in topological order (every edge ``i -> j`` has ``i < j``, as :func:`reference_graph` numbers them):
    one sweep from the last node back, ``D[i] = 1 + min_{j ∈ succ(i)} D[j]`` (row-wise, over all targets at once)
    with ``D[i, j] = 1`` for the successors themselves, ``E · N`` work for ``E`` edges; other graphs get one
    breadth-first search per node."""
    if cutoff <= 1:
        return adj
    one = (adj == 1).numpy()
    if np.triu(one, 1).sum() != one.sum():
        return _virtual_edges_bfs(adj, cutoff)
    n = adj.shape[0]
    src, dst = np.nonzero(one)
    bounds = np.searchsorted(src, np.arange(n + 1))
    dist = np.full((n, n), 1 << 30, dtype=np.int32)  # "no path"; grows by at most n, stays > any cutoff
    for i in range(n - 1, -1, -1):
        succ = dst[bounds[i] : bounds[i + 1]]
        if succ.size == 1:
            np.add(dist[succ[0]], 1, out=dist[i])
        elif succ.size:
            np.add(dist[succ].min(axis=0), 1, out=dist[i])
        dist[i, succ] = 1
    out = adj.numpy().copy()
    mask = (dist >= 2) & (dist <= cutoff)
    out[mask] = dist[mask]
    return torch.from_numpy(out)


def _virtual_edges_bfs(adj: torch.Tensor, cutoff: int) -> torch.Tensor:
    """:func:`_virtual_edges` by one breadth-first search from every node (any directed graph)."""
    n = adj.shape[0]
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, j in torch.nonzero(adj == 1).tolist():
        succ[i].append(j)
    rows = adj.tolist()
    for s in range(n):
        dist = {s: 0}
        queue = deque([s])
        while queue:
            u = queue.popleft()
            if dist[u] == cutoff:
                continue
            for v in succ[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    queue.append(v)
        row = rows[s]
        for v, d in dist.items():
            if d > 1:
                row[v] = d
    return torch.tensor(rows, dtype=torch.long).reshape(n, n)


def _display_name(name: str) -> str:
    """The reference's parameter name clean-up: from ``stem`` / ``pos_enc`` on, and ``_ops.i.op`` for DARTS."""
    for word in ("stem", "pos_enc"):
        at = name.find(word)
        if at >= 0:
            return name[at:]
    parts = name.split(".")
    for i, s in enumerate(parts):
        if s == "_ops" and i + 2 < len(parts) and parts[i + 2] != "op" and parts[i + 2].isdigit():
            return ".".join([*parts[: i + 2], "op", *parts[i + 2 :]])
    return name


def _node_size(r: _Raw, op: str, index: int, n: int) -> tuple[int, ...] | None:
    sz = r.shape if r.module is not None else (r.kernel if "pool" in op else None)
    if sz is None:
        return None
    if len(sz) == 3 and sz[0] == 1 and min(sz[1:]) > 1:
        s = int(math.floor(sz[1] ** 0.5))
        return (1, sz[2], s, s)
    if len(sz) == 4 and index == n - 2 and max(sz[2:]) == 1:
        return tuple(sz[:2])
    return tuple(sz)


def _features(nodes: list[_Raw], adj: torch.Tensor) -> ReferenceGraph:
    n = len(nodes)
    feat, shapes, info, names = [], [], [], []
    for i, r in enumerate(nodes):
        if r.module is not None:
            op = r.op or "sum"
            pname = _display_name(r.name)
        else:
            op = "input" if r.name == "input" else REFERENCE_FUNCTIONS.get(_prefix(r.name), "sum")
            pname = r.name
        sz = _node_size(r, op, i, n)
        feat.append(PRIMITIVES_DEEPNETS1M.index(op))
        shapes.append(sz)
        names.append(pname)
        if r.module is not None or "pool" in op:
            info.append(
                NodeInfo(
                    i,
                    pname if r.module is not None else op,
                    op,
                    sz,
                    last_weight=i == n - 2 and ".weight" in pname,
                    last_bias=i == n - 1 and ".bias" in pname,
                )
            )
    return ReferenceGraph(torch.tensor(feat, dtype=torch.long), info, adj, shapes, names)


# ================================================================================================================
# public entry point


def reference_graph(
    module_or_archgraph: nn.Module | ArchGraph,
    *,
    ve_cutoff: int = 50,
    input_shape: Sequence[int] | None = None,
) -> ReferenceGraph:
    """The graph the published GHN-2 / GHN-3 build for an architecture, made from our trace.

    Args:
        module_or_archgraph: an ``nn.Module`` (traced with :func:`graphhyper.arch.trace` in its own training
            mode, as the reference runs it) or an :class:`~graphhyper.arch.ArchGraph` already traced.
        ve_cutoff: longest shortest-path distance that becomes a virtual edge (the reference's default 50; GHN-3
            without virtual edges uses 1).
        input_shape: input of the trace, default ``(1, 3, 224, 224)`` (the reference's ImageNet default).

    Returns:
        A :class:`ReferenceGraph`: node types, ``node_info`` rows, adjacency with virtual edges, node sizes.

    Raises:
        InvalidInputError: neither a module nor an ArchGraph, or a graph without an output node.
    """
    graph = _as_graph(module_or_archgraph, input_shape)
    if not any(n.op == "output" for n in graph.nodes):
        raise InvalidInputError("reference_graph needs a traced graph with an output node (graphhyper.arch.trace)")
    dag = _Walk(graph).run()
    _filter(dag)
    _fix_weight_edges(dag)
    _fix_softmax_edges(dag)
    _filter(dag, ["Add", "Cat"])
    _add_input(dag)
    nodes, adj = _matrix(dag, _toposort(dag))
    nodes, adj = _insert_pos_enc_sums(nodes, adj)
    nodes = _move_global_pool(nodes)
    return _features(nodes, _virtual_edges(adj, ve_cutoff))


def _as_graph(obj: Any, input_shape: Iterable[int] | None) -> ArchGraph:
    if isinstance(obj, ArchGraph):
        return obj
    if isinstance(obj, nn.Module):
        from graphhyper.arch.trace import trace

        shape = tuple(input_shape) if input_shape is not None else (1, 3, 224, 224)
        return trace(obj, input_shape=shape)
    raise InvalidInputError(
        f"reference_graph expects an nn.Module or an ArchGraph from graphhyper.arch.trace, got {type(obj).__name__}"
    )
