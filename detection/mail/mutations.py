"""Mutations of real mail for fuzzing and evasion measurements: the edits an attacker or a broken
mail system makes (NUL padding, crafted charsets, a harmless plain alternative beside the HTML a
client shows, invisible padding before the words, harmless prose or letters an inline style
hides (hidden text salting), truncation, corrupted MIME boundaries, repeated
or oversized headers, byte flips). Deterministic for the rng it is given."""

from __future__ import annotations

import base64
import email
import html
import random
import re
from collections.abc import Callable
from email import policy
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

_CHARSET = re.compile(rb"charset=\"?[A-Za-z0-9_.:-]+\"?", re.IGNORECASE)
_CRAFTED_CHARSETS = (b"idna", b"x-unknown", b"utf-7", b"unicode_escape", b"punycode", b"utf-16")


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in raw:
            head, body = raw.split(sep, 1)
            return head, sep, body
    return raw, b"", b""


def nul_padding(raw: bytes, rng: random.Random) -> bytes:
    head, sep, body = _split(raw)
    at = rng.randrange(len(body) + 1)
    return head + sep + body[:at] + b"\x00" * rng.randint(1, 64) + body[at:]


def crafted_charset(raw: bytes, rng: random.Random) -> bytes:
    charset = rng.choice(_CRAFTED_CHARSETS)
    if _CHARSET.search(raw):
        return _CHARSET.sub(b"charset=" + charset, raw, count=1)
    head, sep, body = _split(raw)
    return head + b"\r\nContent-Type: text/plain; charset=" + charset + sep + body


def hostile_headers(raw: bytes, rng: random.Random) -> bytes:
    head, sep, body = _split(raw)
    extra = rng.choice(
        [
            b"Date: Mon, 2147483648 Jan 2024 10:00:00 +0000",
            b"Subject: =?utf-8?b?" + b"A" * rng.randint(1, 5000) + b"?=",
            b"To: " + b", ".join(b"u%d@x.test" % n for n in range(rng.randint(100, 3000))),
            b"X-Junk: " + bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))),
            b"Content-Type: multipart/mixed; boundary=" + b"-" * rng.randint(1, 500),
        ]
    )
    return head + b"\r\n" + extra + sep + body


# what a client shows instead when it cannot render HTML: harmless words the scorer must not
# read in place of the HTML beside them
_DECOY = "This message is best viewed in a mail client that displays HTML. Thank you."
# runs an attacker puts before the lure to push it out of a reader's window: blank lines, spaces,
# HTML breaks and non-breaking spaces, zero-width characters
_PADDING = ("\n", " \n", "\t", "\u200b", "\u00a0\n")
_HTML_PADDING = ("<br>\n", "<p>&nbsp;</p>\n", "&#8203;", "<div> </div>", "\n")
# markup a client shows as nothing, each piece whole (a cut comment would hide the rest from a
# client too)
_INVISIBLE_HTML = (
    "<!-- -->\n",
    "<div> </div>\n",
    "<br>\n",
    "<style>.x{color:#000}</style>\n",
    "<p>&nbsp;</p>\n",
    "<span></span>",
)


def _body_parts(msg: Message) -> list[tuple[Message | None, int, Message]]:
    """The message's inline text leaves (text/plain and text/html, not attachments), each with
    its parent and index (no parent: the message is the leaf)."""
    if not msg.is_multipart():
        return [(None, 0, msg)] if msg.get_content_type() in ("text/plain", "text/html") else []
    found: list[tuple[Message | None, int, Message]] = []
    for parent in msg.walk():
        children = parent.get_payload()
        if not isinstance(children, list):
            continue
        for index, child in enumerate(children):
            if not isinstance(child, Message) or child.is_multipart():
                continue
            if child.get_content_type() not in ("text/plain", "text/html"):
                continue
            if child.get_filename() or child.get_content_disposition() == "attachment":
                continue
            found.append((parent, index, child))
    return found


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode(part.get_content_charset() or "utf-8", "replace")


def _set_text(part: Message, text: str) -> None:
    del part["Content-Transfer-Encoding"]
    part.set_payload(text, "utf-8")  # base64, with its Content-Transfer-Encoding header


def _rebuilt(raw: bytes, edit: Callable[[Message], bool]) -> bytes:
    """``raw`` with ``edit`` applied to its parsed form; ``raw`` unchanged when the edit does not
    apply or the message cannot be written back (these edits model an attacker's tooling, which
    writes well-formed MIME)."""
    try:
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        return msg.as_bytes() if edit(msg) else raw
    except Exception:  # a message the standard library cannot round-trip
        return raw


def plain_decoy(raw: bytes, rng: random.Random) -> bytes:
    """The message's visible body as the HTML alternative of a multipart/alternative whose plain
    alternative is a harmless sentence: a client shows the HTML (the lure)."""

    def edit(msg: Message) -> bool:
        leaves = _body_parts(msg)
        if not leaves:
            return False
        parent, index, first = next(
            (leaf for leaf in leaves if leaf[2].get_content_type() == "text/html"), leaves[0]
        )
        text = _text_of(first)
        if first.get_content_type() == "text/plain":
            text = f"<html><body><pre>{html.escape(text)}</pre></body></html>"
        alternative = MIMEMultipart(
            "alternative",
            _subparts=[MIMEText(_DECOY, "plain", "utf-8"), MIMEText(text, "html", "utf-8")],
        )
        for _, _, leaf in leaves:
            if leaf is not first and leaf.get_content_type() == "text/plain":
                _set_text(leaf, _DECOY)
        if parent is None:  # a single-part message: the alternative becomes its body
            for name in ("Content-Type", "Content-Transfer-Encoding", "MIME-Version"):
                del msg[name]
            msg.set_payload(alternative.get_payload())
            msg["MIME-Version"] = "1.0"
            msg["Content-Type"] = alternative["Content-Type"]
        elif isinstance(siblings := parent.get_payload(), list):
            siblings[index] = alternative
        return True

    return _rebuilt(raw, edit)


def blank_padding(raw: bytes, rng: random.Random) -> bytes:
    """Whitespace, HTML breaks and zero-width characters (5,000-20,000 of them) before the text
    of every inline body part: invisible, and enough to push the words out of a reader's first
    few thousand characters."""
    count = rng.randint(5_000, 20_000)

    def edit(msg: Message) -> bool:
        leaves = _body_parts(msg)
        for _, _, leaf in leaves:
            is_html = leaf.get_content_type() == "text/html"
            padding = "".join(
                rng.choice(_HTML_PADDING if is_html else _PADDING) for _ in range(count)
            )
            text = _text_of(leaf)
            if is_html:
                at = re.search(r"<body[^>]*>", text, re.IGNORECASE)
                cut = at.end() if at else 0
                text = text[:cut] + padding + text[cut:]
            else:
                text = padding + text
            _set_text(leaf, text)
        return bool(leaves)

    return _rebuilt(raw, edit)


def html_padding_past_budget(raw: bytes, rng: random.Random) -> bytes:
    """Invisible markup (comments, empty blocks, style rules, breaks) before the words of every
    HTML body part, 100-300 KB more of it than the HTML the parser reads per message: a client
    shows the lure after a blank stretch; a reader that stops at its budget never reaches it.
    Messages without an HTML part are left as they are."""
    from detection.mail.parsing import MAX_HTML_PER_MESSAGE

    size = MAX_HTML_PER_MESSAGE + rng.randint(100_000, 300_000)

    def edit(msg: Message) -> bool:
        leaves = [leaf for leaf in _body_parts(msg) if leaf[2].get_content_type() == "text/html"]
        block = "".join(rng.choice(_INVISIBLE_HTML) for _ in range(64))
        padding = block * (size // len(block) + 1)
        for _, _, leaf in leaves:
            text = _text_of(leaf)
            at = re.search(r"<body[^>]*>", text, re.IGNORECASE)
            cut = at.end() if at else 0
            _set_text(leaf, text[:cut] + padding + text[cut:])
        return bool(leaves)

    return _rebuilt(raw, edit)


# the harmless prose an attacker hides beside the lure ("hidden text salting"): what a reader of
# the markup sees, and a client does not
_FILLER = (
    "Thank you for attending Tuesday's planning meeting.",
    "The minutes are attached, please send any corrections by Friday.",
    "Our quarterly newsletter covers the new office opening and the summer picnic.",
    "Please remember to submit your timesheets before the end of the month.",
    "The library will be closed on Monday for the public holiday.",
    "Lunch will be provided for everyone who attends the training session.",
    "We look forward to seeing you at the community volunteer day next week.",
    "The draft agenda for the board meeting is below; comments are welcome.",
    "Parking in the north lot is limited while the resurfacing work continues.",
    "Congratulations to the team on finishing the project ahead of schedule.",
    "The recipe for the apple crumble from the staff bake sale is included here.",
    "Weather permitting, the football match will start at three o'clock.",
)
# inline styles a client renders as nothing (a reader of the markup still finds the words)
_HIDING = (
    '<div style="display:none">',
    '<div style="display: none !important; max-height: 0; overflow: hidden; mso-hide: all">',
    '<div style="font-size:0px; line-height:0">',
    '<div style="visibility:hidden; height:0; overflow:hidden">',
    '<div style="opacity:0; height:0px; overflow:hidden">',
    "<div hidden>",
)
# a word of five letters or more, not an entity's name ("&rsquo;")
_SALT = re.compile(r"(?<![&\w])([A-Za-z]{2})([A-Za-z]{3,})\b(?!;)")
# a tag, its quoted attribute values whole (a ">" inside one does not end it)
_TAG = re.compile(r"""(<(?:"[^"]*"|'[^']*'|[^'">])*>)""")
# what a client shows as written or not at all: comments, and the elements whose text is raw
_RAW_TEXT = re.compile(
    r"<!--.*?-->|<(script|style|title|textarea|xmp|noscript)\b.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)


def _html_body_cut(text: str) -> int:
    at = re.search(r"<body[^>]*>", text, re.IGNORECASE)
    return at.end() if at else 0


def _prose_before_the_words(raw: bytes, rng: random.Random, hide: Callable[[str], str]) -> bytes:
    """Harmless prose (3,000-8,000 characters), in the markup ``hide`` puts around it, before
    the words of every HTML body part; messages without an HTML part as they are."""
    size = rng.randint(3_000, 8_000)

    def edit(msg: Message) -> bool:
        leaves = [leaf for leaf in _body_parts(msg) if leaf[2].get_content_type() == "text/html"]
        for _, _, leaf in leaves:
            words: list[str] = []
            while sum(map(len, words)) < size:
                words.append(rng.choice(_FILLER))
            text = _text_of(leaf)
            cut = _html_body_cut(text)
            _set_text(leaf, text[:cut] + hide(" ".join(words)) + text[cut:])
        return bool(leaves)

    return _rebuilt(raw, edit)


def hidden_filler(raw: bytes, rng: random.Random) -> bytes:
    """Harmless prose in an element an inline style hides, before the words of every HTML body
    part: a client shows the lure alone; a reader that takes the markup's text for what is shown
    reads the filler first, and the lure past its window or diluted."""
    return _prose_before_the_words(raw, rng, lambda prose: f"{rng.choice(_HIDING)}{prose}</div>")


def hidden_by_class(raw: bytes, rng: random.Random) -> bytes:
    """As :func:`hidden_filler`, but hidden by a class a style sheet in the part hides
    (``<style>.n{display:none}</style>``), which the extractor does not read: the measure of
    what inline styles alone leave open."""

    def hide(prose: str) -> str:
        name = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(6))
        return f'<style>.{name}{{display:none}}</style><div class="{name}">{prose}</div>'

    return _prose_before_the_words(raw, rng, hide)


def hidden_salting(raw: bytes, rng: random.Random) -> bytes:
    """Letters a zero-size inline style hides, put inside half the words of five letters or more
    of every HTML body part ("pa<span style=font-size:0>zq</span>ssword"): a client shows the
    word whole; a reader that takes the markup's text for what is shown reads a word it never
    learnt. Tags (with their quoted attribute values), entities, comments and the text of
    scripts, styles, titles and the like stay as they are. Messages without an HTML part are
    left as they are."""

    def salted(word: re.Match[str]) -> str:
        if rng.random() < 0.5:
            return word.group(0)
        salt = "".join(rng.choice("bcdfghjkmpqvwxz") for _ in range(rng.randint(1, 3)))
        return f'{word.group(1)}<span style="font-size:0">{salt}</span>{word.group(2)}'

    def salt_runs(markup: str) -> str:
        pieces = _TAG.split(markup)  # text, tag, text, tag, ..., text
        return "".join(
            piece if at % 2 else _SALT.sub(salted, piece) for at, piece in enumerate(pieces)
        )

    def edit(msg: Message) -> bool:
        leaves = [leaf for leaf in _body_parts(msg) if leaf[2].get_content_type() == "text/html"]
        for _, _, leaf in leaves:
            text = _text_of(leaf)
            cut = _html_body_cut(text)
            body, pieces, at = text[cut:], [], 0
            for raw_text in _RAW_TEXT.finditer(body):  # comments, scripts, styles... as they are
                pieces += [salt_runs(body[at : raw_text.start()]), raw_text.group(0)]
                at = raw_text.end()
            pieces.append(salt_runs(body[at:]))
            _set_text(leaf, text[:cut] + "".join(pieces))
        return bool(leaves)

    return _rebuilt(raw, edit)


def truncate(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(len(raw) + 1)]


def flip_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def corrupt_boundaries(raw: bytes, rng: random.Random) -> bytes:
    return raw.replace(b"--", rng.choice([b"-", b"---", b"--\x00", b""]), rng.randint(1, 10))


def unclosed_html(raw: bytes, rng: random.Random) -> bytes:
    head, sep, body = _split(raw)
    junk = rng.choice([b"<a ", b"<div>", b"<!--", b"</"]) * rng.randint(1, 20_000)
    return head + sep + body + junk


def hostile_html(size: int) -> dict[str, str]:
    """HTML shapes that are slow for a naive parser, each about ``size`` characters: unclosed
    tags (CVE-2025-6069's shape for the standard library), comments, deep nesting, many
    attributes, entities, NULs and control characters, and styles as long as the part."""
    return {
        "unclosed_anchors": "<a " * (size // 3),
        "unclosed_comment": "<!--" + "x" * size,
        "end_tag_openers": "</" * (size // 2),
        "deep_nesting": "<div>" * (size // 5),
        "many_attributes": "<p " + 'a="b" ' * (size // 6) + ">",
        "nested_tables": "<table><tr><td>" * (size // 15),
        "entities": "&amp" * (size // 4),
        "anchors": '<a href="http://x.y/">t</a>' * (size // 26),
        "unclosed_script": "<script>" + "<" * size,
        "nuls_and_controls": "<p>\x00\x01\x0b" * (size // 6),
        # one style the size of the part: numbers, names and escapes a backtracking reader
        # of CSS would take quadratic time over
        "style_of_digits": '<p style="opacity:' + "0" * (size - 64) + '#">x</p>',
        "style_of_names": '<p style="' + "font" * (size // 4 - 16) + '">x</p>',
        "style_of_escapes": '<p style="' + "\\" * (size - 64) + '">x</p>',
        "styles_unclosed_comments": '<p style="d:/*' + "/*" * (size // 2 - 32) + '">x</p>',
        # many elements, each with a style that may hide, just under the length read whole
        "styles_read_whole": ('<b style="opacity:1;' + "(" * 4_000 + '">x</b>') * (size // 4_030),
    }


_HEAD = (
    b"From: a@example.org\r\nTo: b@example.com\r\nSubject: x\r\n"
    b"Date: Mon, 5 Jan 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
)


def _multipart(head: bytes, body: bytes) -> bytes:
    return head + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


def hostile_messages() -> dict[str, bytes]:
    """Whole messages under the 25 MB cap shaped to cost the MIME parser the most (the standard
    library's took 7-24 s on the first four); each must be refused or read in well under 1 s."""
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    html = hostile_html(1_000_000)["deep_nesting"].encode()
    return {
        "one_character_lines": _HEAD + b"Content-Type: text/plain\r\n\r\n" + b"a\n" * 10_000_000,
        "empty_lines": _HEAD + b"Content-Type: text/plain\r\n\r\n" + b"\n" * 20_000_000,
        "tiny_parts": _multipart(_HEAD, part * 600_000),
        "headers": _HEAD + b"X-A: b\r\n" * 2_500_000 + b"\r\nbody",
        "headers_times_parts": _multipart(_HEAD + b"X-A: b\r\n" * 4_900, part * 4_900),
        "twenty_hostile_html_parts": _multipart(
            _HEAD,
            b"".join(b"--b\r\nContent-Type: text/html\r\n\r\n" + html + b"\r\n" for _ in range(20)),
        ),
        # the standard library reads parameters in time quadratic in their semicolons
        "long_parameter_header": _HEAD
        + b'Content-Type: text/plain; a="'
        + b";" * 200_000
        + b"\r\n\r\nx\r\n",
        "long_filename_parameter": _multipart(
            _HEAD,
            b"--b\r\nContent-Type: text/plain\r\n"
            b'Content-Disposition: attachment; filename="' + b";" * 200_000 + b'"\r\n\r\nx\r\n',
        ),
        # many encoded parts before a large body: each part's header block end was searched
        # for in both line-ending forms, the absent one to the end of the message
        "encoded_parts_before_a_large_body": _multipart(
            _HEAD,
            b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n" * 199
            + b"--b\r\nContent-Type: text/plain\r\n\r\n"
            + b"x" * 24_000_000
            + b"\r\n",
        ),
    }


def large_attachment(data: bytes) -> bytes:
    """A legitimate message at the size cap: a line of text and ``data`` as a base64 PDF."""
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")  # 76-character lines
    return _multipart(
        _HEAD,
        b"--b\r\nContent-Type: text/plain\r\n\r\nthe report\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="r.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded,
    )


# the edits an attacker would use to slip a message past the scorer (the body's words stay)
EVASIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "nul_padding": nul_padding,
    "crafted_charset": crafted_charset,
    "hostile_headers": hostile_headers,
    "plain_decoy": plain_decoy,
    "blank_padding": blank_padding,
    "html_padding_past_budget": html_padding_past_budget,
    "hidden_filler": hidden_filler,
    "hidden_salting": hidden_salting,
    "hidden_by_class": hidden_by_class,
}
# everything but the megabyte of padding (measured by bench.hostile: the fuzz's ten thousand
# cases stay cheap), for fuzzing the parser
MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    **{name: edit for name, edit in EVASIONS.items() if edit is not html_padding_past_budget},
    "truncate": truncate,
    "flip_bytes": flip_bytes,
    "corrupt_boundaries": corrupt_boundaries,
    "unclosed_html": unclosed_html,
}


def mutate(raw: bytes, rng: random.Random, rounds: int = 2) -> bytes:
    """``raw`` after ``rounds`` random mutations."""
    for _ in range(rounds):
        raw = MUTATIONS[rng.choice(sorted(MUTATIONS))](raw, rng)
    return raw
