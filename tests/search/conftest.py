"""Fixtures for the search tests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def fast_tmp(tmp_path):
    """A temporary folder on tmpfs when available: SQLite commits fsync, which is slow on a busy disk."""
    shm = Path("/dev/shm")
    if shm.is_dir():
        d = Path(tempfile.mkdtemp(prefix="graphhyper-search-", dir=shm))
        yield d
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path
