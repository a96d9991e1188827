"""The model as trained: the text model's out-of-fold score stacked into LightGBM with the other
features. One function fits it on any set of rows (the candidate, and every held-out split of the
real-mail evaluation), so every figure describes the same procedure that ships."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from detection.features.text import TEXT_SCORE, TextModel
from detection.model.text_training import (
    TermMatrix,
    TextParams,
    fit_text_model,
    out_of_fold_scores,
    score_rows,
)
from detection.model.training import TrainParams, predict, train_booster


@dataclass(frozen=True)
class Stack:
    text_model: TextModel
    booster: lgb.Booster
    features: list[str]  # the booster's inputs, ``TEXT_SCORE`` among them


def strata(frame: pd.DataFrame) -> np.ndarray:
    """Label and source of each row: text folds keep every source in every fold."""
    return (frame["is_attack"].astype(str) + "|" + frame["source"].fillna("")).to_numpy()


def _with_text(frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    return frame.assign(**{TEXT_SCORE: scores})


def fit_stack(
    frame: pd.DataFrame,
    matrix: TermMatrix,
    positions: np.ndarray,
    features: list[str],
    train: TrainParams,
    text: TextParams,
) -> tuple[Stack, np.ndarray]:
    """Fit on the rows ``positions`` of ``frame`` (aligned with ``matrix``): out-of-fold text
    scores for the booster's training rows, then the booster, then the text model on all those
    rows. Returns the stack and the out-of-fold text scores."""
    rows = frame.iloc[positions]
    y = rows["is_attack"].to_numpy(dtype=int)
    oof = out_of_fold_scores(matrix, positions, y, strata(rows), text)
    booster = train_booster(_with_text(rows, oof), features, train)
    return Stack(fit_text_model(matrix, positions, y, text), booster, features), oof


def text_scores(stack: Stack, matrix: TermMatrix, positions: np.ndarray) -> np.ndarray:
    return score_rows(stack.text_model, matrix, positions)


def score_stack(
    stack: Stack, frame: pd.DataFrame, matrix: TermMatrix, positions: np.ndarray
) -> np.ndarray:
    """The booster's scores of the rows ``positions``, with the stack's own text scores."""
    rows = _with_text(frame.iloc[positions], text_scores(stack, matrix, positions))
    return predict(stack.booster, rows, stack.features)
