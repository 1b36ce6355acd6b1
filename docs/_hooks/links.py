"""MkDocs hook for the docs site: links from a guide to a file outside docs/ (``../examples/x.py``,
``../datasets/README.md``) work on GitHub but point at nothing in the built site. They become inline code of the
repository path, so the page still says which file is meant and ``mkdocs build --strict`` has no broken link.

Loaded by mkdocs.yml (``hooks:``); not part of the package.
"""

from __future__ import annotations

import posixpath
import re

_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s#]+)(#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (MkDocs hook signature)
    here = posixpath.dirname(page.file.src_uri)

    def repl(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if "://" in target or target.startswith(("mailto:", "/")):
            return match.group(0)
        path = posixpath.normpath(posixpath.join("docs", here, target))
        if path.startswith("docs/"):
            return match.group(0)
        return text if text.startswith("`") else f"{text} (`{path}`)"

    return _LINK.sub(repl, markdown)
