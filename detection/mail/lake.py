"""The parquet lake that raw mail lands in: daily partitions of messages and recipients, plus a
quarantine table. Files are written atomically (temp name, then rename; one PUT on an object
store). The lake is a local directory or a URL (``s3://...``): see :mod:`detection.storage`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from detection import storage
from detection.mail.schema import (
    MESSAGES,
    QUARANTINE,
    RECIPIENTS,
    URLS,
    Message,
    message_from_row,
)

if TYPE_CHECKING:
    from detection.storage import Location

TABLES = {"messages": MESSAGES, "recipients": RECIPIENTS, "urls": URLS}


def partition_dir(lake_dir: Location, table: str, day: date) -> Location:
    return lake_dir / table / f"date={day.isoformat()}"


def write_day(
    lake_dir: Location, day: date, tables: dict[str, pa.Table], part: str = "part-0"
) -> None:
    """Replace one day's partition of every table (messages, recipients, urls)."""
    for name, schema in TABLES.items():
        storage.write_table(
            tables[name].cast(schema), partition_dir(lake_dir, name, day) / f"{part}.parquet"
        )


def write_quarantine(
    lake_dir: Location, day: date, rows: list[dict[str, str]], part: str = "part-0"
) -> Location:
    """Replace one part of a day's quarantine partition."""
    path = partition_dir(lake_dir, "quarantine", day) / f"{part}.parquet"
    storage.write_table(pa.Table.from_pylist(rows, schema=QUARANTINE), path)
    return path


def empty_tables() -> dict[str, pa.Table]:
    return {name: schema.empty_table() for name, schema in TABLES.items()}


def arrival_span(lake_dir: Location, days: list[date]) -> tuple[datetime, datetime] | None:
    """Earliest and latest ``received_at`` of the mail landed in these days' partitions (a
    partition may hold mail dated outside its day, e.g. a directory of old real mail), or None."""
    files = [
        f
        for day in days
        for f in sorted(partition_dir(lake_dir, "messages", day).glob("*.parquet"))
    ]
    spans = [
        pc.min_max(column).as_py()  # pyright: ignore[reportAttributeAccessIssue]
        for column in (storage.read_table(f, columns=["received_at"])["received_at"] for f in files)
        if len(column)
    ]
    if not spans:
        return None
    return min(s["min"] for s in spans), max(s["max"] for s in spans)


def sender_org_domains(lake_dir: Location, message_ids: list[str]) -> dict[str, str]:
    """The sender's organisation domain of each of these landed messages."""
    if not message_ids:
        return {}
    columns = ["message_id", "sender_org_domain"]
    found: dict[str, str] = {}
    for batch in _selected(message_files(lake_dir), message_ids, columns):
        found.update(zip(*(batch.column(c).to_pylist() for c in columns), strict=True))
    return found


def _selected(
    files: list[Location], message_ids: list[str], columns: list[str]
) -> Iterator[pa.RecordBatch]:
    """The ``columns`` of these messages in these lake files, in batches."""
    wanted = pa.array(sorted(set(message_ids)), pa.string())
    return storage.batches(
        files,
        columns,
        MESSAGES,
        keep=lambda table: pc.is_in(table.column("message_id"), value_set=wanted),  # pyright: ignore[reportAttributeAccessIssue]
        expression=pc.field("message_id").isin(wanted),  # pyright: ignore[reportAttributeAccessIssue]
    )


TEXT_COLUMNS = ["message_id", "subject", "body_text", "body_is_html"]


def message_files(lake_dir: Location) -> list[Location]:
    """The lake's message files, in order; files being written (``.``/``_`` names, which
    pyarrow's dataset discovery skips too) are not among them."""
    files = (lake_dir / "messages").glob("*/*.parquet")
    return sorted((p for p in files if not p.name.startswith((".", "_"))), key=str)


def iter_texts(
    lake_dir: Location, message_ids: list[str], files: list[Location] | None = None
) -> Iterator[tuple[str, str, str, bool]]:
    """(message id, subject, visible body, whether it came from HTML) of these landed messages,
    in the lake's order (of ``files`` only, when given), read in batches: a million bodies are
    never held at once (a lake written before ``body_is_html`` existed reads it as False)."""
    chosen = files if files is not None else message_files(lake_dir)
    for batch in _selected(chosen, message_ids, TEXT_COLUMNS):
        columns = batch.to_pydict()
        for row in zip(*(columns[c] for c in TEXT_COLUMNS), strict=True):
            yield row[0], row[1] or "", row[2] or "", bool(row[3])


def read_texts(lake_dir: Location, message_ids: list[str]) -> dict[str, tuple[str, str, bool]]:
    """Subject, visible body and whether it came from HTML, of these landed messages."""
    return {
        m: (subject, body, html) for m, subject, body, html in iter_texts(lake_dir, message_ids)
    }


def replay_sets(lake_dir: Location, count: int, pooled_prefix: str) -> dict[str, list[Message]]:
    """Messages to time a bundle on: ``latest``, the last ``count`` landed (newest days first,
    what the organisations send now), and ``real_mail``, a fixed sample of ``count`` messages of
    a labelled real corpus landed as a pooled tenant (``pooled_prefix``: the first by message id;
    empty when no corpus landed)."""
    files = message_files(lake_dir)
    latest: list[Message] = []
    for file in reversed(files):
        latest += [message_from_row(r) for r in storage.read_table(file).to_pylist()]
        if len(latest) >= count:
            break
    pooled: list[dict[str, object]] = []
    for file in files:
        tenants = storage.read_table(file, columns=["tenant_id"]).column("tenant_id").to_pylist()
        keep = [str(t).startswith(pooled_prefix) for t in tenants]
        if any(keep):
            pooled += storage.read_table(file).filter(pa.array(keep)).to_pylist()
    pooled.sort(key=lambda row: str(row["message_id"]))
    return {
        "latest": latest[:count],
        "real_mail": [message_from_row(r) for r in pooled[:count]],
    }
