"""The ``graphhyper`` command.

Each capability owns one module here (``arch``, ``ghn``, ``hypergraph``, ``search``) with an
``add_parser(subparsers)`` function that registers its sub-commands; every handler imports the
library lazily so ``graphhyper --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from graphhyper._version import __version__
from graphhyper.errors import GraphhyperError

_AREAS = ("arch", "ghn", "hypergraph", "search")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphhyper",
        description="Neural architectures and hypergraphs as graphs.",
    )
    parser.add_argument("--version", action="version", version=f"graphhyper {__version__}")
    sub = parser.add_subparsers(dest="area", metavar="{" + ",".join(_AREAS) + "}")
    for area in _AREAS:
        importlib.import_module(f"graphhyper.cli.{area}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status.

    Usage errors (a bad option value, an unwritable output path) stop in argparse with its one ``error:`` line and
    exit 2, before any work. An expected failure while running ends as one ``graphhyper: error: <message>`` line and
    exit 1: every :class:`GraphhyperError` (bad input, data, checkpoints, search setup) and every ``OSError`` (a
    file that vanished, a full disk, a permission). Nothing else is caught on purpose: user input is checked and
    turned into our errors where it is read, so any other exception is a bug and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except (GraphhyperError, OSError) as exc:
        print(f"graphhyper: error: {describe_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("graphhyper: interrupted", file=sys.stderr)
        return 130


def describe_error(exc: BaseException) -> str:
    """One line for ``exc``: our messages as they are; a bare ``OSError`` as 'what: path'."""
    if isinstance(exc, OSError) and not isinstance(exc, GraphhyperError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename is not None else ""
        target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return f"{exc.strerror}{where}{target}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
