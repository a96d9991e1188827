"""Mutations of real mail for fuzzing and evasion measurements: the edits an attacker or a broken
mail system makes (NUL padding, crafted charsets, truncation, corrupted MIME boundaries, repeated
or oversized headers, byte flips). Deterministic for the rng it is given."""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable

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
    attributes, entities, NULs and control characters."""
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
}
# everything, for fuzzing the parser
MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    **EVASIONS,
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
