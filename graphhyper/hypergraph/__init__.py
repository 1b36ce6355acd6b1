"""Hypergraphs: the :class:`Hypergraph` structure, aggregation ops and kernels, layers (``nn``) and models.

>>> from graphhyper.hypergraph import Hypergraph, ops
>>> hg = Hypergraph(4, [[0, 1, 2], [2, 3]])
>>> ops.v2e(torch.ones(4, 8), hg).shape  # doctest: +SKIP
torch.Size([2, 8])
"""

from __future__ import annotations

import importlib

from graphhyper.hypergraph import ops
from graphhyper.hypergraph.directed import DirectedHypergraph
from graphhyper.hypergraph.generators import hsbm, random_hypergraph
from graphhyper.hypergraph.structure import Hypergraph

_LAZY = ("nn", "models", "distill", "kernels", "convert", "transforms", "hif", "sampling", "minibatch")


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f"graphhyper.hypergraph.{name}")
    raise AttributeError(f"module 'graphhyper.hypergraph' has no attribute {name!r}")


__all__ = ["Hypergraph", "DirectedHypergraph", "ops", "hsbm", "random_hypergraph", *_LAZY]
