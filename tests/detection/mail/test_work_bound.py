"""The MIME parse's work bound: shapes that made the standard library's parser take 7-24 s are
refused as ``too_complex`` in a fraction of a second, a legitimate attachment at the message cap
still parses (its hash unchanged by the stash), and moving base64 bodies out of the parser's way
changes nothing the parser reads on the real corpus."""

import base64
import csv
import hashlib
import random
import time
from datetime import UTC, datetime

import pytest

from detection.mail import parsing
from detection.mail.mutations import hostile_messages, large_attachment
from detection.mail.parsing import ParseError, parse_message

UNDATED = datetime(2026, 1, 5, tzinfo=UTC)
HOSTILE = hostile_messages()
REFUSED = ("one_character_lines", "empty_lines", "tiny_parts", "headers")


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


@pytest.mark.parametrize("shape", ["headers_times_parts", "twenty_hostile_html_parts"])
def test_costly_but_legal_shapes_are_read(shape):
    """5,000 headers on a container of 4,900 parts took 12 s before the header index."""
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


def test_stashing_base64_bodies_changes_nothing_on_the_real_corpus(real_mail, monkeypatch):
    with open(real_mail / "manifest.csv", newline="") as handle:
        paths = [real_mail / row["path"] for row in csv.DictReader(handle)]
    raws = [path.read_bytes() for path in paths]
    changed = 0
    stashed = 0
    for raw in raws:
        try:
            monkeypatch.setattr(parsing, "_STASH_FROM_BYTES", 10**12)
            plain = parse_message(raw, tenant_id="t", fallback_time=UNDATED)
            monkeypatch.setattr(parsing, "_STASH_FROM_BYTES", 0)  # every message stashed
            fast = parse_message(raw, tenant_id="t", fallback_time=UNDATED)
        except ParseError:
            continue
        stashed += b"base64" in raw.lower()
        changed += plain != fast
    assert changed == 0
    assert stashed > 500  # the corpus exercises the stash (561 messages with base64 bodies)
