"""HTML to text with links, forms and images counted, built on libxml2's HTML parser (lxml) in
event mode: linear in the input, recovering from broken markup. The standard library's
``html.parser`` is quadratic on unclosed tags (CVE-2025-6069: a crafted 80 KB part took minutes),
so hostile HTML could hold the scorer for as long as it liked. Input is capped before parsing.

The parser's events cost a Python call each (about half of the extraction on real mail), so each
does as little as it can: libxml2 hands tag names over with their ASCII letters lower-cased, and
one dictionary lookup sorts a tag into the few kinds that matter (most tags matter to nothing).
A name with other letters is lower-cased by Python as well (the Kelvin sign in "bloc\u212aquote"
lower-cases to "k"), as the extractor always did.

Text an inline style hides is not text a reader sees, and is not read ("hidden text salting":
harmless prose in a ``display:none`` block before the lure, to push it out of a reader's window
or dilute it, or letters in a zero-size span inside a word, to break it). :func:`hides` reads an
element's ``style`` attribute with tinycss2, as a client tokenises it (strings, ``url()``,
escapes, comments; the last declaration of a property wins, an ``!important`` one over the
rest), and its ``hidden`` attribute. ``display:none`` and ``opacity:0`` hide everything inside,
whatever it says of itself; ``visibility:hidden`` and a zero font size hide what a descendant
does not show again (``visibility:visible``, a font size of its own). What hides by layout (a
clipped empty box, a position off the page, a zero scale) depends on the element and the client
and is read as shown, as are style sheets (a class that hides) and text coloured like its
background. Links, forms and images inside hidden elements are still counted. A style too long
or past the document's budget is read as showing its text."""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import tinycss2
from lxml import etree
from tinycss2.ast import (
    Declaration,
    DimensionToken,
    IdentToken,
    LiteralToken,
    Node,
    NumberToken,
    PercentageToken,
)

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


# a font size in these units is the parent's times a factor: a zero parent's stays zero
_RELATIVE_UNITS = frozenset({"em", "ex", "ch", "cap", "ic", "lh"})
# font-size keywords: "inherit" and its kin take the parent's; the rest are sizes of their own
# but for larger and smaller, which scale the parent's
_INHERITED_FONT = frozenset({"inherit", "unset", "revert", "revert-layer", "larger", "smaller"})
_FONT_STYLE_WORDS = frozenset(
    {"normal", "italic", "oblique", "small-caps", "bold", "bolder", "lighter"}
    | {"ultra-condensed", "extra-condensed", "condensed", "semi-condensed", "semi-expanded"}
    | {"expanded", "extra-expanded", "ultra-expanded"}
)


@dataclass(frozen=True)
class Hiding:
    """What an element's inline style and ``hidden`` attribute say of its text: ``hard`` hides it
    and everything inside; ``visibility`` / ``font`` are True (hides), False (shows again) or None
    (the element inherits its parent's)."""

    hard: bool = False
    visibility: bool | None = None
    font: bool | None = None

    @property
    def hides(self) -> bool:
        """Whether it hides the text of an element whose parent's is shown."""
        return self.hard or bool(self.visibility) or bool(self.font)


def _tokens(value: list[Node]) -> list[Node]:
    return [token for token in value if token.type not in ("whitespace", "comment")]


def _font_size(token: Node) -> bool | None:
    """A font size's effect on its text: True for zero, False for a size that shows it whatever
    the parent's, None for one relative to the parent's (whose zero stays zero) or no size."""
    if isinstance(token, IdentToken):
        return None if token.lower_value in _INHERITED_FONT else False
    if isinstance(token, NumberToken):  # only a unitless zero is a length
        return True if token.value == 0 else None
    if not isinstance(token, DimensionToken | PercentageToken):
        return None
    if token.value < 0:  # not a size: the declaration is dropped
        return None
    if token.value == 0:
        return True
    if isinstance(token, PercentageToken) or token.lower_unit in _RELATIVE_UNITS:
        return None
    return False


def _font_shorthand_size(tokens: list[Node]) -> Node | None:
    """The size token of a ``font`` shorthand ("bold 0/0 a", "12px/1.2 Arial"); None where the
    declaration is not a valid one (a client drops it)."""
    for at, token in enumerate(tokens):
        if isinstance(token, IdentToken) and token.lower_value in _FONT_STYLE_WORDS:
            continue
        if isinstance(token, NumberToken) and token.value != 0:  # a weight
            continue
        rest = tokens[at + 1 :]
        if rest and isinstance(rest[0], LiteralToken) and rest[0].value == "/":
            rest = rest[2:]  # the line height
        return token if rest else None  # a family must follow
    return None


# a longer style is not read, and its text is read as shown: reading part of it could miss a
# later declaration that shows what an earlier one hid (and tinycss2, in Python, is not for
# megabytes)
MAX_STYLE_CHARS = 1_024
# and a document's styles read whole (not remembered from before) stop at this many characters:
# tinycss2 reads about half a megabyte a second, and the text of what a style past it hides is
# read as shown (as before styles were read at all); real mail stays far below it
STYLE_BUDGET_CHARS = 131_072
# what is not read shows its text, even under a parent a zero font or visibility hides
_UNREAD = Hiding(hard=False, visibility=False, font=False)


def may_hide(style: str) -> bool:
    """Whether ``style`` could hide its element's text where its parent's is shown: a quick
    look for the words every such style says (:func:`hides` reads it whole). False is exact."""
    low = style.lower()
    if "none" in low or "hidden" in low or "collapse" in low or "opacity" in low:
        return True
    if "\\" in low or "/*" in low:  # an escape or a comment may spell anything
        return True
    if "font" not in low:
        return False
    for declaration in low.split(";"):
        name, _, value = declaration.partition(":")
        if "font" in name and "0" in value:
            return True
    return False


# a plain style: printable ASCII and CSS white space, without escapes, comments, braces,
# brackets, at-rules or markup; its strings and (unnested) parentheses stand aside whole (a
# semicolon inside one does not end a declaration), and a declaration the reading looks at must
# have none
_NOT_PLAIN = re.compile(r"[^\x20-\x7e\t\n\r\f]|[{}\[\]\\<>@]|/\*")
_STRING = re.compile("'[^'\\n\\r\\f]*'|\"[^\"\\n\\r\\f]*\"")
_GROUP = re.compile(r"""\([^()'"]*\)""")
_ASIDE = "\x01"
_EXPONENT = re.compile(r"[eE][+-]?\d")
_IMPORTANT = re.compile(r"!\s*important\s*$", re.IGNORECASE)
_CSS_NAME = re.compile(r"(?:--|-?[A-Za-z_])[A-Za-z0-9_-]*")
_VALUE_PIECE = re.compile(r"[ \t\n\r\f]+|[/,]|[^ \t\n\r\f/,]+")
_NUMBER = re.compile(r"([+-]?(?:\d+(?:\.\d+)?|\.\d+))((?:[A-Za-z_]|-[A-Za-z_])[A-Za-z0-9_-]*|%)?")
# the properties the reading looks at; a plain style's other declarations are skipped unread
_READ_PROPERTIES = frozenset({"display", "visibility", "opacity", "font-size", "font"})


def _plain_tokens(value: str) -> list[Node] | None:
    """The tokens of a plain declaration's value as tinycss2 makes them, where each piece is a
    name, a number (with a unit or %), "/" or ","; None for anything else."""
    tokens: list[Node] = []
    for piece in _VALUE_PIECE.findall(value):
        if piece[0] in " \t\n\r\f":
            continue
        if piece in ("/", ","):
            tokens.append(LiteralToken(0, 0, piece))
        elif _CSS_NAME.fullmatch(piece):
            tokens.append(IdentToken(0, 0, piece))
        elif number := _NUMBER.fullmatch(piece):
            text, unit = number.group(1), number.group(2)
            if unit is not None and _EXPONENT.match(unit):
                return None  # an exponent (1e3), not a unit
            if unit is None:
                tokens.append(NumberToken(0, 0, float(text), None, text))
            elif unit == "%":
                tokens.append(PercentageToken(0, 0, float(text), None, text))
            else:
                tokens.append(DimensionToken(0, 0, float(text), None, text, unit))
        else:
            return None
    return tokens


def plain_declarations(style: str) -> list[tuple[str, bool, list[Node]]] | None:
    """The declarations the reading looks at, of a plain style (most are), as tinycss2 would give
    them, without its cost (about a tenth); None where the style is not plain, or one of those
    declarations is not, and tinycss2 must read it."""
    if _NOT_PLAIN.search(style):
        return None
    if "'" in style or '"' in style:
        style = _STRING.sub(_ASIDE, style)
    if "(" in style or ")" in style:
        style = _GROUP.sub(_ASIDE, style)
    if any(mark in style for mark in "'\"()"):
        return None
    found: list[tuple[str, bool, list[Node]]] = []
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        name = name.strip(" \t\n\r\f")
        if not colon or not _CSS_NAME.fullmatch(name):
            if "!" in declaration and any(p in declaration.lower() for p in _READ_PROPERTIES):
                return None
            continue  # not a declaration: a client skips it
        lower = name.lower()
        if lower not in _READ_PROPERTIES:
            continue
        important = _IMPORTANT.search(value)
        if important:
            value = value[: important.start()]
        if "!" in value or _ASIDE in value:
            return None
        tokens = _plain_tokens(value)
        if tokens is None:
            return None
        found.append((lower, important is not None, tokens))
    return found


def hides(style: str, hidden_attribute: bool = False) -> Hiding:
    """How an inline ``style`` (and a ``hidden`` attribute) hides an element's text, read as a
    client reads it (tinycss2's CSS syntax: strings, escapes, comments and ``url()`` as a client
    tokenises them): declarations in order, the last of a property winning, an ``!important``
    one over any that is not; the ``font`` shorthand sets the font size where it comes. A style
    over ``MAX_STYLE_CHARS``, or one tinycss2 cannot read, shows its text (even where a parent's
    zero font or visibility hid it)."""
    if len(style) > MAX_STYLE_CHARS:
        return _UNREAD
    declarations = plain_declarations(style)
    if declarations is None:
        try:
            items = tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True)
        except (ValueError, RecursionError):  # a number past Python's digits, a deep nesting
            return _UNREAD
        declarations = [
            (item.lower_name, item.important, _tokens(item.value))
            for item in items
            if isinstance(item, Declaration)
        ]
    declared: dict[str, tuple[bool, list[Node]]] = {}
    for name, important, value in declarations:
        if name == "font":
            size = _font_shorthand_size(value)
            if size is None:
                continue
            name, value = "font-size", [size]
        if important or not declared.get(name, (False, []))[0]:
            declared[name] = (important, value)

    def single(name: str) -> Node | None:
        value = declared.get(name, (False, []))[1]
        return value[0] if len(value) == 1 else None

    display, visibility, opacity = single("display"), single("visibility"), single("opacity")
    font = single("font-size")
    hard = (
        (isinstance(display, IdentToken) and display.lower_value == "none")
        or (hidden_attribute and "display" not in declared)
        or (isinstance(opacity, NumberToken | PercentageToken) and opacity.value <= 0)
    )
    visibility_word = visibility.lower_value if isinstance(visibility, IdentToken) else None
    return Hiding(
        hard=hard,
        visibility=None
        if visibility_word in (None, "inherit", "unset", "revert", "revert-layer")
        else visibility_word in ("hidden", "collapse"),
        font=None if font is None else _font_size(font),
    )


# styles repeat from element to element and message to message; short ones are remembered (a
# bounded cache of bounded entries: a long style is read afresh each time)
_CACHED_STYLE = MAX_STYLE_CHARS
_READ: dict[tuple[str, bool], Hiding] = {}  # styles read whole, emptied when full
_READ_MAX = 4_096
_HARD = (True, True, True)
# most styles say nothing of what is shown ("color:#333;padding:0"): the first time one is read,
# it joins this set, and an element with it and no hidden attribute costs one look-up after
_INERT_STYLES: set[str] = set()
_INERT_MAX = 16_384


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
        # (hidden, visibility hides, font hides) of each open element from the first whose style
        # hides its text; empty (everything shown) before and after. An element that hides all
        # it holds (display:none, ...) stands for its whole content: its depth is counted in
        # ``_hard`` (from 1) instead
        self._hiding: list[tuple[bool, bool, bool]] = []
        self._hard = 0
        self._style_budget = STYLE_BUDGET_CHARS
        self._href: str | None = None
        self._anchor_text: list[str] = []

    def _open(self, attrib: Mapping[str, str]) -> None:
        """An element opens inside a stretch a style hides, or with a style or ``hidden``
        attribute (outside any element that hides all it holds)."""
        style, hidden = attrib.get("style"), "hidden" in attrib
        if style is None and not hidden:  # inside a stretch: the parent's state
            self._hiding.append(self._hiding[-1])
            return
        style = style or ""
        # what is remembered is what a style says, never what this document's budget allowed
        remember = len(style) <= _CACHED_STYLE
        own = _READ.get((style, hidden))
        if own is None:
            if not self._hiding and not hidden and not may_hide(style):
                if remember and len(_INERT_STYLES) < _INERT_MAX:
                    _INERT_STYLES.add(style)
                return
            if len(style) > self._style_budget:  # past the document's budget: read as shown
                own, remember = (Hiding(hard=True) if hidden else _UNREAD), False
            else:
                self._style_budget -= len(style)
                own = hides(style, hidden)
                if remember:
                    if len(_READ) >= _READ_MAX:
                        _READ.clear()
                    _READ[style, hidden] = own
        if own.hard:  # nothing inside can show again: only its depth is counted
            self._hard = 1
            self._hiding.append(_HARD)
        elif not self._hiding:
            if own.hides:
                self._hiding.append((True, bool(own.visibility), bool(own.font)))
            elif not hidden and remember and len(_INERT_STYLES) < _INERT_MAX:
                _INERT_STYLES.add(style)
        else:
            _, parent_visibility, parent_font = self._hiding[-1]
            visibility = parent_visibility if own.visibility is None else own.visibility
            font = parent_font if own.font is None else own.font
            self._hiding.append((visibility or font, visibility, font))

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if self._hiding:
            if self._hard:
                self._hard += 1
            else:
                self._open(attrib)
        elif attrib and (
            ((style := attrib.get("style")) is not None and style not in _INERT_STYLES)
            or "hidden" in attrib
        ):
            self._open(attrib)
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
        if self._hiding:
            if not self._hard:
                self._hiding.pop()
            else:
                self._hard -= 1
                if not self._hard:
                    self._hiding.pop()
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
        if self._skip_depth or (self._hiding and self._hiding[-1][0]):
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
