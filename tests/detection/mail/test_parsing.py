import base64
import csv
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detection.mail.ingest import ingest
from detection.mail.parsing import (
    MAX_HOST_CHARS,
    MAX_HTML_PER_MESSAGE,
    MAX_MESSAGE_BYTES,
    MAX_PART_BYTES,
    ParseError,
    _tail_start,
    parse_message,
)
from detection.mail.schema import MAX_BODY_CHARS, MAX_HEADER_CHARS
from detection.simulation.generator import SimulationConfig, simulate
from detection.simulation.render import render_rfc822

ROUND_TRIP_FIELDS = (
    "sender_address",
    "sender_display_name",
    "reply_to_address",
    "return_path_address",
    "to_addresses",
    "cc_addresses",
    "subject",
    "body_text",
    "header_message_id",
    "spf_result",
    "dkim_result",
    "dmarc_result",
    "html_form_count",
    "html_image_count",
    "attachments",
    "received_at",
)


def test_simulated_message_survives_rfc822_round_trip():
    config = SimulationConfig(
        days=6, tenants=2, employees=15, attack_rate=0.2, drift_day=3, seed=21
    )
    messages = [m for _, ms in simulate(config) for m in ms]
    assert {m.category for m in messages} >= {"credential_phishing", "malware", "bec"}
    for message in messages:
        parsed = parse_message(render_rfc822(message), tenant_id=message.tenant_id)
        for name in ROUND_TRIP_FIELDS:
            assert getattr(parsed, name) == getattr(message, name), (message.message_id, name)
        assert sorted(parsed.urls, key=lambda u: u.href) == sorted(
            message.urls, key=lambda u: u.href
        )


def test_headers_decoded_urls_with_display_text_attachments_and_auth():
    raw = (
        b"From: =?utf-8?b?Sm9zw6kgUMOpcmV6?= <jose@example.com>\r\n"
        b"To: a@corp.com, B <b@corp.com>\r\nReply-To: x@evil.test\r\n"
        b"Subject: =?iso-8859-1?q?Factura_n=FAmero_5?=\r\n"
        b"Authentication-Results: mx.corp.com; spf=softfail smtp.mailfrom=example.com; "
        b"dkim=none; dmarc=fail\r\n"
        b"Date: Tue, 06 Jan 2026 10:00:00 +0100\r\nMessage-ID: <1@example.com>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b'--b1\r\nContent-Type: text/html; charset="bogus-charset"\r\n\r\n'
        b'<p>Hello <a href="https://evil.test/login">https://bank.com</a></p>'
        b"<form></form><img src=x>\r\n"
        b"--b1\r\nContent-Type: application/zip\r\n"
        b'Content-Disposition: attachment; filename="a.zip"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--b1--\r\n"
    )
    message = parse_message(raw, tenant_id="t")
    assert message.sender_display_name == "José Pérez"
    assert message.subject == "Factura número 5"
    assert message.to_addresses == ("a@corp.com", "b@corp.com")
    assert message.reply_to_address == "x@evil.test"
    assert (message.spf_result, message.dkim_result, message.dmarc_result) == (
        "softfail",
        "none",
        "fail",
    )
    assert message.received_at.isoformat() == "2026-01-06T09:00:00+00:00"
    assert [(u.href, u.host, u.text) for u in message.urls] == [
        ("https://evil.test/login", "evil.test", "https://bank.com")
    ]
    assert (message.html_form_count, message.html_image_count) == (1, 1)
    assert message.body_text == "Hello https://bank.com"
    assert [(a.filename, a.content_type, a.size) for a in message.attachments] == [
        ("a.zip", "application/zip", 4)
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\x00\x01\x02" * 100, "not_rfc822"),
        (b"just some text without headers\n\nbody", "not_rfc822"),
    ],
)
def test_unparseable_input_raises_with_reason(raw, reason):
    with pytest.raises(ParseError) as info:
        parse_message(raw, tenant_id="t")
    assert info.value.reason == reason


def test_size_caps_hold_for_huge_headers_and_bodies():
    raw = b"From: a@b.com\r\nSubject: " + b"S" * 500_000 + b"\r\n\r\n" + b"word " * 400_000
    message = parse_message(raw, tenant_id="t")
    assert len(message.subject) <= MAX_HEADER_CHARS
    assert len(message.body_text) <= MAX_BODY_CHARS
    with pytest.raises(ParseError, match="too_large"):
        parse_message(b"From: a@b.com\r\n\r\n" + b"x" * (MAX_MESSAGE_BYTES + 1), tenant_id="t")


def test_deep_mime_nesting_is_parsed_or_quarantined_never_crashes():
    depth = 3000
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    raw = b"From: a@b.com\r\nSubject: deep\r\n" + head + b"Content-Type: text/plain\r\n\r\nhi\r\n"
    try:
        parse_message(raw, tenant_id="t")
    except ParseError as exc:
        assert exc.reason in {"mime_too_deep", "mime_error"}


_header_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    junk=st.binary(max_size=3000),
    subject=_header_text,
    charset=st.sampled_from(["utf-8", "latin-1", "koi8-r", "no-such-charset", "utf-16", ""]),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_hostile_input_never_crashes(junk, subject, charset, cut):
    """Binary junk, wrong charsets, truncated MIME: a Message or a ParseError, nothing else."""
    candidates = [
        junk,
        b"From: x@y.z\r\nSubject: " + subject.encode("utf-8", "surrogateescape") + b"\r\n"
        b'Content-Type: multipart/alternative; boundary="q"\r\n\r\n--q\r\n'
        b"Content-Type: text/html; charset=" + charset.encode() + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + junk + b"\r\n--q",
    ]
    candidates.append(candidates[1][:cut])
    for raw in candidates:
        try:
            message = parse_message(raw, tenant_id="t")
        except ParseError as exc:
            assert exc.reason
        else:
            assert len(message.body_text) <= MAX_BODY_CHARS


@pytest.mark.parametrize(
    "date_header",
    [
        "Mon, 2147483648 Jan 2024 10:00:00 +0000",  # OverflowError inside the stdlib
        "Mon, 01 Jan 99999999999999999999 10:00:00 +0000",
        "Mon, 01 Jan 2024 99:99:99 +9999",
        "Mon, 01 Jan 1066 00:00:00 -2359",  # outside 1990-2100: not trusted
        "\x00\x01 not a date",
    ],
)
def test_hostile_dates_fall_back_never_crash(date_header):
    raw = f"From: a@b.c\r\nDate: {date_header}\r\nSubject: s\r\n\r\nbody\r\n".encode()
    fallback = datetime(2026, 1, 5, tzinfo=UTC)
    message = parse_message(raw, tenant_id="t", fallback_time=fallback)
    assert message.received_at == fallback
    assert message.header_date == date_header[:100]


_PHISH = (
    b"From: IT Desk <it@evil.test>\r\nTo: a@corp.com\r\nSubject: Verify your mailbox\r\n"
    b"Content-Type: text/plain; charset=CHARSET\r\n\r\n"
    b"Your password expires today. Verify now: https://evil.test/login BODYPAD\r\n"
)


@pytest.mark.parametrize(
    ("charset", "pad"),
    [
        (b"utf-8", b"\x00" * 17),  # NULs in the body once made a phish "not mail"
        (b"idna", b""),  # a codec that refuses errors="replace"
        (b"unicode_escape", b"\\N{bad}"),
        (b"x-no-such-charset", b""),
        (b"utf-16", b"\xff"),  # UTF-8 bytes labelled UTF-16 (no NULs): read as UTF-8
        (b"punycode", b""),
    ],
)
def test_crafted_bodies_are_still_read_and_their_links_found(charset, pad):
    raw = _PHISH.replace(b"CHARSET", charset).replace(b"BODYPAD", pad)
    message = parse_message(raw, tenant_id="t")
    assert [u.host for u in message.urls] == ["evil.test"]
    assert "password expires today" in message.body_text
    assert "\x00" not in message.body_text
    assert message.subject == "Verify your mailbox"


def test_nuls_in_the_header_block_are_still_not_mail():
    with pytest.raises(ParseError) as exc:
        parse_message(b"From: a@b.c\r\nSub\x00" + b"\x00" * 20 + b"\r\n\r\nx", tenant_id="t")
    assert exc.value.reason == "not_rfc822"


def test_html_read_per_message_is_bounded_across_parts():
    """Each HTML part is capped, and so is the HTML of the whole message: a message of many large
    parts is read up to the budget; an HTML part that would then go unread (a padded first
    alternative hiding the lure in the next) holds the message as ``too_complex``."""
    filler = "<p>" + "word " * 90_000 + "</p>"  # 450k characters

    def message(types: list[bytes]) -> bytes:
        parts = b"".join(
            b"--q\r\nContent-Type: "
            + kind
            + b'; charset=utf-8\r\n\r\n<a href="http://part'
            + str(n).encode()
            + b'.test/">x</a>'
            + filler.encode()
            + b"\r\n"
            for n, kind in enumerate(types, start=1)
        )
        head = b'From: a@b.c\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary="q"\r\n\r\n'
        return head + parts + b"--q--\r\n"

    assert len(filler) < MAX_HTML_PER_MESSAGE < 2 * len(filler)
    with pytest.raises(ParseError) as caught:
        parse_message(message([b"text/html"] * 4), tenant_id="t")
    assert caught.value.reason == "too_complex" and "HTML part" in caught.value.detail
    # a second HTML part longer than what the first left: part of it would go unread (a padded
    # first part spending the budget would hide the lure in the next), so it is held too
    with pytest.raises(ParseError) as caught:
        parse_message(message([b"text/html", b"text/html"]), tenant_id="t")
    assert caught.value.reason == "too_complex" and "spent" in caught.value.detail
    # plain text is not HTML: one HTML part and plain parts are read
    mixed = message([b"text/html", b"text/plain", b"text/plain"])
    hosts = {u.host for u in parse_message(mixed, tenant_id="t").urls}
    assert {"part1.test", "part2.test"} <= hosts


def _html_message(html: str) -> bytes:
    return (
        b"From: a@b.c\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html.encode()
    )


_PADDED_LURE = (
    '<p>Your mailbox is full. <a href="https://lure.example/login">Verify your password</a></p>'
)


_BUDGET_PADDING = {
    "pieces": "<div> </div>\n<!-- -->\n<style>.x{color:#000}</style>\n",
    # one comment or style element round the whole padding, markup inside: read from inside it
    "comment": "<!--" + "<p>benign words</p>" * 40_000 + "-->",
    "open-style": "<style>" + "p > a {color:#000}" * 40_000 + "</style>",
    "script": "<script>var a = '<p>' + x < 3;</script>\n",
    "spaces": " &nbsp; " * 80_000,  # no tag at all before an untagged lure
    "in-a-tag": '<div title="' + "x" * 700_000 + '">',
}


@pytest.mark.parametrize("padding", list(_BUDGET_PADDING), ids=list(_BUDGET_PADDING))
def test_a_lure_after_padding_past_the_html_budget_is_read(padding):
    """Markup a client shows as nothing, more of it than the HTML read per message, before the
    lure in one part: the part is read at its start and its end, each on its own, from where a
    client would show text (not inside a comment, a tag or a hidden element), so the lure's
    words come first in what the end shows and its link is read."""
    pieces = _BUDGET_PADDING[padding]
    while len(pieces) < MAX_HTML_PER_MESSAGE + 100_000:
        pieces += pieces
    lure = "Your mailbox is full, verify your password " + _PADDED_LURE
    html = "<html><body>" + pieces + lure + "</body></html>"
    assert len(html) > MAX_HTML_PER_MESSAGE + 50_000
    message = parse_message(_html_message(html), tenant_id="t")
    end = message.body_text.rsplit("\n", 2)
    assert "Your mailbox is full, verify your password" in end[-2] + end[-1]
    assert "benign" not in message.body_text and "color" not in message.body_text
    assert "-->" not in message.body_text and "xxx" not in message.body_text
    assert [u.host for u in message.urls] == ["lure.example"]


@pytest.mark.parametrize(
    ("html", "cut", "starts_at"),
    [
        ("<p>3 < 4 lure</p>", 6, " 4 lure</p>"),  # a "<" that starts no tag: text, from the cut
        ("<div class='x é'>lure", 5, "lure"),  # inside a tag: after it
        ("<!-- <p>é</p> -->lure", 8, "lure"),  # inside a comment holding markup: after it
        ("<SCRIPT>if (a<b) {}</SCRIPT >lure", 12, "lure"),  # inside a script: after its end tag
        ("<style>p > a {}</style>lure", 9, "lure"),  # a ">" inside a style element
        ("<!-- never closed lure", 6, ""),  # a client shows nothing after it
        ("<p>plain text lure", 9, "text lure"),
    ],
)
def test_the_end_of_a_long_part_is_read_from_where_a_client_shows_text(html, cut, starts_at):
    assert html[_tail_start(html, cut) :] == starts_at


def test_the_lure_link_outranks_the_paddings_links():
    """Links the padding carries cannot push the lure's link out of the link cap."""
    padding = '<a href="http://pad.example/"></a>' * 20_000
    html = "<html><body>" + padding + _PADDED_LURE + "</body></html>"
    hosts = [u.host for u in parse_message(_html_message(html), tenant_id="t").urls]
    assert "lure.example" in hosts


def test_a_utf16_part_over_the_part_cap_keeps_its_end_readable():
    """A part over the decoded-part cap keeps its end from a multiple of four bytes: a UTF-16
    body with an odd trailing byte still reads its lure."""
    html = "<html><body>" + "<div> </div>" * 200_000 + _PADDED_LURE + "</body></html>"
    payload = html.encode("utf-16-le") + b"\x00"
    assert len(payload) > MAX_PART_BYTES
    raw = (
        b"From: a@b.c\r\nSubject: s\r\nContent-Type: text/html; charset=utf-16-le\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(payload)
    )
    message = parse_message(raw, tenant_id="t")
    assert "Verify your password" in message.body_text
    assert [u.host for u in message.urls] == ["lure.example"]


def test_html_read_at_both_ends_keeps_what_its_start_shows():
    """A long part's start is read as before (its words and links), its end beside it; a part
    longer than the decoded-part cap keeps its end too."""
    start = '<p>Dear customer <a href="https://first.example/">here</a></p>'
    html = start + "<div> </div>" * MAX_HTML_PER_MESSAGE + _PADDED_LURE
    assert len(html) > MAX_PART_BYTES
    message = parse_message(_html_message(html), tenant_id="t")
    assert message.body_text.startswith("Dear customer here")
    assert message.body_text.endswith("Verify your password")
    # the end's links first: padding at the start cannot crowd them out of the link cap
    assert [u.host for u in message.urls] == ["lure.example", "first.example"]


def test_every_real_message_parses_or_is_quarantined_with_a_reason(real_mail):
    with open(real_mail / "manifest.csv", newline="") as handle:
        expected = sum(1 for _ in csv.DictReader(handle))
    result = ingest([real_mail], tenant_id="real")
    accounted = len(result.messages) + len(result.quarantine) + result.duplicates
    assert accounted == expected
    assert all(q["reason"] and q["source_path"] for q in result.quarantine)
    parse_rate = len(result.messages) / (len(result.messages) + len(result.quarantine))
    reasons = Counter(q["reason"] for q in result.quarantine)
    assert parse_rate > 0.99, (parse_rate, reasons)
    labels = Counter(m.label for m in result.messages)
    assert labels["attack"] > 1000 and labels["safe"] > 1000


@pytest.mark.parametrize(
    ("from_header", "name", "address"),
    [
        ("billing@paypal.com <x@evil.test>", "billing@paypal.com", "x@evil.test"),
        ("PayPal billing@paypal.com <x@evil.test>", "PayPal billing@paypal.com", "x@evil.test"),
        ('"Brown, Noah" <N.Brown@Corp.com>', "Brown, Noah", "n.brown@corp.com"),
        ("a@b.com (Alice)", "Alice", "a@b.com"),
    ],
)
def test_sender_is_the_address_in_angle_brackets_not_one_in_the_display_name(
    from_header, name, address
):
    """The standard library's parseaddr returns billing@paypal.com as the sender of
    'billing@paypal.com <x@evil.test>': the spoof attackers rely on. Clients deliver from the
    bracketed address, and so must we, keeping the display name for the signals."""
    message = parse_message(
        f"From: {from_header}\r\nSubject: s\r\n\r\nbody".encode(), tenant_id="t"
    )
    assert (message.sender_display_name, message.sender_address) == (name, address)


@pytest.mark.parametrize(
    ("to_header", "expected"),
    [
        ("Alice <A@x.com>, Bob <b@y.com>, c@z.com", ("a@x.com", "b@y.com", "c@z.com")),
        ('"Doe, John" <j@x.com>, k@y.com', ("j@x.com", "k@y.com")),  # comma inside a name
        ("a@x.com, a@x.com", ("a@x.com",)),
        ("undisclosed-recipients:;", ()),
    ],
)
def test_recipient_lists_in_every_everyday_form(to_header, expected):
    message = parse_message(
        f"From: s@x.com\r\nTo: {to_header}\r\nSubject: s\r\n\r\nbody".encode(), tenant_id="t"
    )
    assert message.to_addresses == expected


def test_a_link_host_longer_than_any_dns_name_keeps_its_domain_end():
    """An unclosed or padded href can make a "host" of hundreds of kilobytes; hosts key the
    feature caches of a long-running scorer, so each is cut to the longest DNS name (253
    characters), keeping the end that holds its registrable domain."""
    padding = "a" * 300_000
    raw = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n"
        b"Content-Type: text/html\r\n\r\n<p>hi <a href='http://"
        + padding.encode()
        + b".login.evil.test/x'>go</a></p>"
    )
    (url,) = parse_message(raw, tenant_id="t").urls
    assert len(url.host) == MAX_HOST_CHARS and url.host.endswith("a.login.evil.test")
    assert len(url.href) == 2000


@pytest.mark.parametrize("header", ["To", "Cc", "From"])
def test_comments_nested_past_the_recursion_limit_are_held_not_a_crash(header):
    """An address header of nested comments made the standard library's address parser recurse
    past Python's limit; in To or Cc that escaped as a RecursionError (it crashed a batch)."""
    nested = "(" * 2_000 + ")" * 2_000
    raw = f"From: a@example.org\nSubject: s\n{header}: {nested} c@example.org\n\nbody\n".encode()
    if header == "From":
        raw = raw.replace(b"From: a@example.org\n", b"", 1)
    with pytest.raises(ParseError) as caught:
        parse_message(raw, tenant_id="t")
    assert caught.value.reason == "mime_too_deep" and "address header" in caught.value.detail


def test_addresses_longer_than_smtp_allows_keep_their_domain_end():
    """A From, Reply-To or recipient domain of 2,000 characters keyed the features' caches
    (65,536 entries of up to 8 KB each); an address is cut to the SMTP limits, keeping the end of
    its domain (the registrable part)."""
    domain = "a" * 1_900 + ".evil.test"
    raw = (
        f"From: x@{domain}\nReply-To: Name <y@{domain}>\nTo: z@{domain}, w@example.org\n"
        "Subject: s\n\nbody\n"
    ).encode()
    message = parse_message(raw, tenant_id="t")
    for address in (message.sender_address, message.reply_to_address, message.to_addresses[0]):
        local, _, kept = address.rpartition("@")
        assert len(kept) == MAX_HOST_CHARS and kept.endswith("a.evil.test") and len(local) == 1
    assert message.to_addresses[1] == "w@example.org"


def _mime(content_type: bytes, body: bytes) -> bytes:
    return (
        b"From: IT Desk <it@evil.test>\r\nTo: a@corp.com\r\nSubject: Notice\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: " + content_type + b"\r\n\r\n" + body
    )


def _part(content_type: bytes, text: bytes, boundary: bytes = b"q") -> bytes:
    return b"--" + boundary + b"\r\nContent-Type: " + content_type + b"\r\n\r\n" + text + b"\r\n"


_DECOY = b"Please view this message in a client that shows HTML."
_LURE_HTML = b'<p>Your mailbox is full. <a href="https://evil.test/login">Verify now</a></p>'


def test_an_alternative_is_read_by_the_html_a_client_shows():
    """A harmless plain alternative beside the HTML lure (clients show the HTML) must not be
    read in its place; its links are still found."""
    raw = _mime(
        b'multipart/alternative; boundary="q"',
        _part(b"text/plain", _DECOY) + _part(b"text/html", _LURE_HTML) + b"--q--\r\n",
    )
    message = parse_message(raw, tenant_id="t")
    assert message.body_text == "Your mailbox is full. Verify now"
    assert [u.host for u in message.urls] == ["evil.test"]
    assert not message.body_is_html  # there is a text/plain part


def test_an_alternative_whose_plain_text_says_the_same_is_read_by_it():
    """A plain alternative holding the HTML's words (80% or more) is the same message: its text
    is read (paragraphs and links as written); one that drops a fifth of them is not."""
    html = b"<p>Minutes attached.</p><p>See the <a href='https://corp.example/m'>notes</a></p>"
    same = b"Minutes attached.\r\n\r\nSee the notes: https://corp.example/m"
    raw = _mime(
        b'multipart/alternative; boundary="q"',
        _part(b"text/plain", same) + _part(b"text/html", html) + b"--q--\r\n",
    )
    assert parse_message(raw, tenant_id="t").body_text == same.decode().replace("\r\n", "\n")
    partial = _mime(
        b'multipart/alternative; boundary="q"',
        _part(b"text/plain", b"Minutes attached.") + _part(b"text/html", html) + b"--q--\r\n",
    )
    assert parse_message(partial, tenant_id="t").body_text == "Minutes attached.\nSee the notes"


def test_nested_alternatives_and_mixed_parts_are_read_as_displayed():
    """mixed(alternative(plain, related(html, image)), inline plain, attachment): the HTML of the
    alternative, then the inline plain part after it, in order; the attachment is not text."""
    related = (
        b"--r\r\nContent-Type: text/html\r\n\r\n" + _LURE_HTML + b"\r\n"
        b"--r\r\nContent-Type: image/png\r\n\r\nPNG\r\n--r--\r\n"
    )
    alternative = (
        _part(b"text/plain", _DECOY, b"a")
        + b'--a\r\nContent-Type: multipart/related; boundary="r"\r\n\r\n'
        + related
        + b"--a--\r\n"
    )
    raw = _mime(
        b'multipart/mixed; boundary="m"',
        b'--m\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
        + alternative
        + _part(b"text/plain", b"Sent from the help desk.", b"m")
        + b'--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="a.txt"'
        b"\r\n\r\nattached words\r\n--m--\r\n",
    )
    message = parse_message(raw, tenant_id="t")
    assert message.body_text == "Your mailbox is full. Verify now\n\nSent from the help desk."


def test_an_alternative_without_html_is_read_by_its_plain_part():
    raw = _mime(
        b'multipart/alternative; boundary="q"',
        _part(b"text/plain", b"Plain words.")
        + _part(b"text/enriched", b"<bold>x</bold>")
        + b"--q--\r\n",
    )
    assert parse_message(raw, tenant_id="t").body_text.startswith("Plain words.")


def _base64_text(text: str) -> bytes:
    encoded = base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    return _mime(b"text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64", encoded)


@pytest.mark.parametrize("unit", ["\n", " \u200b", "\u200b\n", "\u00a0\r\n", "\t\ufeff"])
def test_padding_cannot_push_the_words_past_the_body_cap(unit):
    """Whitespace or invisible characters longer than the body cap before the lure (base64, so
    the line cap does not refuse it first) are squeezed out first, so the lure and its link are
    read; padding past the squeeze's bound holds the message instead."""
    lure = "Your password expires today. Verify now: https://evil.test/login"
    message = parse_message(_base64_text(unit * (300_000 // len(unit)) + lure), tenant_id="t")
    assert message.body_text == lure
    assert [u.host for u in message.urls] == ["evil.test"]
    units = 1_500_000 // len(unit.replace("\r\n", "\n"))  # past the bound once read
    endless = _base64_text("\u200b" + unit * units + lure)
    with pytest.raises(ParseError) as exc:
        parse_message(endless, tenant_id="t")
    assert exc.value.reason == "too_complex"
    assert "padded" in str(exc.value)
