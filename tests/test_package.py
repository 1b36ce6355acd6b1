import subprocess
import sys

import pytest

import graphhyper
from graphhyper.cli import main
from graphhyper.errors import GraphhyperError, MissingDependencyError, require


def test_version_cli(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert graphhyper.__version__ in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "graphhyper.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "graphhyper" in out.stdout


def test_require_names_the_fix():
    with pytest.raises(MissingDependencyError, match="pip install"):
        require("definitely_not_a_real_package_xyz", extra="dgl")
    assert issubclass(MissingDependencyError, GraphhyperError)
