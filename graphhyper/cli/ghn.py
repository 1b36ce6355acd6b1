"""`graphhyper ghn ...` sub-commands."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ghn", help="ghn commands")
    parser.add_subparsers(dest="command")
