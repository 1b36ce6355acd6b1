"""Argument types shared by the ``graphhyper`` sub-commands.

Each function here is an argparse ``type=``: it turns the text the user typed into a value or raises
``argparse.ArgumentTypeError``, so a bad value ends as argparse's one-line usage error (exit 2) before any work
starts. The output-path types only *check* (nothing is created at parse time): the nearest existing ancestor must
be a writable directory, so a run that would fail at its final save fails at once instead.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from functools import wraps
from pathlib import Path
from typing import Callable

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")


def positive_int(text: str) -> int:
    """An int >= 1 (counts: epochs, trials, seeds, threads, sizes)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (>= 1), got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An int >= 0 (warm-up steps, random start-up trials, seeds)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def float_in(low: float, high: float, what: str = "a number") -> Callable[[str], float]:
    """A type for a finite float in ``[low, high]`` (bounds keep later arithmetic free of overflow)."""

    def parse(text: str) -> float:
        value = finite_float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what} between {low:g} and {high:g}, got {text!r}")
        return value

    parse.__name__ = f"float_in_{low:g}_{high:g}"
    return parse


def int_in(low: int, high: int, what: str = "an integer") -> Callable[[str], int]:
    """A type for an int in ``[low, high]``."""

    def parse(text: str) -> int:
        value = _int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what} between {low} and {high}, got {text!r}")
        return value

    parse.__name__ = f"int_in_{low}_{high}"
    return parse


def random_seed(text: str) -> int:
    """A random seed, ``0 <= seed < 2**32`` (the range NumPy, Optuna's samplers and torch all accept)."""
    value = _int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), got {text!r}")
    return value


def thread_count(text: str) -> int:
    """A CPU thread count, 1 to 4096."""
    value = _int(text)
    if not 1 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"must be a thread count between 1 and 4096, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite float > 0 (learning rates, time limits, parameter counts)."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite float >= 0 (weight decay)."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Any finite float (no nan, no inf, no 1e999)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _path_type(check: Callable[[str], str]) -> Callable[[str], str]:
    """An OS error while looking at the path (a name too long, a NUL byte) is a usage error too."""

    @wraps(check)
    def wrapper(text: str) -> str:
        try:
            return check(text)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise argparse.ArgumentTypeError(f"unusable path {text[:80]!r}: {reason}") from None

    return wrapper


def shape(text: str) -> tuple[int, ...]:
    """A tensor shape written as comma-separated positive ints: ``1,3,224,224``."""
    parts = [p.strip() for p in text.split(",")]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive integers like 1,3,224,224, got {text!r}")
    return dims


def non_empty(text: str) -> str:
    """A non-blank string (names and checkpoint paths)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


@_path_type
def existing_file(text: str) -> str:
    """A path to an existing regular file we may read."""
    path = Path(non_empty(text))
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text!r} does not exist")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not readable (check its permissions)")
    return text


@_path_type
def writable_file(text: str) -> str:
    """An output file path: not a directory, and either a writable file or creatable (its parents may be missing,
    as long as the nearest existing one is a writable directory)."""
    path = Path(non_empty(text))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file path inside it")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable (check its permissions)")
    _check_creatable(path.parent, text)
    return text


@_path_type
def json_cache(text: str) -> str:
    """A JSON cache file: new (creatable), or an existing file that holds a JSON object."""
    import json

    writable_file(text)
    path = Path(text)
    if path.exists():
        if not path.is_file():
            raise argparse.ArgumentTypeError(f"{text!r} is not a regular file")
        try:
            content = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a JSON cache ({exc}); delete it or give a new path"
            ) from None
        if not isinstance(content, dict):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a JSON cache (not an object); delete it or give a new path"
            )
    return text


@_path_type
def storage_url(text: str) -> str:
    """An Optuna storage: for a SQLite or journal file, the file must be writable and its folder must exist
    (neither backend creates folders); server URLs (postgresql://, mysql://) are left to the search to open."""
    path = None
    if text.startswith("sqlite:///"):
        path = text[len("sqlite:///") :].split("?", 1)[0]
    elif text.startswith("journal:") or text.endswith((".log", ".journal")):
        path = text.split(":", 1)[1] if text.startswith("journal:") else text
    if path in (None, ":memory:"):
        return text
    writable_file(path)
    if not Path(path).absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder of {path!r} does not exist; create it first")
    return text


@_path_type
def writable_dir(text: str) -> str:
    """An output directory: an existing writable directory, or one that can be created."""
    path = Path(non_empty(text))
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory; give a directory path")
    _check_creatable(path, text)
    return text


@_path_type
def data_root(text: str) -> str:
    """A data folder: an existing directory (read-only is fine) or one that can be created for downloads."""
    path = Path(non_empty(text))
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is not a directory; give the folder that holds the data")
        return text
    _check_creatable(path, text)
    return text


def device(text: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and available on this machine."""
    if not _DEVICE.match(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda, cuda:N or mps")
    if text == "cpu":
        return text
    import torch  # only for an accelerator: the default 'cpu' keeps parsing instant

    if text == "mps":
        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError("mps is not available on this machine; use --device cpu")
        return text
    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: CUDA is not available on this machine; use --device cpu")
    index = int(text.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return text


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _check_creatable(path: Path, text: str) -> None:
    """The nearest existing ancestor of ``path`` (itself included) is a directory we may write into."""
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create {text!r}: {str(probe)!r} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: no write permission in {str(probe)!r}")
