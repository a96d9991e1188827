"""Content signals: the one function that turns a message into numbers, used by the training
assets and by the online scorer alike. Signals depend only on the message itself and on static
lists (brands, free-mail providers, shorteners); tenant history lives in
``detection.features.behaviour``.
"""

from __future__ import annotations

import functools
import math
import re

from detection.features.domains import (
    BRAND_DOMAINS,
    BRAND_REGISTRABLE,
    FREEMAIL,
    SHORTENERS,
    brand_lookalike,
    has_confusables,
    is_ip,
    registrable,
    split_host,
)
from detection.features.terms import DEFAULT_TERMS_VERSION, FAMILIES, term_counts
from detection.mail.schema import Message, domain_of
from detection.mail.visible import Visible

_URGENCY = FAMILIES.index("urgency")

_DOMAIN_IN_TEXT = re.compile(r"([a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})", re.IGNORECASE)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_AUTH_FAIL = frozenset({"fail", "softfail", "permerror", "hardfail"})
_MACRO_EXT = frozenset({"docm", "xlsm", "pptm", "dotm", "xltm", "xlam", "ppam"})
_EXECUTABLE_EXT = frozenset(
    {
        "exe",
        "scr",
        "js",
        "jse",
        "vbs",
        "vbe",
        "bat",
        "cmd",
        "ps1",
        "msi",
        "jar",
        "hta",
        "lnk",
        "wsf",
    }
)
_DISK_ARCHIVE_EXT = frozenset({"iso", "img", "vhd", "zip", "rar", "7z", "gz", "cab", "ace", "tar"})
_HTML_EXT = frozenset({"html", "htm", "shtml", "svg", "xhtml"})
_DOC_EXT = frozenset({"pdf", "doc", "docx", "xls", "xlsx", "txt", "png", "jpg", "jpeg"})

_TERM_DESCRIPTIONS = {
    "terms_urgency": "urgent language",
    "terms_payment": "payment, wire or gift-card language",
    "terms_credential": "asks to log in or verify credentials",
    "terms_bank_change": "mentions changed bank details",
    "terms_secrecy": "asks for secrecy",
    "terms_extortion": "extortion or prize language",
}
# Every content signal, in the model's column order, with what it means to an analyst (the
# scorer's reasons and the error analysis show these words).
CONTENT_DESCRIPTIONS: dict[str, str] = {
    "sender_is_freemail": "sent from a free-mail provider",
    "display_name_has_other_domain": "display name shows a different domain than the address",
    "display_name_brand_impersonation": "display name claims a brand the address is not from",
    "display_name_has_confusables": "display name uses look-alike characters",
    "reply_to_domain_differs": "Reply-To goes to another domain than From",
    "return_path_domain_differs": "Return-Path domain differs from From",
    "spf_fail": "SPF failed",
    "dkim_fail": "DKIM failed",
    "dmarc_fail": "DMARC failed",
    "message_id_missing": "Message-ID missing or malformed",
    "message_id_domain_differs": "Message-ID domain differs from the sender's",
    "date_missing": "Date header missing",
    "sender_brand_lookalike": "sender domain imitates a well-known brand",
    **_TERM_DESCRIPTIONS,
    "subject_urgency": "urgent subject line",
    "url_count": "number of links",
    "url_domain_count": "number of distinct link domains",
    "url_ip_host": "link to a bare IP address",
    "url_punycode_or_confusable": "link host uses punycode or look-alike characters",
    "url_shortener": "link through a URL shortener",
    "url_brand_lookalike": "link domain imitates a well-known brand",
    "url_brand_in_subdomain": "brand name hidden in a link's subdomain",
    "url_text_domain_differs": "link text shows a different domain than the link goes to",
    "url_domain_differs_from_sender": "links point away from the sender's domain",
    "attachment_count": "number of attachments",
    "attachment_executable": "executable or script attachment",
    "attachment_double_extension": "attachment with a double extension",
    "attachment_macro": "macro-enabled Office attachment",
    "attachment_html": "HTML attachment",
    "attachment_disk_or_archive": "disk image or archive attachment",
    "html_form": "HTML form in the body",
    "html_image_count": "images in the body",
    "image_only_body": "image-only body (QR-code style)",
    "zero_width_chars": "invisible zero-width characters",
    "body_length_log": "body length",
}
CONTENT_FEATURES: tuple[str, ...] = tuple(CONTENT_DESCRIPTIONS)
# Present or absent by mail system and era rather than by intent: old corpora predate DKIM and
# DMARC, some archives strip Message-ID/Date/Return-Path, honeypots record their own relay. They
# are computed (rules and the error analysis may read them) but the model never learns them.
TRANSPORT_FEATURES = frozenset(
    {
        "spf_fail",
        "dkim_fail",
        "dmarc_fail",
        "message_id_missing",
        "message_id_domain_differs",
        "date_missing",
        "return_path_domain_differs",
    }
)
# How much of a message is images says which era and mail client wrote it more than whether it
# is an attack (in the real corpus: HTML-era phish against plain-text safe mail; in live mail,
# every newsletter and notification): computed, never learned. Image-only lures are still
# scored on their text (or its absence), links and attachments.
ERA_ARTEFACTS = frozenset({"html_image_count", "image_only_body"})


def _extension(filename: str) -> tuple[str, str]:
    parts = filename.lower().rsplit(".", 2)
    last = parts[-1] if len(parts) > 1 else ""
    previous = parts[-2] if len(parts) > 2 else ""
    return last, previous


def _attachment_signals(message: Message) -> dict[str, float]:
    executable = double = macro = html = disk = 0.0
    for attachment in message.attachments:
        ext, inner = _extension(attachment.filename)
        content_type = attachment.content_type
        executable = max(executable, float(ext in _EXECUTABLE_EXT))
        double = max(double, float(bool(inner) and inner in _DOC_EXT and ext in _EXECUTABLE_EXT))
        macro = max(macro, float(ext in _MACRO_EXT or "macroenabled" in content_type))
        html = max(html, float(ext in _HTML_EXT or content_type == "text/html"))
        disk = max(disk, float(ext in _DISK_ARCHIVE_EXT))
    return {
        "attachment_count": float(len(message.attachments)),
        "attachment_executable": executable,
        "attachment_double_extension": double,
        "attachment_macro": macro,
        "attachment_html": html,
        "attachment_disk_or_archive": disk,
    }


@functools.lru_cache(maxsize=4096)  # bounded: a long-running scorer keeps 4,096 hosts
def _brand_in_subdomain(host: str) -> bool:
    """A brand's name in the subdomains of a lower-cased host outside the brand's own domains
    (``paypal.login.evil.test``); remembered per host, as most links share a few hosts."""
    domain, prefix = split_host(host)
    return domain not in BRAND_REGISTRABLE and any(b in prefix for b in BRAND_DOMAINS)


def _url_signals(message: Message, sender_domain: str) -> dict[str, float]:
    hosts = [u.host.lower() for u in message.urls if u.host]
    domains = {registrable(h) for h in hosts}
    text_differs = 0.0
    for url in message.urls:
        shown = _DOMAIN_IN_TEXT.search(url.text) if url.text else None
        if shown and url.host and registrable(shown.group(1).lower()) != registrable(url.host):
            text_differs = 1.0
    brand_in_subdomain = float(any(map(_brand_in_subdomain, hosts)))
    return {
        "url_count": float(len(message.urls)),
        "url_domain_count": float(len(domains)),
        "url_ip_host": float(any(is_ip(h) for h in hosts)),
        "url_punycode_or_confusable": float(any("xn--" in h or has_confusables(h) for h in hosts)),
        "url_shortener": float(any(d in SHORTENERS for d in domains)),
        "url_brand_lookalike": max((brand_lookalike(d) for d in domains), default=0.0),
        "url_brand_in_subdomain": brand_in_subdomain,
        "url_text_domain_differs": text_differs,
        "url_domain_differs_from_sender": float(
            bool(domains) and bool(sender_domain) and sender_domain not in domains
        ),
    }


def _name_signals(message: Message, sender_domain: str) -> dict[str, float]:
    name = message.sender_display_name.lower()
    shown = _DOMAIN_IN_TEXT.search(name)
    other_domain = bool(shown) and registrable(shown.group(1)) != sender_domain if shown else False
    brand = 0.0
    for token, domain in BRAND_DOMAINS.items():
        if token in name.replace(" ", "") and sender_domain != domain:
            brand = float(sender_domain not in BRAND_REGISTRABLE)
            break
    return {
        "display_name_has_other_domain": float(other_domain),
        "display_name_brand_impersonation": brand,
        "display_name_has_confusables": float(has_confusables(message.sender_display_name)),
    }


def _has_image(message: Message) -> bool:
    return message.html_image_count > 0 or any(
        a.content_type.startswith("image/") for a in message.attachments
    )


def _term_counts(text: str, version: int = DEFAULT_TERMS_VERSION) -> dict[str, float]:
    """How often each term family occurs (capped at 5; ``detection.features.terms``)."""
    counts = term_counts(text, version)
    return {f"terms_{name}": float(n) for name, n in zip(FAMILIES, counts, strict=True)}


# the content signals that depend on the term families' version
TERM_SIGNALS: tuple[str, ...] = (*(f"terms_{name}" for name in FAMILIES), "subject_urgency")


def term_signals(subject: str, head: str, version: int = DEFAULT_TERMS_VERSION) -> dict[str, float]:
    """The :data:`TERM_SIGNALS` of a message with this subject and squeezed body ``head``
    (:class:`detection.mail.visible.Visible`), counted with term families ``version``: what
    :func:`content_signals` computes for them."""
    signals = _term_counts(f"{subject}\n{head}"[:20000], version)
    signals["subject_urgency"] = float(term_counts(subject, version)[_URGENCY] > 0)
    return signals


def content_signals(
    message: Message, visible: Visible | None = None, terms_version: int = DEFAULT_TERMS_VERSION
) -> dict[str, float]:
    """All content signals of one message, keyed by the names in ``CONTENT_FEATURES``.
    ``visible``: the body with padding squeezed out (:class:`detection.mail.visible.Visible`,
    computed here when not given): terms, length and word counts read it, so whitespace or
    invisible characters neither hide the terms nor change the body's size; the zero-width count
    reads the body as it stands. ``terms_version``: the term families' version
    (``detection.features.terms``; a bundle is scored with the version it was trained with)."""
    if visible is None:
        visible = Visible.of(message.body_text)
    sender_domain = registrable(message.sender_domain)
    header_id_domain = message.header_message_id.rpartition("@")[2].strip(">").lower()
    reply_domain = registrable(domain_of(message.reply_to_address))
    return_domain = registrable(domain_of(message.return_path_address))
    signals: dict[str, float] = {
        "sender_is_freemail": float(sender_domain in FREEMAIL),
        "reply_to_domain_differs": float(bool(reply_domain) and reply_domain != sender_domain),
        "return_path_domain_differs": float(bool(return_domain) and return_domain != sender_domain),
        "spf_fail": float(message.spf_result in _AUTH_FAIL),
        "dkim_fail": float(message.dkim_result in _AUTH_FAIL),
        "dmarc_fail": float(message.dmarc_result in _AUTH_FAIL),
        "message_id_missing": float("@" not in message.header_message_id),
        "message_id_domain_differs": float(
            bool(header_id_domain) and registrable(header_id_domain) != sender_domain
        ),
        "date_missing": float(not message.header_date),
        "sender_brand_lookalike": brand_lookalike(sender_domain),
        "html_form": float(message.html_form_count > 0),
        "html_image_count": float(message.html_image_count),
        "image_only_body": float(_has_image(message) and len(visible.words) < 8),
        "zero_width_chars": float(len(_ZERO_WIDTH.findall(message.body_text[:20000]))),
        "body_length_log": math.log1p(visible.length),
    }
    signals.update(term_signals(message.subject, visible.head, terms_version))
    signals.update(_name_signals(message, sender_domain))
    signals.update(_url_signals(message, sender_domain))
    signals.update(_attachment_signals(message))
    return {name: signals[name] for name in CONTENT_FEATURES}
