"""Griffe extension for the docs site: turn the reST bits of our docstrings into Markdown before mkdocstrings
renders them (the docstrings are Google style, but their inline markup is Sphinx's).

- ``:class:`~a.b.C``` and the other roles become inline code (`` `C` ``; ``~`` keeps the last dotted part).
- ``:math:`x``` and ``.. math::`` blocks become MathML (latex2mathml; browsers render it without scripts), one
  display line per ``\\`` row with the ``&`` alignment marks dropped; TeX that latex2mathml cannot read stays as
  inline code or a ``text`` block.
- A paragraph ending in ``::`` followed by an indented block becomes a fenced block.
- An ``Args:`` entry naming several parameters (``lr, weight_decay: Adam settings.``) becomes one entry per
  parameter with the same text, so griffe can match each to the signature.
- Runs of doctest lines (``>>>`` / ``...`` and their output) become ``pycon`` fenced blocks, instead of the nested
  blockquotes Markdown would make of ``>>>``; ``# doctest: +SKIP`` directives are dropped.

Loaded by mkdocs.yml (``plugins.mkdocstrings.handlers.python.options.extensions``); not part of the package.
"""

from __future__ import annotations

import re

import griffe
from latex2mathml.converter import convert as tex_to_mathml

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc|math):`([^`]+)`")


def _mathml(tex: str, display: str) -> str | None:
    try:
        html = tex_to_mathml(" ".join(tex.split()), display=display)
    except Exception:  # noqa: BLE001 (any TeX latex2mathml cannot read falls back to the source)
        return None
    return html.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")


def _role(match: re.Match[str]) -> str:
    text = match.group(1)
    if match.group(0).startswith(":math:"):
        html = _mathml(text, "inline")
        # in a span: Python-Markdown takes a line that starts with <math> for a block of raw HTML
        return f'<span class="math">{html}</span>' if html else f"`{text}`"
    if text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"`{text}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _take_block(lines: list[str], start: int, base: int) -> tuple[list[str], int]:
    """The lines after ``start`` indented deeper than ``base`` (blank lines inside kept), and the next index."""
    while start < len(lines) and not lines[start].strip():
        start += 1
    block: list[str] = []
    i = start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
        i -= 1
    return block, i


def _fence(block: list[str], indent: str, lang: str) -> list[str]:
    body = [ln for ln in block if ln.strip()]
    cut = min((_indent(ln) for ln in body), default=0)
    return [f"{indent}```{lang}", *[indent + ln[cut:] if ln.strip() else "" for ln in block], f"{indent}```"]


_DIRECTIVE = re.compile(r"\s*# doctest: [+-][A-Z_, +-]+$")
_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Other Parameters|Keyword Args|Keyword Arguments):\s*$")
_GROUPED = re.compile(r"^(\s+)(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)+)(\s*(?:\([^)]*\))?:\s.*)$")


def _split_grouped(lines: list[str]) -> list[str]:
    out: list[str] = []
    section: int | None = None  # indent of the current Args: header
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _SECTION.match(line)
        if header:
            section = len(header.group(1))
        elif line.strip() and section is not None and _indent(line) <= section:
            section = None
        grouped = _GROUPED.match(line) if section is not None else None
        if grouped is None:
            out.append(line)
            i += 1
            continue
        rest, i = _take_block(lines, i + 1, _indent(line))
        for name in grouped.group(2).split(","):
            out.extend([grouped.group(1) + name.strip() + grouped.group(3), *rest])
    return out


def convert(text: str) -> str:
    """The Markdown form of one docstring."""
    lines = _split_grouped(_ROLE.sub(_role, text).splitlines())
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = line[: _indent(line)]
        if stripped == ".. math::" or (stripped.endswith("::") and not stripped.startswith(">>>")):
            block, nxt = _take_block(lines, i + 1, _indent(line))
            if stripped != ".. math::":
                out.append(line.rstrip()[:-1])  # "text::" -> "text:"
            if out and out[-1].strip():
                out.append("")
            rows = [_mathml(row.replace("&", ""), "block") for row in " ".join(block).split("\\\\")]
            if stripped == ".. math::" and all(rows):
                out.extend(indent + str(row) for row in rows)
            else:
                out.extend(_fence(block, indent, "text" if stripped == ".. math::" else "python"))
            i = nxt
            continue
        if stripped.startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) >= len(indent):
                block.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out.extend(_fence([_DIRECTIVE.sub("", ln) for ln in block], indent, "pycon"))
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class RstMarkup(griffe.Extension):
    """Rewrite every docstring once, when griffe has loaded its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
