"""Import the AllSet and ED-HNN reference implementations from local checkouts, for the oracle and benchmark scripts.

Neither repository is a package or a dependency of graphhyper; the scripts that compare against them take the path
of a checkout (never committed here):

    git clone https://github.com/jianhao2016/AllSet      # measured with commit 6281a2f; pass its src/ folder
    git clone https://github.com/Graph-COM/ED-HNN        # measured with commit fea3b8f; pass the checkout root

Both were written against ``torch_scatter`` and an older PyG. Two adaptations let them run on the libraries here;
neither changes their arithmetic:

- ``torch_scatter`` (a compiled extension, not installed here) is replaced by a stand-in module whose ``scatter``,
  ``scatter_add`` and ``scatter_mean`` call PyG's pure-torch :func:`torch_geometric.utils.scatter` (the same
  reductions; PyG's own ops use it when ``torch_scatter`` is absent, so its speed is what a PyG user gets);
- AllSet's ``PMA.aggregate`` raises when PyG does not forward ``propagate(..., aggr=...)`` (PyG >= 2.5 does not);
  it falls back to the layer's own ``self.aggr`` (``'add'``, the value the reference passes) instead.

The modules are executed from the checkout unchanged apart from that one line; nothing of them is copied into
graphhyper. AllSet's ``models.py`` is registered as ``allset_models`` (with its ``layers`` and ``utils`` under
their own names, as its imports expect); ED-HNN's ``models/`` folder is registered as the package ``models``
without running its ``__init__`` (which imports every baseline and their extra dependencies), so both can be
imported into one process.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tempfile
import types
import warnings
from pathlib import Path

__all__ = ["import_allset", "import_edhnn", "install_scatter_shim"]

SCATTER_SHIM = """
from torch_geometric.utils import scatter as _scatter
def scatter(src, index, dim=-1, out=None, dim_size=None, reduce="sum"):
    return _scatter(src, index, dim=dim % src.dim(), dim_size=dim_size, reduce=reduce)
def scatter_add(src, index, dim=-1, out=None, dim_size=None):
    return scatter(src, index, dim, out, dim_size, "sum")
def scatter_mean(src, index, dim=-1, out=None, dim_size=None):
    return scatter(src, index, dim, out, dim_size, "mean")
"""
AGGR_RAISE = '            raise ValeuError("aggr was not passed!")'
AGGR_FALLBACK = "            aggr = self.aggr"
_SHIM_DIR: list[str] = []


def install_scatter_shim() -> None:
    """Put the ``torch_scatter`` stand-in first on ``sys.path`` (once per process)."""
    if _SHIM_DIR:
        return
    shim = Path(tempfile.mkdtemp(prefix="reference_shim_"))
    (shim / "torch_scatter").mkdir()
    (shim / "torch_scatter" / "__init__.py").write_text(SCATTER_SHIM)
    sys.path.insert(0, str(shim))
    _SHIM_DIR.append(str(shim))
    sys.modules.setdefault("ipdb", types.ModuleType("ipdb"))  # imported (never called) by AllSet's utils.py
    warnings.filterwarnings("ignore", category=SyntaxWarning)  # the references' `x is 'Identity'` comparisons


def _load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_allset(src: str | Path) -> tuple[types.ModuleType, types.ModuleType]:
    """AllSet's ``models`` (``SetGNN``, ``UniGCNII``, ``HCHA``, ...) and ``preprocessing`` from its ``src/``."""
    src = Path(src)
    if "allset_models" in sys.modules:
        return sys.modules["allset_models"], sys.modules["allset_preprocessing"]
    if not (src / "layers.py").is_file() or not (src / "models.py").is_file():
        raise SystemExit(f"{src}: no layers.py/models.py; pass the src/ folder of an AllSet checkout")
    install_scatter_shim()
    text = (src / "layers.py").read_text()
    if AGGR_RAISE not in text:
        raise SystemExit(f"{src / 'layers.py'}: expected line not found; is this AllSet's src/ at commit 6281a2f?")
    sys.path.insert(1, str(src))  # models.py does `import utils` and `from layers import *`
    layers = types.ModuleType("layers")
    layers.__file__ = str(src / "layers.py")
    sys.modules["layers"] = layers
    exec(compile(text.replace(AGGR_RAISE, AGGR_FALLBACK, 1), layers.__file__, "exec"), layers.__dict__)
    models = _load(src / "models.py", "allset_models")
    preprocessing = _load(src / "preprocessing.py", "allset_preprocessing")
    return models, preprocessing


def import_edhnn(root: str | Path) -> tuple[types.ModuleType, types.ModuleType]:
    """ED-HNN's ``models.edgnn`` (``EquivSetGNN``) and ``models.unigcn2`` (``UniGCNII``) from a checkout's root."""
    root = Path(root)
    folder = root / "models"
    if not (folder / "edgnn.py").is_file():
        raise SystemExit(f"{root}: no models/edgnn.py; pass the root of an ED-HNN checkout")
    install_scatter_shim()
    package = sys.modules.get("models")
    if package is None or list(getattr(package, "__path__", [])) != [str(folder)]:
        package = types.ModuleType("models")
        package.__path__ = [str(folder)]  # a package without running models/__init__.py
        package.__file__ = str(folder / "__init__.py")
        sys.modules["models"] = package
    return importlib.import_module("models.edgnn"), importlib.import_module("models.unigcn2")
