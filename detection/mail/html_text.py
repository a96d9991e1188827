"""HTML to text with links, forms and images counted, built on libxml2's HTML parser (lxml) in
event mode: linear in the input, recovering from broken markup. The standard library's
``html.parser`` is quadratic on unclosed tags (CVE-2025-6069: a crafted 80 KB part took minutes),
so hostile HTML could hold the scorer for as long as it liked. Input is capped before parsing.

The parser's events cost a Python call each (about half of the extraction on real mail), so each
does as little as it can: libxml2 hands tag names over with their ASCII letters lower-cased, and
one dictionary lookup sorts a tag into the few kinds that matter (most tags matter to nothing).
A name with other letters is lower-cased by Python as well (the Kelvin sign in "bloc\u212aquote"
lower-cases to "k"), as the extractor always did."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from lxml import etree

MAX_HTML_CHARS = 1_000_000
MAX_ANCHORS = 500
_SKIP = frozenset({"script", "style", "title", "noscript"})
_BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote"})
_SKIPPED, _ANCHOR, _FORM, _IMAGE, _BLOCK_KIND = range(5)
_KIND = (
    dict.fromkeys(_SKIP, _SKIPPED)
    | {"a": _ANCHOR, "form": _FORM, "img": _IMAGE}
    | dict.fromkeys(_BLOCK, _BLOCK_KIND)
)
# Characters XML cannot carry (libxml2 refuses them) are removed before parsing, never shown as
# text: C0 controls but tab, LF and CR, and U+FFFE / U+FFFF. They are removed from the UTF-8
# bytes, which is exact: a C0 control's byte never occurs inside another character's encoding,
# so removing it leaves whole characters side by side; and EF is only ever a lead byte, BF and
# BE only continuation bytes, so EF BF BE / EF BF BF can only be a whole U+FFFE / U+FFFF, before
# or after a removal. One C pass where a regular expression over the text took a fifth of the
# extraction.
_NOT_XML_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")


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

    def reset(self, last_anchors: bool = False) -> None:
        self.chunks: list[str] = []
        self.facts = HtmlFacts()
        # the document's last MAX_ANCHORS links instead of its first (the end of a long part)
        self._last: deque[tuple[str, str]] | None = (
            deque(maxlen=MAX_ANCHORS) if last_anchors else None
        )
        self._skip_depth = 0
        self._href: str | None = None
        self._anchor_text: list[str] = []

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        kind = _KIND.get(tag)
        # a miss: only a name with non-ASCII letters can still lower-case to one that matters
        if kind is None and (tag.isascii() or (kind := _KIND.get(tag.lower())) is None):
            return
        if kind == _BLOCK_KIND:
            self.chunks.append("\n")
        elif kind == _SKIPPED:
            self._skip_depth += 1
        elif kind == _ANCHOR:
            self._href = attrib.get("href")
            self._anchor_text = []
        elif kind == _FORM:
            self.facts.form_count += 1
        else:
            self.facts.image_count += 1

    def end(self, tag: str) -> None:
        kind = _KIND.get(tag)
        # a miss: only a name with non-ASCII letters can still lower-case to one that matters
        if kind is None and (tag.isascii() or (kind := _KIND.get(tag.lower())) is None):
            return
        if kind == _BLOCK_KIND:
            self.chunks.append("\n")
        elif kind == _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif kind == _ANCHOR and self._href is not None:
            kept = self.facts.anchors if self._last is None else self._last
            if self._last is not None or len(kept) < MAX_ANCHORS:
                text = " ".join("".join(self._anchor_text).split())
                kept.append((self._href.strip(), text))
            self._href = None

    def data(self, data: str) -> None:
        if self._skip_depth:
            return
        self.chunks.append(data)
        if self._href is not None:
            self._anchor_text.append(data)

    def comment(self, text: str) -> None:
        """Comments are not text a reader sees."""

    def close(self) -> HtmlFacts:
        return self.facts

    def finish(self) -> HtmlFacts:
        """The facts of the document read (what was read before libxml2 gave up, if it did)."""
        if self._last is not None:
            self.facts.anchors = list(self._last)
        lines = ("".join(self.chunks)).splitlines()
        self.facts.text = "\n".join(" ".join(line.split()) for line in lines if line.strip())
        return self.facts


_PARSERS = threading.local()  # one parser per thread: building one inspects its target (slow)


def _parser() -> tuple[etree.HTMLParser, _Extractor]:
    cached = getattr(_PARSERS, "pair", None)
    if cached is None:
        target = _Extractor()
        parser = etree.HTMLParser(
            # lxml's stubs allow bytes for names and text; lxml hands the target str only
            target=cast("etree.ParserTarget", target),
            encoding="utf-8",
            recover=True,
            no_network=True,
            remove_comments=True,
        )
        cached = _PARSERS.pair = (parser, target)
    return cached


def xml_safe_utf8(html: str) -> bytes:
    """``html`` as UTF-8 (a lone surrogate as "?") without the characters XML cannot carry."""
    data = html.encode("utf-8", "replace").translate(None, _NOT_XML_BYTES)
    if b"\xef\xbf" in data:
        for sequence in _NONCHARACTERS:
            data = data.replace(sequence, b"")
    return data


def extract_html(html: str, *, last_anchors: bool = False) -> HtmlFacts:
    """Visible text, anchors, form and image counts of an HTML document (first 1 MB): its first
    ``MAX_ANCHORS`` links, or its last with ``last_anchors`` (the end of a long part, where
    padding before the lure could hold links of its own)."""
    parser, target = _parser()
    target.reset(last_anchors)
    cleaned = xml_safe_utf8(html[:MAX_HTML_CHARS])
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
    return target.finish()
