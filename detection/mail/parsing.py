"""RFC 822 / MIME parsing of hostile mail into the message schema.

Every size is capped (whole message, headers, parts, bodies, HTML, URLs, attachments). A message
that cannot be parsed raises :class:`ParseError` with a machine-readable reason; the ingestion
code turns that into a quarantine row. Nothing here ever stores attachment content.
"""

from __future__ import annotations

import codecs
import email
import hashlib
import itertools
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from urllib.parse import urlsplit

from detection.mail.html_text import MAX_ANCHORS, MAX_HTML_CHARS, HtmlFacts, extract_html
from detection.mail.schema import (
    CATEGORY_UNKNOWN,
    MAX_ATTACHMENTS,
    MAX_BODY_CHARS,
    MAX_HEADER_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_URLS,
    Attachment,
    Message,
    Url,
)
from detection.mail.visible import UnreadText, squeezed_head

# A part that declares the charset "unicode-escape" makes the standard library decode its body
# with that codec, which warns once per bad escape: text chosen by the sender, not a defect of
# ours, and a stream of them would flood a scoring service's log. Silenced for that module only.
warnings.filterwarnings(
    "ignore",
    message="invalid escape sequence",
    category=DeprecationWarning,
    module=r"email\.message",
)

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_PARTS = 200
MAX_PART_BYTES = 4 * 1024 * 1024
# a text part longer than MAX_PART_BYTES keeps its start and its last PART_TAIL_BYTES (more than
# the end of an HTML part read below, HTML_TAIL_SHARE, can take in any charset)
PART_TAIL_BYTES = 512 * 1024
# HTML parsed per message, over all its parts (each part is capped at MAX_HTML_CHARS too): the
# work bound that keeps a message of many large hostile HTML parts well under a second
# (BENCHMARKS.md). Two of the real corpus's 2,969 HTML parts are longer (983 and 993 KB); with
# this budget they give the same links and forms, and body text that is capped at 100,000
# characters anyway (the text model reads the first 2,000)
MAX_HTML_PER_MESSAGE = 500_000
# an HTML part longer than what is left of the budget is read at its start and its end, the end
# a fifth of what is read: the lure after a long invisible padding is read (_read_html)
HTML_TAIL_SHARE = 5
# text squeezed (whitespace runs, invisible characters) to fill the body cap when the displayed
# text is longer than it: ten caps' worth; padding beyond it holds the message as too_complex
MAX_SQUEEZED_CHARS = 10 * MAX_BODY_CHARS
# an alternative's plain text is read in place of the HTML a client shows when it holds this
# share of the HTML's words (the same message: on the shared corpus 95% of safe alternatives
# cover 88% or more, while 29% of attack alternatives cover less than 80%: decoys), counted in
# the first _COVERAGE_CHARS characters of each
PLAIN_COVERAGE = 0.8
_COVERAGE_CHARS = 20_000
_WORD = re.compile(r"[^\W\d_]{2,}")
MAX_RECIPIENTS = 100
MAX_HOST_CHARS = 253  # the longest DNS name (RFC 1035)
MAX_ADDRESS_CHARS = 254  # the longest address an SMTP path can carry (RFC 5321)
# The MIME parse's work bound. The standard library's parser costs about 1-5 µs a line (more in
# headers and multipart bodies) and 40 µs a part, so 25 MB of one-character lines took 11 s and
# 600,000 tiny parts 24 s. Base64 and quoted-printable bodies of messages over 32 KB are first
# moved out of the parser's way (decoded later by the same standard-library code, so bodies,
# attachments and their hashes are unchanged; a legitimate 25 MB attachment has 330,000 lines of
# base64; on the real corpus the parse's p99 drops by a third); a message still over these caps
# is refused as ``too_complex`` (quarantined by ingest, ``suspicious`` in the scorer). The real
# corpus's largest counts: 37,338 lines, 2,500 header lines, 1,379 lines starting with "--".
MAX_LINES = 100_000
MAX_HEADER_LINES = 5_000
MAX_DASH_LINES = 5_000
# Content-Type and Content-Disposition values are parsed for parameters (boundary, charset,
# filename) by the standard library in time quadratic in their semicolons (200,000 of them took
# 60 s); the corpus's longest is 189 characters. A longer one is refused as ``too_complex``
# rather than cut, so that no parameter (a boundary) can be pushed out of reach.
MAX_PARAMETER_HEADER_CHARS = 4_000
_PARAMETER_HEADERS = frozenset({"content-type", "content-disposition"})
_STASH_FROM_BYTES = 32 * 1024
_STASH_MIN_BYTES = 4096  # a shorter body costs the parser next to nothing: it is left in place
# what a base64 body may hold; a body holding anything else is left as it is
_BASE64_BODY = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t"

_URL_RE = re.compile(r"https?://[^\s<>\"'`\])}]+", re.IGNORECASE)
_AUTH_RE = {
    k: re.compile(rf"\b{k}\s*=\s*([a-z]+)", re.IGNORECASE) for k in ("spf", "dkim", "dmarc")
}
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:", re.MULTILINE)


class ParseError(Exception):
    """A message that cannot be parsed; ``reason`` is a short code for the quarantine table."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _header(msg: EmailMessage, name: str) -> str:
    """A header decoded from RFC 2047, capped, never raising on broken encodings."""
    value = msg.get(name)
    if value is None:
        return ""
    raw = str(value)[: MAX_HEADER_CHARS * 2]
    decoded = raw
    if "=?" in raw:  # only RFC 2047 encoded words need decoding; whitespace is collapsed below
        try:
            decoded = str(make_header(decode_header(raw)))
        except (UnicodeError, LookupError, ValueError, HeaderParseError):
            decoded = raw
    return " ".join(decoded.split())[:MAX_HEADER_CHARS]


# The two everyday forms, ``Name <local@domain>`` and ``local@domain``; anything else (groups,
# comments, quoted locals, lists) goes through the standard library's full parser.
_SIMPLE_NAMED = re.compile(r'^"?([^"<>,;:()\\]*?)"?\s*<([^<>@\s",;:()\\]+@[^<>@\s",;:()\\]+)>$')
_SIMPLE_BARE = re.compile(r'^([^<>@\s",;:()\\]+@[^<>@\s",;:()\\]+)$')


def _bounded_address(address: str) -> str:
    """An address within the SMTP limits (a 64-character local part, a 253-character domain):
    a longer one is hostile, and its domain keys the features' caches. The domain's end (its
    registrable part) is kept."""
    if len(address) <= MAX_ADDRESS_CHARS:
        return address
    local, at, domain = address.rpartition("@")
    return f"{local[:64]}@{domain[-MAX_HOST_CHARS:]}" if at else address[:MAX_ADDRESS_CHARS]


def _address(value: str) -> tuple[str, str]:
    value = value.strip()
    if match := _SIMPLE_BARE.match(value):
        return "", _bounded_address(match.group(1).lower())
    if match := _SIMPLE_NAMED.match(value):
        return match.group(1).strip(), _bounded_address(match.group(2).lower())
    name, address = parseaddr(value)
    return name.strip().strip('"'), _bounded_address(address.strip().lower())


def _addresses(msg: EmailMessage, name: str) -> tuple[str, ...]:
    value = _header(msg, name)
    if not value:
        return ()
    parts = [p.strip() for p in value.split(",")]
    # "a@x, b@y" and "Name <a@x>, Other <b@y>": the common list forms (the patterns exclude
    # commas and quotes inside names, so splitting on commas cannot cut a name in two)
    matches = [_SIMPLE_BARE.match(p) or _SIMPLE_NAMED.match(p) for p in parts]
    if all(matches):
        found = [m.group(m.lastindex or 1).lower() for m in matches if m]
    else:
        found = [a.strip().lower() for _, a in getaddresses([value]) if "@" in a]
    return tuple(dict.fromkeys(map(_bounded_address, found)))[:MAX_RECIPIENTS]


def _received_at(header_date: str, fallback: datetime | None) -> datetime:
    try:
        parsed = parsedate_to_datetime(header_date) if header_date else None
    except (TypeError, ValueError, IndexError, OverflowError):  # "Mon, 2147483648 Jan 2024"
        parsed = None
    if parsed is not None and 1990 <= parsed.year <= 2100:
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    if fallback is not None:
        return fallback
    return datetime.now(UTC)


def _auth_results(msg: EmailMessage) -> tuple[str, str, str]:
    results = {"spf": "none", "dkim": "none", "dmarc": "none"}
    for header in (msg.get_all("Authentication-Results") or [])[:5]:
        text = str(header)[:MAX_HEADER_CHARS]
        for key, pattern in _AUTH_RE.items():
            match = pattern.search(text)
            if match and results[key] == "none":
                results[key] = match.group(1).lower()
    received_spf = msg.get("Received-SPF")
    if results["spf"] == "none" and received_spf:
        first = str(received_spf).strip().split(maxsplit=1)
        if first:
            results["spf"] = first[0].lower().strip(";")
    return results["spf"], results["dkim"], results["dmarc"]


# Python codecs no mail client decodes with: a message declaring one is read as UTF-8, as a
# client falling back would show it (declaring "unicode_escape" must not turn a lure into noise)
_NOT_MAIL_CHARSETS = frozenset(
    {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "rot-13"}
)


def _mail_charset(declared: str, payload: bytes) -> str:
    """The charset to decode with: the declared one, unless it is not a mail charset, or it says
    UTF-16/32 of bytes without a single NUL (text in those always has NULs: mislabelled)."""
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return "utf-8"
    if name in _NOT_MAIL_CHARSETS:
        return "utf-8"
    if name.startswith(("utf-16", "utf-32")) and b"\x00" not in payload[:4096]:
        return "utf-8"
    return name


def _decode_text(part: EmailMessage, stash: dict[str, bytes]) -> str:
    payload = _payload(part, stash)
    if not isinstance(payload, bytes):
        return ""
    if len(payload) > MAX_PART_BYTES:  # its start and its end, where a padded lure would be
        # (the end from a multiple of four bytes: UTF-16 and UTF-32 stay aligned)
        end = (len(payload) - PART_TAIL_BYTES) // 4 * 4
        payload = payload[: MAX_PART_BYTES - PART_TAIL_BYTES] + payload[end:]
    charset = _mail_charset(part.get_content_charset() or "utf-8", payload)
    try:
        return payload.decode(charset, errors="replace")
    # an unknown charset name, or a codec that is not a mail charset ("idna" refuses "replace"):
    # the bytes are still read, as UTF-8, so a crafted charset cannot keep a body from scoring
    except (LookupError, UnicodeError, ValueError, TypeError):
        return payload.decode("utf-8", errors="replace")


def _filename(part: EmailMessage) -> str:
    try:
        name = part.get_filename() or ""
    except (UnicodeError, LookupError, ValueError):
        name = ""
    if "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except (UnicodeError, LookupError, ValueError, HeaderParseError):
            pass
    return " ".join(name.split())[:255]


def _host(href: str) -> str:
    """A link's host, at most the 253 characters of the longest DNS name: a longer one is
    hostile (an unclosed href can run for a megabyte), and a host is a key of the features'
    caches. Its end is kept: the registrable domain that features read."""
    try:
        host = (urlsplit(href).hostname or "").rstrip(".")
    except ValueError:
        return ""
    return host[-MAX_HOST_CHARS:]


class _Body:
    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html_text: list[str] = []
        self.texts: list[tuple[int, str]] = []  # every text part's id and text, in order
        self.plain_ids: set[int] = set()
        self.anchors: list[tuple[str, str]] = []
        self.forms = 0
        self.images = 0
        self.attachments: list[Attachment] = []


def _tree(msg: EmailMessage) -> list[EmailMessage]:
    """The message's first ``MAX_PARTS`` parts in ``walk`` order (depth first, the document's
    order)."""
    return list(itertools.islice(msg.walk(), MAX_PARTS))


@dataclass(frozen=True)
class _Alternative:
    """A ``multipart/alternative`` with an alternative that holds HTML: the leaves of the one a
    client displays (the last that holds HTML) and the leaves of the others (their text/plain
    leaves may stand in for the shown one)."""

    shown: frozenset[int]
    others: frozenset[int]


def _alternatives(parts: list[EmailMessage]) -> list[_Alternative]:
    """Every ``multipart/alternative`` among ``parts`` that has an alternative holding HTML:
    clients show the richest alternative they can render (the HTML), not the plain text beside
    it."""
    listed = {id(part) for part in parts}
    leaves: dict[int, frozenset[int]] = {}  # the leaves under each part
    html_below: dict[int, bool] = {}
    for part in reversed(parts):  # children before their parents
        if part.is_multipart():
            children = [c for c in part.get_payload() if id(c) in listed]
            html_below[id(part)] = any(html_below[id(c)] for c in children)
            leaves[id(part)] = frozenset().union(*(leaves[id(c)] for c in children))
        else:
            kind = part.get_content_type()
            html_below[id(part)] = kind == "text/html" and not _filename(part)
            leaves[id(part)] = frozenset({id(part)})
    found: list[_Alternative] = []
    for part in parts:
        if part.get_content_type() != "multipart/alternative":
            continue
        children = [c for c in part.get_payload() if id(c) in listed]
        showing = [c for c in children if html_below[id(c)]]
        if showing:
            shown = showing[-1]
            others = frozenset().union(*(leaves[id(c)] for c in children if c is not shown))
            found.append(_Alternative(leaves[id(shown)], others))
    return found


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text[:_COVERAGE_CHARS].lower()))


def _displayed(body: _Body, alternatives: list[_Alternative]) -> list[str]:
    """The text of the parts a client displays, in the document's order. In an alternative, the
    HTML a client shows is read, unless the plain alternative beside it says the same (it holds
    at least ``PLAIN_COVERAGE`` of the words the HTML shows): then the plain text is read, the
    same words without the HTML's extraction artefacts. A harmless plain alternative beside an
    HTML lure (an attacker's decoy: a client shows the lure) is never read in its place."""
    texts = dict(body.texts)
    read = set(texts)
    for alternative in alternatives:
        plain = [i for i in texts if i in alternative.others and i in body.plain_ids]
        read -= alternative.others
        if not plain:
            continue
        shown = _words(" ".join(texts[i] for i in texts if i in alternative.shown))
        said = _words(" ".join(texts[i] for i in plain))
        if len(shown & said) >= PLAIN_COVERAGE * len(shown):
            read = (read - alternative.shown) | set(plain)
    return [text for i, text in body.texts if i in read]


def _walk(msg: EmailMessage, stash: dict[str, bytes]) -> tuple[_Body, list[_Alternative]]:
    body = _Body()
    html_budget = MAX_HTML_PER_MESSAGE
    parts = _tree(msg)
    alternatives = _alternatives(parts)
    for part in parts:
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        filename = _filename(part)
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        if filename or disposition == "attachment" or not content_type.startswith("text/"):
            if len(body.attachments) < MAX_ATTACHMENTS and content_type != "multipart/alternative":
                payload = _payload(part, stash)
                data = payload if isinstance(payload, bytes) else b""
                body.attachments.append(
                    Attachment(filename, content_type, len(data), hashlib.sha256(data).hexdigest())
                )
            continue
        text = _decode_text(part, stash)
        if content_type == "text/html":
            spent = MAX_HTML_PER_MESSAGE - html_budget
            if spent and (not html_budget or len(text) > html_budget):
                # a later part the budget cannot read whole (a padded first part spends it, and
                # a client shows the next): held, never scored without its lure
                raise ParseError(
                    "too_complex",
                    f"an HTML part of {len(text)} characters after earlier parts spent {spent} of "
                    f"the cap of {MAX_HTML_PER_MESSAGE} characters of HTML read per message (part "
                    "or all of it would go unread); it is held, not scored",
                )
            facts = _read_html(text, html_budget)
            html_budget = max(0, html_budget - min(len(text), MAX_HTML_CHARS))
            text = facts.text
            body.html_text.append(text)
            body.anchors.extend(facts.anchors)
            body.forms += facts.form_count
            body.images += facts.image_count
        else:
            body.plain.append(text)
            body.plain_ids.add(id(part))
        body.texts.append((id(part), text))
    return body, alternatives


def _read_html(text: str, budget: int) -> HtmlFacts:
    """An HTML part read within ``budget`` characters: whole where it fits; otherwise its start
    and its end (``HTML_TAIL_SHARE`` of the budget, from where :func:`_tail_start` puts it), each
    read as a document of its own. Padding a client shows as nothing (comments, empty blocks,
    style rules, runs of spaces) put before the lure would otherwise push the lure past the
    budget, unread; the end is read on its own so that an element left open by the start (a
    hidden block) cannot swallow it. The end's last links come first under the link caps: links
    in the padding cannot push the lure's link out."""
    if len(text) <= budget:
        return extract_html(text)
    tail = budget // HTML_TAIL_SHARE
    head = extract_html(text[: budget - tail])
    rest = extract_html(text[_tail_start(text, len(text) - tail) :], last_anchors=True)
    return HtmlFacts(
        text="\n".join(t for t in (head.text, rest.text) if t),
        anchors=rest.anchors + head.anchors[: MAX_ANCHORS - len(rest.anchors)],
        form_count=head.form_count + rest.form_count,
        image_count=head.image_count + rest.image_count,
    )


# where a client shows nothing until a closing marker: a comment, a tag's inside, and elements
# whose content is not text on the page (as html_text skips them)
_HIDDEN_UNTIL = (
    (b"<!--", b"-->"),
    *((b"<" + name, b"</" + name) for name in (b"script", b"style", b"title", b"noscript")),
)


def _tail_start(text: str, cut: int) -> int:
    """Where the end of a long HTML part is read from: ``cut``, unless ``cut`` falls inside a
    comment, a tag, or a script, style, title or noscript element; then just after it closes, so
    that what a client hides (a comment full of markup, a script) is not read as the page's text
    and the text after it (a lure without a tag of its own) is. One pass over the part's bytes
    (ASCII letters lower-cased, which keeps every offset), linear however the part is made."""
    before = text[:cut].encode("utf-8", "replace").lower()
    after = text[cut:].encode("utf-8", "replace").lower()
    close = b""
    opened = -1
    for opening, closing in _HIDDEN_UNTIL:
        at = before.rfind(opening)
        if at > max(opened, before.rfind(closing)):
            opened, close = at, closing
    bracket = before.rfind(b"<")
    if not close and bracket > before.rfind(b">"):  # perhaps inside a tag: if "<" starts one
        following = before[bracket + 1 : bracket + 2] or after[:1]
        if following.isalpha() or following in (b"/", b"!", b"?"):
            close = b">"
    if not close:
        return cut
    found = after.find(close)
    if found < 0:
        return len(text)  # nothing after the padding closes it: a client shows nothing there
    ends = found + len(close)
    if close != b">" and close != b"-->":  # a closing tag: to its ">"
        bracket = after.find(b">", ends)
        ends = len(after) if bracket < 0 else bracket + 1
    return cut + len(after[:ends].decode("utf-8", "replace"))


def _visible_body(texts: list[str]) -> str:
    """The displayed parts' text, joined and capped at ``MAX_BODY_CHARS``. A text longer than
    the cap is squeezed first (whitespace runs and invisible characters,
    :mod:`detection.mail.visible`), so that padding cannot push the words past the cap; at most
    ``MAX_SQUEEZED_CHARS`` are squeezed, and a text whose padding would leave words unread beyond
    them is held as ``too_complex``."""
    text = "\n\n".join(t for t in texts if t.strip())
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if len(text) <= MAX_BODY_CHARS:
        return text
    try:
        return squeezed_head(text, MAX_BODY_CHARS, MAX_SQUEEZED_CHARS)
    except UnreadText as exc:
        raise ParseError(
            "too_complex",
            f"the body is padded with whitespace or invisible characters ({exc}); the words "
            "after the padding would go unread, so it is held, not scored",
        ) from exc


def _urls(anchors: list[tuple[str, str]], text: str) -> tuple[Url, ...]:
    found: dict[str, Url] = {}
    shown = {label for _, label in anchors}  # a link's visible text is not a link of its own
    for href, label in anchors:
        if href.lower().startswith(("http://", "https://")) and href not in found:
            found[href] = Url(href[:2000], _host(href), label[:200])
    for match in _URL_RE.finditer(text):
        href = match.group(0).rstrip(".,;:!?")
        if href not in found and href not in shown:
            found[href] = Url(href[:2000], _host(href), "")
        if len(found) >= MAX_URLS:
            break
    return tuple(found.values())[:MAX_URLS]


class _IndexedMessage(EmailMessage):
    """The standard library's message with ``get`` through an index of its headers. The parser
    asks each new part's parent for its content type, and ``Message.get`` scans every header:
    a container of 5,000 headers with 5,000 parts cost 25 million comparisons (12 s). Parsed
    messages are only read, never edited, so the index is rebuilt only when headers are added,
    and each header is parsed (``header_fetch_parse``) once however often it is asked for."""

    _index: dict[str, tuple[str, str]] | None = None
    _indexed = -1
    _fetched: dict[str, object] | None = None

    def get(self, name: str, failobj: object = None) -> object:  # type: ignore[override]
        value = self._indexed_get(name, failobj)
        if (
            value is not failobj
            and len(str(value)) > MAX_PARAMETER_HEADER_CHARS
            and name.lower() in _PARAMETER_HEADERS
        ):
            raise ParseError(
                "too_complex",
                f"a {name} header of {len(str(value))} characters exceeds the cap of "
                f"{MAX_PARAMETER_HEADER_CHARS} (its parameters cost quadratic time to read); "
                "it is held, not scored",
            )
        return value

    def _indexed_get(self, name: str, failobj: object) -> object:
        headers = self._headers  # type: ignore[attr-defined]
        if len(headers) < 4:
            return super().get(name, failobj)
        if self._indexed != len(headers) or self._index is None or self._fetched is None:
            index: dict[str, tuple[str, str]] = {}
            for key, value in headers:
                index.setdefault(key.lower(), (key, value))
            self._index, self._indexed, self._fetched = index, len(headers), {}
        lower = name.lower()
        if lower in self._fetched:
            return self._fetched[lower]
        found = self._index.get(lower)
        if found is None:
            return failobj
        value = self._fetched[lower] = self.policy.header_fetch_parse(*found)  # type: ignore[attr-defined]
        return value


# a header block's end, either form: one search finds the nearer (two ``find`` calls scanned to
# the end of the message for the form it does not use, once per encoded part: 200 parts before
# a 24 MB body took 4.7 s); the two forms cannot overlap, so the first to start ends first
_BLANK_LINE = re.compile(rb"\n\n|\r\n\r\n")


def _body_start(data: bytes, at: int) -> int:
    """Where the body after the header block containing ``at`` starts; -1 when none does."""
    found = _BLANK_LINE.search(data, at)
    return -1 if found is None else found.end()


_STASH = "x-attack-detection-stashed-body-"  # neither base64 nor in any real message
_STASHED = re.compile(re.escape(_STASH) + r"\d+")
_CTE = b"content-transfer-encoding"


def _stashable(encoding: bytes, region: bytes) -> bool:
    """Whether a body may leave the parser's way: base64 of base64 characters only; quoted-
    printable in ASCII (as the encoding makes it) with every CR ending a CRLF (a bare CR ends a
    line for the parser, so a boundary after one would otherwise be swallowed with the body)."""
    if encoding == b"base64":
        return not region.translate(None, _BASE64_BODY)
    # the region ends before the newline of the line break ahead of a boundary: its CR is its own
    return region.isascii() and region.rstrip(b"\r").count(b"\r") == region.count(b"\r\n")


def _stash_encoded_bodies(raw: bytes, stash: dict[str, bytes]) -> bytes:
    """Every base64 or quoted-printable body (after its ``Content-Transfer-Encoding`` header, up
    to the next line starting with "--" or the end) moved out of the bytes the MIME parser
    reads, into ``stash`` under a placeholder: the parser's cost is per line and per byte, and an
    attachment is only hashed and measured, a text body decoded once. Byte-level searches only
    (C speed). A message that already holds the placeholder's text is left as it is."""
    lower = raw.lower()
    if _STASH.encode() in lower:
        return raw
    out: list[bytes] = []
    pos = at = 0
    for _ in range(MAX_PARTS):
        at = lower.find(_CTE, at)
        if at < 0:
            break
        line_start = lower.rfind(b"\n", 0, at) + 1
        line_end = lower.find(b"\n", at)
        line = lower[at : len(lower) if line_end < 0 else line_end]
        name, _, value = line.partition(b":")
        encoding = value.strip().split(b";")[0].strip()
        at += len(_CTE)
        if (
            lower[line_start:at].strip(b" \t") != _CTE
            or name.strip(b" \t") != _CTE
            or encoding not in (b"base64", b"quoted-printable")
        ):
            continue
        start = _body_start(lower, at)
        if start < 0:
            break
        # a body may start with a boundary line: the search starts at the newline before it
        end = lower.find(b"\n--", start - 1)
        end = len(raw) if end < 0 else end
        if end - start >= _STASH_MIN_BYTES and _stashable(encoding, raw[start:end]):
            key = f"{_STASH}{len(stash)}"
            stash[key] = raw[start:end]
            out += [raw[pos:start], key.encode()]
            pos = end
        at = end
    return b"".join([*out, raw[pos:]]) if out else raw


def _payload(part: EmailMessage, stash: dict[str, bytes]) -> object:
    """A part's decoded payload, exactly as without the stash: stashed bodies are put back in
    the part's payload text where their placeholders stand (a part may hold a placeholder and
    more, e.g. a "--" line that is not its boundary), then the standard library decodes it by
    the part's own transfer encoding."""
    body = part.get_payload()
    if not (stash and isinstance(body, str) and _STASH in body):
        return part.get_payload(decode=True)
    whole = EmailMessage()
    whole["Content-Transfer-Encoding"] = str(part.get("Content-Transfer-Encoding", ""))
    whole.set_payload(
        _STASHED.sub(lambda m: stash.get(m.group(0), m.group(0).encode()).decode("ascii"), body)
    )
    return whole.get_payload(decode=True)


def _bounded(raw: bytes, stash: dict[str, bytes]) -> bytes:
    """The bytes the MIME parser reads: refused over the work caps, base64 bodies stashed."""
    lines = raw.count(b"\n")
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    header_lines = raw.count(b"\n", 0, min(ends)) if ends else lines
    checks = [
        (header_lines, MAX_HEADER_LINES, "header lines"),
        (raw.count(b"\n--"), MAX_DASH_LINES, "lines starting with '--' (MIME boundaries)"),
    ]
    if lines > MAX_LINES or len(raw) > _STASH_FROM_BYTES:
        raw = _stash_encoded_bodies(raw, stash)
        checks.append(
            (raw.count(b"\n"), MAX_LINES, "lines besides base64 and quoted-printable bodies")
        )
    for count, cap, what in checks:
        if count > cap:
            raise ParseError(
                "too_complex",
                f"{count} {what} exceed the cap of {cap} for one message (a bound on the work "
                "one message can cost); it is held, not scored",
            )
    return raw


def _check_raw(raw: bytes) -> None:
    if not raw.strip():
        raise ParseError("empty", "the input has no bytes besides whitespace")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ParseError("too_large", f"{len(raw)} bytes exceeds the {MAX_MESSAGE_BYTES} byte cap")
    # NULs are judged in the header block only: NULs in a body are read past (and removed), so
    # padding a body with them cannot turn a message into "not mail"
    header_block = raw[:65536].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    if header_block.count(b"\x00") > 16 or not _HEADER_LINE.search(header_block):
        raise ParseError("not_rfc822", "no RFC 822 header block found at the start of the input")


def parse_message(
    raw: bytes,
    *,
    tenant_id: str,
    source: str = "",
    label: str | None = None,
    category: str = CATEGORY_UNKNOWN,
    fallback_time: datetime | None = None,
) -> Message:
    """Parse raw RFC 822 bytes into a :class:`Message`, or raise :class:`ParseError`."""
    _check_raw(raw)
    stash: dict[str, bytes] = {}
    bounded = _bounded(raw, stash)
    try:
        msg = email.message_from_bytes(bounded, _class=_IndexedMessage, policy=policy.compat32)
        headers = msg.keys()
        if not any(h.lower() in ("from", "to", "subject", "date", "message-id") for h in headers):
            raise ParseError("not_rfc822", "none of From, To, Subject, Date, Message-ID is present")
        display_name, sender = _address(_header(msg, "From"))
        _, reply_to = _address(_header(msg, "Reply-To"))
        _, return_path = _address(_header(msg, "Return-Path"))
        header_date = _header(msg, "Date")
        spf, dkim, dmarc = _auth_results(msg)
        # recipients, subject and id read here too: an address list's nested comments recurse
        to_addresses, cc_addresses = _addresses(msg, "To"), _addresses(msg, "Cc")
        subject = _header(msg, "Subject")[:MAX_SUBJECT_CHARS]
        header_message_id = _header(msg, "Message-ID")[:300]
        body, alternatives = _walk(msg, stash)
    except RecursionError as exc:
        raise ParseError(
            "mime_too_deep",
            "nesting (MIME parts, or comments in an address header) exceeds the parser's depth "
            "limit",
        ) from exc
    except ParseError:
        raise
    except Exception as exc:  # the stdlib parser is tolerant; anything else is a defect in the mail
        raise ParseError(
            "mime_error", f"{type(exc).__name__} while reading the MIME structure"
        ) from exc
    # links are found in the text as before (plain parts, else the HTML's), visible or not
    text = _visible_body(body.plain)
    body_is_html = not text and bool(body.html_text)
    if body_is_html:
        text = _visible_body(body.html_text)
    body_text = _visible_body(_displayed(body, alternatives))
    return Message(
        message_id=sha256_hex(raw),
        tenant_id=tenant_id,
        received_at=_received_at(header_date, fallback_time),
        sender_address=sender,
        sender_display_name=display_name[:200],
        reply_to_address=reply_to,
        return_path_address=return_path,
        to_addresses=to_addresses,
        cc_addresses=cc_addresses,
        subject=subject,
        body_text=body_text,
        header_message_id=header_message_id,
        header_date=header_date[:100],
        spf_result=spf,
        dkim_result=dkim,
        dmarc_result=dmarc,
        html_form_count=body.forms,
        html_image_count=body.images,
        body_is_html=body_is_html,
        urls=_urls(body.anchors, text),
        attachments=tuple(body.attachments),
        label=label,
        category=category,
        source=source,
    )
