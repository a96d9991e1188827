"""Recall on one tactic before and after a retrain: the drift scenario's measure. Both models
score the same rows (a window that holds the new tactic), each at its own threshold for the FP
budget on that window's safe mail, so the comparison is of what each model can do, not of where
its threshold happened to land."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detection.markdown import table
from detection.model.intervals import Rate
from detection.model.thresholds import threshold_at_fpr

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TacticRecall:
    """Recall (with intervals) on the tactic and on every other attack, before and after."""

    tactic: str
    budget: float
    safe: int
    before: Rate
    after: Rate
    others_before: Rate
    others_after: Rate

    @property
    def gap_after(self) -> float:
        """Points (as a share) by which the tactic still trails the other attacks after."""
        return self.others_after.value - self.after.value

    def table(self) -> str:
        rows = [
            [self.tactic, str(self.before), str(self.after)],
            ["every other attack", str(self.others_before), str(self.others_after)],
        ]
        return table(["attacks", "before the retrain", "after one retrain"], rows)

    def as_dict(self) -> dict[str, object]:
        def rate(r: Rate) -> dict[str, float | int]:
            return {"recall": r.value, "low": r.low, "high": r.high, "caught": r.k, "of": r.n}

        return {
            "tactic": self.tactic,
            "budget": self.budget,
            "safe": self.safe,
            "before": rate(self.before),
            "after": rate(self.after),
            "others_before": rate(self.others_before),
            "others_after": rate(self.others_after),
            "gap_after": self.gap_after,
        }


def _caught(y: np.ndarray, scores: np.ndarray, budget: float, mask: np.ndarray) -> Rate:
    threshold = threshold_at_fpr(y, scores, budget)
    attacks = (y == 1) & mask
    return Rate.of(int((scores[attacks] >= threshold).sum()), int(attacks.sum()))


def tactic_recall(
    window: pd.DataFrame,
    before: np.ndarray,
    after: np.ndarray,
    *,
    tactic: np.ndarray,
    name: str,
    budget: float,
) -> TacticRecall:
    """Recall at ``budget`` on the window's attacks where ``tactic`` holds, and on the rest of
    its attacks, for the scores ``before`` and ``after`` a retrain. Raises ValueError when the
    window holds no attack of the tactic or no safe mail."""
    y = window["is_attack"].to_numpy(dtype=int)
    tactic = np.asarray(tactic, dtype=bool)
    if not ((y == 1) & tactic).any() or not (y == 0).any():
        raise ValueError(
            f"the window holds {int(((y == 1) & tactic).sum())} attacks of {name} and "
            f"{int((y == 0).sum())} safe messages; measure on a window that holds both"
        )
    return TacticRecall(
        tactic=name,
        budget=budget,
        safe=int((y == 0).sum()),
        before=_caught(y, before, budget, tactic),
        after=_caught(y, after, budget, tactic),
        others_before=_caught(y, before, budget, ~tactic),
        others_after=_caught(y, after, budget, ~tactic),
    )
