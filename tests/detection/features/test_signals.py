import re
import string
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.features.signals import CONTENT_FEATURES, _term_counts, content_signals
from detection.features.terms import (
    TERM_FAMILIES,
    TERMS_VERSION,
    TERMS_VERSIONS,
    TRANSLATIONS,
    UnknownTermsVersion,
    term_counts,
)
from detection.mail.schema import Attachment, Message, Url

# The term families as the earlier release counted them, one case-insensitive expression each:
# the reference the one-pass matcher (detection.features.terms) must count exactly like, so that
# bundles trained on either see the same signals.
_TERMS = {
    "urgency": r"\b(urgent(ly)?|immediately|asap|as soon as possible|within 24 hours|today|"
    r"end of (the )?day|expire[sd]?|suspend(ed)?|final notice|overdue)\b",
    "payment": r"\b(wire|transfer|payment|gift ?cards?|bitcoin|btc|invoice|remittance|"
    r"purchase|payroll|direct deposit)\b",
    "credential": r"\b(password|login|log in|sign[- ]?in|verify|verification|credentials?|"
    r"account (is )?(locked|suspended)|mailbox|authenticate)\b",
    "bank_change": r"\b(bank (details|account|information)|new account|account (number|details)|"
    r"iban|routing number|changed? (our|the) bank)\b",
    "secrecy": r"\b(confidential|between us|do not (tell|share|discuss)|keep (this )?quiet|"
    r"discreet|reply by email only|in meetings?)\b",
    "extortion": r"\b(hacked|recorded you|your contacts|lottery|inheritance|won|prize|claim)\b",
}
_TERM_RE = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _TERMS.items()}


def _reference_counts(text: str) -> dict[str, float]:
    return {f"terms_{n}": float(min(5, len(p.findall(text)))) for n, p in _TERM_RE.items()}


NOW = datetime(2026, 1, 6, 9, tzinfo=UTC)


def _message(**fields) -> Message:
    base = {
        "message_id": "m",
        "tenant_id": "t",
        "received_at": NOW,
        "sender_address": "alice@partner.com",
        "sender_display_name": "Alice",
        "header_message_id": "<1@partner.com>",
        "header_date": "Tue, 06 Jan 2026 09:00:00 +0000",
        "body_text": "Hello, see you tomorrow.",
    }
    return Message(**{**base, **fields})


BENIGN = content_signals(_message())


@pytest.mark.parametrize(
    ("fields", "signal", "value"),
    [
        ({"sender_address": "ceo.boss@gmail.com"}, "sender_is_freemail", 1.0),
        ({"sender_display_name": "PayPal Support"}, "display_name_brand_impersonation", 1.0),
        ({"sender_display_name": "billing@paypal.com"}, "display_name_has_other_domain", 1.0),
        ({"sender_display_name": "\u0410lice"}, "display_name_has_confusables", 1.0),
        ({"reply_to_address": "x@other.net"}, "reply_to_domain_differs", 1.0),
        ({"return_path_address": "bounce@other.net"}, "return_path_domain_differs", 1.0),
        ({"spf_result": "softfail"}, "spf_fail", 1.0),
        ({"dkim_result": "fail"}, "dkim_fail", 1.0),
        ({"dmarc_result": "fail"}, "dmarc_fail", 1.0),
        ({"header_message_id": ""}, "message_id_missing", 1.0),
        ({"header_message_id": "<1@mailer.ru>"}, "message_id_domain_differs", 1.0),
        ({"header_date": ""}, "date_missing", 1.0),
        ({"sender_address": "support@paypa1.com"}, "sender_brand_lookalike", 1.0),
        ({"body_text": "Please act immediately, this is urgent"}, "terms_urgency", 2.0),
        ({"body_text": "buy gift cards and wire the payment"}, "terms_payment", 3.0),
        ({"body_text": "verify your password to sign in"}, "terms_credential", 3.0),
        (
            {"body_text": "our bank details have changed, new IBAN attached"},
            "terms_bank_change",
            2.0,
        ),
        ({"body_text": "keep this confidential, between us"}, "terms_secrecy", 2.0),
        ({"subject": "URGENT: account suspended"}, "subject_urgency", 1.0),
        ({"urls": (Url("http://192.168.1.9/x", "192.168.1.9"),)}, "url_ip_host", 1.0),
        (
            {"urls": (Url("https://xn--pypal-4ve.com/", "xn--pypal-4ve.com"),)},
            "url_punycode_or_confusable",
            1.0,
        ),
        ({"urls": (Url("https://bit.ly/abc", "bit.ly"),)}, "url_shortener", 1.0),
        (
            {"urls": (Url("https://micros0ft.com/login", "micros0ft.com"),)},
            "url_brand_lookalike",
            1.0,
        ),
        (
            {
                "urls": (
                    Url("https://login.microsoft.com.evil.xyz/", "login.microsoft.com.evil.xyz"),
                )
            },
            "url_brand_in_subdomain",
            1.0,
        ),
        (
            {"urls": (Url("https://evil.xyz/", "evil.xyz", "https://mybank.com"),)},
            "url_text_domain_differs",
            1.0,
        ),
        ({"urls": (Url("https://evil.xyz/", "evil.xyz"),)}, "url_domain_differs_from_sender", 1.0),
        (
            {"attachments": (Attachment("run.exe", "application/octet-stream", 10, "h"),)},
            "attachment_executable",
            1.0,
        ),
        (
            {"attachments": (Attachment("invoice.pdf.exe", "application/octet-stream", 10, "h"),)},
            "attachment_double_extension",
            1.0,
        ),
        (
            {"attachments": (Attachment("a.docm", "application/octet-stream", 10, "h"),)},
            "attachment_macro",
            1.0,
        ),
        ({"attachments": (Attachment("page.html", "text/html", 10, "h"),)}, "attachment_html", 1.0),
        (
            {"attachments": (Attachment("disk.iso", "application/octet-stream", 10, "h"),)},
            "attachment_disk_or_archive",
            1.0,
        ),
        ({"html_form_count": 1}, "html_form", 1.0),
        ({"html_image_count": 1, "body_text": ""}, "image_only_body", 1.0),
        ({"body_text": "pay\u200bpal\u200d"}, "zero_width_chars", 2.0),
    ],
)
def test_signal_fires_on_crafted_message_and_not_on_benign(fields, signal, value):
    assert content_signals(_message(**fields))[signal] == value
    assert BENIGN[signal] == 0.0


def test_brands_own_domains_are_not_lookalikes():
    signals = content_signals(
        _message(
            sender_address="dse@docusign.net",
            sender_display_name="DocuSign",
            urls=(Url("https://app.docusign.net/x", "app.docusign.net", "View"),),
        )
    )
    assert signals["sender_brand_lookalike"] == 0.0
    assert signals["url_brand_lookalike"] == 0.0
    assert signals["display_name_brand_impersonation"] == 0.0


def test_every_declared_feature_is_returned_in_order():
    assert tuple(content_signals(_message())) == CONTENT_FEATURES


_TERM_WORDS = [
    *("URGENT", "Wire", "PassWord", "log in", "IBAN", "between us", "Prize", "today"),
    *("urgently", "gift cards", "sign-in", "account is locked", "changed our bank", "in meetings"),
]


def test_the_families_are_the_reference_families():
    assert tuple(TERM_FAMILIES) == tuple(_TERMS)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_TERM_WORDS), st.text(alphabet=string.printable, max_size=12)),
        max_size=40,
    ).map(" ".join)
)
def test_term_counts_equal_the_case_insensitive_patterns(text):
    """The one-pass matcher counts exactly what the earlier release's expressions count, words
    glued to letters, digits or underscores (not whole words) included."""
    assert _term_counts(text, 1) == _reference_counts(text)


@pytest.mark.parametrize(
    ("text", "family", "count"),
    [
        ("urgently urgent", "urgency", 2),  # the longer form at a position, then the next
        ("giftcards, gift card", "payment", 2),
        ("wired wireless wire_x 2wire", "payment", 0),  # glued to a word character: no match
        ("end of the day end of day", "urgency", 2),
        ("won " * 9, "extortion", 5),  # capped
        ("", "credential", 0),
    ],
)
def test_term_counts_whole_words_longest_first(text, family, count):
    assert _term_counts(text, 1)[f"terms_{family}"] == count
    assert _term_counts(text, 2)[f"terms_{family}"] == count  # no translation among them
    assert _reference_counts(text)[f"terms_{family}"] == count


def test_term_counts_fold_unicode_case_outside_ascii():
    # the long s matches "s" only under Unicode case folding, which lower() does not do
    assert _term_counts("verify your pa\u017fsword", 1)["terms_credential"] == 2.0
    assert _reference_counts("verify your pa\u017fsword")["terms_credential"] == 2.0


def test_term_counts_equal_the_case_insensitive_patterns_on_real_mail(real_mail):
    """The one-pass matcher counts what the earlier release's IGNORECASE patterns counted on
    every message of the shared corpus (body and subject, as content_signals reads them)."""
    import csv

    from detection.mail.parsing import ParseError, parse_message

    checked = 0
    with (real_mail / "manifest.csv").open() as f:
        for row in csv.DictReader(f):
            try:
                message = parse_message((real_mail / row["path"]).read_bytes(), tenant_id="t")
            except ParseError:
                continue
            text = f"{message.subject}\n{message.body_text}"[:20000]
            assert _term_counts(text, 1) == _reference_counts(text), row["path"]
            urgent = content_signals(message, terms_version=1)["subject_urgency"]
            assert urgent == float(bool(_TERM_RE["urgency"].search(message.subject))), row["path"]
            checked += 1
    assert checked > 6000


_TRANSLATED = [(family, phrase) for family, phrases in TRANSLATIONS.items() for phrase in phrases]


@pytest.mark.parametrize(("family", "phrase"), _TRANSLATED, ids=[p for _, p in _TRANSLATED])
def test_each_translation_counts_in_its_family_from_version_2_only(family, phrase):
    """Every translated phrase, written in capitals inside a sentence, counts once in its own
    family under version 2; version 1 counts only the English phrases (an English word inside a
    translation, "expire" in "expire bientôt", at most once)."""
    text = f"Bitte / please: {phrase.upper()}, merci."
    assert _term_counts(text, 2)[f"terms_{family}"] == 1
    assert _term_counts(text, 1)[f"terms_{family}"] <= 1
    assert _term_counts(text, 1) == _reference_counts(text)


def test_a_non_english_lure_reads_as_its_english_counterpart():
    english = "Your account is locked. Verify your password today: https://x.test"
    portuguese = "Sua conta bloqueada. Confirme sua senha hoje: https://x.test"
    german = "Ihr Konto gesperrt. Bestätigen Sie Ihr Passwort heute: https://x.test"
    counts = {t: _term_counts(t, 2) for t in (english, portuguese, german)}
    for text in (portuguese, german):
        for family in ("terms_credential", "terms_urgency"):
            assert counts[text][family] >= 1, (text, family)
            assert _term_counts(text, 1)[family] == 0, (text, family)  # version 1: unread
    assert counts[english] == _term_counts(english, 1)  # English mail: the same counts


def test_translations_are_new_folded_phrases_without_the_words_left_out():
    """A translation that is also an English phrase of its family would change nothing, one
    repeated would be noise, one not case-folded could never match; the words left out as
    English words or wider than their English phrase stay out."""
    left_out = {"rib", "heritage", "pirate", "verifier", "bestätigen", "acesse", "entrar"}
    for family, phrases in TRANSLATIONS.items():
        assert len(set(phrases)) == len(phrases), family
        assert not set(phrases) & set(TERM_FAMILIES[family]), family
        assert all(p == p.casefold() for p in phrases), family
        assert not set(phrases) & left_out, family
    assert _term_counts("signature verifier, heritage site, entrar", 2)["terms_credential"] == 0


def test_accents_written_as_combining_marks_count_from_version_2():
    import unicodedata

    composed = "Verificação: conta bloqueada. Vérifiez votre compte bloqué."
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert _term_counts(decomposed, 2) == _term_counts(composed, 2)
    assert _term_counts(composed, 2)["terms_credential"] == 4
    assert _term_counts(decomposed, 1) == _reference_counts(decomposed)  # version 1 as released


def test_an_unknown_terms_version_is_refused_with_what_to_do():
    with pytest.raises(UnknownTermsVersion, match="upgrade the scorer"):
        term_counts("password", 99)
    assert TERMS_VERSION in TERMS_VERSIONS and 1 in TERMS_VERSIONS
