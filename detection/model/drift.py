"""Evidently reports: data drift and prediction drift between a reference window and a recent
window (with Evidently's own test verdicts), and classification quality on a labelled window.

Windows are sampled (seeded) to at most ``max_rows`` rows each, so a check over a large window stays
fast; Evidently picks the statistical method per column (p-value tests for small samples, distance
measures for large ones) and decides per column whether it drifted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class DriftResult:
    drift_share: float
    drifted_columns: list[str]
    column_scores: dict[str, dict[str, object]]
    threshold: float
    reference_rows: int
    current_rows: int
    html: str

    @property
    def passed(self) -> bool:
        return self.drift_share < self.threshold


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    *,
    drift_share_threshold: float,
    max_rows: int = 20_000,
    seed: int = 7,
) -> DriftResult:
    """Per-column drift and the share of drifted columns between two windows."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    if reference.empty or current.empty:
        raise ValueError(
            f"drift needs rows in both windows (reference={len(reference)}, "
            f"current={len(current)}); "
            "widen the windows"
        )
    # constant columns in both windows carry no drift information and make some tests undefined
    usable = [
        c
        for c in columns
        if reference[c].nunique(dropna=True) > 1 or current[c].nunique(dropna=True) > 1
    ]
    ref = _sample(reference.loc[:, usable], max_rows, seed).astype("float64")
    cur = _sample(current.loc[:, usable], max_rows, seed).astype("float64")
    definition = DataDefinition(numerical_columns=usable)
    report = Report([DataDriftPreset(drift_share=drift_share_threshold)], include_tests=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = report.run(
            current_data=Dataset.from_pandas(cur, data_definition=definition),
            reference_data=Dataset.from_pandas(ref, data_definition=definition),
        )
    result = snapshot.dict()
    scores: dict[str, dict[str, object]] = {}
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            scores[str(config["column"])] = {
                "method": config.get("method"),
                "score": metric["value"],
                "threshold": config.get("threshold"),
            }
    drifted = []
    for test in result["tests"]:
        column = test.get("metric_config", {}).get("params", {}).get("column")
        if column is not None and column in scores:
            scores[column]["drifted"] = test["status"] == "FAIL"
            if test["status"] == "FAIL":
                drifted.append(str(column))
    share = len(drifted) / len(usable) if usable else 0.0
    return DriftResult(
        drift_share=share,
        drifted_columns=sorted(drifted),
        column_scores=scores,
        threshold=drift_share_threshold,
        reference_rows=len(ref),
        current_rows=len(cur),
        html=snapshot.get_html_str(as_iframe=False),
    )


def prediction_drift(
    reference_scores: np.ndarray, current_scores: np.ndarray, *, seed: int = 7
) -> DriftResult:
    """Drift of the model's score distribution (one column, Evidently's verdict decides)."""
    import pandas as pd

    return data_drift(
        pd.DataFrame({"score": reference_scores}),
        pd.DataFrame({"score": current_scores}),
        ["score"],
        drift_share_threshold=0.5,
        seed=seed,
    )


@dataclass(frozen=True)
class QualityResult:
    values: dict[str, float]
    html: str


def classification_quality(
    y: np.ndarray, scores: np.ndarray, threshold: float, *, max_rows: int = 200_000, seed: int = 7
) -> QualityResult:
    """Evidently's classification report on a labelled window at the deployment threshold."""
    import pandas as pd
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    frame = _sample(pd.DataFrame({"target": y.astype(int), "score": scores}), max_rows, seed)
    definition = DataDefinition(
        classification=[BinaryClassification(target="target", prediction_probas="score")]
    )
    report = Report([ClassificationPreset(probas_threshold=threshold)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = report.run(current_data=Dataset.from_pandas(frame, data_definition=definition))
    wanted = {"Accuracy", "Precision", "Recall", "F1Score", "RocAuc", "LogLoss", "FPR", "FNR"}
    values = {}
    for metric in snapshot.dict()["metrics"]:
        name = str(metric.get("config", {}).get("type", "")).rpartition(":")[2]
        if name in wanted and isinstance(metric["value"], int | float):
            snake = {"F1Score": "f1", "RocAuc": "roc_auc", "LogLoss": "log_loss"}.get(name, name)
            values[snake.lower()] = float(metric["value"])
    return QualityResult(values=values, html=snapshot.get_html_str(as_iframe=False))
