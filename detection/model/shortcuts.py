"""The shortcut audit: does the model identify where mail came from instead of what it says?

A labelled corpus assembled from different sources lets a model separate attack from safe by
source artefacts (an era's HTML, a mail system's headers, a mailing list's footer) that say
nothing about new mail. The audit measures, on the pooled corpus rows:

- per model input: how well it identifies a source among mail of one label (the best one-vs-rest
  ROC AUC, direction-free), how well it predicts the label (ROC AUC of the label against the
  feature's binned label rate, so a non-monotone identifier counts too), and the model's reliance
  on it (its share of the booster's total gain);
- how well the model's held-out score on safe mail identifies each safe source;
- recall and false-positive rate by slice on the source-held-out rows: HTML-only bodies or not,
  English or not, short bodies, with attachments.

Criterion (blocking): a model input is a **shortcut** when it identifies a source within a label
almost perfectly (AUC >= ``SOURCE_AUC``), predicts the label (AUC >= ``LABEL_AUC``) and the model
relies on it (gain share >= ``GAIN_SHARE``). Any shortcut blocks deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from detection import handoff
from detection.model.intervals import Rate

if TYPE_CHECKING:
    import pandas as pd

    from detection.storage import Location

FORMAT_VERSION = 1
PRODUCER = "real_mail_evaluation"
SOURCE_AUC = 0.99
LABEL_AUC = 0.9
GAIN_SHARE = 0.05
CRITERION = (
    f"an input identifies a source within a label (AUC >= {SOURCE_AUC}), predicts the label "
    f"(AUC >= {LABEL_AUC}) and carries >= {GAIN_SHARE:.0%} of the model's gain"
)
SHORT_BODY_WORDS = 30
_ENGLISH = frozenset(
    "the and to of a in is you that for it your on this be are with have we as not at or will "
    "from by if please can our an all has was please thank thanks".split()
)
_WORD = re.compile(r"[^\W\d_]+")


def english_share(text: str) -> float:
    """The share of common English function words among the words of ``text`` (first 2,000
    characters); a slice label, never a model input."""
    words = _WORD.findall(text[:2000].lower())
    return sum(w in _ENGLISH for w in words) / len(words) if words else 0.0


@dataclass(frozen=True)
class FeatureAudit:
    feature: str
    safe_source_auc: float
    attack_source_auc: float
    label_auc: float
    gain_share: float
    shortcut: bool


@dataclass(frozen=True)
class SliceResult:
    name: str
    recall: Rate
    fpr: Rate


@dataclass(frozen=True)
class ShortcutAudit:
    judged: bool
    reason: str
    criterion: str = CRITERION
    features: list[FeatureAudit] = field(default_factory=list)
    score_identifies_safe_source: dict[str, float] = field(default_factory=dict)
    slices: list[SliceResult] = field(default_factory=list)
    shortcuts: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.shortcuts

    def save(self, path: Location) -> Location:
        return handoff.save(self, path, FORMAT_VERSION)

    @classmethod
    def load(cls, path: Location) -> ShortcutAudit:
        return handoff.load(cls, path, FORMAT_VERSION, PRODUCER)


def _auc(y: np.ndarray, values: np.ndarray) -> float:
    """Direction-free ROC AUC (0.5 when either side is empty or the values are constant)."""
    from sklearn.metrics import roc_auc_score

    finite = values[np.isfinite(values)]
    if y.min(initial=0) == y.max(initial=0) or not len(finite) or finite.min() == finite.max():
        return 0.5
    auc = float(roc_auc_score(y, np.nan_to_num(values, nan=-1e9)))
    return max(auc, 1.0 - auc)


def _source_auc(values: np.ndarray, sources: np.ndarray) -> float:
    names = sorted(set(sources))
    if len(names) < 2:
        return 0.5
    return max(_auc((sources == name).astype(int), values) for name in names)


def _label_auc(values: np.ndarray, y: np.ndarray, bins: int = 20) -> float:
    """AUC of the label against the label rate of the feature's bin (NaN is a bin of its own)."""
    import pandas as pd

    finite = np.isfinite(values)
    codes = np.full(len(values), -1)
    if finite.any():
        edges = np.unique(np.quantile(values[finite], np.linspace(0, 1, bins + 1)))
        codes[finite] = np.searchsorted(edges, values[finite], side="right")
    rates = pd.Series(y).groupby(codes).transform("mean").to_numpy()
    return _auc(y, rates)


def audit_features(
    frame: pd.DataFrame, features: list[str], gain: dict[str, float]
) -> list[FeatureAudit]:
    """The per-input measures on ``frame`` (pooled corpus rows with ``is_attack`` and
    ``source``)."""
    y = frame["is_attack"].to_numpy(dtype=int)
    sources = frame["source"].astype(str).to_numpy()
    total = sum(gain.values()) or 1.0
    audits = []
    for feature in features:
        values = frame[feature].to_numpy(dtype=float)
        safe_auc = _source_auc(values[y == 0], sources[y == 0])
        attack_auc = _source_auc(values[y == 1], sources[y == 1])
        label_auc = _label_auc(values, y)
        share = gain.get(feature, 0.0) / total
        shortcut = max(safe_auc, attack_auc) >= SOURCE_AUC and label_auc >= LABEL_AUC
        audits.append(
            FeatureAudit(
                feature, safe_auc, attack_auc, label_auc, share, shortcut and share >= GAIN_SHARE
            )
        )
    return audits


def slice_results(held: pd.DataFrame, threshold_of: dict[str, float]) -> list[SliceResult]:
    """Recall and FPR per slice over held-out rows (columns ``split``, ``is_attack``, ``score``,
    ``body_is_html``, ``english``, ``words``, ``attachments``), each row judged at its split's
    threshold."""
    thresholds = np.array([threshold_of[name] for name in held["split"]], dtype=float)
    flagged = held["score"].to_numpy() >= thresholds
    y = held["is_attack"].to_numpy(dtype=int)
    masks = {
        "HTML-only body": held["body_is_html"].to_numpy(dtype=bool),
        "text body": ~held["body_is_html"].to_numpy(dtype=bool),
        "English": held["english"].to_numpy(dtype=bool),
        "not English": ~held["english"].to_numpy(dtype=bool),
        f"short body (< {SHORT_BODY_WORDS} words)": held["words"].to_numpy() < SHORT_BODY_WORDS,
        "with attachments": held["attachments"].to_numpy() > 0,
    }
    results = []
    for name, mask in masks.items():
        attacks, safe = mask & (y == 1), mask & (y == 0)
        results.append(
            SliceResult(
                name,
                Rate.of(int(flagged[attacks].sum()), int(attacks.sum())),
                Rate.of(int(flagged[safe].sum()), int(safe.sum())),
            )
        )
    return results


def score_source_identification(held_safe: pd.DataFrame) -> dict[str, float]:
    """How well the held-out score of safe mail identifies each safe source (one-vs-rest AUC,
    direction-free): near 0.5 means the model scores the sources alike."""
    sources = held_safe["source"].astype(str).to_numpy()
    scores = held_safe["score"].to_numpy(dtype=float)
    return {name: _auc((sources == name).astype(int), scores) for name in sorted(set(sources))}
