"""Structure features: the shape of a message's links, attachments, HTML and sender address, the
things a lure is built from whatever its language. Like content signals they depend only on the
message and static lists, and one implementation serves training and the scorer.

Deliberately absent: anything the mail system or the era writes rather than the sender (which
server relayed it, header order or presence, http vs https, whether the body is HTML at all,
the body's language). In a corpus assembled from different sources these identify the source,
not the attack; the shortcut audit (detection/model/shortcuts.py) measures the rest.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from detection.features.domains import registrable, split_host
from detection.mail.schema import Message
from detection.mail.visible import Visible

# Top-level domains that are cheap to register and dominate phishing-domain feeds (a class, not
# a verdict: plenty of honest sites live there too).
ABUSED_TLDS = frozenset(
    "xyz top club online site info live shop icu buzz cyou rest fun space website click link "
    "work monster sbs cfd beauty lol quest bond cam mom autos pics hair skin boats store tk ml ga "
    "cf gq pw ws cc su biz vip win bid loan support help cloud app dev page ru cn".split()
)
# Free hosting, forms and file-sharing services that let anyone publish a login page under a
# trusted name.
FREE_HOSTING = (
    "firebasestorage.googleapis.com",
    "storage.googleapis.com",
    "docs.google.com",
    "sites.google.com",
    "forms.gle",
    "drive.google.com",
    "1drv.ms",
    "onedrive.live.com",
    "sharepoint.com",
    "dropbox.com",
    "blob.core.windows.net",
    "web.app",
    "firebaseapp.com",
    "workers.dev",
    "pages.dev",
    "r2.dev",
    "ipfs",
    "netlify.app",
    "vercel.app",
    "github.io",
    "glitch.me",
    "weebly.com",
    "wixsite.com",
    "000webhostapp.com",
    "herokuapp.com",
    "azurewebsites.net",
    "amazonaws.com",
    "typeform.com",
    "jotform",
    "notion.site",
    "webflow.io",
    "godaddysites.com",
    "square.site",
)
_CALL_TO_ACTION = re.compile(
    r"\b(click|here|log ?in|sign ?in|verify|update|confirm|view|open|download|access|review|"
    r"unlock|restore|validate|secure|pay|claim)\b",
    re.IGNORECASE,
)

STRUCTURE_DESCRIPTIONS: dict[str, str] = {
    "url_max_path_depth": "deepest link path",
    "url_max_path_length": "longest link path",
    "url_max_query_length": "longest link query string",
    "url_nonstandard_port": "link to a non-standard port",
    "url_userinfo": "link with a user name before the host (user@host)",
    "url_domain_hyphens": "hyphens in a link's domain",
    "url_domain_digits": "digits in a link's domain name",
    "url_max_host_length": "longest link host name",
    "url_subdomain_depth": "deepest subdomain nesting in a link",
    "url_abused_tld": "link under a top-level domain favoured by phishing",
    "url_free_hosting": "link to free hosting, forms or file sharing",
    "url_call_to_action_text": "link text asks to click, log in, verify or pay",
    "links_per_100_words": "links per 100 words of text",
    "sender_local_digits": "digits in the sender's address",
    "sender_abused_tld": "sender under a top-level domain favoured by phishing",
    "sender_domain_hyphens": "hyphens in the sender's domain",
    "attachment_pdf": "PDF attachment",
}
STRUCTURE_FEATURES: tuple[str, ...] = tuple(STRUCTURE_DESCRIPTIONS)


def _tld(domain: str) -> str:
    return domain.rpartition(".")[2]


@functools.lru_cache(maxsize=4096)  # bounded: a long-running scorer keeps 4,096 hosts
def _host_shape(host: str) -> tuple[int, int, int, int, int, int]:
    """A lower-cased link host's hyphens and digits in its domain name, its length, subdomain
    depth, abused TLD and free hosting: remembered per host (a message's links mostly share a
    few hosts, and so do the messages of a day)."""
    domain, prefix = split_host(host)
    name = domain.partition(".")[0]
    return (
        name.count("-"),
        sum(ch.isdigit() for ch in name),
        len(host),
        prefix.count("."),
        int(bool(domain) and _tld(domain) in ABUSED_TLDS),
        int(any(h in host for h in FREE_HOSTING)),
    )


def _url_shape(message: Message) -> dict[str, float]:
    depth = path_length = query_length = port = userinfo = action = 0
    host_max = (0, 0, 0, 0, 0, 0)  # each of _host_shape's figures, the largest over the links
    for url in message.urls:
        try:
            parts = urlsplit(url.href)
            path, query = parts.path, parts.query
            port = max(port, int(parts.port not in (None, 80, 443)))
            userinfo = max(userinfo, int("@" in parts.netloc))
        except ValueError:  # a malformed port or bracket: the shape is unknown, not an error
            path, query = "", ""
        depth = max(depth, path.count("/"))
        path_length = max(path_length, len(path))
        query_length = max(query_length, len(query))
        host_max = tuple(map(max, host_max, _host_shape((url.host or "").lower())))
        action = max(action, int(bool(url.text) and bool(_CALL_TO_ACTION.search(url.text))))
    hyphens, digits, host_length, subdomains, abused, hosting = host_max
    return {
        "url_max_path_depth": float(min(depth, 10)),
        "url_max_path_length": float(min(path_length, 200)),
        "url_max_query_length": float(min(query_length, 300)),
        "url_nonstandard_port": float(port),
        "url_userinfo": float(userinfo),
        "url_domain_hyphens": float(min(hyphens, 5)),
        "url_domain_digits": float(min(digits, 10)),
        "url_max_host_length": float(min(host_length, 80)),
        "url_subdomain_depth": float(min(subdomains, 6)),
        "url_abused_tld": float(abused),
        "url_free_hosting": float(hosting),
        "url_call_to_action_text": float(action),
    }


def structure_features(message: Message, visible: Visible | None = None) -> dict[str, float]:
    """All structure features of one message, keyed by the names in ``STRUCTURE_FEATURES``.
    ``visible``: the body's words (computed here when not given; zero-width padding is not
    words)."""
    if visible is None:
        visible = Visible.of(message.body_text)
    values = _url_shape(message)
    local, _, domain = message.sender_address.lower().rpartition("@")
    sender = registrable(domain)
    words = len(visible.words)
    names = [a.filename.lower() for a in message.attachments]
    values.update(
        {
            "links_per_100_words": min(100.0 * len(message.urls) / max(words, 1), 50.0),
            "sender_local_digits": float(min(sum(ch.isdigit() for ch in local), 10)),
            "sender_abused_tld": float(bool(sender) and _tld(sender) in ABUSED_TLDS),
            "sender_domain_hyphens": float(min(sender.partition(".")[0].count("-"), 5)),
            "attachment_pdf": float(any(n.endswith(".pdf") for n in names)),
        }
    )
    return {name: values[name] for name in STRUCTURE_FEATURES}
