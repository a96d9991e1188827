"""Domain helpers: registrable domains from the public-suffix list bundled with tldextract (never
fetched over the network), lookalike scoring and confusable-character checks."""

from __future__ import annotations

import functools
import ipaddress

import tldextract
from confusable_homoglyphs import confusables
from rapidfuzz.distance import Levenshtein

FREEMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "icloud.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "yandex.ru",
        "mail.ru",
        "zoho.com",
        "qq.com",
        "163.com",
    }
)
SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "rb.gy",
        "t.ly",
        "tiny.cc",
    }
)
BRAND_DOMAINS = {
    "microsoft": "microsoft.com",
    "office365": "microsoft.com",
    "outlook": "microsoft.com",
    "docusign": "docusign.com",
    "paypal": "paypal.com",
    "dhl": "dhl.com",
    "amazon": "amazon.com",
    "google": "google.com",
    "okta": "okta.com",
    "dropbox": "dropbox.com",
    "adobe": "adobe.com",
    "apple": "apple.com",
    "netflix": "netflix.com",
    "fedex": "fedex.com",
    "ups": "ups.com",
    "wellsfargo": "wellsfargo.com",
    "chase": "chase.com",
    "linkedin": "linkedin.com",
    "facebook": "facebook.com",
    "instagram": "instagram.com",
    "coinbase": "coinbase.com",
}
BRAND_REGISTRABLE = frozenset(BRAND_DOMAINS.values()) | {"docusign.net", "office.com", "live.com"}


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # suffix_list_urls=() makes tldextract use the snapshot shipped inside the package: no network.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@functools.lru_cache(maxsize=65536)
def registrable(host: str) -> str:
    """``login.example.co.uk`` -> ``example.co.uk``; an IP or an unknown suffix returns the host."""
    host = host.lower().strip(".")
    if not host:
        return ""
    result = _extractor()(host)
    return result.top_domain_under_public_suffix or host


def split_host(host: str) -> tuple[str, str]:
    """A lower-cased host's registrable domain and the subdomains before it:
    ``login.example.co.uk`` -> (``example.co.uk``, ``login.``); no subdomains ("") for an IP, a
    registrable host, or one that does not end with its registrable domain."""
    domain = registrable(host)
    return domain, host[: -len(domain)] if domain and host.endswith(domain) else ""


@functools.lru_cache(maxsize=65536)
def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def label_of(domain: str) -> str:
    """The name part of a registrable domain: ``paypal.com`` -> ``paypal``."""
    return domain.split(".", 1)[0]


@functools.lru_cache(maxsize=65536)
def lookalike_score(candidate: str, target: str) -> float:
    """How much ``candidate`` (a registrable domain) imitates ``target``: 0 when unrelated or
    identical, up to 1 for a one-character change, a homoglyph swap or the target's name embedded
    with extra words or another suffix."""
    if not candidate or not target or candidate == target:
        return 0.0
    c_label, t_label = label_of(candidate), label_of(target)
    if len(t_label) < 4:
        return 0.0
    if c_label == t_label:  # same name, other suffix
        return 0.9
    if t_label in c_label:  # paypal-secure.com
        return 0.8
    distance = Levenshtein.distance(c_label, t_label)
    # the dbt macro lookalike_score uses the same constants
    return 1.0 if distance == 1 else 0.65 if distance == 2 else 0.0


def max_lookalike(candidate: str, targets: frozenset[str] | set[str]) -> float:
    """The strongest imitation of any target; 0 for a target itself (docusign.net is DocuSign's)."""
    if candidate in targets:
        return 0.0
    return max((lookalike_score(candidate, t) for t in targets), default=0.0)


@functools.lru_cache(maxsize=65536)
def brand_lookalike(candidate: str) -> float:
    """``max_lookalike`` against the brands' own domains, remembered per domain: the sender's
    and every link's domain of every message ask it, and mail repeats its domains."""
    return max_lookalike(candidate, BRAND_REGISTRABLE)


@functools.lru_cache(maxsize=65536)
def has_confusables(text: str) -> bool:
    """Mixed scripts or characters that imitate Latin letters (paypal with a Cyrillic a)."""
    if text.isascii():
        return False
    return bool(confusables.is_mixed_script(text)) or bool(confusables.is_dangerous(text))
