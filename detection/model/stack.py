"""The model as trained: the text model's out-of-fold score stacked into LightGBM with the other
features. One function fits it on any set of rows (the candidate, and every held-out split of the
real-mail evaluation), so every figure describes the same procedure that ships."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detection.features.text import TEXT_SCORE, TextModel
from detection.model.text_training import (
    TermMatrix,
    TextParams,
    first_of_each,
    fit_text_model,
    out_of_fold_scores,
    score_rows,
)
from detection.model.training import TrainParams, predict, train_booster
from detection.simulation.corpus_text import provenance

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd


@dataclass(frozen=True)
class TextOffset:
    """The text score, times ``weight`` (only its positive part where ``positive_only``), as the
    booster's starting log-odds, added back to its log-odds when scoring: the text model's
    ranking keeps its full resolution and the trees learn corrections to it. Not what ships
    (``bench.real_mail --weighting`` measures it; BENCHMARKS.md)."""

    weight: float
    positive_only: bool = False

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return self.weight * (np.maximum(scores, 0.0) if self.positive_only else scores)


@dataclass(frozen=True)
class Stack:
    text_model: TextModel
    booster: lgb.Booster
    features: list[str]  # the booster's inputs, ``TEXT_SCORE`` among them
    offset: TextOffset | None = None


def strata(frame: pd.DataFrame) -> np.ndarray:
    """Label and source kind of each row (``simulator`` for all simulated mail): text folds keep
    every source in every fold."""
    kind = frame["source"].fillna("").astype(str).str.partition(":")[0]
    return (frame["is_attack"].astype(str) + "|" + kind).to_numpy()


def text_groups(frame: pd.DataFrame, documents: np.ndarray) -> np.ndarray:
    """The words each row carries: a real message's id, which simulated mail that took its
    words shares; otherwise the row's own id. ``documents`` (each row's document in the term
    matrix) joins rows with the same terms: each takes the group of the first row with its
    document, so identical texts never sit on both sides of a fold."""
    own = frame["message_id"].astype(str)
    origin = frame["source"].fillna("").astype(str).map(provenance)
    groups = np.array([o[1] if o else m for o, m in zip(origin, own, strict=True)], dtype=object)
    _, first, of_row = np.unique(documents, return_index=True, return_inverse=True)
    return groups[first][of_row.ravel()]


def _with_text(frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    return frame.assign(**{TEXT_SCORE: scores})


def fit_stack(
    frame: pd.DataFrame,
    matrix: TermMatrix,
    positions: np.ndarray,
    features: list[str],
    train: TrainParams,
    text: TextParams,
    offset: TextOffset | None = None,
) -> tuple[Stack, np.ndarray]:
    """Fit on the rows ``positions`` of ``frame`` (aligned with ``matrix``): out-of-fold text
    scores for the booster's training rows, then the booster (starting from ``offset`` of those
    scores, where given), then the text model on all those rows. Returns the stack and the
    out-of-fold text scores."""
    rows = frame.iloc[positions]
    y = rows["is_attack"].to_numpy(dtype=int)
    groups = text_groups(rows, matrix.document_of[positions])
    oof = out_of_fold_scores(matrix, positions, y, strata(rows), text, groups)
    start = offset(oof) if offset is not None else None
    booster = train_booster(_with_text(rows, oof), features, train, init_score=start)
    once = first_of_each(np.arange(len(positions)), groups)
    text_model = fit_text_model(matrix, positions[once], y[once], text)
    return Stack(text_model, booster, features, offset), oof


def text_scores(stack: Stack, matrix: TermMatrix, positions: np.ndarray) -> np.ndarray:
    return score_rows(stack.text_model, matrix, positions)


def score_stack(
    stack: Stack, frame: pd.DataFrame, matrix: TermMatrix, positions: np.ndarray
) -> np.ndarray:
    """The booster's scores of the rows ``positions``, with the stack's own text scores (and
    its offset of them added to the booster's log-odds, where it has one)."""
    scores = text_scores(stack, matrix, positions)
    rows = _with_text(frame.iloc[positions], scores)
    if stack.offset is None:
        return predict(stack.booster, rows, stack.features)
    values = rows[stack.features].to_numpy(dtype=float)
    log_odds = np.asarray(stack.booster.predict(values, raw_score=True)) + stack.offset(scores)
    return 1.0 / (1.0 + np.exp(-log_odds))
