"""Op registry: vocabulary, module / function lookup, user registration."""

from __future__ import annotations

import operator

import pytest
import torch
from torch import nn

from graphhyper.arch import ops, register_function_op, register_module_op
from graphhyper.errors import UnknownOpError


def test_vocab_is_versioned_and_indexable():
    assert ops.VOCAB_VERSION >= 1
    assert len(set(ops.VOCAB)) == len(ops.VOCAB)
    assert ops.VOCAB[0] == "unknown"
    for i, op in enumerate(ops.VOCAB):
        assert ops.op_index(op) == i
    with pytest.raises(UnknownOpError, match="not in the op vocabulary"):
        ops.op_index("sep_conv_9x9")


@pytest.mark.parametrize(
    "target, op",
    [
        (torch.add, "add"),
        (operator.add, "add"),
        ("add_", "add"),
        ("__iadd__", "add"),
        ("__radd__", "add"),
        (torch.ops.aten.add.Tensor, "add"),
        (torch.nn.functional.conv2d, "conv"),
        (torch.cat, "concat"),
        (torch.nn.functional.scaled_dot_product_attention, "attention"),
        ("view", "reshape"),
        (torch.flatten, "flatten"),
        (operator.mul, "mul"),
        (torch.nn.functional.gelu, "gelu"),
        (torch.ops.aten.convolution.default, "conv"),
        ("permute", "permute"),
        ("contiguous", ops.PASSTHROUGH),
    ],
)
def test_function_lookup(target, op):
    assert ops.function_op(target) == op


def test_unknown_function_is_unknown_not_error():
    assert ops.function_op(torch.special.erfcx) == "unknown"
    assert ops.function_name(torch.special.erfcx).endswith("erfcx")


def test_module_lookup_follows_mro_and_names():
    class MyConv(nn.Conv2d):
        pass

    op, attrs = ops.module_op(MyConv(3, 8, 3, stride=2, groups=1))
    assert op == "conv"
    assert attrs["kernel_size"] == (3, 3) and attrs["stride"] == (2, 2) and attrs["out_channels"] == 8
    assert all(isinstance(v, (int, tuple)) for v in attrs.values())

    class Mystery(nn.Module):
        pass

    assert ops.module_op(Mystery())[0] == "unknown"


def test_register_module_and_function_ops():
    class Fancy(nn.Module):
        def __init__(self):
            super().__init__()
            self.width = 7

    def fancy_fn(x):
        return x

    register_module_op(Fancy, "linear", lambda m: {"out_features": m.width})
    register_function_op(fancy_fn, "relu")
    try:
        assert ops.module_op(Fancy()) == ("linear", {"out_features": 7})
        assert ops.function_op(fancy_fn) == "relu"
        with pytest.raises(UnknownOpError):
            register_module_op(Fancy, "frobnicate")
    finally:
        ops._MODULE_OPS.pop(Fancy, None)
        ops._MODULE_LOOKUP_CACHE.clear()
        ops._FUNC_BY_OBJ.pop(fancy_fn, None)
    assert ops.module_op(Fancy())[0] == "unknown"


def test_register_by_name_string():
    class ZzzNorm(nn.Module):
        pass

    register_module_op("ZzzNorm", "rms_norm")
    try:
        assert ops.module_op(ZzzNorm())[0] == "rms_norm"
    finally:
        ops._MODULE_OPS.pop("ZzzNorm", None)
        ops._MODULE_LOOKUP_CACHE.clear()
