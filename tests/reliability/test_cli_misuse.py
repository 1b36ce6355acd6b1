"""The `graphhyper` command used carelessly: every misuse ends in one error line and a non-zero exit, fast.

A bad option value is argparse's usage error (exit 2, one ``error:`` line); a failure found while running is one
``graphhyper: error:`` line (exit 1). No traceback, and no long work before the error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from graphhyper.cli import main

USAGE, OURS = 2, 1
FAST_S = 20.0  # seconds; the slowest case loads Zoo (about 2 s here); an error after long work takes 30-60 s


def run_cli(argv: list[str], capsys) -> tuple[int, str, float]:
    """Run ``graphhyper argv`` in-process: (exit status, stderr, seconds). Any other exception escapes the test."""
    t0 = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage error
        code = exc.code
    except KeyboardInterrupt:  # would stop the whole pytest session
        pytest.fail("KeyboardInterrupt escaped main()")
    seconds = time.perf_counter() - t0
    return code, capsys.readouterr().err, seconds


def assert_one_error(code, err: str, expected: int, needle: str) -> None:
    assert "Traceback" not in err, err
    assert code == expected, (code, err)
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    if expected == OURS:
        assert lines[0].startswith("graphhyper: error: "), err
    assert needle in lines[0], (needle, err)


# (argv, expected exit, text the error line must hold). "{tmp}" is a fresh existing directory.
CASES = [
    # the cases
    (["ghn", "train", "--out", "/dev/null/run", "--steps", "1"], USAGE, "'/dev/null' is not a directory"),
    (["search", "generate", "--n", "2", "--out", "/dev/null/x"], USAGE, "argument --out"),
    (["ghn", "predict", "--model", "torchvision:resnet18", "--out", "{tmp}"], USAGE, "is a directory"),
    (
        ["ghn", "predict", "--model", "torchvision:resnet18", "--out", "{tmp}/p.st", "--threads", "0"],
        USAGE,
        "argument --threads: must be a thread count",
    ),
    (
        ["hypergraph", "train", "--dataset", "zoo", "--set", "hidden_channels=abc", "--epochs", "1"],
        OURS,
        "expects an integer",
    ),
    (["hypergraph", "train", "--dataset", "zoo", "--root", "/dev/null", "--epochs", "1"], USAGE, "argument --root"),
    (["search", "nb201", "--table", "{tmp}/missing.csv", "--seeds", "1"], USAGE, "does not exist"),
    (["ghn", "train", "--hidden", "-8", "--steps", "1", "--out", "{tmp}/run"], USAGE, "argument --hidden"),
    (["search", "nb201", "--seeds", "-1", "--budget", "5"], USAGE, "argument --seeds"),
    # found by trying every sub-command
    (["search", "nb201", "--seeds", "1", "--budget", "0"], USAGE, "argument --budget"),
    (["search", "nb201", "--table", "{tmp}", "--seeds", "1"], USAGE, "not a regular file"),
    (
        ["search", "nb201", "--searcher", "proxy", "--prior-cache", "/dev/null", "--seeds", "1"],
        USAGE,
        "argument --prior-cache",
    ),
    (["search", "generate", "--n", "2", "--out", "{tmp}"], USAGE, "is a directory"),
    (["search", "generate", "--n", "2", "--target", "abc"], USAGE, "argument --target"),
    (["search", "generate", "--n", "2", "--target", "max", "--labels", "-1"], USAGE, "argument --labels"),
    (["search", "generate", "--n", "2", "--target", "max", "--labels", "100000"], OURS, "only 15625 cells"),
    (["search", "darts", "--n-trials", "1", "--out", "/dev/null/x"], USAGE, "argument --out"),
    (["search", "darts", "--n-trials", "1", "--max-params", "-5", "--out", "{tmp}"], USAGE, "--max-params"),
    (["hypergraph", "train", "--dataset", "zoo", "--lr", "nan"], USAGE, "argument --lr: must be a finite"),
    (["hypergraph", "train", "--dataset", "zoo", "--lr", "-1"], USAGE, "argument --lr"),
    (["hypergraph", "train", "--dataset", "zoo", "--threads", "-1"], USAGE, "argument --threads"),
    (["hypergraph", "train", "--dataset", "zoo", "--device", "abc"], USAGE, "unknown device 'abc'"),
    (["hypergraph", "train", "--dataset", "zoo", "--set", "num_layers=abc"], OURS, "num_layers"),
    (
        ["hypergraph", "train", "--dataset", "zoo", "--set", "hidden_channels=-3", "--epochs", "1"],
        OURS,
        "hidden_channels must be a positive int",
    ),
    (["hypergraph", "train", "--dataset", "zoo", "--model", "nope"], OURS, "Unknown model 'nope'"),
    (["hypergraph", "distill", "--dataset", "zoo", "--seeds", "0"], USAGE, "argument --seeds"),
    (["hypergraph", "tune", "--dataset", "zoo", "--tune-seeds", "0", "--out", "{tmp}"], USAGE, "--tune-seeds"),
    (["hypergraph", "tune", "--dataset", "zoo", "--trials", "1", "--out", "/dev/null/x"], USAGE, "argument --out"),
    (["hypergraph", "tune", "--dataset", "zoo", "--csv", "{tmp}", "--out", "{tmp}"], USAGE, "argument --csv"),
    (["ghn", "predict", "--model", "darts:{tmp}/missing.json", "--out", "{tmp}/p.st"], OURS, "does not exist"),
    (["ghn", "predict", "--model", "darts:{tmp}", "--out", "{tmp}/p.st"], OURS, "not a regular file"),
    (
        ["ghn", "predict", "--model", "torchvision:resnet18", "--out", "{tmp}/p.st", "--attention-nodes", "67"],
        OURS,
        "--attention-nodes applies to our GHNs with a transformer encoder",
    ),
    (
        ["ghn", "predict", "--model", "torchvision:resnet18", "--out", "{tmp}/p.st", "--input-shape", "abc"],
        USAGE,
        "argument --input-shape",
    ),
    (
        ["ghn", "predict", "--model", "torchvision:resnet18", "--out", "{tmp}/p.st", "--ckpt", ""],
        USAGE,
        "argument --ckpt",
    ),
    (["ghn", "train", "--steps", "-1", "--out", "{tmp}/run"], USAGE, "argument --steps"),
    (["ghn", "train", "--meta-batch", "0", "--out", "{tmp}/run"], USAGE, "argument --meta-batch"),
    (["ghn", "train", "--rank", "0", "--out", "{tmp}/run"], USAGE, "argument --rank"),
    (["ghn", "train", "--code-dim", "1", "--out", "{tmp}/run"], USAGE, "argument --code-dim"),
    (["ghn", "train", "--code-dim", "7", "--out", "{tmp}/run"], OURS, "code_dim' is 7; it must be even"),
    (["ghn", "train", "--pool-size", "0", "--out", "{tmp}/run"], USAGE, "argument --pool-size"),
    (["ghn", "train", "--ckpt-every", "0", "--out", "{tmp}/run"], USAGE, "argument --ckpt-every"),
    (["ghn", "train", "--batch-size", "0", "--out", "{tmp}/run"], USAGE, "argument --batch-size"),
    (["ghn", "train", "--device", "cuda:99", "--out", "{tmp}/run"], USAGE, "argument --device"),
    (["ghn", "train", "--export-only", "--out", "{tmp}/run"], OURS, "also give --export"),
    (
        ["ghn", "train", "--export-only", "--export", "x.safetensors", "--out", "{tmp}/run"],
        OURS,
        "last.pt does not exist",
    ),
    (["ghn", "train", "--steps", "1", "--export", "/dev/null/x", "--out", "{tmp}/run"], OURS, "--export"),
    (["ghn", "train", "--hidden", "100000000", "--out", "{tmp}/run"], USAGE, "a hidden size between 1 and 4096"),
    (["hypergraph", "train", "--dataset", "zoo", "--seed", "99999999999999999999"], USAGE, "argument --seed"),
    (
        ["ghn", "predict", "--model", "torchvision:resnet18", "--out", "{tmp}/p.st", "--threads", "99999999999"],
        USAGE,
        "argument --threads",
    ),
    (
        ["hypergraph", "tune", "--dataset", "zoo", "--fix", "hidden_channels=abc", "--out", "{tmp}"],
        OURS,
        "--fix hidden_channels",
    ),
    (
        ["hypergraph", "tune", "--dataset", "zoo", "--fix", "hidden_channels=-3", "--out", "{tmp}"],
        OURS,
        "hidden_channels must be a positive int",
    ),
    (
        ["hypergraph", "tune", "--dataset", "zoo", "--storage", "sqlite:////dev/null/x.db", "--out", "{tmp}"],
        USAGE,
        "argument --storage",
    ),
    (["search", "darts", "--n-trials", "1", "--storage", "journal:{tmp}", "--out", "{tmp}"], USAGE, "is a directory"),
    (
        ["search", "darts", "--n-trials", "1", "--storage", "sqlite:///{tmp}/no/dir.db", "--out", "{tmp}"],
        USAGE,
        "does not exist",
    ),
    (
        ["hypergraph", "tune", "--dataset", "zoo", "--csv", "{tmp}/rows.csv", "--out", "{tmp}"],
        OURS,
        "--csv goes with --evaluate",
    ),
    (["search", "generate", "--n", "2", "--params", "1e300"], USAGE, "argument --params"),
    (
        ["search", "generate", "--n", "2", "--target", "max", "--labels", "5", "--scale", "1e308"],
        USAGE,
        "argument --scale",
    ),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv, expected, needle", CASES, ids=[" ".join(c[0])[:70] for c in CASES])
def test_misuse_gives_one_error_line(argv, expected, needle, tmp_path, capsys, shared_data, record):
    record("cli: misuse -> one error line, exit != 0, no work first", " ".join(argv))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, err, seconds = run_cli(argv, capsys)
    assert_one_error(code, err, expected, needle)
    assert seconds < FAST_S, f"{seconds:.1f} s before the error: work ran first"


@pytest.mark.timeout(120)
def test_misuse_in_a_real_process(tmp_path, record):
    """The installed entry point: exit status and stderr as a shell sees them."""
    record(
        "cli: misuse in a subprocess",
        "python -m graphhyper.cli ghn train --out /dev/null/run; --seeds -1; --set hidden_channels=abc",
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    for argv, expected in (
        (["ghn", "train", "--out", "/dev/null/run", "--steps", "1"], USAGE),
        (["search", "nb201", "--seeds", "-1"], USAGE),
        (["hypergraph", "train", "--dataset", "zoo", "--set", "hidden_channels=abc"], OURS),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "graphhyper.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
        )
        assert_one_error(proc.returncode, proc.stderr, expected, "error:")
        assert not (tmp_path / "runs").exists()


def test_keyboard_interrupt_is_one_line(monkeypatch, capsys, record):
    record("cli: Ctrl-C", "a handler interrupted -> 'graphhyper: interrupted', exit 130, no traceback")
    import graphhyper.cli.hypergraph as hcli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(hcli, "_datasets", interrupted)
    code, err, _ = run_cli(["hypergraph", "datasets"], capsys)
    assert code == 130 and err.strip() == "graphhyper: interrupted"


def test_a_real_bug_keeps_its_traceback(monkeypatch, record):
    """Only expected failures are turned into one line; anything else is a bug and must stay visible."""
    record("cli: a bug is not hidden", "a handler raising ZeroDivisionError -> the exception propagates")
    import graphhyper.cli.hypergraph as hcli

    monkeypatch.setattr(hcli, "_datasets", lambda args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["hypergraph", "datasets"])


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError(13, "Permission denied", "/x/y"),
        IsADirectoryError(21, "Is a directory", "/tmp"),
        NotADirectoryError(20, "Not a directory", "/dev/null/x"),
    ],
)
def test_os_errors_while_running_are_one_line(exc, monkeypatch, capsys, record):
    record("cli: OSError while running", f"handler raises {type(exc).__name__} -> one line naming the path")
    import graphhyper.cli.hypergraph as hcli

    def fail(args):
        raise exc

    monkeypatch.setattr(hcli, "_datasets", fail)
    code, err, _ = run_cli(["hypergraph", "datasets"], capsys)
    assert_one_error(code, err, OURS, exc.filename)
    assert exc.strerror in err


# ------------------------------------------------------------------------------------------ per-model defaults
def _parsed(argv: list[str]):
    from graphhyper.cli import build_parser

    return build_parser().parse_args(argv)


@pytest.mark.parametrize("model", ["hgnn", "allset-transformer", "hnhn", "unigcnii"])
def test_train_takes_the_models_own_optimiser_defaults(model, record):
    record("cli: hypergraph train per-model defaults", f"--model {model} without --lr/--weight-decay")
    from graphhyper.cli.hypergraph import with_train_defaults
    from graphhyper.hypergraph.models import train_defaults

    args = with_train_defaults(_parsed(["hypergraph", "train", "--model", model]), model)
    assert (args.lr, args.weight_decay) == (train_defaults(model)["lr"], train_defaults(model)["weight_decay"])


def test_explicit_optimiser_options_win(record):
    record("cli: hypergraph train per-model defaults", "--lr 0.05 --weight-decay 0 given: kept")
    from graphhyper.cli.hypergraph import with_train_defaults

    args = _parsed(["hypergraph", "train", "--model", "hgnn", "--lr", "0.05", "--weight-decay", "0"])
    args = with_train_defaults(args, "hgnn")
    assert (args.lr, args.weight_decay) == (0.05, 0.0)


@pytest.mark.timeout(60)
def test_train_command_passes_hgnns_lr_to_training(monkeypatch, capsys, shared_data, record):
    """The handler itself uses the filled defaults: HGNN trains with 1e-2, not train_node_classifier's 1e-3."""
    record(
        "cli: hypergraph train per-model defaults",
        "graphhyper hypergraph train --model hgnn: lr reaching train_node_classifier",
    )
    import graphhyper.hypergraph.train as train_mod
    from graphhyper.errors import InvalidInputError
    from graphhyper.hypergraph.models import train_defaults

    seen = {}

    def spy(model, data, **kwargs):
        seen.update(kwargs)
        raise InvalidInputError("stopped by the test")

    monkeypatch.setattr(train_mod, "train_node_classifier", spy)
    code, err, _ = run_cli(["hypergraph", "train", "--dataset", "zoo", "--model", "hgnn", "--quiet"], capsys)
    assert code == OURS and "stopped by the test" in err
    assert seen["lr"] == train_defaults("hgnn")["lr"] == 0.01
    assert seen["weight_decay"] == train_defaults("hgnn")["weight_decay"]
