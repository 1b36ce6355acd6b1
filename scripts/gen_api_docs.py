"""Generate the API reference pages ``docs/api/*.md`` from the public re-exports and their docstrings.

Each page lists, per module, every public function and class with its signature and the first line of its
docstring (classes also list their public methods). "Public" means the names in the module's ``__all__``; a
module without ``__all__`` contributes the functions and classes it defines whose names do not start with ``_``.

Usage: python scripts/gen_api_docs.py [--out docs/api] [--check]

``--check`` regenerates in memory and exits 1 if a committed page is out of date (used by the test suite).
The ```` ```python ```` blocks of README.md and ``docs/*.md`` are run by ``tests/test_doc_examples.py``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

# page name -> (title, modules in the order they appear)
PAGES: dict[str, tuple[str, list[str]]] = {
    "arch": ("Architectures", [
        "graphhyper.arch", "graphhyper.arch.ops", "graphhyper.arch.spaces", "graphhyper.arch.spaces.darts",
        "graphhyper.arch.spaces.nb201", "graphhyper.arch.collection"]),
    "ghn": ("Graph hypernetworks", [
        "graphhyper.ghn", "graphhyper.ghn.train", "graphhyper.ghn.tasks", "graphhyper.ghn.evaluate"]),
    "hypergraph": ("Hypergraphs", [
        "graphhyper.hypergraph", "graphhyper.hypergraph.ops", "graphhyper.hypergraph.kernels",
        "graphhyper.hypergraph.transforms", "graphhyper.hypergraph.convert", "graphhyper.hypergraph.nn",
        "graphhyper.hypergraph.models", "graphhyper.hypergraph.train", "graphhyper.hypergraph.distill"]),
    "data": ("Datasets", ["graphhyper.data", "graphhyper.data.code_ast"]),
    "search": ("Architecture search", [
        "graphhyper.search", "graphhyper.search.study", "graphhyper.search.objectives", "graphhyper.search.proxies",
        "graphhyper.search.benchmarks", "graphhyper.search.generate", "graphhyper.search.supernet",
        "graphhyper.search.plots", "graphhyper.experiments.tuning"]),
    "errors": ("Errors", ["graphhyper.errors"]),
}


def public_names(mod) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n, o in vars(mod).items()
            if not n.startswith("_") and (inspect.isfunction(o) or inspect.isclass(o))
            and getattr(o, "__module__", "") == mod.__name__]


def first_line(obj, default: str = "(no docstring)") -> str:
    doc = inspect.getdoc(obj) or ""
    for line in doc.splitlines():
        if line.strip():
            return line.strip()
    return default


def signature(obj) -> str:
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return sig.replace("\n", " ")


def methods(cls) -> list[tuple[str, object]]:
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member):
            out.append((name, member))
        elif isinstance(member, property):
            out.append((name, member))
    return out


def describe(name: str, obj) -> list[str]:
    if inspect.ismodule(obj):
        return [f"- **`{name}`** (module): {first_line(obj)}"]
    if inspect.isclass(obj):
        kind = "exception" if issubclass(obj, BaseException) else "class"
        bases = ", ".join(b.__name__ for b in obj.__bases__ if b is not object)
        head = f"### `{name}{signature(obj)}`" if kind == "class" else f"### `{name}({bases})`"
        lines = [head, "", f"*{kind}* — {first_line(obj)}", ""]
        for mname, member in methods(obj):
            doc = first_line(getattr(obj, mname, member), default="")  # getattr: inherit a base's docstring
            doc = f": {doc}" if doc else ""
            if isinstance(member, property):
                lines.append(f"- `.{mname}` (property){doc}")
            else:
                lines.append(f"- `.{mname}{signature(member)}`{doc}")
        if lines[-1] != "":
            lines.append("")
        return lines
    if callable(obj):
        return [f"### `{name}{signature(obj)}`", "", first_line(obj), ""]
    return [f"- **`{name}`** = `{_short_repr(obj)}`"]


def _short_repr(obj) -> str:
    text = repr(obj).replace("\n", " ").replace("`", "'")
    return text if len(text) <= 80 else f"{type(obj).__name__} ({len(obj) if hasattr(obj, '__len__') else '?'} items)"


def render_module(modname: str) -> list[str]:
    mod = importlib.import_module(modname)
    lines = [f"## `{modname}`", "", first_line(mod), ""]
    constants = []
    for name in public_names(mod):
        obj = getattr(mod, name)
        entry = describe(name, obj)
        if entry and entry[0].startswith("- "):
            constants.extend(entry)
        else:
            lines.extend(entry)
    if constants:
        lines += ["Modules and constants:", "", *constants, ""]
    return lines


def render_page(page: str) -> str:
    title, modules = PAGES[page]
    lines = [f"# API reference: {title}", "",
             "<!-- generated by scripts/gen_api_docs.py from docstrings; do not edit by hand -->", ""]
    for modname in modules:
        lines.extend(render_module(modname))
    return "\n".join(lines).rstrip() + "\n"


def render_index() -> str:
    lines = ["# API reference", "", "<!-- generated by scripts/gen_api_docs.py; do not edit by hand -->", ""]
    for page, (title, modules) in PAGES.items():
        lines.append(f"- [{title}]({page}.md): " + ", ".join(f"`{m}`" for m in modules))
    return "\n".join(lines) + "\n"


def generate() -> dict[str, str]:
    pages = {f"{page}.md": render_page(page) for page in PAGES}
    pages["index.md"] = render_index()
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "api"))
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed page is out of date")
    args = parser.parse_args(argv)
    out = Path(args.out)
    stale = []
    for fname, text in generate().items():
        path = out / fname
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("out of date (run python scripts/gen_api_docs.py):\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print(f"wrote {len(PAGES) + 1} pages to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
