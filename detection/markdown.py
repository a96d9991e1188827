"""One way to write a markdown table for the Dagster UI and the reports: numbers rounded to four
significant digits, missing values as "n/a" (never "nan")."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

MISSING = "n/a"


def cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    text = MISSING if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def keyed_table(key: str, rows: Mapping[str, Mapping[str, object]], columns: Sequence[str]) -> str:
    """One row per key of ``rows``, its ``columns`` (a missing column shows as n/a)."""
    return table(
        [key, *columns],
        ([name, *(values.get(c) for c in columns)] for name, values in rows.items()),
    )
