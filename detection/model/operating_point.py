"""The operating point that ships: one threshold for mail whose tenant has no history (the
default tenant, a tenant the scorer has never seen) and a threshold per tenant with history.

- The global threshold is calibrated on mail without organisational history: real labelled mail
  held out by source, at the gate policy's FP budget (the strictest per-source threshold, see
  detection.model.holdouts); without a landed corpus, the candidate's threshold on the
  validation days.
- A tenant's threshold is calibrated on its own recent traffic (the validation days): the
  strictest that flags at most ``alerts_per_day`` of its safe messages a day, bounded by the
  global threshold (a tenant may be more sensitive than the global threshold, never less).
  Tenants with too little recent mail keep the global threshold.

Everything after it (evaluation, error analysis, the bundle's threshold file, the scorer) uses
these thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from detection import handoff
from detection.model.thresholds import threshold_allowing

FORMAT_VERSION = 2
PRODUCER = "operating_point"


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float  # global: mail without tenant history, tenants without their own
    simulated: float  # the candidate's, at its validation_fpr on the validation days
    real_mail: float  # at the FP budget over source-held-out real mail; NaN without a corpus
    fp_budget: float
    decided_by: str
    tenants: dict[str, float] = field(default_factory=dict)
    alerts_per_day: float = float("nan")

    def threshold_for(self, tenant_id: str) -> float:
        return self.tenants.get(tenant_id, self.threshold)

    def thresholds(self, tenant_ids: Iterable[object]) -> np.ndarray:
        """Each row's threshold."""
        return np.array([self.threshold_for(str(t)) for t in tenant_ids], dtype=float)

    def save(self, path: Path) -> Path:
        return handoff.save(self, path, FORMAT_VERSION)

    @classmethod
    def load(cls, path: Path) -> OperatingPoint:
        return handoff.load(cls, path, FORMAT_VERSION, PRODUCER)


def global_threshold(simulated: float, real_mail: float) -> tuple[float, str]:
    if math.isnan(real_mail):
        return simulated, "the validation days (no labelled real-mail corpus landed)"
    return real_mail, "real mail held out by source"


def tenant_thresholds(
    scored: pd.DataFrame, ceiling: float, alerts_per_day: float, min_safe: int
) -> dict[str, float]:
    """Per tenant (columns ``tenant_id``, ``received_at``, ``is_attack``, ``score``): the
    strictest threshold flagging at most ``alerts_per_day`` of its safe mail a day, at most
    ``ceiling``; tenants with fewer than ``min_safe`` safe messages are left out."""
    result = {}
    for tenant, rows in scored.groupby("tenant_id", sort=True):
        safe = rows.loc[rows["is_attack"] == 0, "score"].to_numpy(dtype=float)
        if len(safe) < min_safe:
            continue
        days = max(1, rows["received_at"].dt.floor("D").nunique())
        own = threshold_allowing(safe, math.floor(alerts_per_day * days))
        result[str(tenant)] = float(min(max(own, 0.0), ceiling))
    return result
