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
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except GraphhyperError as exc:
        print(f"graphhyper: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
