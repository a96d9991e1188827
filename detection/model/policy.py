"""The gate policy: what a candidate must show before it ships, set by the deployment.

One ``GatePolicy`` is read by every blocking check (recall, false-positive rate, category floors,
champion vs challenger, latency) and by the candidate's choice of operating point; it is recorded
in the bundle's manifest and in the promotion's audit record. It comes from the deployment's
configuration (environment variables, or the Dagster resource that wraps this), never from the
candidate's own training config: a training run cannot lower the bar it is judged by.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "ATTACK_DETECTION_"


class PolicyError(ValueError):
    """A gate policy value is out of range or unreadable; the message names the setting."""


@dataclass(frozen=True)
class GatePolicy:
    """Defaults are the project's policy; each field is overridden by the environment variable
    ``ATTACK_DETECTION_<FIELD NAME IN CAPITALS>`` (see :meth:`from_env`)."""

    fp_budget: float = 0.005
    """False-positive rate allowed on held-out safe mail: the simulated test days (the FPR
    check), the real-mail operating point on sources held out from the model, and the budget at
    which champion and challenger recall are compared."""
    recall_floor: float = 0.96
    """Recall on the held-out days at the operating point, judged on its 95% lower bound (the
    goal for the model is 0.995 at 100 false positives per million; a bound needs about 600
    attacks without a miss to show 0.995)."""
    real_mail_recall_floor: float = 0.75
    """Recall on real mail over the safe-source-held-out folds (pooled), each at a threshold
    chosen without its held-out source, judged on its lower bound (when a corpus was landed)."""
    source_fpr_cap: float = 0.035
    """False-positive rate no held-out safe source may exceed at that threshold, judged on its
    upper bound (the gate's bar against a source of safe mail the model mistakes wholesale; the
    efficacy target, 1%, and what the model does are in the model card)."""
    category_recall_floor: float = 0.75
    """Recall every attack category must reach on the held-out days, judged on its lower bound
    (30 attacks without a miss give 0.886; the goal for the model is 0.98)."""
    category_floors: Mapping[str, float] = field(default_factory=dict)
    """Per-category floors that override ``category_recall_floor``, e.g. ``{"bec": 0.95}``."""
    min_attacks: int = 300
    """Minimum evidence for the recall checks: held-out attacks (and real-mail attacks)."""
    min_category_attacks: int = 30
    """Minimum evidence per category: a category with fewer held-out attacks is 'not enough
    evidence', which blocks (and champion/challenger leaves it unjudged)."""
    min_safe: int = 1000
    """Minimum evidence for the false-positive check: held-out safe messages."""
    min_source_safe: int = 300
    """Minimum evidence per held-out real safe source."""
    champion_tolerance: float = 0.01
    """Recall at the FP budget the challenger may lose against the serving model on the golden
    set, overall or in any judged category."""
    latency_budget_ms: float = 10.0
    """p99 single-message scoring latency on the replay set (the latest landed mail: real words
    in the demo world's last days, bodies up to 6 KB). Measured p99 there: 4.7 ms on the AMD
    machine, about 1.4x that on the Intel one; the budget guards against a model or feature that
    becomes several times slower. The product target (issue #17) is 2 ms on real mail."""
    real_mail_latency_budget_ms: float = 25.0
    """p99 single-message scoring latency on real mail (a fixed sample of the labelled corpus,
    when one was landed): 9.0 ms measured on the AMD machine (messages of 18 KiB on average,
    HTML, long threads), so the budget guards against a regression of about three times; the
    product target (issue #17) is 2 ms with parsing included, and is not met (BENCHMARKS.md)."""
    replay_messages: int = 500
    """Messages replayed (the latest landed, and as many of the real corpus) to time the
    candidate bundle."""
    drift_share_threshold: float = 0.3
    """Share of drifted features from which the feature_drift check warns and the drift sensor
    retrains (a WARN check: it never blocks)."""

    def __post_init__(self) -> None:
        shares = (
            "fp_budget",
            "recall_floor",
            "category_recall_floor",
            "champion_tolerance",
            "real_mail_recall_floor",
            "source_fpr_cap",
        )
        for name in (*shares, "drift_share_threshold"):
            _share(name, getattr(self, name))
        for category, floor in self.category_floors.items():
            _share(f"category_floors[{category!r}]", floor)
        for name in ("min_attacks", "min_category_attacks", "min_safe", "min_source_safe"):
            if getattr(self, name) < 1:
                raise PolicyError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.replay_messages < 1:
            raise PolicyError(f"replay_messages must be at least 1, not {self.replay_messages}")
        for name in ("latency_budget_ms", "real_mail_latency_budget_ms"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise PolicyError(f"{name} must be positive, not {value}")
        object.__setattr__(self, "category_floors", dict(self.category_floors))

    def floor_for(self, category: str) -> float:
        return float(self.category_floors.get(category, self.category_recall_floor))

    def floors(self, categories: list[str]) -> dict[str, float]:
        return {c: self.floor_for(c) for c in categories}

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "category_floors": dict(self.category_floors)}

    def replace(self, **changes: Any) -> GatePolicy:
        """A copy with ``changes`` (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatePolicy:
        """The default policy with every ``ATTACK_DETECTION_<FIELD>`` variable that is set."""
        changes: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            name = ENV_PREFIX + item.name.upper()
            raw = environ.get(name, "").strip()
            if raw:
                changes[item.name] = _parse(name, raw, type(getattr(cls(), item.name)))
        return cls().replace(**changes)


def _share(name: str, value: float) -> None:
    if not (0.0 <= value <= 1.0):
        raise PolicyError(f"{name} must be between 0 and 1, not {value}")


def _parse(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is dict:
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError("expected a JSON object")
            return {str(k): float(v) for k, v in value.items()}
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise PolicyError(
            f"{name}={raw!r} is not a valid {kind.__name__} ({exc}); fix or unset it"
        ) from exc
