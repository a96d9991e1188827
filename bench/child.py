"""Run a benchmark module in a child process and read the JSON object it prints.

A child process per measurement keeps each one's peak memory (``ru_maxrss``) and heap its own."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any


def spread(values: list[float]) -> dict[str, float]:
    """The median, min and max of repeated measurements (how BENCHMARKS.md reports them)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_json(module: str, *args: str) -> Any:
    """``python -m module args...``; its result is the JSON on stdout (the last line where a
    library printed something first)."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=True
    )
    text = result.stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.splitlines()[-1])
