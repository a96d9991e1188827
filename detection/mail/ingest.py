"""Real mail ingestion: directories of .eml files and mbox files into the message schema.

Labels come from a ``manifest.csv`` (path,label[,category][,source][,date]) at the root of a
directory, or else from the name of an enclosing folder (``attack`` or ``safe``). Every input ends
as exactly one of: a parsed message, a duplicate of an earlier one (same sha256), or a quarantine
row with a reason. Nothing is dropped silently; the summary counts all three.
"""

from __future__ import annotations

import csv
import mailbox
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detection.mail.parsing import MAX_MESSAGE_BYTES, ParseError, parse_message, sha256_hex
from detection.mail.schema import CATEGORY_SAFE, CATEGORY_UNKNOWN, LABELS, Message, quarantine_row

_SKIP_NAMES = frozenset({"manifest.csv", "SOURCES.md", "README.md", "README"})


@dataclass(frozen=True)
class Labelled:
    label: str | None = None
    category: str = CATEGORY_UNKNOWN
    source: str = ""
    date: datetime | None = None


@dataclass
class IngestResult:
    messages: list[Message] = field(default_factory=list)
    quarantine: list[dict[str, str]] = field(default_factory=list)
    duplicates: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "parsed": len(self.messages),
            "quarantined": len(self.quarantine),
            "duplicates": self.duplicates,
            "by_reason": dict(Counter(q["reason"] for q in self.quarantine)),
            "by_label": dict(Counter(m.label or "unlabelled" for m in self.messages)),
        }


def _read_manifest(root: Path) -> dict[str, Labelled]:
    path = root / "manifest.csv"
    if not path.is_file():
        return {}
    labels: dict[str, Labelled] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            label = (row.get("label") or "").strip().lower()
            if label not in LABELS:
                raise ValueError(f"{path}:{line}: label must be one of {LABELS}, got {label!r}")
            day = (row.get("date") or "").strip()
            labels[str((root / row["path"]).resolve())] = Labelled(
                label=label,
                category=(row.get("category") or "").strip()
                or (CATEGORY_SAFE if label == "safe" else CATEGORY_UNKNOWN),
                source=(row.get("source") or "").strip(),
                date=datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None,
            )
    return labels


def _folder_label(path: Path, root: Path) -> Labelled:
    for parent in path.relative_to(root).parents if path != root else ():
        name = parent.name.lower()
        if name in LABELS:
            return Labelled(
                label=name,
                category=CATEGORY_SAFE if name == "safe" else CATEGORY_UNKNOWN,
                source=path.parent.name,
            )
    return Labelled(source=path.parent.name)


def _is_mbox(path: Path) -> bool:
    if path.suffix.lower() == ".mbox":
        return True
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every input file; directories are walked in sorted order."""
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.name not in _SKIP_NAMES and not file.name.startswith("."):
                    yield file, path
        elif path.is_file():
            yield path, path.parent
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")


def iter_raw_messages(file: Path) -> Iterator[tuple[str, bytes | None, str]]:
    """(name, raw bytes or None, why-None) for each message in a file."""
    size = file.stat().st_size
    if _is_mbox(file):
        box = mailbox.mbox(file, create=False)
        try:
            for index, key in enumerate(box.iterkeys()):
                yield f"{file}#{index}", box.get_bytes(key), ""
        finally:
            box.close()
    elif size > MAX_MESSAGE_BYTES:
        yield str(file), None, f"{size} bytes exceeds the {MAX_MESSAGE_BYTES} byte cap"
    else:
        yield str(file), file.read_bytes(), ""


def ingest(paths: Iterable[str | Path], *, tenant_id: str = "default") -> IngestResult:
    """Parse every message under ``paths``. Never raises on bad mail; raises on a bad manifest."""
    result = IngestResult()
    seen: set[str] = set()
    manifests: dict[Path, dict[str, Labelled]] = {}
    for file, root in iter_files(Path(p) for p in paths):
        if root not in manifests:
            manifests[root] = _read_manifest(root)
        labelled = manifests[root].get(str(file.resolve())) or _folder_label(file, root)
        for name, raw, why in iter_raw_messages(file):
            if raw is None:
                result.quarantine.append(quarantine_row(name, "", "too_large", why))
                continue
            digest = sha256_hex(raw)
            if digest in seen:
                result.duplicates += 1
                continue
            seen.add(digest)
            try:
                message = parse_message(
                    raw,
                    tenant_id=tenant_id,
                    source=labelled.source,
                    label=labelled.label,
                    category=labelled.category,
                    fallback_time=labelled.date,
                )
            except ParseError as exc:
                result.quarantine.append(quarantine_row(name, digest, exc.reason, exc.detail))
                continue
            result.messages.append(message)
    return result
