"""HTML to text with links, forms and images counted, built on libxml2's HTML parser (lxml) in
event mode: linear in the input, recovering from broken markup. The standard library's
``html.parser`` is quadratic on unclosed tags (CVE-2025-6069: a crafted 80 KB part took minutes),
so hostile HTML could hold the scorer for as long as it liked. Input is capped before parsing."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from lxml import etree

MAX_HTML_CHARS = 1_000_000
MAX_ANCHORS = 500
_SKIP = frozenset({"script", "style", "title", "noscript"})
_BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote"})
# characters XML cannot carry (libxml2 refuses them): removed before parsing, never shown as text
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


@dataclass
class HtmlFacts:
    text: str = ""
    anchors: list[tuple[str, str]] = field(default_factory=list)  # (href, display text)
    form_count: int = 0
    image_count: int = 0


class _Extractor:
    """lxml parser target: called per start tag, end tag and text run, in document order."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.chunks: list[str] = []
        self.facts = HtmlFacts()
        self._skip_depth = 0
        self._href: str | None = None
        self._anchor_text: list[str] = []

    def start(self, tag: str | bytes, attrib: dict[str | bytes, str | bytes]) -> None:
        tag = _text(tag).lower()
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag == "a":
            href = attrib.get("href")
            self._href = None if href is None else _text(href)
            self._anchor_text = []
        elif tag == "form":
            self.facts.form_count += 1
        elif tag == "img":
            self.facts.image_count += 1
        if tag in _BLOCK:
            self.chunks.append("\n")

    def end(self, tag: str | bytes) -> None:
        tag = _text(tag).lower()
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "a" and self._href is not None:
            if len(self.facts.anchors) < MAX_ANCHORS:
                text = " ".join("".join(self._anchor_text).split())
                self.facts.anchors.append((self._href.strip(), text))
            self._href = None
        if tag in _BLOCK:
            self.chunks.append("\n")

    def data(self, data: str | bytes) -> None:
        if self._skip_depth:
            return
        text = _text(data)
        self.chunks.append(text)
        if self._href is not None:
            self._anchor_text.append(text)

    def comment(self, text: str | bytes) -> None:
        """Comments are not text a reader sees."""

    def close(self) -> HtmlFacts:
        return self.facts


_PARSERS = threading.local()  # one parser per thread: building one inspects its target (slow)


def _parser() -> tuple[etree.HTMLParser, _Extractor]:
    cached = getattr(_PARSERS, "pair", None)
    if cached is None:
        target = _Extractor()
        parser = etree.HTMLParser(
            target=target, encoding="utf-8", recover=True, no_network=True, remove_comments=True
        )
        cached = _PARSERS.pair = (parser, target)
    return cached


def extract_html(html: str) -> HtmlFacts:
    """Visible text, anchors, form and image counts of an HTML document (first 1 MB)."""
    parser, target = _parser()
    target.reset()
    cleaned = _NOT_XML.sub("", html[:MAX_HTML_CHARS]).encode("utf-8", "replace")
    finished = False
    try:
        parser.feed(cleaned)
        parser.close()
        finished = True
    except etree.LxmlError:  # libxml2 gave up on junk: keep what was read so far
        pass
    finally:
        if not finished:  # a parser stopped mid-document is not reused: the next gets a new one
            _PARSERS.pair = None
    lines = ("".join(target.chunks)).splitlines()
    target.facts.text = "\n".join(" ".join(line.split()) for line in lines if line.strip())
    return target.facts
