"""Proportions with their evidence: every rate a gate judges carries its counts and a 95% Wilson
score interval, so a check can judge the bound, not the point."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Z95 = 1.959964


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of k successes in n trials ((0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


@dataclass(frozen=True)
class Rate:
    """k of n, the share, and its 95% interval."""

    k: int
    n: int
    value: float
    low: float
    high: float

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        low, high = wilson(k, n)
        return cls(int(k), int(n), k / n if n else float("nan"), low, high)

    @classmethod
    def among(cls, hits: Any, rows: Any) -> Rate:
        """The share of ``rows`` (a boolean array) where ``hits`` (another) holds."""
        return cls.of(int((hits & rows).sum()), int(rows.sum()))

    def __str__(self) -> str:
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}] ({self.k}/{self.n})"
