"""The evasion edits the hostile benchmark measures do what they say."""

import email
import random
from email import policy

from detection.mail.mutations import (
    EVASIONS,
    MUTATIONS,
    hidden_filler,
    hidden_salting,
    html_padding_past_budget,
)
from detection.mail.parsing import MAX_HTML_PER_MESSAGE, parse_message

_HTML = (
    b"From: a@b.c\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b'<html><body><p>Verify your password <a href="https://lure.example/">here</a></p>'
    b"</body></html>"
)
_PLAIN = b"From: a@b.c\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nVerify your password\r\n"


def test_padding_past_the_budget_hides_nothing_a_client_shows():
    """The edit puts more invisible markup than the HTML budget before the words of an HTML
    part (a client shows the same words and link) and leaves a message without HTML alone."""
    edited = html_padding_past_budget(_HTML, random.Random(1))
    assert len(edited) > MAX_HTML_PER_MESSAGE
    before, after = (parse_message(raw, tenant_id="t") for raw in (_HTML, edited))
    assert after.body_text == before.body_text == "Verify your password here"
    assert [u.host for u in after.urls] == ["lure.example"]
    assert html_padding_past_budget(_PLAIN, random.Random(1)) == _PLAIN


def test_hidden_filler_puts_harmless_prose_a_client_does_not_show_before_the_lure():
    """The edit adds thousands of characters of hidden prose to the markup; a reader of what a
    client shows finds the same words and link."""
    for seed in range(6):  # each hiding style in turn comes up
        edited = hidden_filler(_HTML, random.Random(seed))
        assert len(edited) > len(_HTML) + 3_000
        before, after = (parse_message(raw, tenant_id="t") for raw in (_HTML, edited))
        assert after.body_text == before.body_text == "Verify your password here"
        assert [u.host for u in after.urls] == ["lure.example"]
    assert hidden_filler(_PLAIN, random.Random(1)) == _PLAIN


def test_hidden_salting_breaks_words_in_the_markup_only():
    """Hidden letters go inside the long words of the markup (not into tags, scripts or styles);
    a reader of what a client shows finds the same words."""
    html = _HTML.replace(b"<html>", b"<html><head><style>.password{color:red}</style></head>")
    edited = hidden_salting(html, random.Random(3))
    markup = parse_message(edited, tenant_id="t")
    body = _decoded_body(edited)
    assert b'<span style="font-size:0">' in body and b"<style>.password{color:red}</style>" in body
    assert markup.body_text == "Verify your password here"
    assert [u.host for u in markup.urls] == ["lure.example"]
    assert hidden_salting(_PLAIN, random.Random(1)) == _PLAIN


def _decoded_body(raw: bytes) -> bytes:
    payload = email.message_from_bytes(raw, policy=policy.compat32).get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def test_the_fuzz_leaves_out_only_the_megabyte_edit():
    assert set(EVASIONS) - set(MUTATIONS) == {"html_padding_past_budget"}
