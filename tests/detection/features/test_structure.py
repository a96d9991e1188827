"""Structure features: each fires on the shape it names and not on a plain message; malformed
links are a value, not an error."""

import pytest

from detection.features.structure import STRUCTURE_FEATURES, structure_features
from detection.mail.schema import Attachment, Url
from tests.detection.features.test_signals import _message

PLAIN = structure_features(_message())


def _url(href: str, host: str, text: str = "") -> tuple[Url, ...]:
    return (Url(href, host, text),)


@pytest.mark.parametrize(
    ("fields", "feature", "expected"),
    [
        ({"urls": _url("https://a.com/x/y/z/w", "a.com")}, "url_max_path_depth", 4.0),
        ({"urls": _url("https://a.com/?" + "q" * 50, "a.com")}, "url_max_query_length", 50.0),
        ({"urls": _url("http://a.com:8443/login", "a.com")}, "url_nonstandard_port", 1.0),
        ({"urls": _url("http://bank.com@evil.net/", "evil.net")}, "url_userinfo", 1.0),
        (
            {"urls": _url("https://secure-login-bank.com/", "secure-login-bank.com")},
            "url_domain_hyphens",
            2.0,
        ),
        ({"urls": _url("https://paypa1-2024.com/", "paypa1-2024.com")}, "url_domain_digits", 5.0),
        ({"urls": _url("https://a.b.c.evil.com/", "a.b.c.evil.com")}, "url_subdomain_depth", 3.0),
        ({"urls": _url("https://pay.example.xyz/", "pay.example.xyz")}, "url_abused_tld", 1.0),
        ({"urls": _url("https://x.web.app/login", "x.web.app")}, "url_free_hosting", 1.0),
        (
            {"urls": _url("https://a.com/", "a.com", "Click here to verify")},
            "url_call_to_action_text",
            1.0,
        ),
        ({"sender_address": "user84721@mail.com"}, "sender_local_digits", 5.0),
        ({"sender_address": "billing@invoices.top"}, "sender_abused_tld", 1.0),
        ({"sender_address": "it@help-desk-support.com"}, "sender_domain_hyphens", 2.0),
        (
            {"attachments": (Attachment("invoice.PDF", "application/pdf", 10, "h"),)},
            "attachment_pdf",
            1.0,
        ),
    ],
)
def test_feature_fires_on_its_shape_and_not_on_plain_mail(fields, feature, expected):
    assert structure_features(_message(**fields))[feature] == expected
    assert PLAIN[feature] == 0.0


def test_every_declared_feature_is_returned_in_order():
    assert tuple(PLAIN) == STRUCTURE_FEATURES


def test_links_per_word_and_malformed_links():
    two = tuple(Url(f"https://a.com/{i}", "a.com") for i in range(2))
    ten_words = "one two three four five six seven eight nine ten"
    assert structure_features(_message(urls=two, body_text=ten_words))[
        "links_per_100_words"
    ] == pytest.approx(20.0)
    many = tuple(Url(f"https://a.com/{i}", "a.com") for i in range(50))
    assert structure_features(_message(urls=many, body_text="x"))["links_per_100_words"] == 50.0
    broken = _url("http://[::1:bad/", "")  # urlsplit raises ValueError on this
    values = structure_features(_message(urls=broken))
    assert values["url_max_path_depth"] == 0.0 and values["url_nonstandard_port"] == 0.0


def test_padding_changes_no_feature_but_the_zero_width_count():
    """Whitespace and invisible characters before the lure (as the blank_padding evasion puts
    them) neither hide its terms nor change the body's size or word count: the signals and
    structure features read the squeezed body; only the zero-width count sees the padding."""
    from detection.features.vector import message_values

    lure = "Urgent: verify your password now or your account will be suspended https://x.test/a"
    urls = _url("https://x.test/a", "x.test")
    plain = message_values(_message(body_text=lure, urls=urls))
    padded = message_values(_message(body_text="\u200b\n \u00a0\n" * 30_000 + lure, urls=urls))
    changed = {name for name in plain if plain[name] != padded[name]}
    assert changed == {"zero_width_chars"}
