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

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from detection.features.text import TextModel, terms_of
from detection.handoff import HandoffError

if TYPE_CHECKING:
    from detection.storage import Location


@dataclass(frozen=True)
class TextParams:
    c: float = 10.0  # inverse L2 regularisation of the logistic regression
    min_df: int = 2  # a term must occur in this many training messages
    folds: int = 5  # out-of-fold scores for the booster's training rows
    seed: int = 7


@dataclass(frozen=True)
class TermMatrix:
    """Term counts of many messages: row ``i`` of :meth:`rows` counts how often each term of
    ``terms`` occurs in message ``i``.

    Messages with the same terms share one document: simulated mail takes its words from a few
    thousand real messages (links masked), so a million messages hold a few thousand distinct
    documents. ``counts`` has a row per distinct document and ``document_of[i]`` is message
    ``i``'s row; fits see every message (a repeated text weighs as before), scores are computed
    once per document."""

    counts: Any  # scipy.sparse.csr_matrix over distinct documents (SciPy's stubs lack types)
    terms: list[str]
    document_of: np.ndarray  # message -> row of ``counts``

    @classmethod
    def build(cls, documents: Iterable[list[str]]) -> TermMatrix:
        """One message's terms per item, in order; each distinct list is counted once."""
        builder = _Builder()
        for document in documents:
            builder.add(document)
        return builder.matrix()

    def __len__(self) -> int:
        return len(self.document_of)

    def rows(self, positions: np.ndarray) -> Any:
        return self.counts[self.document_of[positions]]


class _Builder:
    """Accumulates messages' terms into a :class:`TermMatrix` without keeping any text. With a
    ``vocabulary`` the columns are those terms only and other terms are dropped (what a fitted
    text model cannot see does not change its score)."""

    def __init__(self, vocabulary: Iterable[str] | None = None) -> None:
        self.fixed = vocabulary is not None
        terms = dict.fromkeys(vocabulary or ())  # a repeated term would misalign the columns
        self.index: dict[str, int] = {t: i for i, t in enumerate(terms)}
        self.seen: dict[bytes, int] = {}  # digest of a document's terms -> its row
        self.texts: dict[bytes, int] = {}  # digest of a subject and body -> its row
        self.document_of: list[int] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.values: list[int] = []
        self.fixed_rows: list[np.ndarray] = []
        self.fixed_cols: list[np.ndarray] = []
        self.fixed_values: list[np.ndarray] = []

    def add(self, document: list[str]) -> None:
        # a 16-byte digest, not the terms: a million distinct documents cost 16 MB of keys
        key = hashlib.blake2b("\x1f".join(document).encode(), digest_size=16).digest()
        row = self.seen.get(key)
        if row is None:
            row = self.seen[key] = len(self.seen)
            counted = Counter(document)  # first occurrence order, as the columns are assigned
            index = self.index
            if self.fixed:  # looked up in C; only known terms kept
                looked_up = map(index.get, counted, itertools.repeat(-1))
                columns = np.fromiter(looked_up, np.int64, len(counted))
                known = columns >= 0
                self.fixed_cols.append(columns[known])
                self.fixed_values.append(np.fromiter(counted.values(), np.int64)[known])
                self.fixed_rows.append(np.full(int(known.sum()), row, dtype=np.int64))
            else:
                columns = [index.setdefault(t, len(index)) for t in counted]
                self.rows += [row] * len(columns)
                self.cols += columns
                self.values += list(counted.values())
        self.document_of.append(row)

    def add_text(self, subject: str, body: str) -> None:
        """A message's text: tokenised only the first time this subject and body are seen."""
        key = hashlib.blake2b(f"{subject}\x00{body}".encode(), digest_size=16).digest()
        row = self.texts.get(key)
        if row is None:
            self.add(terms_of(subject, body))
            self.texts[key] = self.document_of[-1]
        else:
            self.document_of.append(row)

    def matrix(self) -> TermMatrix:
        from scipy import sparse

        shape = (len(self.seen), len(self.index))
        if self.fixed:
            empty = [np.zeros(0, dtype=np.int64)]
            rows = np.concatenate(self.fixed_rows or empty)
            cols = np.concatenate(self.fixed_cols or empty)
            values = np.concatenate(self.fixed_values or empty).astype(np.float64)
        else:
            rows, cols, values = self.rows, self.cols, self.values
        counts = sparse.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)
        return TermMatrix(counts, list(self.index), np.array(self.document_of, dtype=np.int64))


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


def _weights(counts: Any, min_df: int, multiplicity: np.ndarray) -> _Weights:
    """Document frequencies over messages: row ``i`` of ``counts`` stands for
    ``multiplicity[i]`` messages."""
    presence = counts.copy()
    presence.data[:] = 1.0
    document_frequency = np.asarray(presence.T @ multiplicity).ravel()
    columns = np.flatnonzero(document_frequency >= min_df)
    n = int(multiplicity.sum())
    idf = np.log((1.0 + n) / (1.0 + document_frequency[columns])) + 1.0
    return _Weights(columns, idf)


def fit_text_model(
    matrix: TermMatrix, positions: np.ndarray, y: np.ndarray, params: TextParams
) -> TextModel:
    """TF-IDF + class-balanced logistic regression on the rows ``positions`` (labels ``y``).

    Messages with the same document and label are fitted as one row weighted by their count:
    the same objective as one row each (sample weights scale each row's loss, and the classes
    are balanced over messages as ``class_weight="balanced"`` does), at the cost of the
    distinct documents, not of the messages."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(y, dtype=np.int64)
    if len(np.unique(labels)) < 2:  # language cannot separate anything
        return TextModel({}, 0.0)
    keys, multiplicity = np.unique(matrix.document_of[positions] * 2 + labels, return_counts=True)
    documents, labels = keys // 2, keys % 2
    counts = matrix.counts[documents]
    weights = _weights(counts, params.min_df, multiplicity)
    if not len(weights.columns):
        return TextModel({}, 0.0)
    messages = np.bincount(labels, weights=multiplicity, minlength=2)
    balanced = multiplicity.sum() / (2.0 * messages)
    regression = LogisticRegression(
        C=params.c, solver="liblinear", max_iter=1000, random_state=params.seed
    )
    regression.fit(weights.transform(counts), labels, sample_weight=multiplicity * balanced[labels])
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
    documents, of_position = np.unique(matrix.document_of[positions], return_inverse=True)
    counts = matrix.counts[documents]
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
    scores = np.asarray(values @ np.array(weight)).ravel() + model.intercept
    return scores[of_position.ravel()]


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
    scores = np.zeros(len(positions))
    if len(positions) < params.folds * 2:
        return scores
    if groups is None:
        groups = np.arange(len(positions))
    # folds of groups: each group's stratum is its first row's, and the groups are split by
    # StratifiedKFold (StratifiedGroupKFold costs minutes at a million groups)
    _, first, group_of = np.unique(groups, return_index=True, return_inverse=True)
    group_of = group_of.ravel()
    _, counts = np.unique(strata[first], return_counts=True)
    labels = strata[first] if counts.min() >= params.folds else y[first]
    least = int(np.unique(labels, return_counts=True)[1].min())
    if least < 2:
        return scores
    from sklearn.model_selection import StratifiedKFold

    fold_of_group = np.empty(len(first), dtype=np.int64)
    folds = StratifiedKFold(min(params.folds, least), shuffle=True, random_state=params.seed)
    for fold, (_, held_groups) in enumerate(folds.split(np.zeros(len(first)), labels)):
        fold_of_group[held_groups] = fold
    fold_of_row = fold_of_group[group_of]
    split = (
        (np.flatnonzero(fold_of_row != fold), np.flatnonzero(fold_of_row == fold))
        for fold in range(folds.get_n_splits())
    )
    for fit, held in split:
        if learn is not None:
            fit = fit[learn[fit]]
        once = first_of_each(fit, groups)
        model = fit_text_model(matrix, positions[once], y[once], params)
        scores[held] = score_rows(model, matrix, positions[held])
    return scores


def first_of_each(rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The first of ``rows`` (indices into ``groups``) of each group: a text that many simulated
    messages share counts once in a text model's fit, as a real message does."""
    _, first = np.unique(groups[rows], return_index=True)
    return rows[np.sort(first)]


def lake_term_matrix(
    message_ids: list[str],
    lake_dir: Location,
    vocabulary: Iterable[str] | None = None,
    workers: int = 1,
) -> TermMatrix:
    """The text model's terms of these messages, read from the lake in batches, in this
    order; with a ``vocabulary``, only those terms (enough to score with models whose terms
    they are, at a fraction of the cost), and ``workers`` processes share the lake's files (the
    columns are the vocabulary's, so their parts join; a text in two parts is two rows)."""
    from detection.mail.lake import message_files

    files = message_files(lake_dir)
    if vocabulary is None or workers <= 1 or len(files) <= 1:
        parts = [_lake_part(lake_dir, message_ids, files, vocabulary)]
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        terms = list(vocabulary)
        count = min(workers, len(files))
        shares = [files[k::count] for k in range(count)]
        with ProcessPoolExecutor(count, mp_context=get_context("spawn")) as pool:
            jobs = [
                pool.submit(_lake_part, lake_dir, message_ids, share, terms) for share in shares
            ]
            parts = [job.result() for job in jobs]
    return _joined(parts, message_ids)


def _lake_part(
    lake_dir: Location,
    message_ids: list[str],
    files: list[Location],
    vocabulary: Iterable[str] | None,
) -> tuple[TermMatrix, list[str]]:
    """One share of the lake's files: the matrix of the wanted messages in them, and their ids
    in the matrix's order."""
    from detection.mail.lake import iter_texts

    builder = _Builder(vocabulary)
    ids: list[str] = []
    for message_id, subject, body, _ in iter_texts(lake_dir, message_ids, files):
        ids.append(message_id)
        builder.add_text(subject, body)
    return builder.matrix(), ids


def _joined(parts: list[tuple[TermMatrix, list[str]]], message_ids: list[str]) -> TermMatrix:
    from scipy import sparse

    landed: dict[str, int] = {}  # an id read twice: its last row, as one pass would keep
    documents, offset, position = [], 0, 0
    for matrix, ids in parts:
        landed.update(zip(ids, range(position, position + len(ids)), strict=True))
        position += len(ids)
        documents.append(matrix.document_of + offset)
        offset += matrix.counts.shape[0]
    missing = [m for m in message_ids if m not in landed]
    if missing:
        raise HandoffError(
            f"{len(missing)} messages of the training table are not in the lake (e.g. "
            f"{missing[0]}); the lake changed since training_table: materialise it again"
        )
    first = parts[0][0]
    counts = first.counts if len(parts) == 1 else sparse.vstack([p.counts for p, _ in parts])
    document_of = np.concatenate(documents)
    order = np.array([landed[m] for m in message_ids], dtype=np.int64)
    return TermMatrix(counts.tocsr(), first.terms, document_of[order])
