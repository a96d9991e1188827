"""The MIME parse's work bound: shapes that made the standard library's parser take 7-24 s are
refused as ``too_complex`` in a fraction of a second, a legitimate attachment at the message cap
still parses (its hash unchanged by the stash), and moving base64 and quoted-printable bodies out
of the parser's way changes nothing the parser reads on the real corpus."""

import base64
import csv
import hashlib
import random
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection.mail import parsing
from detection.mail.mutations import hostile_messages, large_attachment
from detection.mail.parsing import ParseError, parse_message
from detection.mail.schema import Message

UNDATED = datetime(2026, 1, 5, tzinfo=UTC)
HOSTILE = hostile_messages()
REFUSED = (
    "one_character_lines",
    "empty_lines",
    "tiny_parts",
    "headers",
    "long_parameter_header",
    "long_filename_parameter",
    "twenty_hostile_html_parts",
)


@pytest.mark.parametrize("shape", REFUSED)
def test_over_the_work_caps_is_refused_quickly_with_the_reason(shape):
    raw = HOSTILE[shape]
    assert len(raw) <= parsing.MAX_MESSAGE_BYTES
    started = time.process_time()
    with pytest.raises(ParseError) as caught:
        parse_message(raw, tenant_id="t")
    assert caught.value.reason == "too_complex"
    assert "cap" in caught.value.detail
    # generous: the stdlib parser took 7-24 s on these; the bound answers in about 0.1 s
    assert time.process_time() - started < 5


@pytest.mark.parametrize(
    "shape",
    ["headers_times_parts", "encoded_parts_before_a_large_body"],
)
def test_costly_but_legal_shapes_are_read(shape):
    """5,000 headers on a container of 4,900 parts took 12 s before the header index; 199
    encoded parts before a 24 MB body 4.7 s before one search found a header block's end."""
    started = time.process_time()
    message = parse_message(HOSTILE[shape], tenant_id="t")
    assert time.process_time() - started < 5
    assert message.subject == "x"


def test_a_large_attachment_parses_with_its_true_size_and_hash():
    data = random.Random(7).randbytes(18_000_000)
    raw = large_attachment(data)
    assert raw.count(b"\n") > parsing.MAX_LINES  # over the line cap but for the base64 body
    message = parse_message(raw, tenant_id="t")
    (attachment,) = message.attachments
    assert attachment.size == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert message.body_text == "the report"
    assert message.message_id == hashlib.sha256(raw).hexdigest()  # the bytes as received


def test_a_dash_line_inside_a_base64_body_does_not_change_the_attachment(monkeypatch):
    """The stash ends a base64 body at the first line starting with "--"; when that line is not
    the boundary, the part holds the placeholder and more, and still decodes as without it."""
    rng = random.Random(3)
    body = (
        base64.encodebytes(rng.randbytes(300_000))
        + b"--not-the-boundary\r\n"
        + base64.encodebytes(rng.randbytes(1_000))
    )
    raw = (
        b"From: a@example.org\r\nSubject: x\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="r.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"--b--\r\n"
    )
    assert len(raw) > parsing._STASH_FROM_BYTES
    stashed = parse_message(raw, tenant_id="t", fallback_time=UNDATED)
    monkeypatch.setattr(parsing, "_STASH_FROM_BYTES", 10**12)
    assert stashed == parse_message(raw, tenant_id="t", fallback_time=UNDATED)
    assert stashed.attachments[0].size > 300_000


def test_stashing_encoded_bodies_changes_nothing_on_the_real_corpus(real_mail, monkeypatch):
    with open(real_mail / "manifest.csv", newline="") as handle:
        paths = [real_mail / row["path"] for row in csv.DictReader(handle)]
    raws = [path.read_bytes() for path in paths]
    changed: list[int] = []
    stashed = {"base64": 0, "quoted-printable": 0}
    for i, raw in enumerate(raws):
        try:
            monkeypatch.setattr(parsing, "_STASH_FROM_BYTES", 10**12)
            plain = parse_message(raw, tenant_id="t", fallback_time=UNDATED)
            monkeypatch.setattr(parsing, "_STASH_FROM_BYTES", 0)  # every message stashed
            fast = parse_message(raw, tenant_id="t", fallback_time=UNDATED)
        except ParseError:
            continue
        for encoding in stashed:
            stashed[encoding] += encoding.encode() in raw.lower()
        if plain != fast:
            changed.append(i)
    assert not changed, [str(paths[i]) for i in changed[:5]]
    # the corpus exercises the stash (561 messages with base64 bodies, 1,700 quoted-printable)
    assert stashed["base64"] > 500 and stashed["quoted-printable"] > 1000, stashed


_PIECES = st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b":", b" "])


@given(st.lists(_PIECES, max_size=40).map(b"".join))
def test_a_header_blocks_end_is_the_nearer_of_both_blank_line_forms(data):
    """One search for either form gives what two searches (one per form) gave."""
    for at in range(len(data) + 1):
        starts = [i + len(s) for s in (b"\n\n", b"\r\n\r\n") if (i := data.find(s, at)) >= 0]
        assert parsing._body_start(data, at) == (min(starts) if starts else -1)


_QP_HEAD = b"From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"


def _both_ways(raw: bytes, monkeypatch) -> tuple[Message, Message]:
    """The message parsed with every encoded body stashed, and with none."""
    monkeypatch.setattr(parsing, "_STASH_FROM_BYTES", 0)
    fast = parse_message(raw, tenant_id="t", fallback_time=UNDATED)
    monkeypatch.setattr(parsing, "_STASH_FROM_BYTES", 10**12)
    return fast, parse_message(raw, tenant_id="t", fallback_time=UNDATED)


def test_a_multipart_body_starting_with_its_boundary_keeps_its_parts(monkeypatch):
    """A container declaring quoted-printable whose body starts with the boundary line: the
    stash must not swallow the first part (found in the corpus: the HTML lure went missing)."""
    html = b"<p>" + b"Verify your account now =\r\n" * 400 + b'<a href="https://evil.test/">go</a>'
    raw = (
        _QP_HEAD + b"Content-Transfer-Encoding: quoted-printable\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + html
        + b"\r\n--b--\r\n"
    )
    fast, plain = _both_ways(raw, monkeypatch)
    assert fast == plain
    assert [u.host for u in fast.urls] == ["evil.test"] and "Verify your account" in fast.body_text


@pytest.mark.parametrize(
    "body",
    [
        b"caf\xe9 " * 2000,  # 8-bit bytes in a quoted-printable body: not stashed, still read
        b"line\r" * 3000 + b"--b\r",  # bare CRs end lines for the parser: not stashed
        b"x-attack-detection-stashed-body-0 " * 200,  # the placeholder's text: nothing stashed
    ],
)
def test_bodies_the_stash_must_not_touch_parse_as_without_it(body, monkeypatch):
    raw = (
        _QP_HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + body
        + b"\r\n--b\r\nContent-Type: application/zip\r\n"
        b'Content-Disposition: attachment; filename="a.zip"\r\n\r\nPK\r\n--b--\r\n'
    )
    fast, plain = _both_ways(raw, monkeypatch)
    assert fast == plain


def test_a_quoted_printable_body_over_the_line_cap_is_read_not_refused():
    """Ten million one-character lines are refused as plain text (above), but as a quoted-
    printable body they leave the parser's way and are read (text capped), quickly."""
    raw = (
        _QP_HEAD + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        b"\r\nurgent: verify your password\n" + b"a\n" * 10_000_000
    )
    started = time.process_time()
    message = parse_message(raw, tenant_id="t")
    assert time.process_time() - started < 5
    assert message.body_text.startswith("urgent: verify your password")
