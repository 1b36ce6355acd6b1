"""Exception types raised by graphhyper.

Every user-facing error is a :class:`GraphhyperError` (or a subclass) whose message says
what was wrong *and* what to do about it. Subclasses also derive from the closest builtin
exception (``ValueError``, ``ImportError``, ...) so generic ``except`` clauses keep working.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class GraphhyperError(Exception):
    """Base class of every error graphhyper raises on purpose."""


class TraceError(GraphhyperError, RuntimeError):
    """An ``nn.Module`` could not be turned into an :class:`~graphhyper.arch.ArchGraph`."""


class UnknownOpError(GraphhyperError, KeyError):
    """An operation name is not in the op registry (and no fallback was allowed)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class InvalidHypergraphError(GraphhyperError, ValueError):
    """Incidences, weights or features do not describe a valid hypergraph."""


class InvalidInputError(GraphhyperError, ValueError):
    """A tensor or argument given to a public function has the wrong shape, dtype or value."""


class DatasetError(GraphhyperError, OSError):
    """A dataset is unknown, missing, truncated or malformed."""


class ChecksumError(DatasetError):
    """A file's sha256 does not match its dataset card."""


class UnsafePickleError(GraphhyperError):
    """A pickle references a class outside the allow-list; nothing from it was executed."""


class CheckpointError(GraphhyperError, ValueError):
    """A checkpoint is corrupt, truncated, or does not match its configuration."""


class SearchError(GraphhyperError, ValueError):
    """A search space, objective or study is misconfigured."""


class MissingDependencyError(GraphhyperError, ImportError):
    """An optional dependency needed by the called function is not installed."""


def require(module: str, extra: str | None = None, purpose: str = "") -> ModuleType:
    """Import an optional dependency lazily, or raise :class:`MissingDependencyError`.

    >>> np = require("numpy")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        hint = f"pip install 'graphhyper[{extra}]'" if extra else f"pip install {package}"
        what = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"The optional package '{package}' is needed{what} but could not be imported ({exc}). "
            f"Install it with: {hint}"
        ) from exc


__all__ = [
    "GraphhyperError",
    "TraceError",
    "UnknownOpError",
    "InvalidHypergraphError",
    "InvalidInputError",
    "DatasetError",
    "ChecksumError",
    "UnsafePickleError",
    "CheckpointError",
    "SearchError",
    "MissingDependencyError",
    "require",
]
