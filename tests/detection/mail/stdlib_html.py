"""The HTML extractor of releases before issue #16, on the standard library's ``html.parser``,
kept for the parity test only: the lxml extractor must read at least what this one read on the
real corpus (it is quadratic on unclosed tags, so it never sees hostile input here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_HTML_CHARS = 1_000_000
MAX_ANCHORS = 500
_SKIP = frozenset({"script", "style", "head", "title", "noscript"})
_BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote"})


@dataclass
class HtmlFacts:
    text: str = ""
    anchors: list[tuple[str, str]] = field(default_factory=list)  # (href, display text)
    form_count: int = 0
    image_count: int = 0


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.facts = HtmlFacts()
        self._skip_depth = 0
        self._href: str | None = None
        self._anchor_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag == "a":
            self._href = next((v or "" for k, v in attrs if k == "href"), None)
            self._anchor_text = []
        elif tag == "form":
            self.facts.form_count += 1
        elif tag == "img":
            self.facts.image_count += 1
        if tag in _BLOCK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "a" and self._href is not None:
            if len(self.facts.anchors) < MAX_ANCHORS:
                text = " ".join("".join(self._anchor_text).split())
                self.facts.anchors.append((self._href.strip(), text))
            self._href = None
        if tag in _BLOCK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        self.chunks.append(data)
        if self._href is not None:
            self._anchor_text.append(data)


def extract_html(html: str) -> HtmlFacts:
    """Visible text, anchors, form and image counts of an HTML document (first 1 MB)."""
    parser = _Extractor()
    try:
        parser.feed(html[:MAX_HTML_CHARS])
        parser.close()
    except (AssertionError, ValueError):  # html.parser's rare internal errors on junk
        pass
    lines = ("".join(parser.chunks)).splitlines()
    parser.facts.text = "\n".join(" ".join(line.split()) for line in lines if line.strip())
    return parser.facts
