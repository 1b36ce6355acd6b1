"""Fixtures for the search tests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import torch


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


@pytest.fixture(autouse=True)
def one_thread():
    """These small ops are dominated by thread synchronisation; one thread is faster (and restored after)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
