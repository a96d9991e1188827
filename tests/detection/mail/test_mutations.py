"""The evasion edits the hostile benchmark measures do what they say."""

import random

from detection.mail.mutations import EVASIONS, MUTATIONS, html_padding_past_budget
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


def test_the_fuzz_leaves_out_only_the_megabyte_edit():
    assert set(EVASIONS) - set(MUTATIONS) == {"html_padding_past_budget"}
