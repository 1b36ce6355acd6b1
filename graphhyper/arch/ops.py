"""Op registry: modules and functions → a small, versioned vocabulary of primitive ops.

Every node of an :class:`~graphhyper.arch.ArchGraph` carries one word of :data:`VOCAB`. The registry maps

* ``nn.Module`` classes (looked up along the MRO, so subclasses inherit their parent's op; a class may also be
  registered by its name or dotted qualified name so optional libraries need not be imported), and
* callables: ``torch.nn.functional``, ``torch.*``, ``operator.*``, ``Tensor`` methods and ATen overloads
  (looked up by identity first, then by their canonical name, e.g. ``torch.add``, ``operator.add``,
  ``Tensor.add_`` and ``aten.add.Tensor`` are all ``"add"``).

Anything the registry does not know becomes ``"unknown"`` (the original name is kept on the node and listed by
:meth:`ArchGraph.unknown_ops`); nothing crashes. Users extend it with :func:`register_module_op` and
:func:`register_function_op`.

:data:`VOCAB` is append-only; :data:`VOCAB_VERSION` is bumped whenever a word is added so that stored op ids
(collections, GHN checkpoints) can be checked against the vocabulary that made them.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import torch
from torch import nn

from graphhyper.errors import UnknownOpError

VOCAB_VERSION = 1

#: Primitive op vocabulary (append-only; the position is the op id).
VOCAB: tuple[str, ...] = (
    "unknown",
    "input",
    "output",
    "constant",
    # parametric layers
    "conv",
    "conv_transpose",
    "linear",
    "bilinear",
    "embedding",
    "attention",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "rms_norm",
    "local_response_norm",
    # activations
    "relu",
    "relu6",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "hard_tanh",
    "hard_swish",
    "softplus",
    "softsign",
    "softmax",
    "log_softmax",
    "glu",
    "threshold",
    # pooling / resampling
    "max_pool",
    "avg_pool",
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "lp_pool",
    "upsample",
    "pad",
    "pixel_shuffle",
    "channel_shuffle",
    # regularisation
    "dropout",
    # arithmetic
    "add",
    "sub",
    "mul",
    "div",
    "matmul",
    "pow",
    "sqrt",
    "rsqrt",
    "exp",
    "log",
    "neg",
    "abs",
    "clamp",
    "sin",
    "cos",
    "erf",
    "reciprocal",
    "floor",
    "round",
    "fmod",
    # reductions
    "mean",
    "sum",
    "max",
    "min",
    "var",
    "std",
    "norm",
    "cumsum",
    "argmax",
    "any",
    "all",
    # comparison / masking
    "compare",
    "logical",
    "where",
    "masked_fill",
    "triu",
    "tril",
    # shape / layout
    "concat",
    "stack",
    "split",
    "flatten",
    "reshape",
    "permute",
    "transpose",
    "index",
    "expand",
    "repeat",
    "squeeze",
    "unsqueeze",
    "roll",
    "gather",
    "scatter",
    "flip",
    "cast",
)
_INDEX = {op: i for i, op in enumerate(VOCAB)}

#: Ops that are removed from graphs: they only rename or re-wrap a value (their inputs connect to their users).
PASSTHROUGH = "passthrough"


def op_index(op: str) -> int:
    """Integer id of ``op`` in :data:`VOCAB`.

    Raises:
        UnknownOpError: ``op`` is not a word of the vocabulary.
    """
    try:
        return _INDEX[op]
    except KeyError:
        raise UnknownOpError(
            f"'{op}' is not in the op vocabulary (version {VOCAB_VERSION}). Use one of graphhyper.arch.ops.VOCAB, "
            f"or 'unknown' for an op without a primitive equivalent."
        ) from None


def _check_op(op: str) -> str:
    if op != PASSTHROUGH:
        op_index(op)
    return op


# ----------------------------------------------------------------------------------------------------------------
# attribute extraction (ints and tuples of ints only)

_ATTR_NAMES = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "output_padding",
    "in_features",
    "out_features",
    "in1_features",
    "in2_features",
    "num_features",
    "normalized_shape",
    "num_groups",
    "num_channels",
    "num_embeddings",
    "embedding_dim",
    "padding_idx",
    "embed_dim",
    "num_heads",
    "kdim",
    "vdim",
    "output_size",
    "upscale_factor",
    "downscale_factor",
    "dim",
    "start_dim",
    "end_dim",
    "size",
    "num_parameters",
    "norm_type",
)


def _as_int_attr(value: Any) -> int | tuple[int, ...] | None:
    """Ints (and tuples of ints) pass; ``None`` inside a tuple becomes -1; anything else is dropped."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return int(value)
    if isinstance(value, (tuple, list, torch.Size)) and value:
        items = [-1 if v is None else _as_int_attr(v) for v in value]
        ints = [v for v in items if isinstance(v, int)]
        if len(ints) == len(items):
            return tuple(ints)
    return None


_ATTR_CACHE: dict[type, tuple[str, ...]] = {}


def module_attrs(module: nn.Module) -> dict[str, int | tuple[int, ...]]:
    """Integer hyper-parameters of ``module`` (kernel size, stride, channels, ...).

    Which attribute names a class has is computed once per class and cached.
    """
    cls = type(module)
    names = _ATTR_CACHE.get(cls)
    if names is None:
        names = tuple(n for n in _ATTR_NAMES if hasattr(module, n))
        _ATTR_CACHE[cls] = names
    attrs = {}
    for name in names:
        value = _as_int_attr(getattr(module, name, None))
        if value is not None:
            attrs[name] = value
    return attrs


# ----------------------------------------------------------------------------------------------------------------
# module registry

AttrsFn = Callable[[nn.Module], dict]

_MODULE_OPS: dict[Any, tuple[str, AttrsFn | None]] = {}
_MODULE_LOOKUP_CACHE: dict[type, tuple[str, AttrsFn | None] | None] = {}


def register_module_op(cls: type | str, op: str, attrs_fn: AttrsFn | None = None) -> None:
    """Map a module class (and its subclasses) to a primitive op.

    Args:
        cls: an ``nn.Module`` subclass, or its name (``"Conv1D"``) / dotted qualified name
            (``"transformers.pytorch_utils.Conv1D"``) so that the library need not be imported.
        op: a word of :data:`VOCAB` (or ``"passthrough"`` to drop the module from graphs).
        attrs_fn: ``module -> dict`` of integer attributes; defaults to :func:`module_attrs`.

    A registered module is traced as one node (a leaf) that owns all of its parameters.
    """
    if not isinstance(cls, (type, str)):
        raise TypeError(f"register_module_op expects a class or a class name, got {type(cls).__name__}")
    _MODULE_OPS[cls] = (_check_op(op), attrs_fn)
    _MODULE_LOOKUP_CACHE.clear()


def lookup_module(cls: type) -> tuple[str, AttrsFn | None] | None:
    """The registered ``(op, attrs_fn)`` of ``cls`` or its nearest registered base class; ``None`` if none."""
    if cls in _MODULE_LOOKUP_CACHE:
        return _MODULE_LOOKUP_CACHE[cls]
    found = None
    for base in cls.__mro__:
        if base is nn.Module:
            break
        for key in (base, f"{base.__module__}.{base.__qualname__}", base.__qualname__, base.__name__):
            if key in _MODULE_OPS:
                found = _MODULE_OPS[key]
                break
        if found is not None:
            break
    _MODULE_LOOKUP_CACHE[cls] = found
    return found


def module_op(module: nn.Module) -> tuple[str, dict]:
    """``(op, attrs)`` of a module instance; ``("unknown", {})``-style fallback for unregistered classes."""
    entry = lookup_module(type(module))
    if entry is None:
        return "unknown", module_attrs(module)
    op, fn = entry
    return op, (fn(module) if fn is not None else module_attrs(module))


# ----------------------------------------------------------------------------------------------------------------
# function registry

_FUNC_BY_OBJ: dict[Any, str] = {}
_FUNC_BY_NAME: dict[str, str] = {}


def register_function_op(fn: Callable | str, op: str) -> None:
    """Map a function (``torch.*``, ``F.*``, ``operator.*``, a Tensor method, an ATen op, or your own) to an op.

    Args:
        fn: the callable itself, or a name: a method / function name such as ``"addmm"`` applies to every
            function, Tensor method and ATen op of that name.
        op: a word of :data:`VOCAB`, or ``"passthrough"`` for value-preserving wrappers.
    """
    _check_op(op)
    if isinstance(fn, str):
        _FUNC_BY_NAME[_canonical(fn)] = op
    else:
        _FUNC_BY_OBJ[fn] = op


def _canonical(name: str) -> str:
    name = name.rsplit(".", 1)[-1]
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name[:1] in ("i", "r") and name[1:] in _FUNC_BY_NAME:
            name = name[1:]
    elif name.endswith("_") and not name.startswith("_"):
        name = name[:-1]
    return name.lstrip("_")


def function_name(target: Any) -> str:
    """A readable name for an fx / export call target (``"torch.flatten"``, ``"Tensor.view"``, ``"aten.add"``)."""
    if isinstance(target, str):
        return f"Tensor.{target}"
    if isinstance(target, torch._ops.OpOverload):
        return f"aten.{target.overloadpacket.__name__}"
    if isinstance(target, torch._ops.OpOverloadPacket):
        return f"aten.{target.__name__}"
    name = getattr(target, "__name__", None) or repr(target)
    if name == "__get__" and hasattr(target, "__self__"):  # a Tensor property such as .T
        return f"Tensor.{getattr(target.__self__, '__name__', 'property')}"
    if getattr(target, "__objclass__", None) in (torch.Tensor, torch._C.TensorBase):
        return f"Tensor.{name}"
    mod = getattr(target, "__module__", None) or ""
    if mod == "torch._tensor":
        mod = "Tensor"
    elif mod.startswith("torch._C") or mod == "torch.functional":
        mod = "torch"
    elif mod == "_operator":
        mod = "operator"
    return f"{mod}.{name}" if mod else name


def function_op(target: Any) -> str:
    """The op of an fx ``call_function`` / ``call_method`` target or an ATen overload; ``"unknown"`` if none."""
    try:
        op = _FUNC_BY_OBJ.get(target)
    except TypeError:  # unhashable target
        op = None
    if op is not None:
        return op
    if isinstance(target, str):
        raw = target
    elif isinstance(target, torch._ops.OpOverload):
        raw = target.overloadpacket.__name__
    else:
        raw = getattr(target, "__name__", "")
        if raw == "__get__" and hasattr(target, "__self__"):
            raw = getattr(target.__self__, "__name__", raw)
    return _FUNC_BY_NAME.get(_canonical(raw), "unknown")


_POOL_ARGS = ("kernel_size", "stride", "padding")
_POOL_OPS = ("max_pool", "avg_pool", "lp_pool")


def function_attrs(target: Any, args: Any, kwargs: Any) -> dict[str, int | tuple[int, ...]]:
    """Integer hyper-parameters of a pooling call (``F.max_pool2d(x, 3, 2)``: kernel size, stride, padding,
    dilation), as a pooling module's attrs would hold them; ``{}`` for every other function.

    Pooling functions take ``(input, kernel_size, stride, padding, ...)`` positionally (``torch.nn.functional``,
    their ATen overloads alike), so positions are enough and no signature lookup is needed.
    """
    op = function_op(target)
    if op not in _POOL_OPS:
        return {}
    start = 2 if op == "lp_pool" else 1  # lp_pool*d(input, norm_type, kernel_size, stride)
    named = dict(zip(_POOL_ARGS, tuple(args)[start:])) if isinstance(args, (tuple, list)) else {}
    if isinstance(kwargs, dict):
        named.update({k: v for k, v in kwargs.items() if k in (*_POOL_ARGS, "dilation")})
    attrs = {}
    for name, value in named.items():
        value = _as_int_attr(value)
        if value is not None:
            attrs[name] = value
    return attrs


# ----------------------------------------------------------------------------------------------------------------
# built-in tables


def _register_builtin_modules() -> None:
    table = {
        "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.LazyConv1d, nn.LazyConv2d, nn.LazyConv3d),
        "conv_transpose": (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d),
        "linear": (nn.Linear, nn.LazyLinear, "Conv1D", "NonDynamicallyQuantizableLinear"),
        "bilinear": (nn.Bilinear,),
        "embedding": (nn.Embedding, nn.EmbeddingBag),
        "attention": (nn.MultiheadAttention,),
        "batch_norm": (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.LazyBatchNorm2d),
        "layer_norm": (nn.LayerNorm,),
        "group_norm": (nn.GroupNorm,),
        "instance_norm": (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d),
        "rms_norm": (
            getattr(nn, "RMSNorm", "RMSNorm"),
            "LlamaRMSNorm",
            "T5LayerNorm",
            "MistralRMSNorm",
            "Qwen2RMSNorm",
            "GemmaRMSNorm",
        ),
        "local_response_norm": (nn.LocalResponseNorm, nn.CrossMapLRN2d),
        "relu": (nn.ReLU,),
        "relu6": (nn.ReLU6,),
        "leaky_relu": (nn.LeakyReLU, nn.RReLU),
        "prelu": (nn.PReLU,),
        "elu": (nn.ELU,),
        "selu": (nn.SELU,),
        "celu": (nn.CELU,),
        "gelu": (nn.GELU, "GELUActivation", "NewGELUActivation", "GELUTanh"),
        "silu": (nn.SiLU, "SiLUActivation"),
        "mish": (nn.Mish,),
        "sigmoid": (nn.Sigmoid,),
        "hard_sigmoid": (nn.Hardsigmoid,),
        "tanh": (nn.Tanh,),
        "hard_tanh": (nn.Hardtanh,),
        "hard_swish": (nn.Hardswish,),
        "softplus": (nn.Softplus,),
        "softsign": (nn.Softsign,),
        "softmax": (nn.Softmax, nn.Softmax2d, nn.Softmin),
        "log_softmax": (nn.LogSoftmax,),
        "glu": (nn.GLU,),
        "threshold": (nn.Threshold, nn.Hardshrink, nn.Softshrink, nn.Tanhshrink),
        "max_pool": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d),
        "avg_pool": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d),
        "adaptive_avg_pool": (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d),
        "adaptive_max_pool": (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d),
        "lp_pool": (nn.LPPool1d, nn.LPPool2d),
        "upsample": (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d),
        "pad": (
            nn.ZeroPad2d,
            nn.ConstantPad1d,
            nn.ConstantPad2d,
            nn.ConstantPad3d,
            nn.ReflectionPad1d,
            nn.ReflectionPad2d,
            nn.ReplicationPad1d,
            nn.ReplicationPad2d,
        ),
        "pixel_shuffle": (nn.PixelShuffle, nn.PixelUnshuffle),
        "channel_shuffle": (nn.ChannelShuffle,),
        "dropout": (
            nn.Dropout,
            nn.Dropout1d,
            nn.Dropout2d,
            nn.Dropout3d,
            nn.AlphaDropout,
            nn.FeatureAlphaDropout,
            "StochasticDepth",
        ),
        "flatten": (nn.Flatten,),
        "reshape": (nn.Unflatten,),
        PASSTHROUGH: (nn.Identity,),
    }
    for op, classes in table.items():
        for cls in classes:
            register_module_op(cls, op)
    register_module_op("Conv1D", "linear", _conv1d_attrs)


def _conv1d_attrs(m: Any) -> dict[str, Any]:
    """transformers' Conv1D is a linear layer whose weight is stored transposed: ``[in_features, out_features]``."""
    return {"in_features": int(m.weight.shape[0]), "out_features": int(m.weight.shape[1])}


def _register_builtin_functions() -> None:
    names = {
        "conv": "conv1d conv2d conv3d convolution _convolution conv_tbc",
        "conv_transpose": "conv_transpose1d conv_transpose2d conv_transpose3d",
        "linear": "linear addmm baddbmm",
        "bilinear": "bilinear",
        "embedding": "embedding embedding_bag",
        "attention": "scaled_dot_product_attention multi_head_attention_forward _scaled_dot_product_attention_math "
        "shifted_window_attention",
        "batch_norm": "batch_norm native_batch_norm _native_batch_norm_legit_no_training",
        "layer_norm": "layer_norm native_layer_norm",
        "group_norm": "group_norm native_group_norm",
        "instance_norm": "instance_norm",
        "rms_norm": "rms_norm",
        "local_response_norm": "local_response_norm",
        "relu": "relu",
        "relu6": "relu6",
        "leaky_relu": "leaky_relu rrelu",
        "prelu": "prelu _prelu_kernel",
        "elu": "elu",
        "selu": "selu",
        "celu": "celu",
        "gelu": "gelu",
        "silu": "silu",
        "mish": "mish",
        "sigmoid": "sigmoid",
        "hard_sigmoid": "hardsigmoid",
        "tanh": "tanh",
        "hard_tanh": "hardtanh",
        "hard_swish": "hardswish",
        "softplus": "softplus",
        "softsign": "softsign",
        "softmax": "softmax softmin",
        "log_softmax": "log_softmax",
        "glu": "glu",
        "threshold": "threshold hardshrink softshrink tanhshrink",
        "max_pool": "max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices "
        "max_pool3d_with_indices",
        "avg_pool": "avg_pool1d avg_pool2d avg_pool3d",
        "adaptive_avg_pool": "adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d",
        "adaptive_max_pool": "adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d",
        "lp_pool": "lp_pool1d lp_pool2d",
        "upsample": "interpolate upsample upsample_nearest upsample_bilinear upsample_nearest2d "
        "upsample_bilinear2d grid_sample",
        "pad": "pad constant_pad_nd _patch_merging_pad",
        "pixel_shuffle": "pixel_shuffle pixel_unshuffle",
        "channel_shuffle": "channel_shuffle native_channel_shuffle",
        "dropout": "dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout stochastic_depth",
        "add": "add radd iadd add_ addcmul addcdiv",
        "sub": "sub rsub isub subtract",
        "mul": "mul imul multiply",
        "div": "div truediv floordiv rtruediv itruediv floor_divide true_divide divide",
        "matmul": "matmul bmm mm einsum rmatmul baddbmm_ outer dot",
        "pow": "pow rpow square",
        "sqrt": "sqrt",
        "rsqrt": "rsqrt",
        "exp": "exp",
        "log": "log log1p log2",
        "neg": "neg negative",
        "abs": "abs",
        "clamp": "clamp clip clamp_min clamp_max",
        "sin": "sin",
        "cos": "cos",
        "erf": "erf",
        "reciprocal": "reciprocal",
        "floor": "floor ceil trunc",
        "round": "round",
        "fmod": "fmod remainder mod",
        "mean": "mean",
        "sum": "sum",
        "max": "max amax maximum",
        "min": "min amin minimum",
        "var": "var",
        "std": "std",
        "norm": "norm normalize vector_norm linalg_vector_norm",
        "cumsum": "cumsum cumprod",
        "argmax": "argmax argmin topk sort argsort",
        "any": "any",
        "all": "all",
        "compare": "eq ne lt le gt ge isin isnan isinf",
        "logical": "and_ or_ xor invert not_ logical_and logical_or logical_not bitwise_and bitwise_or bitwise_not",
        "where": "where",
        "masked_fill": "masked_fill masked_fill_",
        "triu": "triu",
        "tril": "tril",
        "concat": "cat concat concatenate",
        "stack": "stack",
        "split": "split chunk unbind tensor_split unfold",
        "flatten": "flatten ravel",
        "reshape": "reshape view unflatten view_as reshape_as _unsafe_view",
        "permute": "permute movedim",
        "transpose": "transpose t swapaxes T mT H mH",
        "index": "getitem select slice index narrow index_select masked_select take_along_dim "
        "_get_relative_position_bias",
        "expand": "expand expand_as broadcast_to",
        "repeat": "repeat repeat_interleave tile",
        "squeeze": "squeeze",
        "unsqueeze": "unsqueeze",
        "roll": "roll",
        "gather": "gather",
        "scatter": "scatter scatter_add index_put index_add setitem masked_scatter",
        "flip": "flip",
        "cast": "to type float half double bfloat16 int long bool type_as",
        "constant": "arange zeros ones full empty tensor rand randn zeros_like ones_like full_like empty_like "
        "new_zeros new_ones new_full new_empty new_tensor linspace eye scalar_tensor",
        PASSTHROUGH: "contiguous clone detach identity alias lift_fresh_copy _assert_tensor_metadata data",
    }
    for op, words in names.items():
        for word in words.split():
            _FUNC_BY_NAME[_canonical(word)] = op
    for fn in (operator.add, operator.iadd):
        _FUNC_BY_OBJ[fn] = "add"
    _FUNC_BY_OBJ[operator.matmul] = "matmul"
    _FUNC_BY_OBJ[operator.getitem] = "index"  # on tensors; on tuples the tracer makes it a passthrough
    _FUNC_BY_OBJ[operator.setitem] = "scatter"
    _FUNC_BY_OBJ[operator.neg] = "neg"


_register_builtin_modules()
_register_builtin_functions()

__all__ = [
    "VOCAB",
    "VOCAB_VERSION",
    "PASSTHROUGH",
    "op_index",
    "register_module_op",
    "register_function_op",
    "lookup_module",
    "module_op",
    "module_attrs",
    "function_op",
    "function_name",
    "function_attrs",
]
