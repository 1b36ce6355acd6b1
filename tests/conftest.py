"""Test-wide environment.

* ``TRITON_INTERPRET=1`` is set *before* any kernel module is imported so the Triton kernels run
  on the CPU (interpreter mode) and are checked against the torch reference.
* DHG writes into ``~``; tests get a temporary HOME.
* ``GRAPHHYPER_DATA`` points at ``../shared/data`` when it exists beside the checkout.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("DGLBACKEND", "pytorch")
os.environ["HOME"] = tempfile.mkdtemp(prefix="graphhyper-test-home-")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Tests never reach the network: published GHNs come from fixtures, and the README's example falls back offline.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRAPHHYPER_OFFLINE"] = "1"

_ROOT = pathlib.Path(__file__).resolve().parents[1]
_SHARED = _ROOT.parent / "shared" / "data"
if not os.environ.get("GRAPHHYPER_DATA") and _SHARED.is_dir():
    os.environ["GRAPHHYPER_DATA"] = str(_SHARED)

import pytest  # noqa: E402
import torch  # noqa: E402

# One intra-op thread: tests are many small ops, and worker subprocesses use the second core.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test starts and ends on one thread, whatever the code under test set (CLIs and scripts take
    ``--threads``); test files do not need their own copy."""
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)


@pytest.fixture
def shared_data() -> pathlib.Path:
    """Root of the real data beside the checkout; skips with a reason when absent."""
    root = os.environ.get("GRAPHHYPER_DATA")
    if not root or not pathlib.Path(root).is_dir():
        pytest.skip("real data not found: set GRAPHHYPER_DATA or place ../shared/data beside the checkout")
    return pathlib.Path(root)


@pytest.fixture
def seed() -> int:
    torch.manual_seed(0)
    return 0


def _start_test_postgres():
    """URL of a PostgreSQL server for the distributed tests: CI's, or one started from .ci/postgres.sh."""
    import subprocess

    url = os.environ.get("GRAPHHYPER_TEST_POSTGRES_URL")
    if url:
        return url, None
    script = _ROOT / ".ci" / "postgres.sh"
    env = dict(os.environ, PG_PORT="55433", PG_DIR="/tmp/graphhyper-test-pg")
    cmd = f"source {script} && start_postgres >/dev/null && echo $GRAPHHYPER_TEST_POSTGRES_URL"
    try:
        out = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    lines = out.stdout.strip().splitlines()
    url = lines[-1] if out.returncode == 0 and lines else None
    return url, (env if url else None)


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL URL on loopback; skips with the reason when no server is available."""
    import subprocess

    url, env = _start_test_postgres()
    if not url:
        pytest.skip(
            "GRAPHHYPER_TEST_POSTGRES_URL is unset and no PostgreSQL server could be started "
            "(run `source .ci/postgres.sh && start_postgres`, as .ci/run does)"
        )
    yield url
    if env is not None:
        subprocess.run(
            ["bash", "-c", f"source {_ROOT / '.ci' / 'postgres.sh'} && stop_postgres"],
            env=env,
            capture_output=True,
            timeout=60,
        )
