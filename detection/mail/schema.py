"""The one message schema shared by simulated and real mail, and the tables derived from it.

Every stage reads and writes these shapes: ``MESSAGES`` (one row per message), ``RECIPIENTS``
(one row per message x recipient) and ``QUARANTINE`` (one row per input that could not be parsed).
The in-memory form of a message is :class:`Message`; ``messages_to_tables`` turns a batch of them
into Arrow tables with exactly these schemas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from detection.features.domains import registrable

LABEL_ATTACK = "attack"
LABEL_SAFE = "safe"
LABELS = (LABEL_ATTACK, LABEL_SAFE)

CATEGORY_SAFE = "safe"
CATEGORY_UNKNOWN = "unknown"
ATTACK_CATEGORIES = (
    "credential_phishing",
    "bec",
    "vendor_fraud",
    "account_takeover",
    "malware",
    "extortion_scam",
)
CATEGORIES = (CATEGORY_SAFE, CATEGORY_UNKNOWN, *ATTACK_CATEGORIES)

# Size caps for hostile input (bytes or characters). The parser truncates beyond these and
# records that it did so; nothing downstream ever sees more than this.
MAX_BODY_CHARS = 100_000
MAX_SUBJECT_CHARS = 1_000
MAX_HEADER_CHARS = 2_000
MAX_URLS = 200
MAX_ATTACHMENTS = 50


@dataclass(frozen=True, slots=True)
class Url:
    """A link found in the body: where it goes and the text a reader sees."""

    href: str
    host: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata of an attachment. The content itself is never stored."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(slots=True)
class Message:
    """A parsed message in the form every stage uses."""

    message_id: str
    tenant_id: str
    received_at: datetime
    sender_address: str
    sender_display_name: str = ""
    reply_to_address: str = ""
    return_path_address: str = ""
    to_addresses: tuple[str, ...] = ()
    cc_addresses: tuple[str, ...] = ()
    subject: str = ""
    body_text: str = ""
    header_message_id: str = ""
    header_date: str = ""
    spf_result: str = "none"
    dkim_result: str = "none"
    dmarc_result: str = "none"
    html_form_count: int = 0
    html_image_count: int = 0
    body_is_html: bool = False  # the visible text came from HTML: there was no text/plain part
    urls: tuple[Url, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    label: str | None = None
    category: str = CATEGORY_UNKNOWN
    source: str = ""

    @property
    def sender_domain(self) -> str:
        return domain_of(self.sender_address)

    @property
    def primary_recipient(self) -> str:
        if self.to_addresses:
            return self.to_addresses[0]
        return self.cc_addresses[0] if self.cc_addresses else ""


def domain_of(address: str) -> str:
    """The lower-cased domain part of an address, or '' when there is none."""
    _, at, domain = address.rpartition("@")
    return domain.strip().strip(">").lower() if at else ""


def name_key(display_name: str) -> str:
    """The key display names are compared by: lower-cased, whitespace collapsed ('' = no name)."""
    return " ".join(display_name.lower().split())


_URL_TYPE = pa.struct([("href", pa.string()), ("host", pa.string()), ("text", pa.string())])
_ATTACHMENT_TYPE = pa.struct(
    [
        ("filename", pa.string()),
        ("content_type", pa.string()),
        ("size", pa.int64()),
        ("sha256", pa.string()),
    ]
)
TIMESTAMP = pa.timestamp("us", tz="UTC")

MESSAGES = pa.schema(
    [
        ("message_id", pa.string()),
        ("tenant_id", pa.string()),
        ("received_at", TIMESTAMP),
        ("sender_address", pa.string()),
        ("sender_domain", pa.string()),
        ("sender_org_domain", pa.string()),
        ("sender_display_name", pa.string()),
        ("sender_name_key", pa.string()),
        ("reply_to_address", pa.string()),
        ("return_path_address", pa.string()),
        ("primary_recipient", pa.string()),
        ("recipient_count", pa.int32()),
        ("subject", pa.string()),
        ("body_text", pa.string()),
        ("header_message_id", pa.string()),
        ("header_date", pa.string()),
        ("spf_result", pa.string()),
        ("dkim_result", pa.string()),
        ("dmarc_result", pa.string()),
        ("html_form_count", pa.int32()),
        ("html_image_count", pa.int32()),
        ("body_is_html", pa.bool_()),
        ("urls", pa.list_(_URL_TYPE)),
        ("attachments", pa.list_(_ATTACHMENT_TYPE)),
        ("label", pa.string()),
        ("category", pa.string()),
        ("source", pa.string()),
    ]
)

RECIPIENTS = pa.schema(
    [
        ("message_id", pa.string()),
        ("tenant_id", pa.string()),
        ("recipient_address", pa.string()),
        ("recipient_type", pa.string()),
        ("recipient_position", pa.int32()),
    ]
)

URLS = pa.schema(
    [
        ("message_id", pa.string()),
        ("tenant_id", pa.string()),
        ("url_host", pa.string()),
        ("url_domain", pa.string()),
    ]
)

QUARANTINE = pa.schema(
    [
        ("source_path", pa.string()),
        ("sha256", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)


def message_row(message: Message) -> dict[str, object]:
    """One ``MESSAGES`` row for a message."""
    return {
        "message_id": message.message_id,
        "tenant_id": message.tenant_id,
        "received_at": message.received_at,
        "sender_address": message.sender_address,
        "sender_domain": message.sender_domain,
        "sender_org_domain": registrable(message.sender_domain),
        "sender_display_name": message.sender_display_name,
        "sender_name_key": name_key(message.sender_display_name),
        "reply_to_address": message.reply_to_address,
        "return_path_address": message.return_path_address,
        "primary_recipient": message.primary_recipient,
        "recipient_count": len(message.to_addresses) + len(message.cc_addresses),
        "subject": message.subject,
        "body_text": message.body_text,
        "header_message_id": message.header_message_id,
        "header_date": message.header_date,
        "spf_result": message.spf_result,
        "dkim_result": message.dkim_result,
        "dmarc_result": message.dmarc_result,
        "html_form_count": message.html_form_count,
        "html_image_count": message.html_image_count,
        "body_is_html": message.body_is_html,
        "urls": [{"href": u.href, "host": u.host, "text": u.text} for u in message.urls],
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in message.attachments
        ],
        "label": message.label,
        "category": message.category,
        "source": message.source,
    }


def recipient_rows(message: Message) -> list[dict[str, object]]:
    """The ``RECIPIENTS`` rows of a message, To before Cc, in header order."""
    rows: list[dict[str, object]] = []
    for kind, addresses in (("to", message.to_addresses), ("cc", message.cc_addresses)):
        for address in addresses:
            rows.append(
                {
                    "message_id": message.message_id,
                    "tenant_id": message.tenant_id,
                    "recipient_address": address,
                    "recipient_type": kind,
                    "recipient_position": len(rows),
                }
            )
    return rows


def url_domains(message: Message) -> list[str]:
    """Distinct registrable domains of the message's links, in order of appearance."""
    return list(dict.fromkeys(registrable(u.host) for u in message.urls if u.host))


def url_rows(message: Message) -> list[dict[str, object]]:
    """The ``URLS`` rows of a message: one per distinct link host, with its registrable domain."""
    hosts = dict.fromkeys(u.host.lower() for u in message.urls if u.host)
    return [
        {
            "message_id": message.message_id,
            "tenant_id": message.tenant_id,
            "url_host": host,
            "url_domain": registrable(host),
        }
        for host in hosts
    ]


def _columns(rows: list[dict[str, object]], schema: pa.Schema) -> pa.Table:
    """Rows to a table column by column (several times faster than ``Table.from_pylist``)."""
    return pa.Table.from_pydict({n: [row[n] for row in rows] for n in schema.names}, schema=schema)


def messages_to_tables(messages: Iterable[Message]) -> dict[str, pa.Table]:
    """Arrow tables (messages, recipients, urls) for a batch of messages."""
    rows: list[dict[str, object]] = []
    recipients: list[dict[str, object]] = []
    urls: list[dict[str, object]] = []
    for message in messages:
        rows.append(message_row(message))
        recipients.extend(recipient_rows(message))
        urls.extend(url_rows(message))
    return {
        "messages": _columns(rows, MESSAGES),
        "recipients": _columns(recipients, RECIPIENTS),
        "urls": _columns(urls, URLS),
    }


def message_from_row(row: dict[str, object], to_addresses: tuple[str, ...] = ()) -> Message:
    """Rebuild a :class:`Message` from a ``MESSAGES`` row (as produced by ``to_pylist``)."""
    urls = tuple(Url(**u) for u in (row.get("urls") or []))  # type: ignore[union-attr]
    attachments = tuple(Attachment(**a) for a in (row.get("attachments") or []))  # type: ignore[union-attr]
    primary = str(row.get("primary_recipient") or "")
    if not to_addresses and primary:
        to_addresses = (primary,)
    return Message(
        message_id=str(row["message_id"]),
        tenant_id=str(row["tenant_id"]),
        received_at=row["received_at"],  # type: ignore[arg-type]
        sender_address=str(row["sender_address"] or ""),
        sender_display_name=str(row.get("sender_display_name") or ""),
        reply_to_address=str(row.get("reply_to_address") or ""),
        return_path_address=str(row.get("return_path_address") or ""),
        to_addresses=to_addresses,
        subject=str(row.get("subject") or ""),
        body_text=str(row.get("body_text") or ""),
        header_message_id=str(row.get("header_message_id") or ""),
        header_date=str(row.get("header_date") or ""),
        spf_result=str(row.get("spf_result") or "none"),
        dkim_result=str(row.get("dkim_result") or "none"),
        dmarc_result=str(row.get("dmarc_result") or "none"),
        html_form_count=int(row.get("html_form_count") or 0),  # type: ignore[arg-type]
        html_image_count=int(row.get("html_image_count") or 0),  # type: ignore[arg-type]
        body_is_html=bool(row.get("body_is_html") or False),
        urls=urls,
        attachments=attachments,
        label=row.get("label"),  # type: ignore[arg-type]
        category=str(row.get("category") or CATEGORY_UNKNOWN),
        source=str(row.get("source") or ""),
    )


def quarantine_row(source_path: str, sha256: str, reason: str, detail: str) -> dict[str, str]:
    """One ``QUARANTINE`` row. ``detail`` is a short diagnostic, never message content."""
    return {
        "source_path": source_path,
        "sha256": sha256,
        "reason": reason,
        "detail": detail[:300],
    }


def dumps_summary(summary: dict[str, object]) -> str:
    return json.dumps(summary, indent=2, sort_keys=True, default=str)


__all__ = [
    "ATTACK_CATEGORIES",
    "CATEGORIES",
    "LABELS",
    "MESSAGES",
    "QUARANTINE",
    "RECIPIENTS",
    "URLS",
    "Attachment",
    "Message",
    "Url",
    "domain_of",
    "message_from_row",
    "messages_to_tables",
]
