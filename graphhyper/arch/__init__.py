"""Architectures as graphs: trace an ``nn.Module`` into an :class:`ArchGraph` of primitive ops.

>>> import torchvision
>>> from graphhyper.arch import trace
>>> g = trace(torchvision.models.resnet18(), input_shape=(1, 3, 224, 224))
>>> g.unknown_ops(), g.unmapped_parameters()
([], [])
"""

from graphhyper.arch import ops
from graphhyper.arch.graph import ArchGraph, Node, batch_graphs, dedup
from graphhyper.arch.ops import register_function_op, register_module_op
from graphhyper.arch.trace import meta_init, trace

__all__ = [
    "trace",
    "ArchGraph",
    "Node",
    "batch_graphs",
    "dedup",
    "ops",
    "register_module_op",
    "register_function_op",
    "meta_init",
]
