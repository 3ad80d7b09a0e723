"""Main-article text of an HTML page with trafilatura, and a safe fallback for pages it cannot read.

trafilatura (Apache-2.0) drops menus, navigation, scripts, styles, sidebars, comments, cookie banners
and footers, and returns one paragraph per line plus the page title (``og:title``, ``<title>`` or
``<h1>``). libxml2 stops building the tree at 256 levels of nesting, so a deeply nested page (or any
page where trafilatura finds nothing or fails) goes to :func:`fallback_text`, a streaming pass of
libxml2's HTML parser (events, no tree: linear, never recursive) that keeps the text outside boilerplate
elements; so does a page too big for trafilatura to read in seconds.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# trafilatura takes about 1.5 s per MB (75 us per tag) and grows faster than linearly on huge pages
# (17 MB: three minutes); past these sizes the linear fallback is used instead.
MAX_TRAFILATURA_CHARS = 4_000_000
MAX_TRAFILATURA_TAGS = 40_000

# fmt: off
# Elements whose text is never article text.
_SKIP = frozenset({
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "nav", "header", "footer",
    "aside", "form", "button", "select", "textarea", "menu", "dialog", "head",
})
# Elements that end a paragraph.
_BLOCK = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "main", "tr",
    "table", "blockquote", "pre", "dd", "dt", "hr", "title",
})
# fmt: on
_BOILERPLATE_ATTR = re.compile(r"cookie|consent|gdpr|banner|newsletter|menu|navbar|sidebar|footer|share|comment", re.I)


class _TextTarget:
    """lxml parser target: text outside skipped elements, one paragraph per block element, and the title.

    libxml2 streams events to it without building a tree, so nesting depth does not matter (the tree
    builder stops at 256 levels) and the pass is linear in the size of the page.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.title: list[str] = []
        self._stack: list[tuple[str, bool]] = []
        self._skipping = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")
        marker = " ".join(attrib.get(key, "") for key in ("class", "id", "role"))
        skip = tag in _SKIP or bool(_BOILERPLATE_ATTR.search(marker))
        self._stack.append((tag, skip))
        self._skipping += skip

    def end(self, tag: str) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")
        if self._stack:
            _, skip = self._stack.pop()
            self._skipping -= skip

    def data(self, data: str) -> None:
        if self._stack and self._stack[-1][0] == "title":
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(" ".join(data.split("\n")))  # in HTML a newline is a space; blocks break lines

    def close(self) -> tuple[str | None, str]:
        lines = (" ".join(line.split()) for line in "".join(self.parts).split("\n"))
        return " ".join("".join(self.title).split()) or None, "\n".join(line for line in lines if line)


def fallback_text(html: str) -> tuple[str | None, str]:
    """(title, text) by a streaming pass of libxml2's HTML parser: any nesting depth, linear time."""
    from lxml import etree

    parser = etree.HTMLParser(target=_TextTarget(), recover=True, no_network=True)
    parser.feed(html)
    result: tuple[str | None, str] = parser.close()
    return result


def extract_html(html: str) -> tuple[str | None, str]:
    """(title, main text) of a page: trafilatura first, :func:`fallback_text` when it yields nothing.

    Pages over :data:`MAX_TRAFILATURA_CHARS` characters or :data:`MAX_TRAFILATURA_TAGS` tags go
    straight to the fallback, so that any page within the byte limit is read in seconds.
    """
    if len(html) > MAX_TRAFILATURA_CHARS or html.count("<") > MAX_TRAFILATURA_TAGS:
        log.info("HTML page too big for trafilatura (%d characters); using the plain-text fallback", len(html))
        return fallback_text(html)
    try:
        import trafilatura
    except ImportError as exc:  # a broken install (check_extractors reports it at start-up): still read the page
        log.warning("trafilatura cannot be imported (%s); using the plain-text fallback", exc)
        return fallback_text(html)
    try:
        result = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True, include_images=False
        )
    except Exception as exc:  # any failure inside the extractor (lxml errors, RecursionError): fall back
        log.warning("trafilatura failed (%s); using the plain-text fallback", type(exc).__name__)
        result = None
    text = getattr(result, "text", None) if result is not None else None
    if text and text.strip():
        return getattr(result, "title", None) or None, text
    return fallback_text(html)
