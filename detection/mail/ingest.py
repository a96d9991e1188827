"""Real mail ingestion: directories of .eml files and mbox files into the message schema.

Labels come from a ``manifest.csv`` (path,label[,category][,source][,date]) at the root of a
directory, or else from the name of an enclosing folder (``attack`` or ``safe``). Every input ends
as exactly one of: a parsed message, a duplicate of an earlier one (same sha256), a quarantine
row with a reason (unparseable, too large, unreadable), or a path skipped with a reason (dotfiles,
the corpus's own documentation, dangling links, FIFOs and devices). Nothing is dropped silently;
the summary counts all of them. Undated mail takes its arrival time from the input (the
manifest's date, else the caller's ``undated_time``, else the file's modification time), never
from the clock, so ingesting the same files again gives the same rows.
"""

from __future__ import annotations

import csv
import mailbox
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

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
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "parsed": len(self.messages),
            "quarantined": len(self.quarantine),
            "duplicates": self.duplicates,
            "skipped": dict(self.skipped),
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


def _skip_reason(path: Path) -> str:
    """Why a path found while walking a directory is not read ("" to read it)."""
    if path.name.startswith("."):
        return "dotfile"
    if path.name in _SKIP_NAMES:
        return "corpus documentation"
    if path.is_symlink() and not path.exists():
        return "dangling link"
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"unreadable ({type(exc).__name__})"
    if stat.S_ISDIR(mode):
        return ""
    if not stat.S_ISREG(mode):
        return "not a regular file (FIFO, device or socket)"
    return ""


def walk_inputs(paths: Iterable[Path]) -> Iterator[tuple[Path, Path, str]]:
    """(file, root, skip reason) for every path under ``paths``, directories walked in sorted
    order: a file to read has an empty reason; everything else found is named with why it was
    skipped, so a caller can count it. Raises FileNotFoundError for a named path that is not
    there (a mistyped argument is an error, not a skip)."""
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(f"{path}: no such file or directory")
        if not path.is_dir():
            yield path, path.parent, _skip_reason(path)
            continue
        pending = [path]
        while pending:
            directory = pending.pop()
            try:
                children = sorted(directory.iterdir())
            except OSError as exc:
                yield directory, path, f"unreadable directory ({type(exc).__name__})"
                continue
            subdirectories = []
            for child in children:
                why = _skip_reason(child)
                if not why and child.is_dir() and not child.is_symlink():
                    subdirectories.append(child)
                else:
                    yield child, path, why
            pending.extend(reversed(subdirectories))


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _read_capped(handle: _Readable) -> tuple[bytes | None, str]:
    data = handle.read(MAX_MESSAGE_BYTES + 1)
    if len(data) > MAX_MESSAGE_BYTES:
        return None, f"more than the {MAX_MESSAGE_BYTES} byte cap"
    return data, ""


def iter_raw_messages(file: Path) -> Iterator[tuple[str, bytes | None, str]]:
    """(name, raw bytes or None, why-None) for each message in a file. Every message is read up
    to the size cap and no further (inside an mbox too); an unreadable file yields one None."""
    try:
        if _is_mbox(file):
            box = mailbox.mbox(file, create=False)
            try:
                for index, key in enumerate(box.iterkeys()):
                    with box.get_file(key) as handle:
                        raw, why = _read_capped(handle)
                    yield f"{file}#{index}", raw, why
            finally:
                box.close()
        else:
            with file.open("rb") as handle:
                raw, why = _read_capped(handle)
            yield str(file), raw, why
    except OSError as exc:
        yield str(file), None, f"unreadable: {type(exc).__name__}: {exc.strerror or exc}"


def _modified(file: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(file.stat().st_mtime, UTC)
    except OSError:
        return None


def ingest(
    paths: Iterable[str | Path],
    *,
    tenant_id: str = "default",
    undated_time: datetime | None = None,
    on_message: Callable[[], None] | None = None,
) -> IngestResult:
    """Parse every message under ``paths``. Never raises on bad mail; raises on a bad manifest.
    Mail without a usable Date arrives at the manifest's date, else ``undated_time``, else its
    file's modification time. ``on_message`` is called once per message read (progress)."""
    result = IngestResult()
    seen: set[str] = set()
    manifests: dict[Path, dict[str, Labelled]] = {}
    for file, root, skipped in walk_inputs(Path(p) for p in paths):
        if skipped:
            result.skipped[skipped] += 1
            continue
        if root not in manifests:
            manifests[root] = _read_manifest(root)
        labelled = manifests[root].get(str(file.resolve())) or _folder_label(file, root)
        fallback = labelled.date or undated_time or _modified(file)
        for name, raw, why in iter_raw_messages(file):
            if on_message is not None:
                on_message()
            if raw is None:
                reason = "unreadable" if why.startswith("unreadable") else "too_large"
                result.quarantine.append(quarantine_row(name, "", reason, why))
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
                    fallback_time=fallback,
                )
            except ParseError as exc:
                result.quarantine.append(quarantine_row(name, digest, exc.reason, exc.detail))
                continue
            result.messages.append(message)
    return result
