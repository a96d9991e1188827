"""Real language for simulated mail: a pool of subjects and bodies drawn from a labelled real
corpus, sorted into the kinds of mail the simulator writes.

The simulator keeps the world (tenants, people, domains, timing, links, attachments, behaviour)
and takes each message's words from a real message of a fitting kind: attack categories from
attack mail (credential lures with links, BEC-style requests without links, invoice and bank
fraud, malware with attachments, extortion and scams), safe traffic from safe mail (internal
threads, notifications, newsletters, vendor mail, partner and list mail).

**Held back by date.** The latest ``HOLD_BACK_SHARE`` of each corpus source (by date) is held
back: it is not landed as corpus rows (``held_back_ids``; raw_messages' ``hold_back_latest``), and
only the simulated world's last days (validation and test) draw from it. Text in the simulated
test window was never in anything the model trains on. Every drawn message records where its
words came from in its ``source``: ``simulator:<corpus source>:<corpus message id>``, so
the real-mail evaluation can leave such rows out of a split that holds that source out.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa

from detection import storage
from detection.features.signals import content_signals
from detection.mail.schema import Message, Url
from detection.storage import Location

HOLD_BACK_SHARE = 0.1
PROVENANCE = "simulator:"
SAFE_KINDS = ("internal", "notification", "newsletter", "vendor", "partner")
ATTACK_KINDS = (
    "credential_phishing",
    "account_takeover",
    "bec",
    "vendor_fraud",
    "malware",
    "extortion_scam",
)
# a kind without samples borrows from the next of these
FALLBACK = {
    "internal": "partner",
    "vendor": "internal",
    "notification": "newsletter",
    "newsletter": "notification",
    "partner": "internal",
    "account_takeover": "credential_phishing",
    "vendor_fraud": "bec",
    "bec": "vendor_fraud",
    "malware": "credential_phishing",
    "extortion_scam": "bec",
    "credential_phishing": "bec",
}
# kinds that draw from several: no single corpus source supplies most of the simulated words (a
# real-mail split that holds a source out leaves its words out of training, and must not lose
# most of the simulated world with them)
MIXES = {"internal": ("internal", "partner"), "partner": ("partner", "internal")}
MAX_BODY = 6000
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_INVOICE = re.compile(r"\b(invoice|remittance|purchase order|statement of account)\b", re.I)
_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("late", pa.bool_()),
        ("subject", pa.string()),
        ("body", pa.string()),
        ("link_texts", pa.list_(pa.string())),
        ("source", pa.string()),
        ("corpus_id", pa.string()),
    ]
)


def held_back_ids(messages: Iterable[Message], share: float = HOLD_BACK_SHARE) -> set[str]:
    """The ids of the latest ``share`` of each source's labelled messages (by date, ties by id)."""
    by_source: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        if message.label in ("safe", "attack"):
            by_source[message.source].append(message)
    held: set[str] = set()
    for mail in by_source.values():
        ordered = sorted(mail, key=lambda m: (m.received_at, m.message_id))
        count = round(len(ordered) * share)
        held.update(m.message_id for m in ordered[len(ordered) - count :])
    return held


# The term families the casting reads: fixed at version 1 (English), so that a new version of
# the model's term families (detection.features.terms) does not recast the world the model is
# judged on; a change of the casting is a change of the simulator, made on its own.
CASTING_TERMS_VERSION = 1


def classify(message: Message) -> str:
    """The kind of mail a labelled real message can stand in for."""
    signals = content_signals(message, terms_version=CASTING_TERMS_VERSION)
    has_links = bool(message.urls)
    if message.label == "attack":
        risky = signals["attachment_executable"] + signals["attachment_macro"]
        risky += signals["attachment_html"] + signals["attachment_disk_or_archive"]
        if risky or (message.attachments and not has_links):
            return "malware"
        if signals["terms_extortion"] >= 1 and signals["terms_credential"] == 0:
            return "extortion_scam"
        if signals["terms_bank_change"] >= 1 or _INVOICE.search(message.subject):
            return "vendor_fraud"
        if not has_links:
            return "bec"
        return "credential_phishing"
    if message.source == "enron":
        return (
            "vendor" if _INVOICE.search(f"{message.subject}\n{message.body_text}") else "internal"
        )
    if len(message.urls) >= 5:
        return "newsletter"
    if has_links and len(message.body_text.split()) < 150:
        return "notification"
    return "partner"


def build_pool(messages: list[Message], share: float = HOLD_BACK_SHARE) -> pa.Table:
    """Every labelled message's words as a pool row: its kind, whether it was held back, its
    subject, body (capped), link texts, source and id."""
    held = held_back_ids(messages, share)
    rows = []
    for message in sorted(messages, key=lambda m: m.message_id):
        if message.label not in ("safe", "attack") or not message.body_text.strip():
            continue
        kind = classify(message)
        rows.append(
            {
                "kind": kind,
                "late": message.message_id in held,
                "subject": message.subject,
                "body": message.body_text[:MAX_BODY],
                "link_texts": [u.text for u in message.urls if u.text][:20],
                "source": message.source,
                "corpus_id": message.message_id,
            }
        )
    return pa.Table.from_pylist(rows, schema=_SCHEMA)


def write_pool(corpus: Path, out: Location, share: float = HOLD_BACK_SHARE) -> Location:
    """Parse the corpus once and write its pool (atomically)."""
    from detection.mail.ingest import ingest

    storage.write_table(build_pool(ingest([corpus]).messages, share), out)
    return out


@dataclass(frozen=True)
class Sample:
    subject: str
    body: str
    link_texts: tuple[str, ...]
    source: str
    corpus_id: str


MIN_DISTINCT = 30


class TextPool:
    """Samples by (kind, late); ``draw`` is deterministic for the rng it is given.

    A kind with fewer than ``min_distinct`` texts (the held-back share of a small corpus holds 2
    malware and 7 vendor-fraud texts) lends its words to only that share of its messages
    (``len / min_distinct``) and leaves the rest to the templates: otherwise one real text
    written into a dozen test attacks makes a dozen correlated outcomes look like a dozen pieces
    of evidence (one hard text once cost a category 13 misses)."""

    def __init__(
        self, samples: dict[tuple[str, bool], list[Sample]], min_distinct: int = MIN_DISTINCT
    ) -> None:
        self.samples = samples
        self.min_distinct = min_distinct

    @classmethod
    def load(cls, path: Location) -> TextPool:
        samples: dict[tuple[str, bool], list[Sample]] = defaultdict(list)
        for row in storage.read_table(path, schema=_SCHEMA).to_pylist():
            sample = Sample(
                row["subject"] or "",
                row["body"] or "",
                tuple(row["link_texts"] or ()),
                row["source"],
                row["corpus_id"],
            )
            samples[(row["kind"], bool(row["late"]))].append(sample)
        return cls(dict(samples))

    def draw(self, rng: random.Random, kind: str, late: bool) -> Sample | None:
        mix = MIXES.get(kind)
        if mix:
            kind = mix[rng.randrange(len(mix))]
        seen = set()
        while kind not in seen:
            seen.add(kind)
            options = self.samples.get((kind, late))
            if options:
                if rng.random() * self.min_distinct >= len(options):
                    return None  # too few distinct texts: the templates write this one
                return options[rng.randrange(len(options))]
            kind = FALLBACK.get(kind, kind)
        return None


def with_text(message: Message, sample: Sample, *, reply: bool = False) -> Message:
    """``message`` with the sample's words. Links in the body point at the message's own
    (simulated) links, so a parser finds the same links in the text as in the message; link texts
    come from the sample where it has them."""
    href = message.urls[0].href if message.urls else ""
    body = _URL.sub(href, sample.body) if href else _URL.sub("", sample.body)
    urls = tuple(
        Url(
            u.href,
            u.host,
            sample.link_texts[i % len(sample.link_texts)] if sample.link_texts else u.text,
        )
        for i, u in enumerate(message.urls)
    )
    subject = sample.subject or message.subject
    if reply and not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    return replace(
        message,
        subject=subject,
        body_text=body,
        urls=urls,
        source=f"{PROVENANCE}{sample.source}:{sample.corpus_id}",
    )


def provenance(source: str) -> tuple[str, str] | None:
    """(corpus source, corpus message id) of a simulated message that drew real words, else
    None."""
    if not source.startswith(PROVENANCE):
        return None
    corpus_source, _, corpus_id = source[len(PROVENANCE) :].rpartition(":")
    return corpus_source, corpus_id
