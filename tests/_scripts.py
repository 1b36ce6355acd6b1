"""Load a script of ``scripts/`` as a module, for the tests that exercise a script's own functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(relative: str, name: str | None = None) -> ModuleType:
    """The module of ``scripts/<relative>``, registered in ``sys.modules`` (dataclasses look their module up)."""
    path = SCRIPTS / relative
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
