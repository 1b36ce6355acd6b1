"""GHN checkpoints that lie: relabelled dtypes, FIFOs and devices, tiny files with huge configs.

Each is refused with a :class:`CheckpointError` that names the file and the fix, without blocking and without
allocating more than the files hold. Cases that would allocate without bound on a regression run in a child process
under ``RLIMIT_AS``, so a regression fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from graphhyper.errors import CheckpointError
from graphhyper.ghn import GHN, GHNConfig, hub, load, save


def read_st(path: Path) -> tuple[dict, bytes]:
    """Header (as JSON) and data section of a safetensors file."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def encode_st(header: dict, data: bytes) -> bytes:
    """A safetensors file with ``header`` (padded to 8 bytes as the format asks) over ``data``."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def write_st(path: Path, header: dict, data: bytes) -> None:
    path.write_bytes(encode_st(header, data))


def set_config(st: Path, js: Path, **changes) -> None:
    """Edit the config in both the JSON and the weights' header, leaving the tensors as they are."""
    doc = json.loads(js.read_text())
    doc["config"].update(changes)
    js.write_text(json.dumps(doc))
    header, data = read_st(st)
    header["__metadata__"]["config"] = json.dumps(doc["config"], sort_keys=True)
    write_st(st, header, data)


@pytest.fixture
def ckpt(tmp_path) -> tuple[Path, Path]:
    return save(GHN(GHNConfig(hidden=8, layers=1, rank=4)), tmp_path / "small")


_CHILD = r"""
import resource, sys, time
from graphhyper.errors import GraphhyperError
from graphhyper.ghn import load
vm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize")) * 1024
limit = vm + int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.perf_counter()
try:
    load(sys.argv[1])
except GraphhyperError as exc:
    print(f"CLEAN {time.perf_counter() - start:.2f} {type(exc).__name__}: {exc}")
    sys.exit(3)
print("LOADED")
"""


def _load_in_child(path: Path, headroom: int = 2**29) -> tuple[float, str]:
    """Load ``path`` in a child limited to ``headroom`` bytes of address space beyond its imports.

    Returns (seconds the load took, message of the clean error); fails the test on anything else.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("needs /proc and RLIMIT_AS")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(headroom)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path} did not end within 60 s")
    assert proc.returncode == 3, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    _, seconds, message = proc.stdout.strip().split(" ", 2)
    assert message.startswith("CheckpointError: "), message
    return float(seconds), message


def test_relabelled_dtype_is_refused(ckpt, record):
    record("GHN weights F32 relabelled I32", "header dtypes edited (same byte sizes) -> CheckpointError, not garbage")
    st, _ = ckpt
    header, data = read_st(st)
    for name, info in header.items():
        if name != "__metadata__":
            info["dtype"] = "I32"
    write_st(st, header, data)
    with pytest.raises(CheckpointError) as exc:
        load(st)
    msg = str(exc.value)
    assert "I32" in msg and "F32" in msg and str(st) in msg


def test_one_relabelled_tensor_is_named(ckpt, record):
    record("GHN weights, one tensor relabelled I32", "one header dtype edited -> CheckpointError naming that tensor")
    st, _ = ckpt
    header, data = read_st(st)
    name = sorted(k for k in header if k != "__metadata__")[0]
    header[name]["dtype"] = "I32"
    write_st(st, header, data)
    with pytest.raises(CheckpointError, match="wrong dtypes") as exc:
        load(st)
    assert name in str(exc.value)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("which", ["json", "safetensors"])
def test_fifo_does_not_hang(ckpt, which, record):
    record(
        f"GHN {which} file is a FIFO",
        "load() with no writer on the pipe, in a child killed after 60 s -> CheckpointError within seconds",
    )
    path = ckpt[0] if which == "safetensors" else ckpt[1]
    path.unlink()
    os.mkfifo(path)
    # a child: a load blocked in open() may hold the GIL, which no timeout inside this process could interrupt
    seconds, msg = _load_in_child(path)
    assert "FIFO" in msg and str(path) in msg and "regular file" in msg
    assert seconds < 5


@pytest.mark.parametrize("which", ["json", "safetensors"])
def test_directory_instead_of_file(ckpt, which, record):
    record(f"GHN {which} file is a directory", "a directory at NAME.json / NAME.safetensors -> CheckpointError")
    path = ckpt[0] if which == "safetensors" else ckpt[1]
    path.unlink()
    path.mkdir()
    with pytest.raises(CheckpointError, match="directory, not a regular file") as exc:
        load(path)
    assert str(path) in str(exc.value)


@pytest.mark.timeout(120)
def test_config_is_dev_zero(ckpt, record):
    record("GHN config is /dev/zero", "NAME.json -> /dev/zero, child under RLIMIT_AS -> CheckpointError, no read")
    _, js = ckpt
    js.unlink()
    js.symlink_to("/dev/zero")
    seconds, msg = _load_in_child(js)
    assert "a device, not a regular file" in msg and str(js) in msg
    assert seconds < 5


@pytest.mark.parametrize("name", ["", "  ", ".", "/"])
def test_from_pretrained_without_a_name(name, record):
    from graphhyper.ghn import from_pretrained

    record(f"from_pretrained({name!r})", "a name that names nothing -> CheckpointError listing the bundled GHNs")
    with pytest.raises(CheckpointError) as exc:
        from_pretrained(name)
    for bundled in hub.list_pretrained():
        assert bundled in str(exc.value)


@pytest.mark.timeout(120)
def test_tiny_checkpoint_with_a_big_config(ckpt, record):
    record(
        "tiny GHN pair, config hidden=4096",
        "weights of hidden=8 under a hidden=4096 config (JSON and header), "
        "child under RLIMIT_AS +512 MiB -> CheckpointError before the GHN is built",
    )
    st, js = ckpt
    set_config(st, js, hidden=4096)
    seconds, msg = _load_in_child(st)
    assert "does not match its config" in msg and "wrong shapes" in msg
    assert seconds < 10


@pytest.mark.timeout(120)
@pytest.mark.parametrize("hidden", [10**7, 2**16])
def test_huge_hidden(ckpt, hidden, record):
    record(
        f"GHN config hidden={hidden}",
        "JSON and header claim a huge hidden size, child under RLIMIT_AS +512 MiB "
        "-> CheckpointError (out of range, or shapes compared on the meta device)",
    )
    st, js = ckpt
    set_config(st, js, hidden=hidden, heads=1)
    seconds, msg = _load_in_child(st)
    assert ("'hidden'" in msg) if hidden > 2**16 else ("does not match its config" in msg)
    assert seconds < 10


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("hidden", "64", "'hidden'"),
        ("hidden", 0, "'hidden'"),
        ("hidden", -8, "'hidden'"),
        ("hidden", 8.0, "'hidden'"),
        ("layers", float("nan"), "'layers'"),
        ("mip", 1, "'mip'"),
        ("heads", 3, "divisible by 'heads'"),
        ("encoder", "rnn", "'encoder'"),
        ("decoder", None, "'decoder'"),
        ("vocab", ["conv", "conv"], "more than once"),
        ("vocab", [], "'vocab'"),
        ("vocab", "conv", "'vocab'"),
        ("colour", "blue", "Unknown GHN config keys"),
    ],
)
def test_invalid_config_values(ckpt, key, value, expect, record):
    record(
        f"GHN config {key}={value!r}",
        "a config field of the wrong type or range (JSON and header) -> CheckpointError naming the field",
    )
    st, js = ckpt
    set_config(st, js, **{key: value})
    with pytest.raises(CheckpointError, match="invalid GHN config") as exc:
        load(st)
    assert expect in str(exc.value) and str(js) in str(exc.value)


def test_config_too_large_is_not_read(ckpt, record):
    record("GHN config of 17 MB", "a JSON past the 16 MiB cap -> CheckpointError naming the size, nothing parsed")
    _, js = ckpt
    with js.open("r+b") as fh:
        fh.truncate(hub.MAX_CONFIG_BYTES + 1)
    with pytest.raises(CheckpointError, match="at most"):
        load(js)


@pytest.mark.parametrize("encoder", ["gatedgnn", "transformer"])
@pytest.mark.parametrize("decoder", ["lowrank", "tiled"])
@pytest.mark.parametrize("mip", [False, True])
def test_shapes_checked_are_the_shapes_built(encoder, decoder, mip):
    """The header is compared with shapes computed without allocating; they are exactly the real GHN's."""
    config = GHNConfig(hidden=96, encoder=encoder, decoder=decoder, mip=mip, rank=4, layers=2, cutoff=3)
    real = {k: (tuple(v.shape), v.dtype) for k, v in GHN(config).state_dict().items()}
    assert hub._expected_state(config) == real
