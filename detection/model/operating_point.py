"""The operating point that ships, calibrated on the population each threshold serves:

- ``threshold``: mail whose tenant has no history (the default tenant, a tenant the scorer has
  never seen): calibrated on mail without organisational history, the real labelled mail held out
  by source, at the gate policy's FP budget (the strictest per-source threshold, see
  detection.model.holdouts); without a landed corpus, the candidate's threshold;
- ``with_history``: mail of tenants with history: the candidate's threshold on the validation
  days (their own traffic, behavioural features known);
- ``tenants``: a tenant with enough recent traffic gets its own, the strictest that flags at most
  ``alerts_per_day`` of its safe messages a day on the validation days, bounded by
  ``with_history`` (a tenant may be more sensitive than the default, never less).

Everything after it (evaluation, error analysis, the bundle's threshold file, the scorer) uses
these thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from detection import handoff
from detection.model.thresholds import threshold_allowing

if TYPE_CHECKING:
    import pandas as pd

    from detection.storage import Location

FORMAT_VERSION = 2
PRODUCER = "operating_point"


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float  # mail without tenant history
    with_history: float  # mail of tenants with history and no threshold of their own
    simulated: float  # the candidate's, within its validation_fpr on the validation days
    real_mail: float  # at the FP budget over source-held-out real mail; NaN without a corpus
    fp_budget: float
    decided_by: str
    tenants: dict[str, float] = field(default_factory=dict)
    alerts_per_day: float = float("nan")

    def threshold_for(self, tenant_id: str, has_history: bool) -> float:
        if tenant_id in self.tenants:
            return self.tenants[tenant_id]
        return self.with_history if has_history else self.threshold

    def thresholds(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's threshold (``tenant_id``; history known where its behavioural features
        are)."""
        known = frame["sender_prior_messages"].notna().to_numpy()
        tenants = frame["tenant_id"].astype(str).to_numpy()
        return np.array(
            [self.threshold_for(t, bool(h)) for t, h in zip(tenants, known, strict=True)],
            dtype=float,
        )

    def save(self, path: Location) -> Location:
        return handoff.save(self, path, FORMAT_VERSION)

    @classmethod
    def load(cls, path: Location) -> OperatingPoint:
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
