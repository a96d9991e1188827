"""The parquet lake that raw mail lands in: daily partitions of messages and recipients, plus a
quarantine table. Files are written atomically (temp name, then rename)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detection.mail.schema import (
    MESSAGES,
    QUARANTINE,
    RECIPIENTS,
    URLS,
    Message,
    message_from_row,
)

TABLES = {"messages": MESSAGES, "recipients": RECIPIENTS, "urls": URLS}


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def partition_dir(lake_dir: Path, table: str, day: date) -> Path:
    return lake_dir / table / f"date={day.isoformat()}"


def write_day(lake_dir: Path, day: date, tables: dict[str, pa.Table], part: str = "part-0") -> None:
    """Replace one day's partition of every table (messages, recipients, urls)."""
    for name, schema in TABLES.items():
        _write(tables[name].cast(schema), partition_dir(lake_dir, name, day) / f"{part}.parquet")


def write_quarantine(
    lake_dir: Path, day: date, rows: list[dict[str, str]], part: str = "part-0"
) -> Path:
    """Replace one part of a day's quarantine partition."""
    path = partition_dir(lake_dir, "quarantine", day) / f"{part}.parquet"
    _write(pa.Table.from_pylist(rows, schema=QUARANTINE), path)
    return path


def empty_tables() -> dict[str, pa.Table]:
    return {name: schema.empty_table() for name, schema in TABLES.items()}


def arrival_span(lake_dir: Path, days: list[date]) -> tuple[datetime, datetime] | None:
    """Earliest and latest ``received_at`` of the mail landed in these days' partitions (a
    partition may hold mail dated outside its day, e.g. a directory of old real mail), or None."""
    files = [
        f
        for day in days
        for f in sorted(partition_dir(lake_dir, "messages", day).glob("*.parquet"))
    ]
    spans = [
        pc.min_max(column).as_py()  # pyright: ignore[reportAttributeAccessIssue]
        for column in (pq.read_table(f, columns=["received_at"])["received_at"] for f in files)
        if len(column)
    ]
    if not spans:
        return None
    return min(s["min"] for s in spans), max(s["max"] for s in spans)


def sender_org_domains(lake_dir: Path, message_ids: list[str]) -> dict[str, str]:
    """The sender's organisation domain of each of these landed messages."""
    import pyarrow.dataset as ds

    if not message_ids:
        return {}
    dataset = ds.dataset(str(lake_dir / "messages"), format="parquet")
    wanted = pc.field("message_id").isin(message_ids)  # pyright: ignore[reportAttributeAccessIssue]
    table = dataset.to_table(columns=["message_id", "sender_org_domain"], filter=wanted)
    ids, domains = table["message_id"].to_pylist(), table["sender_org_domain"].to_pylist()
    return dict(zip(ids, domains, strict=True))


TEXT_COLUMNS = ["message_id", "subject", "body_text", "body_is_html"]


def message_files(lake_dir: Path) -> list[str]:
    """The lake's message files, in order; files being written (``.``/``_`` names, which
    pyarrow's dataset discovery skips too) are not among them."""
    files = (lake_dir / "messages").glob("*/*.parquet")
    return sorted(str(p) for p in files if not p.name.startswith((".", "_")))


def iter_texts(
    lake_dir: Path, message_ids: list[str], files: list[str] | None = None
) -> Iterator[tuple[str, str, str, bool]]:
    """(message id, subject, visible body, whether it came from HTML) of these landed messages,
    in the lake's order (of ``files`` only, when given), read in batches: a million bodies are
    never held at once (a lake written before ``body_is_html`` existed reads it as False)."""
    import pyarrow.dataset as ds

    wanted = pa.array(sorted(set(message_ids)), pa.string())
    source = files if files is not None else str(lake_dir / "messages")
    dataset = ds.dataset(source, format="parquet", schema=MESSAGES)
    scanner = dataset.scanner(
        columns=TEXT_COLUMNS,
        filter=pc.field("message_id").isin(wanted),  # pyright: ignore[reportAttributeAccessIssue]
        batch_size=20_000,
    )
    for batch in scanner.to_batches():
        columns = batch.to_pydict()
        for row in zip(*(columns[c] for c in TEXT_COLUMNS), strict=True):
            yield row[0], row[1] or "", row[2] or "", bool(row[3])


def read_texts(lake_dir: Path, message_ids: list[str]) -> dict[str, tuple[str, str, bool]]:
    """Subject, visible body and whether it came from HTML, of these landed messages."""
    return {
        m: (subject, body, html) for m, subject, body, html in iter_texts(lake_dir, message_ids)
    }


def replay_sets(lake_dir: Path, count: int, pooled_prefix: str) -> dict[str, list[Message]]:
    """Messages to time a bundle on: ``latest``, the last ``count`` landed (newest days first,
    what the organisations send now), and ``real_mail``, a fixed sample of ``count`` messages of
    a labelled real corpus landed as a pooled tenant (``pooled_prefix``: the first by message id;
    empty when no corpus landed)."""
    files = message_files(lake_dir)
    latest: list[Message] = []
    for file in reversed(files):
        latest += [message_from_row(r) for r in pq.read_table(file).to_pylist()]
        if len(latest) >= count:
            break
    pooled: list[dict[str, object]] = []
    for file in files:
        tenants = pq.read_table(file, columns=["tenant_id"]).column("tenant_id").to_pylist()
        keep = [str(t).startswith(pooled_prefix) for t in tenants]
        if any(keep):
            pooled += pq.read_table(file).filter(pa.array(keep)).to_pylist()
    pooled.sort(key=lambda row: str(row["message_id"]))
    return {
        "latest": latest[:count],
        "real_mail": [message_from_row(r) for r in pooled[:count]],
    }
