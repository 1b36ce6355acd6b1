"""graphhyper: neural architectures and hypergraphs, both as graphs.

Subpackages are imported on first use (``graphhyper.arch``, ``graphhyper.ghn``,
``graphhyper.hypergraph``, ``graphhyper.data``, ``graphhyper.search``) so that
``import graphhyper`` stays fast and does not pull in optional dependencies.
"""

from __future__ import annotations

import importlib

from graphhyper._version import __version__
from graphhyper.errors import GraphhyperError

_SUBPACKAGES = ("arch", "ghn", "hypergraph", "data", "search", "errors")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"graphhyper.{name}")
    raise AttributeError(f"module 'graphhyper' has no attribute {name!r}")


__all__ = ["__version__", "GraphhyperError", *_SUBPACKAGES]
