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
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
from torch import fx, nn

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


def _shape_tuple(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"input_shape must be a tuple of positive ints such as (1, 3, 32, 32), got {shape!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise InvalidInputError(f"input_shape must be a non-empty tuple of positive ints, got {shape!r}")
    return dims


def _make_inputs(input_shape: Any, example_inputs: Any, dtype: torch.dtype) -> tuple[tuple, dict, Any]:
    """Meta ``(args, kwargs, described_shape)`` from ``input_shape`` or ``example_inputs``."""
    if (input_shape is None) == (example_inputs is None):
        raise InvalidInputError(
            "trace needs exactly one of input_shape=(1, 3, 32, 32) or example_inputs=(tensor, ...) / {name: tensor}")
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
            f"got {type(example_inputs).__name__}")
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

    def __enter__(self) -> _MetaSwap:
        stand_ins: dict[int, torch.Tensor] = {}
        for module in self.root.modules():
            self.modes.append((module, module.training))
            module.training = False
            for store in (module._parameters, module._buffers):
                for key, tensor in store.items():
                    if tensor is None or tensor.is_meta:
                        continue
                    meta = stand_ins.get(id(tensor))
                    if meta is None:
                        meta = torch.empty(tensor.shape, dtype=tensor.dtype, device="meta")
                        stand_ins[id(tensor)] = meta
                    self.saved.append((store, key, tensor))
                    store[key] = meta
        return self

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
    preds: list[set[int]] = field(default_factory=list)
    owned: set[str] = field(default_factory=set)
    name_count: dict[str, int] = field(default_factory=dict)

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

    def add(self, name: str, op: str, target: str, attrs: dict, params: Iterable[str], preds: set[int],
            value: Any) -> int:
        self.nodes.append(Node(self.unique(name), op, target, attrs, self.claim(params), _first_shape(value)))
        self.preds.append(set(preds))
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
        graph = ArchGraph([self.nodes[i] for i in keep], edges, dict(self.param_shapes), meta)
        unmapped = graph.unmapped_parameters()
        if unmapped:
            graph.meta["unmapped_reason"] = (
                f"{len(unmapped)} parameter(s) are not used by the traced forward pass for these inputs "
                f"(unused layers, or a branch not taken), e.g. {unmapped[0]}")
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


def _fx_run(root: nn.Module, graph: fx.Graph, args: tuple, kwargs: dict) -> dict[fx.Node, Any]:
    """Evaluate ``graph`` on meta tensors; returns node → value."""
    env: dict[fx.Node, Any] = {}
    positional = list(args)

    def load(a: Any) -> Any:
        return fx.node.map_arg(a, lambda n: env[n])

    for node in graph.nodes:
        try:
            if node.op == "placeholder":
                if node.target in kwargs:
                    env[node] = kwargs[node.target]
                elif positional:
                    env[node] = positional.pop(0)
                else:
                    env[node] = node.args[0] if node.args else None
            elif node.op == "get_attr":
                obj = root
                for part in node.target.split("."):
                    obj = getattr(obj, part)
                env[node] = obj
            elif node.op == "call_function":
                env[node] = node.target(*load(node.args), **load(node.kwargs))
            elif node.op == "call_method":
                self_obj, *rest = load(node.args)
                env[node] = getattr(self_obj, node.target)(*rest, **load(node.kwargs))
            elif node.op == "call_module":
                env[node] = root.get_submodule(node.target)(*load(node.args), **load(node.kwargs))
            elif node.op == "output":
                env[node] = load(node.args[0])
        except GraphhyperError:
            raise
        except Exception as exc:
            where = node.target if node.op == "call_module" else (_module_path(node) or "<root>")
            raise _ShapeError(where, ops.function_name(node.target) if node.op != "call_module"
                              else type(root.get_submodule(node.target)).__name__, exc) from exc
    return env


class _ShapeError(Exception):
    def __init__(self, where: str, what: str, exc: Exception) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.where, self.what, self.exc = where, what, exc


def _fx_build(root: nn.Module, graph: fx.Graph, env: dict, builder: _Builder) -> None:
    src: dict[fx.Node, set[int]] = {}
    pend: dict[fx.Node, set[str]] = {}
    modules = dict(root.named_modules(remove_duplicate=False))
    for node in graph.nodes:
        inputs = node.all_input_nodes
        in_src = set().union(*(src[i] for i in inputs)) if inputs else set()
        in_pend = set().union(*(pend[i] for i in inputs)) if inputs else set()
        value = env.get(node)
        src[node], pend[node] = set(), in_pend
        if node.op == "placeholder":
            if _is_tensorish(value):
                src[node] = {builder.add(node.name, "input", "input", {}, (), set(), value)}
        elif node.op == "get_attr":
            obj = value
            pend[node] = {builder.param_names[id(obj)]} if id(obj) in builder.param_names else set()
        elif node.op == "output":
            builder.add("output", "output", "output", {}, in_pend, in_src, value)
        elif node.op == "call_module":
            module = modules[node.target]
            op, attrs = ops.module_op(module)
            if op == ops.PASSTHROUGH:
                src[node] = in_src
                continue
            params = [builder.param_names[id(p)] for p in module.parameters() if id(p) in builder.param_names]
            src[node] = {builder.add(node.target, op, type(module).__name__, attrs, [*params, *sorted(in_pend)],
                                     in_src, value)}
            pend[node] = set()
        else:  # call_function / call_method
            if not _is_tensorish(value):
                continue
            op = ops.function_op(node.target)
            first = env.get(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
            if _is_passthrough(op, node.target, first, value):
                src[node] = in_src
                continue
            src[node] = {builder.add(node.name, op, ops.function_name(node.target), {}, sorted(in_pend), in_src,
                                     value)}
            pend[node] = set()


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
    with _MetaSwap(root), torch.device("meta"):
        env = _fx_run(root, graph, args, kwargs)
    _fx_build(root, graph, env, builder)


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

    nn.Module.register_parameter = register_parameter
    nn.Module.register_buffer = register_buffer
    try:
        yield
    finally:
        nn.Module.register_parameter = original_param
        nn.Module.register_buffer = original_buffer


_PATH_FUNCS: dict[str, Callable[[nn.Module, tuple, dict, _Builder], None]] = {"fx": _trace_fx}


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
            f"whose forward calls them")
    unknown = [p for p in paths if p not in _PATH_FUNCS and p not in PATHS]
    if unknown or not paths:
        raise InvalidInputError(f"unknown trace paths {unknown or paths}; choose from {PATHS}")
    args, kwargs, described = _make_inputs(input_shape, example_inputs, dtype)
    names, shapes = _param_tables(module)
    notes: list[str] = []
    failures: list[tuple[str, Exception]] = []
    start = time.perf_counter()
    for path in paths:
        func = _PATH_FUNCS.get(path)
        if func is None:
            continue
        builder = _Builder(names, shapes)
        try:
            func(module, args, kwargs, builder)
        except _ShapeError as exc:
            raise _shape_error(module, described, exc) from exc.exc
        except GraphhyperError:
            raise
        except Exception as exc:  # a path that cannot handle this module: try the next one
            failures.append((path, exc))
            notes.append(f"{path} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
            continue
        meta = {"trace_path": path, "model": name or type(module).__name__, "input_shape": described,
                "vocab_version": ops.VOCAB_VERSION, "notes": notes,
                "trace_seconds": round(time.perf_counter() - start, 4)}
        return builder.finish(meta)
    raise _trace_error(module, failures)


def _shape_error(module: nn.Module, described: Any, exc: _ShapeError) -> InvalidInputError:
    return InvalidInputError(
        f"could not propagate input shape {described} through {type(module).__name__}: module "
        f"'{exc.where or '<root>'}' ({exc.what}) failed with {exc}. Check input_shape / example_inputs "
        f"(channels, spatial size, dtype: integer token ids need example_inputs with dtype=torch.long).")


def _trace_error(module: nn.Module, failures: list[tuple[str, Exception]]) -> TraceError:
    where = "<root>"
    for _, exc in failures:
        path = getattr(exc, "module_path", None)
        if path:
            where = path
            break
    tried = "; ".join(f"{p}: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                      for p, e in failures)
    return TraceError(
        f"could not trace {type(module).__name__} (failed in module '{where}'). Tried {tried}. "
        f"Try: make data-dependent control flow depend on shapes or module attributes only, register the "
        f"offending module as a leaf with graphhyper.arch.register_module_op(cls, op), or pass "
        f"paths=('autograd',) to record an eager meta-tensor forward pass.")


__all__ = ["trace", "meta_init", "PATHS"]
