"""Training the text model (scikit-learn and SciPy on the training side only; the scorer needs
none of it) and its out-of-fold scores, which enter LightGBM so the booster never learns from text
scores of messages the text model was fitted on.

Every message is tokenised once into a :class:`TermMatrix` (counts over all terms); a fit on any
subset of rows keeps the terms frequent enough in that subset, weighs them by TF-IDF computed on
that subset and fits the logistic regression, exactly as scikit-learn's ``CountVectorizer(min_df)``
+ ``TfidfTransformer(sublinear_tf=True)`` would on the subset (tested), at a fraction of the cost:
cross-validation folds never re-tokenise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detection.features.text import TextModel, terms_of
from detection.handoff import HandoffError

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class TextParams:
    c: float = 10.0  # inverse L2 regularisation of the logistic regression
    min_df: int = 2  # a term must occur in this many training messages
    folds: int = 5  # out-of-fold scores for the booster's training rows
    seed: int = 7


@dataclass(frozen=True)
class TermMatrix:
    """Term counts of many messages: ``counts[i, j]`` is how often term ``terms[j]`` occurs in
    message ``i``."""

    counts: Any  # scipy.sparse.csr_matrix (SciPy's stubs do not type its operations)
    terms: list[str]

    @classmethod
    def build(cls, documents: Sequence[list[str]]) -> TermMatrix:
        from scipy import sparse

        index: dict[str, int] = {}
        rows, cols, values = [], [], []
        for row, document in enumerate(documents):
            seen: dict[int, int] = {}
            for term in document:
                column = index.setdefault(term, len(index))
                seen[column] = seen.get(column, 0) + 1
            rows += [row] * len(seen)
            cols += list(seen)
            values += list(seen.values())
        shape = (len(documents), len(index))
        counts = sparse.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)
        return cls(counts, list(index))

    def rows(self, positions: np.ndarray) -> Any:
        return self.counts[positions]


@dataclass(frozen=True)
class _Weights:
    columns: np.ndarray  # kept term columns
    idf: np.ndarray

    def transform(self, counts: Any) -> Any:
        """Sublinear TF-IDF, L2-normalised rows, over the kept columns."""
        from sklearn.preprocessing import normalize

        kept = counts[:, self.columns].tocsr()
        kept.data = 1.0 + np.log(kept.data)
        return normalize(kept.multiply(self.idf).tocsr())


def _weights(counts: Any, min_df: int) -> _Weights:
    document_frequency = np.asarray(counts.getnnz(axis=0)).ravel()
    columns = np.flatnonzero(document_frequency >= min_df)
    n = int(counts.shape[0])
    idf = np.log((1.0 + n) / (1.0 + document_frequency[columns])) + 1.0
    return _Weights(columns, idf)


def fit_text_model(
    matrix: TermMatrix, positions: np.ndarray, y: np.ndarray, params: TextParams
) -> TextModel:
    """TF-IDF + class-balanced logistic regression on the rows ``positions`` (labels ``y``)."""
    from sklearn.linear_model import LogisticRegression

    counts = matrix.rows(positions)
    weights = _weights(counts, params.min_df)
    if len(np.unique(y)) < 2 or not len(weights.columns):  # language cannot separate anything
        return TextModel({}, 0.0)
    regression = LogisticRegression(
        C=params.c,
        class_weight="balanced",
        solver="liblinear",
        max_iter=1000,
        random_state=params.seed,
    )
    regression.fit(weights.transform(counts), y)
    coefficients = regression.coef_[0]
    table = {
        matrix.terms[column]: (float(weights.idf[k]), float(coefficients[k]))
        for k, column in enumerate(weights.columns)
    }
    return TextModel(table, float(np.asarray(regression.intercept_).ravel()[0]))


def score_rows(model: TextModel, matrix: TermMatrix, positions: np.ndarray) -> np.ndarray:
    """The model's text scores of the rows ``positions`` (the same as ``model.score``)."""
    if not model.terms:
        return np.full(len(positions), model.intercept)
    counts = matrix.rows(positions)
    known, idf, weight = [], [], []
    for column, term in enumerate(matrix.terms):
        entry = model.terms.get(term)
        if entry is not None:
            known.append(column)
            idf.append(entry[0])
            weight.append(entry[1])
    from sklearn.preprocessing import normalize

    kept = counts[:, np.array(known, dtype=int)].tocsr()
    kept.data = 1.0 + np.log(kept.data)
    values = normalize(kept.multiply(np.array(idf)).tocsr())
    return np.asarray(values @ np.array(weight)).ravel() + model.intercept


def out_of_fold_scores(
    matrix: TermMatrix,
    positions: np.ndarray,
    y: np.ndarray,
    strata: np.ndarray,
    params: TextParams,
    groups: np.ndarray | None = None,
    learn: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's text score from a text model fitted without it (``params.folds`` folds,
    stratified by ``strata``, e.g. label and source). Rows sharing a group (the same words:
    simulated mail that took a real message's text, and that message) share a fold, so a text
    is never scored by a model fitted on its copy. ``learn`` (a mask) limits what the models fit
    on (every row is scored)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    scores = np.zeros(len(positions))
    _, counts = np.unique(strata, return_counts=True)
    labels = strata if counts.min() >= params.folds else y
    least = int(np.unique(labels, return_counts=True)[1].min())
    if len(positions) < params.folds * 2 or least < 2:
        return scores
    folds = min(params.folds, least)
    if groups is None:
        split = StratifiedKFold(folds, shuffle=True, random_state=params.seed).split(
            np.zeros(len(positions)), labels
        )
    else:
        split = StratifiedGroupKFold(folds, shuffle=True, random_state=params.seed).split(
            np.zeros(len(positions)), labels, groups
        )
    for fit, held in split:
        if learn is not None:
            fit = fit[learn[fit]]
        once = fit if groups is None else first_of_each(fit, groups)
        model = fit_text_model(matrix, positions[once], y[once], params)
        scores[held] = score_rows(model, matrix, positions[held])
    return scores


def first_of_each(rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The first of ``rows`` (indices into ``groups``) of each group: a text that many simulated
    messages share counts once in a text model's fit, as a real message does."""
    _, first = np.unique(groups[rows], return_index=True)
    return rows[np.sort(first)]


def lake_term_matrix(message_ids: list[str], lake_dir: Path) -> TermMatrix:
    """The text model's terms of these messages, read from the lake, in this order."""
    from detection.mail.lake import read_texts

    texts = read_texts(lake_dir, message_ids)
    missing = [m for m in message_ids if m not in texts]
    if missing:
        raise HandoffError(
            f"{len(missing)} messages of the training table are not in the lake (e.g. "
            f"{missing[0]}); the lake changed since training_table: materialise it again"
        )
    return TermMatrix.build([terms_of(*texts[m][:2]) for m in message_ids])
