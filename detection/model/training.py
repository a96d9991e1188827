"""Training helpers: the time split, seeded LightGBM training, scoring with the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from detection.features.behaviour import POOLED_TENANT_PREFIX

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd


class TrainingError(RuntimeError):
    """Training cannot produce an honest model from this data; the message says why and what
    to do about it."""


@dataclass(frozen=True)
class TrainParams:
    seed: int = 7
    num_boost_round: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 10
    feature_fraction: float = 0.3
    num_threads: int = 2

    @classmethod
    def from_lightgbm(cls, params: dict[str, object]) -> TrainParams:
        """The parameters as :meth:`lightgbm` wrote them (plus ``num_boost_round``)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in params.items() if k in names})  # type: ignore[arg-type]

    def lightgbm(self, scale_pos_weight: float) -> dict[str, object]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "scale_pos_weight": scale_pos_weight,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
        }


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def rows(frame: pd.DataFrame, mask: object) -> pd.DataFrame:
    """The rows of ``frame`` where ``mask`` holds, as a DataFrame."""
    return cast("pd.DataFrame", frame.loc[mask])  # type: ignore[index]


def predict(booster: lgb.Booster, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Model scores for every row of ``frame``."""
    return np.asarray(booster.predict(frame[features].to_numpy(dtype=float)), dtype=float)


TRAIN, VALIDATION, TEST = "train", "validation", "test"


def split_labels(frame: pd.DataFrame, validation_days: int, test_days: int) -> np.ndarray:
    """Per row: ``train`` (the earliest days), ``validation`` (the next ``validation_days``, where
    the threshold is chosen) or ``test`` (the latest ``test_days``, reported and judged). The days
    are the organisations' own mail; pooled corpora (tenants ``corpus:*``, real mail from
    unrelated mailboxes with dates from their own eras, some of them wrong) are always
    ``train`` here: the real-mail evaluation holds them out by source and by year instead."""
    pooled = frame["tenant_id"].astype(str).str.startswith(POOLED_TENANT_PREFIX).to_numpy()
    if pooled.all():
        pooled = np.zeros(len(frame), dtype=bool)
    own = frame.loc[~pooled]
    labels = np.full(len(frame), TRAIN, dtype=object)
    labels[~pooled] = _time_split_labels(own, validation_days, test_days)
    return labels


def _time_split_labels(frame: pd.DataFrame, validation_days: int, test_days: int) -> np.ndarray:
    days = np.sort(frame["received_at"].dt.floor("D").unique())
    if len(days) < validation_days + test_days + 2:
        raise TrainingError(
            f"need at least {validation_days + test_days + 2} days of mail for a time split with "
            f"{validation_days} validation and {test_days} test days, got {len(days)}; simulate or "
            "ingest more days, or lower validation_days/test_days"
        )
    day = frame["received_at"].dt.floor("D").to_numpy()
    test_start = days[-test_days]
    validation_start = days[-(test_days + validation_days)]
    return np.where(
        day >= test_start, TEST, np.where(day >= validation_start, VALIDATION, TRAIN)
    ).astype(object)


def time_split(frame: pd.DataFrame) -> Split:
    """The parts of a frame with a ``split`` column (see :func:`split_labels`)."""
    return Split(
        train=in_split(frame, TRAIN),
        validation=in_split(frame, VALIDATION),
        test=in_split(frame, TEST),
    )


def in_split(frame: pd.DataFrame, part: str) -> pd.DataFrame:
    """The rows of one part of the time split (the one test-window filter, and the others)."""
    return rows(frame, frame["split"].to_numpy() == part)


def organisation_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the organisations' own mail (not pooled corpora)."""
    pooled = frame["tenant_id"].astype(str).str.startswith(POOLED_TENANT_PREFIX).to_numpy()
    return rows(frame, ~pooled)


def terms_version_of(frame: pd.DataFrame) -> int:
    """The term families a training table's content signals were counted with (its
    ``terms_version`` column; a table without one was written by a release that counted version
    1). A table mixing versions cannot train one model."""
    from detection.features.terms import TERMS_VERSION_COLUMN

    if TERMS_VERSION_COLUMN not in frame.columns:
        return 1
    versions = sorted({int(v) for v in frame[TERMS_VERSION_COLUMN].dropna()})
    if len(versions) != 1:
        raise TrainingError(
            f"the training table's content signals were counted with term families versions "
            f"{versions}, not one; materialise message_features and training_table again"
        )
    return versions[0]


def require_both_classes(y: np.ndarray, part: str) -> None:
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise TrainingError(
            f"the {part} window has {positives} attacks among {len(y)} messages; both classes are "
            "needed. Use a longer window or a higher attack rate in the simulator config."
        )


def train_booster(
    train: pd.DataFrame,
    features: list[str],
    params: TrainParams,
    init_score: np.ndarray | None = None,
) -> lgb.Booster:
    """LightGBM on ``train``'s ``features``; ``init_score``: each row's starting log-odds (the
    trees then learn corrections to it; its prediction leaves it out)."""
    import lightgbm as lgb

    y = train["is_attack"].to_numpy(dtype=float)
    require_both_classes(y, "training")
    scale = float((len(y) - y.sum()) / y.sum())  # class imbalance: weight attacks up
    dataset = lgb.Dataset(
        train[features].to_numpy(dtype=float),
        label=y,
        feature_name=features,
        free_raw_data=True,
        init_score=init_score,
    )
    return lgb.train(
        params.lightgbm(min(scale, 100.0)), dataset, num_boost_round=params.num_boost_round
    )


def combined_scores(model_scores: np.ndarray, forced: np.ndarray) -> np.ndarray:
    """The verdict score: the model's, or 1.0 where a force_attack rule fires."""
    return np.where(forced, 1.0, model_scores)
