"""HTML extraction: linear on hostile markup, never evaded by structure tricks, and reading at least
what the earlier standard-library extractor read on the real corpus."""

import csv
import email
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection.mail.html_text import MAX_HTML_CHARS, extract_html, xml_safe_utf8
from detection.mail.mutations import hostile_html
from tests.detection.mail import stdlib_html

HOSTILE = hostile_html(MAX_HTML_CHARS)


@contextmanager
def _hang_guard(seconds: int) -> Iterator[None]:
    """Turns a hang into a failure. Not a speed target (those are in bench/): the standard
    library's parser took hours on the first input here; lxml takes well under a second."""

    def _raise(*_: object) -> None:
        raise TimeoutError(f"HTML extraction did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_markup_at_the_cap_finishes(name):
    with _hang_guard(30):
        facts = extract_html(HOSTILE[name] + "<p>visible <a href='http://evil.test/x'>go</a>")
    assert facts.form_count == 0 and "\x00" not in facts.text


def test_text_after_a_bogus_head_tag_is_still_read():
    """A made-up tag in <head> makes libxml2 keep the whole body "inside" head; the text must
    still be read (skipping <head> would let an attacker hide every word)."""
    html = (
        '<meta charset="utf-8"><Xq a*b="" c="">'
        "<title>t</title><body><p>Your mailbox is full, verify your password now</p>"
        '<a href="https://evil.test/login">Verify</a><form></form></body>'
    )
    facts = extract_html(html)
    assert "verify your password" in facts.text
    assert facts.anchors == [("https://evil.test/login", "Verify")] and facts.form_count == 1
    assert "t" not in facts.text.split()  # the title is not body text


def test_entities_scripts_and_nested_anchors():
    facts = extract_html(
        "<style>p{}</style><script>var a='<a href=x>';</script>"
        "<p>caf&eacute; &amp; more</p><a href='http://a.test/'>one <a href='http://b.test/'>two</a>"
    )
    assert facts.text.splitlines()[0] == "café & more"
    assert [h for h, _ in facts.anchors] == ["http://a.test/", "http://b.test/"]


# the characters XML cannot carry, as a regular expression over the text: the definition the
# byte-level removal must equal
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# every kind of character the removal must tell apart: controls kept and removed, ASCII, two-,
# three- and four-byte characters (some sharing EF BF with the noncharacters), the
# noncharacters themselves and lone surrogates (encoded as "?")
_TRICKY = st.sampled_from(
    [chr(c) for c in range(0x20)]
    + ["a", "<", "\x7f", "\x80", "é", "\u0800", "\ufefe", "\uffbf", "\ufffd", "\ufffe"]
    + ["\uffff", "\U00010000", "\U0010ffff", "\ud800", "\udfff"]
)


@given(st.lists(st.one_of(_TRICKY, st.characters()), max_size=60).map("".join))
def test_removing_what_xml_cannot_carry_from_the_bytes_equals_removing_the_characters(text):
    assert xml_safe_utf8(text) == _NOT_XML.sub("", text).encode("utf-8", "replace")


def test_tag_and_attribute_names_in_capitals_read_as_in_lower_case():
    """The extractor looks tags up as libxml2 hands them over, ASCII-lower-cased: capitals
    (common in older mail) must not hide a link, a form, an image, a script or a paragraph
    break."""
    html = (
        "<SCRIPT>var x</SCRIPT><P>Your account</P><Div>is locked</dIV>"
        "<A HREF='https://evil.test/'>Unlock</A><FORM></FORM><IMG SRC=x><TITLE>t</TITLE>"
    )
    upper, lower = extract_html(html), extract_html(html.lower())
    assert upper.text == "Your account\nis locked\nUnlock"
    assert upper.anchors == [("https://evil.test/", "Unlock")]
    assert (upper.form_count, upper.image_count) == (1, 1)
    assert (upper.text.lower(), upper.form_count, upper.image_count) == (
        lower.text,
        lower.form_count,
        lower.image_count,
    )
    assert [(h, t.lower()) for h, t in upper.anchors] == lower.anchors
    # libxml2 lower-cases ASCII letters only; a name whose other letters lower-case to a tag
    # that matters (the Kelvin sign to "k") is read as that tag, as the extractor always did
    assert extract_html("<p>a<bloc\u212aquote>b</bloc\u212aquote>c</p>").text == "a\nb\nc"


def _html_parts(root: Path) -> list[str]:
    parts = []
    with (root / "manifest.csv").open() as f:
        for row in csv.DictReader(f):
            msg = email.message_from_bytes(
                (root / row["path"]).read_bytes(), policy=policy.compat32
            )
            for part in msg.walk():
                payload = part.get_payload(decode=True)
                if part.get_content_type() == "text/html" and isinstance(payload, bytes):
                    parts.append(payload[:MAX_HTML_CHARS].decode("utf-8", "replace"))
    return parts


def test_parity_with_the_earlier_extractor_on_the_real_corpus(real_mail):
    """On every HTML part of the corpus: the same forms, every link the earlier extractor found
    (all but a handful of entity-decoding differences), and never less text."""
    parts = _html_parts(real_mail)
    assert len(parts) > 1000
    links_missing, text_lost, forms_differ = [], [], []
    for i, html in enumerate(parts):
        new, old = extract_html(html), stdlib_html.extract_html(html)
        if not {h for h, _ in old.anchors} <= {h for h, _ in new.anchors}:
            links_missing.append(i)
        if len(new.text.split()) < 0.9 * len(old.text.split()):
            text_lost.append(i)
        if new.form_count != old.form_count:
            forms_differ.append(i)
    assert not text_lost and not forms_differ, (text_lost[:10], forms_differ[:10])
    assert len(links_missing) <= len(parts) // 1000, links_missing[:10]
