"""``nn.Module`` → :class:`~graphhyper.arch.ArchGraph` without running real data.

The module is traced symbolically and its shapes are propagated on **meta tensors**: parameters and buffers are
swapped for meta stand-ins for the duration of the trace (and restored afterwards), so no activation and no copy
of the weights is ever allocated.

Trace paths, tried in order until one works (the one used is recorded in ``graph.meta["trace_path"]``):

1. ``"fx"`` — ``torch.fx`` symbolic tracing; modules known to the op registry (and parameter-owning ``torch.nn``
   modules) are leaves, everything else is traced through.
2. ``"export"`` — ``torch.export`` (non-strict) on meta inputs; ATen nodes are grouped back into the leaf module
   that produced them with the exported ``nn_module_stack``.
3. ``"autograd"`` — an eager forward pass on meta tensors, recorded at the ``__torch_function__`` level with
   module hooks (the ppuda-style autograd walk, but symbolic: no data, no activations).
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import math
import operator
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
import torch.utils._pytree as pytree
from torch import fx, nn
from torch.fx.proxy import ParameterProxy
from torch.nn.parameter import is_lazy
from torch.overrides import TorchFunctionMode

from graphhyper.arch import ops
from graphhyper.arch.graph import ArchGraph, Node
from graphhyper.errors import GraphhyperError, InvalidInputError, TraceError

PATHS = ("fx", "export", "autograd")


# ================================================================================================================
# inputs and meta stand-ins


def _to_meta(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value if value.is_meta else torch.empty(value.shape, dtype=value.dtype, device="meta")
    if isinstance(value, (list, tuple)):
        return type(value)(_to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_meta(v) for k, v in value.items()}
    return value


def _dim(d: Any) -> int:
    """An integer dimension: ints and integer scalars (NumPy, 0-d tensors) only; ``int(2.5)`` or ``True`` would
    silently trace another shape."""
    if isinstance(d, (bool, str, bytes)) or (isinstance(d, torch.Tensor) and d.dtype == torch.bool):
        raise TypeError(d)
    return operator.index(d)


def _shape_tuple(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        if isinstance(shape, (str, bytes)):
            raise TypeError(shape)
        dims = tuple(_dim(d) for d in shape)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"input_shape must be a tuple of positive ints such as (1, 3, 32, 32), got {shape!r}"
        ) from None
    if not dims or any(d <= 0 for d in dims):
        raise InvalidInputError(f"input_shape must be a non-empty tuple of positive ints, got {shape!r}")
    return dims


def _check_materialised(root: nn.Module, described: Any) -> None:
    """Refuse modules with uninitialised lazy parameters (``nn.LazyLinear``, ``nn.LazyConv2d``, ...): their shapes
    exist only after a real forward pass, which tracing on meta tensors does not make."""
    lazy = [
        name or "<root>"
        for name, m in root.named_modules()
        if any(t is not None and is_lazy(t) for t in (*m._parameters.values(), *m._buffers.values()))
    ]
    if not lazy:
        return
    if isinstance(described, tuple) and all(isinstance(d, int) for d in described):
        call = f"module(torch.zeros{described})"
    else:
        call = "module(*example_inputs)"
    raise InvalidInputError(
        f"{type(root).__name__} has lazy modules with uninitialised parameters ({', '.join(map(repr, lazy))}); "
        f"their shapes are only known after one real forward pass. Run it once before tracing, e.g. "
        f"`with torch.no_grad(): {call}`, or give the lazy layers their input sizes (nn.Linear instead of "
        f"nn.LazyLinear)."
    )


def _make_inputs(input_shape: Any, example_inputs: Any, dtype: torch.dtype) -> tuple[tuple, dict, Any]:
    """Meta ``(args, kwargs, described_shape)`` from ``input_shape`` or ``example_inputs``."""
    if (input_shape is None) == (example_inputs is None):
        raise InvalidInputError(
            "trace needs exactly one of input_shape=(1, 3, 32, 32) or example_inputs=(tensor, ...) / {name: tensor}"
        )
    if input_shape is not None:
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            shapes = [_shape_tuple(s) for s in input_shape]
            return tuple(torch.empty(s, dtype=dtype, device="meta") for s in shapes), {}, shapes
        shape = _shape_tuple(input_shape)
        return (torch.empty(shape, dtype=dtype, device="meta"),), {}, shape
    if isinstance(example_inputs, dict):
        kwargs = _to_meta(example_inputs)
        return (), kwargs, {k: tuple(v.shape) for k, v in kwargs.items() if isinstance(v, torch.Tensor)}
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (list, tuple)):
        raise InvalidInputError(
            f"example_inputs must be a tensor, a tuple of tensors or a dict of keyword tensors, "
            f"got {type(example_inputs).__name__}"
        )
    args = tuple(_to_meta(example_inputs))
    shapes = [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]
    return args, {}, shapes[0] if len(shapes) == 1 else shapes


class _MetaSwap:
    """Context manager: replace every parameter and buffer of ``root`` by a meta tensor, restore on exit.

    Tied tensors stay tied (the replacement is keyed by the original tensor's identity). Modules are put in
    eval mode (batch norm then needs no batch statistics) and their modes restored afterwards.
    """

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self.saved: list[tuple[dict, str, Any]] = []
        self.modes: list[tuple[nn.Module, bool]] = []
        self.stand_ins: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __enter__(self) -> _MetaSwap:
        stand_ins = self.stand_ins
        for module in self.root.modules():
            self.modes.append((module, module.training))
            module.training = False
            stores: tuple[dict[str, Any], ...] = (module._parameters, module._buffers)  # both take meta tensors
            for store in stores:
                for key, tensor in store.items():
                    if tensor is None:
                        continue
                    if tensor.is_meta:
                        stand_ins.setdefault(id(tensor), (tensor, tensor))
                        continue
                    meta = stand_ins.get(id(tensor), (None, None))[1]
                    if meta is None:
                        meta = torch.empty(tensor.shape, dtype=tensor.dtype, device="meta")
                        if isinstance(tensor, nn.Parameter):
                            meta = nn.Parameter(meta, requires_grad=tensor.requires_grad)
                        stand_ins[id(tensor)] = (tensor, meta)
                    self.saved.append((store, key, tensor))
                    store[key] = meta
        return self

    def pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(original, meta stand-in)`` for every swapped tensor."""
        return list(self.stand_ins.values())

    def __exit__(self, *exc: Any) -> None:
        for store, key, tensor in reversed(self.saved):
            store[key] = tensor
        for module, mode in self.modes:
            module.training = mode


# ================================================================================================================
# graph assembly shared by all paths


def _first_shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, torch.Tensor):
        return tuple(int(d) for d in value.shape)
    if isinstance(value, (list, tuple)):
        for v in value:
            shape = _first_shape(v)
            if shape is not None:
                return shape
    if isinstance(value, dict):
        return _first_shape(list(value.values()))
    return None


def _is_tensorish(value: Any) -> bool:
    return _first_shape(value) is not None


@dataclass
class _Builder:
    """Accumulates nodes/edges and parameter ownership; values flow as (source node set, pending params)."""

    param_names: dict[int, str]  # id(original parameter) -> canonical (deduplicated) full name
    param_shapes: dict[str, tuple[int, ...]]
    nodes: list[Node] = field(default_factory=list)
    preds: list[list[int]] = field(default_factory=list)  # sources in operand order
    owned: set[str] = field(default_factory=set)
    name_count: dict[str, int] = field(default_factory=dict)
    output: Any = None  # the model's output on meta tensors (autograd path)

    def unique(self, name: str) -> str:
        k = self.name_count.get(name, 0)
        self.name_count[name] = k + 1
        return name if k == 0 else f"{name}:{k}"

    def claim(self, names: Iterable[str]) -> dict[str, tuple[int, ...]]:
        out = {}
        for name in names:
            if name not in self.owned and name in self.param_shapes:
                self.owned.add(name)
                out[name] = self.param_shapes[name]
        return out

    def add(
        self, name: str, op: str, target: str, attrs: dict, params: Iterable[str], preds: Iterable[int], value: Any
    ) -> int:
        self.nodes.append(Node(self.unique(name), op, target, attrs, self.claim(params), _first_shape(value)))
        self.preds.append(list(dict.fromkeys(preds)))
        return len(self.nodes) - 1

    def finish(self, meta: dict) -> ArchGraph:
        """Drop parameter-free nodes that cannot reach an output, then build the graph."""
        n = len(self.nodes)
        succ: list[list[int]] = [[] for _ in range(n)]
        for d, ps in enumerate(self.preds):
            for s in ps:
                succ[s].append(d)
        alive = [node.op == "output" for node in self.nodes]
        for i in range(n - 1, -1, -1):
            if not alive[i]:
                alive[i] = any(alive[j] for j in succ[i])
        keep = [i for i in range(n) if alive[i] or self.nodes[i].params or self.nodes[i].op == "input"]
        pos = {old: new for new, old in enumerate(keep)}
        edges = [(pos[s], pos[d]) for d in keep for s in self.preds[d] if s in pos]
        for d in keep:
            self.nodes[d].inputs = tuple(self.nodes[s].name for s in self.preds[d] if s in pos)
        graph = ArchGraph([self.nodes[i] for i in keep], edges, dict(self.param_shapes), meta)
        unknown = graph.unknown_ops()
        if unknown:
            targets = sorted({t for _, t in unknown})
            graph.meta.setdefault("notes", []).append(
                f"{len(unknown)} node(s) with ops the registry does not know: {', '.join(targets[:8])}; map them with "
                f"graphhyper.arch.register_function_op / register_module_op"
            )
        unmapped = graph.unmapped_parameters()
        if unmapped:
            graph.meta["unmapped_reason"] = (
                f"{len(unmapped)} parameter(s) are not used by the traced forward pass for these inputs "
                f"(unused layers, or a branch not taken), e.g. {unmapped[0]}"
            )
        return graph


def _param_tables(root: nn.Module) -> tuple[dict[int, str], dict[str, tuple[int, ...]]]:
    names, shapes = {}, {}
    for name, p in root.named_parameters():
        names[id(p)] = name
        shapes[name] = tuple(int(d) for d in p.shape)
    return names, shapes


# ================================================================================================================
# path 1: torch.fx


class _LeafTracer(fx.Tracer):
    """fx tracer whose leaves are registered modules and parameter-owning ``torch.nn`` modules without children."""

    def __init__(self) -> None:
        super().__init__(param_shapes_constant=True)
        self._tensor_names: dict[int, str] = {}

    def trace(self, root: Any, concrete_args: dict[str, Any] | None = None) -> fx.Graph:
        if isinstance(root, nn.Module):
            self._tensor_names = {id(t): n for n, t in root.named_buffers()}
            self._tensor_names.update({id(p): n for n, p in root.named_parameters()})
        return super().trace(root, concrete_args)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        """Proxy for a parameter / buffer looked up by identity in O(1) (fx scans every parameter each time)."""
        name = self._tensor_names.get(id(attr_val)) if isinstance(attr_val, torch.Tensor) else None
        if name is None:
            return attr_val
        if name not in parameter_proxy_cache:
            factory = None
            if isinstance(attr_val, nn.Parameter):

                def factory(node: fx.Node, name: str = name, value: Any = attr_val) -> Any:
                    return ParameterProxy(self, node, name, value)

            parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {}, proxy_factory_fn=factory)
        return parameter_proxy_cache[name]

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if ops.lookup_module(type(m)) is not None:
            return True
        if type(m).__module__.startswith("torch.nn") and not isinstance(m, (nn.Sequential, nn.ModuleList)):
            return next(iter(m.children()), None) is None
        return False


def _concrete_args(root: nn.Module, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Forward parameters not given by the caller are fixed to their defaults (so ``if mask is None`` works)."""
    try:
        sig = inspect.signature(root.forward)
    except (TypeError, ValueError):
        return {}
    concrete = {}
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for i, p in enumerate(params):
        if i < len(args) or p.name in kwargs:
            continue
        if p.default is not inspect.Parameter.empty:
            concrete[p.name] = p.default
    return concrete


def _module_path(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if stack:
        path = list(stack.values())[-1]
        return path[0] if isinstance(path, tuple) else str(path)
    return ""


# ================================================================================================================
# shape rules: closed-form output shapes for the commonest ops (meta kernels of batch norm, layer norm and
# elementwise ops run Python decompositions and dominate tracing time). Any doubt returns None and the
# meta kernel runs instead, so errors for shapes that do not fit still come from PyTorch's own checks.


def _meta_like(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=x.dtype, device="meta")


def _single(args: tuple, kwargs: dict) -> torch.Tensor | None:
    if len(args) == 1 and isinstance(args[0], torch.Tensor) and args[0].is_meta and not kwargs:
        return args[0]
    return None


def _rule_same(m: nn.Module, args: tuple, kwargs: dict) -> Any:
    return _single(args, kwargs)


def _rule_batch_norm(m: nn.modules.batchnorm._BatchNorm, args: tuple, kwargs: dict) -> Any:
    x = _single(args, kwargs)
    if x is None:
        return None
    ok = x.dim() == {nn.BatchNorm1d: x.dim(), nn.BatchNorm2d: 4, nn.BatchNorm3d: 5}[type(m)]
    return x if ok and x.dim() >= 2 and x.shape[1] == m.num_features else None


def _rule_layer_norm(m: nn.LayerNorm, args: tuple, kwargs: dict) -> Any:
    x = _single(args, kwargs)
    ns = tuple(m.normalized_shape)
    return x if x is not None and tuple(x.shape[x.dim() - len(ns) :]) == ns else None


def _rule_group_norm(m: nn.GroupNorm, args: tuple, kwargs: dict) -> Any:
    x = _single(args, kwargs)
    return x if x is not None and x.dim() >= 2 and x.shape[1] == m.num_channels else None


def _rule_linear(m: nn.Linear, args: tuple, kwargs: dict) -> Any:
    x = _single(args, kwargs)
    if x is None or x.dim() < 1 or x.shape[-1] != m.in_features or not x.is_floating_point():
        return None
    return _meta_like(x, (*x.shape[:-1], m.out_features))


def _window(size: int, k: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def _rule_conv(m: nn.modules.conv._ConvNd, args: tuple, kwargs: dict) -> Any:
    x = _single(args, kwargs)
    nd = len(m.kernel_size)
    if (
        x is None
        or x.dim() != nd + 2
        or x.shape[1] != m.in_channels
        or m.padding_mode != "zeros"
        or isinstance(m.padding, str)
        or not x.is_floating_point()
    ):
        return None
    spatial = [_window(x.shape[2 + i], m.kernel_size[i], m.stride[i], m.padding[i], m.dilation[i]) for i in range(nd)]
    return _meta_like(x, (x.shape[0], m.out_channels, *spatial)) if min(spatial) > 0 else None


def _rule_pool2d(m: nn.MaxPool2d | nn.AvgPool2d, args: tuple, kwargs: dict) -> Any:
    x = _single(args, kwargs)
    if x is None or x.dim() != 4 or getattr(m, "return_indices", False):
        return None
    pair = nn.modules.utils._pair
    k, p = pair(m.kernel_size), pair(m.padding)
    s = pair(m.stride if m.stride is not None else m.kernel_size)
    d = pair(getattr(m, "dilation", 1))
    if any(2 * p[i] > k[i] for i in range(2)):
        return None
    spatial = [_window(x.shape[2 + i], k[i], s[i], p[i], d[i], m.ceil_mode) for i in range(2)]
    return _meta_like(x, (*x.shape[:2], *spatial)) if min(spatial) > 0 else None


def _rule_adaptive_pool2d(m: nn.AdaptiveAvgPool2d, args: tuple, kwargs: dict) -> Any:
    x = _single(args, kwargs)
    if x is None or x.dim() != 4:
        return None
    size = nn.modules.utils._pair(m.output_size)
    return _meta_like(x, (*x.shape[:2], *(x.shape[2 + i] if size[i] is None else size[i] for i in range(2))))


def _module_rules() -> dict[Callable, Callable]:
    same = (
        nn.ReLU,
        nn.ReLU6,
        nn.GELU,
        nn.SiLU,
        nn.Sigmoid,
        nn.Tanh,
        nn.Hardswish,
        nn.Hardsigmoid,
        nn.LeakyReLU,
        nn.ELU,
        nn.Mish,
        nn.Dropout,
        nn.Dropout2d,
        nn.Identity,
        nn.SELU,
        nn.CELU,
        nn.Softplus,
        nn.Hardtanh,
    )
    rules: dict[Callable, Callable] = {cls.forward: _rule_same for cls in same}
    for norm in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        rules[norm.forward] = _rule_batch_norm
    rules[nn.LayerNorm.forward] = _rule_layer_norm
    rules[nn.GroupNorm.forward] = _rule_group_norm
    rules[nn.Linear.forward] = _rule_linear
    for conv in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
        rules[conv.forward] = _rule_conv
    for pool in (nn.MaxPool2d, nn.AvgPool2d):
        rules[pool.forward] = _rule_pool2d
    rules[nn.AdaptiveAvgPool2d.forward] = _rule_adaptive_pool2d
    return rules


_MODULE_RULES = _module_rules()
_BINARY = {
    operator.add,
    operator.iadd,
    operator.mul,
    operator.imul,
    operator.sub,
    operator.truediv,
    torch.add,
    torch.mul,
    torch.sub,
}
_UNARY = {
    torch.relu,
    F.relu,
    F.gelu,
    F.silu,
    torch.sigmoid,
    F.hardswish,
    F.hardsigmoid,
    torch.tanh,
    F.relu6,
    torch.nn.functional.dropout,
    "relu",
    "sigmoid",
    "tanh",
    "relu_",
    "sigmoid_",
}


#: functions whose output has the shape, dtype and layout of their first argument
_SAME_AS_FIRST = {"shifted_window_attention"}


def _function_rule(target: Any, args: tuple, kwargs: dict) -> Any:
    """Output of common function / method calls from shapes alone; None when unsure."""
    if getattr(target, "__name__", None) in _SAME_AS_FIRST and args and isinstance(args[0], torch.Tensor):
        return args[0] if args[0].is_meta else None
    if target in _BINARY and len(args) == 2 and not kwargs:
        a, b = args
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            if a.dtype != b.dtype or not a.is_floating_point() or not (a.is_meta and b.is_meta):
                return None
            try:
                return _meta_like(a, torch.broadcast_shapes(a.shape, b.shape))
            except RuntimeError:
                return None
        t, c = (a, b) if isinstance(a, torch.Tensor) else (b, a)
        if isinstance(t, torch.Tensor) and t.is_meta and t.is_floating_point() and type(c) in (int, float):
            return t
        return None
    if target in _UNARY and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
        extra = dict(kwargs)
        extra.pop("inplace", None)
        extra.pop("training", None)
        if len(args) == 1 and not {k for k in extra if k not in ("p", "approximate")}:
            return args[0]
    if target is torch.flatten and len(args) == 2 and not kwargs and isinstance(args[0], torch.Tensor):
        x, start = args
        if isinstance(start, int) and 0 <= start < x.dim() and args[0].is_meta:
            return _meta_like(x, (*x.shape[:start], math.prod(x.shape[start:])))
    return None


_META = torch.device("meta")  # re-entrant context: tensors created without a device land on meta


def _fx_run(root: nn.Module, graph: fx.Graph, args: tuple, kwargs: dict, fast: bool = True) -> dict[fx.Node, Any]:
    """Evaluate ``graph`` on meta tensors (closed-form shape rules first when ``fast``); returns node → value."""
    env: dict[fx.Node, Any] = {}
    modules = dict(root.named_modules(remove_duplicate=False))
    positional = list(args)

    def load(a: Any) -> Any:
        return fx.node.map_arg(a, lambda n: env[n])

    for node in graph.nodes:
        try:
            if node.op == "placeholder":
                env[node] = _fx_placeholder(node, positional, kwargs)
            elif node.op == "get_attr":
                env[node] = _get_attr(root, node.target)
            elif node.op in _CALL_OPS:
                a, kw = load(node.args), load(node.kwargs)
                out = _fx_rule(node, modules, a, kw) if fast else None
                env[node] = out if out is not None else _fx_meta_call(node, modules, a, kw)
            elif node.op == "output":
                env[node] = load(node.args[0])
        except GraphhyperError:
            raise
        except Exception as exc:
            where = node.target if node.op == "call_module" else (_module_path(node) or "<root>")
            raise _ShapeError(
                where,
                ops.function_name(node.target) if node.op != "call_module" else type(modules[node.target]).__name__,
                exc,
            ) from exc
    return env


_CALL_OPS = ("call_function", "call_method", "call_module")


def _fx_placeholder(node: fx.Node, positional: list[Any], kwargs: dict) -> Any:
    """The input bound to a placeholder: by name, else the next positional argument, else its default."""
    if node.target in kwargs:
        return kwargs[node.target]
    if positional:
        return positional.pop(0)
    return node.args[0] if node.args else None


def _get_attr(root: nn.Module, target: Any) -> Any:
    """``root.a.b.c`` for the dotted ``target`` of a ``get_attr`` node."""
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _fx_rule(node: fx.Node, modules: dict[str, nn.Module], a: Any, kw: Any) -> Any:
    """Output of a call node from a closed-form shape rule; None when no rule applies."""
    if node.op == "call_module":
        module = modules[str(node.target)]
        rule = _MODULE_RULES.get(type(module).forward)
        return rule(module, a, kw) if rule is not None else None
    return _function_rule(node.target, tuple(a), kw)


def _fx_meta_call(node: fx.Node, modules: dict[str, nn.Module], a: Any, kw: Any) -> Any:
    """Run a call node for real, tensors created without a device landing on meta."""
    with _META:
        if node.op == "call_module":
            return modules[str(node.target)](*a, **kw)
        if node.op == "call_method":
            self_obj, *rest = a
            return getattr(self_obj, str(node.target))(*rest, **kw)
        return node.target(*a, **kw)  # type: ignore[operator]  # call_function: target is the callable


class _ShapeError(Exception):
    def __init__(self, where: str, what: str, exc: Exception) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.where, self.what, self.exc = where, what, exc


def _fx_build(root: nn.Module, graph: fx.Graph, env: dict, builder: _Builder) -> None:
    src: dict[fx.Node, Collection[int]] = {}
    pend: dict[fx.Node, set[str]] = {}
    modules = dict(root.named_modules(remove_duplicate=False))
    for node in graph.nodes:
        inputs = node.all_input_nodes
        in_src = _ordered_union(src[i] for i in inputs)
        in_pend = set().union(*(pend[i] for i in inputs)) if inputs else set()
        value = env.get(node)
        src[node], pend[node] = set(), in_pend
        if node.op == "placeholder":
            if _is_tensorish(value):
                src[node] = {builder.add(node.name, "input", "input", {}, (), set(), value)}
        elif node.op == "get_attr":  # look the original tensor up again: ``value`` is its meta stand-in
            obj = _get_attr(root, node.target)
            pend[node] = {builder.param_names[id(obj)]} if id(obj) in builder.param_names else set()
        elif node.op == "output":
            builder.add("output", "output", "output", {}, in_pend, in_src, value)
        elif node.op == "call_module":
            module = modules[node.target]
            op, attrs = ops.module_op(module)
            if op == ops.PASSTHROUGH:
                src[node] = in_src
                continue
            plist = module._parameters.values() if not module._modules else module.parameters()
            params = [builder.param_names[id(p)] for p in plist if id(p) in builder.param_names]
            src[node] = {
                builder.add(node.target, op, type(module).__name__, attrs, [*params, *sorted(in_pend)], in_src, value)
            }
            pend[node] = set()
        else:  # call_function / call_method
            if not _is_tensorish(value):
                continue
            op = ops.function_op(node.target)
            first = env.get(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
            if _is_passthrough(op, node.target, first, value):
                src[node] = in_src
                continue
            attrs = ops.function_attrs(node.target, node.args, node.kwargs)
            src[node] = {
                builder.add(node.name, op, ops.function_name(node.target), attrs, sorted(in_pend), in_src, value)
            }
            pend[node] = set()


def _ordered_union(groups: Iterable[Iterable[int]]) -> dict[int, None]:
    """The union of ``groups`` in first-seen order (a dict used as an ordered set): operand order is kept."""
    out: dict[int, None] = {}
    for group in groups:
        out.update(dict.fromkeys(group))
    return out


def _is_passthrough(op: str, target: Any, first: Any, value: Any) -> bool:
    """Value-preserving calls: registered passthroughs, indexing into a tuple, building a (named) tuple / dict."""
    if op == ops.PASSTHROUGH:
        return True
    if op == "index" and first is not None and not isinstance(first, torch.Tensor):
        return True
    return isinstance(target, type) and not isinstance(value, torch.Tensor)


def _trace_fx(root: nn.Module, args: tuple, kwargs: dict, builder: _Builder) -> None:
    tracer = _LeafTracer()
    graph = tracer.trace(root, concrete_args=_concrete_args(root, args, kwargs) or None)
    with _MetaSwap(root):  # factories get the meta device per call, on the slow path only (see _fx_run)
        env = _fx_run(root, graph, args, kwargs)
    _fx_build(root, graph, env, builder)


# ================================================================================================================
# path 2: torch.export (non-strict) on meta inputs; ATen nodes grouped back into their leaf modules


def _export_leaf(node: fx.Node, modules: dict[str, nn.Module], tracer: _LeafTracer) -> tuple[str, str] | None:
    """``(call key, module path)`` of the outermost leaf module that produced ``node``, if any."""
    for key, entry in (node.meta.get("nn_module_stack") or {}).items():
        path = entry[0] if isinstance(entry, tuple) else str(entry)
        module = modules.get(path)
        if path and module is not None and tracer.is_leaf_module(module, path):
            return key, path
    return None


def _export_groups(
    graph: fx.Graph, modules: dict[str, nn.Module]
) -> tuple[dict[fx.Node, tuple[str, str] | None], dict[str, fx.Node], dict[str, list[fx.Node]]]:
    """Group the ATen calls by the leaf-module call that made them: ``(leaf of each call_function node,
    last node of each call key, the nodes of each call key in graph order)``."""
    tracer = _LeafTracer()
    leaf = {n: _export_leaf(n, modules, tracer) for n in graph.nodes if n.op == "call_function"}
    last_of: dict[str, fx.Node] = {}
    members: dict[str, list[fx.Node]] = {}
    for n, info in leaf.items():
        if info is not None:
            last_of[info[0]] = n
            members.setdefault(info[0], []).append(n)
    return leaf, last_of, members


def _trace_export(root: nn.Module, args: tuple, kwargs: dict, builder: _Builder) -> None:
    with _MetaSwap(root), torch.device("meta"):
        program = torch.export.export(root, args, kwargs, strict=False)
    sig = program.graph_signature
    params = dict(sig.inputs_to_parameters)
    user_inputs = set(sig.user_inputs)
    modules = dict(root.named_modules(remove_duplicate=False))
    graph = program.graph
    order = {n: k for k, n in enumerate(graph.nodes)}
    leaf, last_of, members = _export_groups(graph, modules)
    src: dict[fx.Node, Collection[int]] = {}
    pend: dict[fx.Node, set[str]] = {}
    for node in graph.nodes:
        inputs = node.all_input_nodes
        in_src = _ordered_union(src.get(i, ()) for i in inputs)
        in_pend = set().union(*(pend.get(i, set()) for i in inputs)) if inputs else set()
        value = node.meta.get("val")
        src[node], pend[node] = set(), in_pend
        if node.op == "placeholder":
            if node.name in params:
                pend[node] = {params[node.name]}
            elif node.name in user_inputs and _is_tensorish(value):
                src[node] = {builder.add(node.name, "input", "input", {}, (), set(), value)}
        elif node.op == "output":
            outs = [i.meta.get("val") for i in inputs if i.name not in sig.buffers_to_mutate]
            builder.add("output", "output", "output", {}, in_pend, in_src, outs)
        elif node.op == "call_function" and (info := leaf[node]) is not None:
            key, path = info
            if node is not last_of[key]:
                continue
            group = set(members[key])
            outside = {i for m in members[key] for i in m.all_input_nodes if i not in group}
            g_src = _ordered_union(src.get(i, ()) for i in sorted(outside, key=order.__getitem__))
            g_pend = set().union(*(pend.get(i, set()) for i in outside)) if outside else set()
            module = modules[path]
            op, attrs = ops.module_op(module)
            if op == ops.PASSTHROUGH:
                for m in members[key]:
                    src[m], pend[m] = g_src, g_pend
                continue
            own = [builder.param_names[id(p)] for p in module.parameters() if id(p) in builder.param_names]
            idx = builder.add(path, op, type(module).__name__, attrs, [*own, *sorted(g_pend)], g_src, value)
            for m in members[key]:
                src[m], pend[m] = {idx}, set()
        elif node.op == "call_function":
            if not _is_tensorish(value):
                continue
            op = ops.function_op(node.target)
            first = node.args[0].meta.get("val") if node.args and isinstance(node.args[0], fx.Node) else None
            if _is_passthrough(op, node.target, first, value):
                src[node] = in_src
                continue
            attrs = ops.function_attrs(node.target, node.args, node.kwargs)
            src[node] = {
                builder.add(node.name, op, ops.function_name(node.target), attrs, sorted(in_pend), in_src, value)
            }
            pend[node] = set()


# ================================================================================================================
# path 3: eager forward pass on meta tensors, recorded at the __torch_function__ level


def _tensors(value: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif depth < 6 and isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v, depth + 1)
    elif depth < 6 and isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v, depth + 1)


class _Recorder(TorchFunctionMode):
    """Records every top-level torch call (outside leaf modules) and every leaf-module call as a node.

    Data flow is followed by tensor identity: ``flow[id(t)] = (source nodes, parameters not yet owned)``.
    """

    def __init__(self, root: nn.Module, builder: _Builder, stand_ins: dict[int, str]) -> None:
        super().__init__()
        self.builder, self.stand_ins = builder, stand_ins
        self.flow: dict[int, tuple[tuple[int, ...], tuple[str, ...]]] = {}
        self.alive: list[torch.Tensor] = []  # keeps ids unique while recording
        self.leaf_depth = 0
        self.stack: list[str] = []
        self.calls: list[tuple] = []
        self.counts: dict[str, int] = {}
        self.paths = {id(m): n for n, m in root.named_modules(remove_duplicate=False)}
        self.tracer = _LeafTracer()

    # ---------------------------------------------------------------- data flow
    def inputs(self, value: Any) -> tuple[dict[int, None], list[str]]:
        srcs: dict[int, None] = {}
        pend: list[str] = []
        for t in _tensors(value):
            entry = self.flow.get(id(t))
            if entry is not None:
                srcs.update(dict.fromkeys(entry[0]))
                pend.extend(entry[1])
            elif id(t) in self.stand_ins:
                pend.append(self.stand_ins[id(t)])
        return srcs, pend

    def produce(self, value: Any, srcs: Iterable[int], pend: Iterable[str] = ()) -> None:
        entry = (tuple(dict.fromkeys(srcs)), tuple(pend))
        for t in _tensors(value):
            if id(t) not in self.stand_ins:
                self.flow[id(t)] = entry
                self.alive.append(t)

    def node_name(self, fname: str) -> str:
        base = f"{self.stack[-1]}.{fname}" if self.stack and self.stack[-1] else fname
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    # ---------------------------------------------------------------- torch calls
    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        try:
            out = func(*args, **kwargs)
        except Exception as exc:
            _tag_module_path(exc, self.stack[-1] if self.stack else "<root>")
            raise
        if self.leaf_depth:
            return out
        op = ops.function_op(func)
        if op == "scatter" and out is None and args and isinstance(args[0], torch.Tensor):
            out = args[0]  # __setitem__ writes into its first argument
        if not _is_tensorish(out):
            return out
        srcs, pend = self.inputs((args, kwargs))
        first = args[0] if args else None
        if _is_passthrough(op, func, first, out):
            self.produce(out, srcs, pend)
        else:
            attrs = ops.function_attrs(func, args, kwargs)
            idx = self.builder.add(
                self.node_name(_short_name(func)), op, ops.function_name(func), attrs, pend, srcs, out
            )
            self.produce(out, {idx})
        return out

    # ---------------------------------------------------------------- module hooks
    def pre_hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.stack.append(self.paths.get(id(module), type(module).__name__))
        if self.tracer.is_leaf_module(module, ""):
            if self.leaf_depth == 0:
                self.calls.append(self.inputs((args, kwargs)))
            self.leaf_depth += 1

    def post_hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        path = self.stack.pop()
        if not self.tracer.is_leaf_module(module, ""):
            return
        self.leaf_depth -= 1
        if self.leaf_depth:
            return
        srcs, pend = self.calls.pop()
        op, attrs = ops.module_op(module)
        if op == ops.PASSTHROUGH:
            self.produce(output, srcs, pend)
            return
        params = [self.stand_ins[id(p)] for p in module.parameters() if id(p) in self.stand_ins]
        idx = self.builder.add(path, op, type(module).__name__, attrs, [*params, *pend], srcs, output)
        self.produce(output, {idx})


def _tag_module_path(exc: Exception, path: str) -> None:
    """Note on ``exc`` the module being run when it was raised (the innermost tag wins; some exceptions take none)."""
    if not hasattr(exc, "module_path"):
        try:
            exc.module_path = path  # type: ignore[attr-defined]  # an ad-hoc attribute read back by trace()
        except AttributeError:
            pass


def _short_name(func: Any) -> str:
    name = ops.function_name(func).rsplit(".", 1)[-1]
    return name.strip("_") or "op"


def _trace_autograd(root: nn.Module, args: tuple, kwargs: dict, builder: _Builder) -> None:
    with _MetaSwap(root) as swap:
        stand_ins = {
            id(meta): builder.param_names[id(orig)] for orig, meta in swap.pairs() if id(orig) in builder.param_names
        }
        recorder = _Recorder(root, builder, stand_ins)
        for i, t in enumerate(args):
            if isinstance(t, torch.Tensor):
                recorder.produce(
                    t, {builder.add(f"input_{i}" if len(args) > 1 else "input", "input", "input", {}, (), set(), t)}
                )
        for key, t in kwargs.items():
            if isinstance(t, torch.Tensor):
                recorder.produce(t, {builder.add(key, "input", "input", {}, (), set(), t)})
        handles = []
        try:
            for module in root.modules():
                handles.append(module.register_forward_pre_hook(recorder.pre_hook, with_kwargs=True))
                handles.append(module.register_forward_hook(recorder.post_hook, with_kwargs=True))
            with torch.device("meta"), recorder:
                out = root(*args, **kwargs)
        except Exception as exc:
            _tag_module_path(exc, recorder.stack[-1] if recorder.stack else "<root>")
            raise
        finally:
            for handle in handles:
                handle.remove()
        srcs, pend = recorder.inputs(out)
        builder.add("output", "output", "output", {}, pend, srcs, out)
        builder.output = out


# ================================================================================================================
# public entry point


@contextlib.contextmanager
def meta_init(include_buffers: bool = False) -> Iterator[None]:
    """Build modules with their parameters on the ``meta`` device (no memory, no initialisation cost).

    Unlike ``with torch.device("meta")`` the constructors' own Python code still runs on CPU tensors, so models
    that compute their widths with tensors (e.g. torchvision RegNets) can be built too::

        with meta_init():
            model = torchvision.models.regnet_y_128gf()
        graph = trace(model, input_shape=(1, 3, 224, 224))
    """
    original_param = nn.Module.register_parameter
    original_buffer = nn.Module.register_buffer

    def register_parameter(self: nn.Module, name: str, param: Any) -> None:
        if param is not None and not param.is_meta:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original_param(self, name, param)

    def register_buffer(self: nn.Module, name: str, tensor: Any, persistent: bool = True) -> None:
        if tensor is not None and include_buffers:
            tensor = tensor.to("meta")
        original_buffer(self, name, tensor, persistent=persistent)

    # patching the class for the with-block is the point of meta_init
    nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
    nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original_param  # type: ignore[method-assign]
        nn.Module.register_buffer = original_buffer  # type: ignore[method-assign]


_PATH_FUNCS: dict[str, Callable[[nn.Module, tuple, dict, _Builder], None]] = {
    "fx": _trace_fx,
    "export": _trace_export,
    "autograd": _trace_autograd,
}


def trace(
    module: nn.Module,
    input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
    example_inputs: Any = None,
    *,
    dtype: torch.dtype = torch.float32,
    name: str | None = None,
    paths: Sequence[str] = PATHS,
) -> ArchGraph:
    """Trace ``module`` into an :class:`ArchGraph` on meta tensors (no real forward pass, no activations).

    Args:
        module: the ``nn.Module`` (on any device, including ``meta``); it is left unchanged.
        input_shape: shape of the single input, e.g. ``(1, 3, 224, 224)``, or a list of shapes for several.
        example_inputs: instead of ``input_shape``: a tensor, tuple of tensors, or dict of keyword tensors
            (only their shapes and dtypes are used; e.g. ``{"input_ids": torch.zeros(1, 8, dtype=torch.long)}``).
        dtype: dtype of the inputs made from ``input_shape``.
        name: recorded as ``graph.meta["model"]`` (defaults to the class name).
        paths: trace paths to try, in order (subset of ``("fx", "export", "autograd")``).

    Returns:
        The graph; ``graph.meta["trace_path"]`` says which path worked and ``graph.meta["notes"]`` why earlier
        paths were skipped.

    Raises:
        InvalidInputError: ``module`` is not an ``nn.Module`` or the inputs are malformed.
        TraceError: no path could trace the module; the message names the module path that failed and what to try.
    """
    if not isinstance(module, nn.Module):
        raise InvalidInputError(
            f"trace expects a torch.nn.Module, got {type(module).__name__}; wrap plain functions in an nn.Module "
            f"whose forward calls them"
        )
    unknown = [p for p in paths if p not in _PATH_FUNCS and p not in PATHS]
    if unknown or not paths:
        raise InvalidInputError(f"unknown trace paths {unknown or paths}; choose from {PATHS}")
    args, kwargs, described = _make_inputs(input_shape, example_inputs, dtype)
    _check_materialised(module, described)
    start = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # fx graphs are large cyclic structures: collections during tracing cost more than they free
    try:
        return _run_paths(module, args, kwargs, described, name, paths, start)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_paths(
    module: nn.Module, args: tuple, kwargs: dict, described: Any, name: str | None, paths: Sequence[str], start: float
) -> ArchGraph:
    names, shapes = _param_tables(module)
    notes: list[str] = []
    failures: list[tuple[str, Exception]] = []
    shape_failure: _ShapeError | None = None
    eager: _Builder | Exception | None = None  # the autograd path, when it ran ahead of export
    for k, path in enumerate(paths):
        func = _PATH_FUNCS.get(path)
        if func is None or (shape_failure is not None and path != "autograd"):
            continue  # after fx could not propagate the shapes only the eager meta pass can tell us more
        if path == "export" and "autograd" in paths[k + 1 :] and eager is None:
            eager = _attempt(_trace_autograd, module, args, kwargs, _Builder(names, shapes))
            skip = _export_cannot_return(eager.output) if isinstance(eager, _Builder) else None
            if skip is not None:
                notes.append(f"export skipped: the model returns {skip}, which torch.export cannot return")
                continue
        if path == "autograd" and eager is not None:
            result = eager
        else:
            result = _attempt(func, module, args, kwargs, _Builder(names, shapes))
        if isinstance(result, GraphhyperError):
            raise result
        if isinstance(result, Exception):  # a path that cannot handle this module: try the next one
            if isinstance(result, _ShapeError):
                shape_failure = result
            failures.append((path, result))
            text = str(result).splitlines()[0][:200] if str(result) else ""
            notes.append(f"{path} failed: {type(result).__name__}: {text}")
            continue
        meta = {
            "trace_path": path,
            "model": name or type(module).__name__,
            "input_shape": described,
            "vocab_version": ops.VOCAB_VERSION,
            "notes": notes,
            "trace_seconds": round(time.perf_counter() - start, 4),
        }
        return result.finish(meta)
    if shape_failure is not None:
        raise _shape_error(module, described, shape_failure) from shape_failure.exc
    raise _trace_error(module, failures)


def _attempt(
    func: Callable[[nn.Module, tuple, dict, _Builder], None], module: nn.Module, args: tuple, kwargs: dict, b: _Builder
) -> _Builder | Exception:
    """Run one trace path into ``b``: ``b`` when it worked, else the exception it raised."""
    try:
        func(module, args, kwargs, b)
    except Exception as exc:
        return exc
    return b


def _export_cannot_return(output: Any) -> str | None:
    """The type name of a leaf of ``output`` that ``torch.export`` refuses to return (it flattens the output with
    ``torch.utils._pytree`` and accepts tensors, numbers, strings, ``None`` and script objects), else None.

    ``torch.export`` fails on such an output only after tracing the whole model (Hugging Face GPT-2 returns a
    ``DynamicCache``: one second thrown away), while the eager meta pass that ends the path list sees it in a
    tenth of that. With ``torch.export``'s own list unavailable nothing is skipped."""
    try:
        from torch._functorch._aot_autograd.utils import KNOWN_TYPES
        from torch._library.opaque_object import is_custom_class_obj
    except ImportError:
        return None
    known = tuple(KNOWN_TYPES)
    for leaf in pytree.tree_leaves(output):
        if not isinstance(leaf, known) and not is_custom_class_obj(leaf):
            return type(leaf).__qualname__
    return None


def _shape_error(module: nn.Module, described: Any, exc: _ShapeError) -> InvalidInputError:
    return InvalidInputError(
        f"could not propagate input shape {described} through {type(module).__name__}: module "
        f"'{exc.where or '<root>'}' ({exc.what}) failed with {exc}. Check input_shape / example_inputs "
        f"(channels, spatial size, dtype: integer token ids need example_inputs with dtype=torch.long)."
    )


def _trace_error(module: nn.Module, failures: list[tuple[str, Exception]]) -> TraceError:
    where = "<root>"
    for _, exc in failures:
        path = getattr(exc, "module_path", None)
        if path:
            where = path
            break
    tried = "; ".join(f"{p}: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}" for p, e in failures)
    return TraceError(
        f"could not trace {type(module).__name__} (failed in module '{where}'). Tried {tried}. "
        f"Try: check that input_shape / example_inputs fit the model (channels, sizes, integer token ids as "
        f"dtype=torch.long), make data-dependent control flow depend on shapes or module attributes only, register the "
        f"offending module as a leaf with graphhyper.arch.register_module_op(cls, op), or pass "
        f"paths=('autograd',) to record an eager meta-tensor forward pass."
    )


__all__ = ["trace", "meta_init", "PATHS"]
