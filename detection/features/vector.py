"""The feature vector: content signals followed by behavioural features, in one fixed order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from detection.features.behaviour import BEHAVIOUR_FEATURES
from detection.features.signals import CONTENT_FEATURES, content_signals
from detection.mail.schema import Message

FEATURE_COLUMNS: tuple[str, ...] = (*CONTENT_FEATURES, *BEHAVIOUR_FEATURES)

DESCRIPTIONS: dict[str, str] = {
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
    "terms_urgency": "urgent language",
    "terms_payment": "payment, wire or gift-card language",
    "terms_credential": "asks to log in or verify credentials",
    "terms_bank_change": "mentions changed bank details",
    "terms_secrecy": "asks for secrecy",
    "terms_extortion": "extortion or prize language",
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
    "sender_prior_messages": "how often this sender wrote to the organisation before",
    "sender_days_since_first_seen": "how long the sender has been known",
    "pair_prior_messages": "how often this sender wrote to this recipient before",
    "recipient_has_replied": "whether the recipient ever wrote to this sender",
    "domain_prior_messages": "how often the sender's domain wrote before",
    "domain_days_since_first_seen": "how long the sender's domain has been known",
    "display_name_prior_addresses": "other addresses that used this display name",
    "display_name_seen_internal": "display name of a colleague, sent from outside",
    "display_name_vip_external": "display name of an executive (VIP), sent from outside",
    "recipient_first_time_sender_share": "how much of the recipient's mail comes from new senders",
    "url_domains_new_to_tenant": "links to domains never seen in the organisation's mail",
    "known_sender_new_link_domains": "a known sender links to a new domain not its own",
    "sender_lookalike_of_known_domain": "sender domain imitates a domain the organisation knows",
    "url_lookalike_of_known_domain": "a link goes to a domain imitating one the organisation knows",
}


def content_frame(messages: Iterable[Message]) -> pd.DataFrame:
    """Content signals for many messages, one row each, indexed by message id."""
    rows, index = [], []
    for message in messages:
        rows.append(content_signals(message))
        index.append(message.message_id)
    frame = pd.DataFrame(
        rows, columns=list(CONTENT_FEATURES), index=pd.Index(index, name="message_id")
    )
    return frame.astype("float64")


KEY_COLUMNS = ("tenant_id", "received_at", "label", "category")


def file_content_frame(path: str | Path) -> pd.DataFrame:
    """Content signals of every message in one lake parquet file, with its key columns."""
    import pyarrow.parquet as pq

    from detection.mail.schema import message_from_row

    frames = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=20_000):
        rows = batch.to_pylist()
        signals = content_frame(message_from_row(row) for row in rows).reset_index()
        keys = pd.DataFrame({k: [row[k] for row in rows] for k in KEY_COLUMNS})
        frames.append(pd.concat([keys, signals], axis=1))
    columns = ["message_id", *KEY_COLUMNS, *CONTENT_FEATURES]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def files_content_frame(paths: Sequence[str | Path], workers: int = 1) -> pd.DataFrame:
    """Content signals of every message in many lake files, in file order; ``workers`` processes
    share the files (the same rows whatever the number of workers)."""
    if workers <= 1 or len(paths) <= 1:
        frames = [file_content_frame(p) for p in paths]
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(min(workers, len(paths)), mp_context=get_context("spawn")) as pool:
            frames = list(pool.map(file_content_frame, [str(p) for p in paths]))
    return pd.concat(frames, ignore_index=True)


def feature_workers() -> int:
    """Processes for the content signals: $ATTACK_DETECTION_FEATURE_WORKERS, else every core."""
    return int(os.environ.get("ATTACK_DETECTION_FEATURE_WORKERS") or os.cpu_count() or 1)


def join_behaviour(content: pd.DataFrame, behaviour: pd.DataFrame) -> pd.DataFrame:
    """The training table: content signals joined one-to-one with the behavioural features on
    ``message_id`` (messages missing from either side drop out), plus the ``is_attack`` label."""
    table = content.merge(behaviour, on="message_id", how="inner", validate="one_to_one")
    table["is_attack"] = (table["label"] == "attack").astype(int)
    return table
