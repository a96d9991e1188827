"""The NumPy evaluator of LightGBM model text gives LightGBM's own probabilities and leaves: on
models with every missing-value type, on rows full of NaN, zeros and values on the thresholds,
on every released bundle format and on the real corpus's feature rows."""

import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from detection.serving.forest import Forest, UnsupportedModel

RELEASED = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "bundles").glob("format-*"))


def _train(features: np.ndarray, labels: np.ndarray, **params: object) -> lgb.Booster:
    settings = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1, **params}
    return lgb.train(settings, lgb.Dataset(features, labels), num_boost_round=60)


def _hostile_rows(rng: np.random.Generator, features: np.ndarray, forest: Forest) -> np.ndarray:
    """Random rows, with NaN, exact zeros, tiny values and the model's own thresholds."""
    rows = features[rng.integers(0, len(features), 3000)].copy()
    mask = rng.random(rows.shape)
    rows[mask < 0.15] = np.nan
    rows[(mask >= 0.15) & (mask < 0.25)] = 0.0
    rows[(mask >= 0.25) & (mask < 0.28)] = 1e-40
    thresholds = forest.threshold[forest.leaf < 0]
    on = (mask >= 0.28) & (mask < 0.4)
    if len(thresholds):  # trees of one leaf have none
        rows[on] = rng.choice(thresholds, on.sum())
    return rows


def _assert_same(booster: lgb.Booster, rows: np.ndarray) -> None:
    forest = Forest.from_text(booster.model_to_string())
    expected = np.asarray(booster.predict(rows, num_threads=1))
    assert np.abs(forest.predict(rows) - expected).max() < 1e-12
    leaves = np.asarray(booster.predict(rows, pred_leaf=True, num_threads=1))
    assert (forest.leaf[forest.leaves(rows)] == leaves).all()


@pytest.mark.parametrize(
    "params",
    [
        {},  # missing type NaN where training saw NaN, None elsewhere
        {"zero_as_missing": True},  # missing type Zero
        {"use_missing": False},  # missing type None everywhere: NaN reads as 0
        {"num_leaves": 63, "min_data_in_leaf": 2},  # deep trees
        {"min_data_in_leaf": 100_000},  # trees of one leaf
    ],
)
def test_probabilities_and_leaves_equal_lightgbm(params):
    rng = np.random.default_rng(11)
    features = rng.normal(size=(4000, 6))
    features[rng.random(features.shape) < 0.1] = np.nan
    features[rng.random(features.shape) < 0.1] = 0.0
    labels = (np.nan_to_num(features[:, 0]) + features[:, 1] ** 2 > 0.8) | np.isnan(features[:, 2])
    booster = _train(features, labels.astype(int), **params)
    forest = Forest.from_text(booster.model_to_string())
    _assert_same(booster, _hostile_rows(rng, features, forest))
    _assert_same(booster, features[:1])  # one row, as the scorer asks


def test_every_released_bundle_format_scores_as_lightgbm():
    rng = np.random.default_rng(5)
    assert RELEASED
    for directory in RELEASED:
        booster = lgb.Booster(model_file=str(directory / "model.txt"))
        forest = Forest.from_text((directory / "model.txt").read_text())
        rows = rng.normal(size=(2000, forest.feature_count)) * 3
        rows[rng.random(rows.shape) < 0.2] = np.nan
        rows[rng.random(rows.shape) < 0.2] = 0.0
        _assert_same(booster, rows)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"objective": "multiclass", "num_class": 3}, "binary"),
        ({"objective": "regression"}, "not binary"),
        ({"linear_tree": True}, "linear"),
    ],
)
def test_models_it_cannot_evaluate_are_refused_with_the_reason(params, why):
    rng = np.random.default_rng(2)
    features = rng.random((500, 3))
    labels = (features[:, 0] * 3).astype(int) if "num_class" in params else features[:, 0] > 0.5
    booster = _train(features, labels.astype(int), **params)
    with pytest.raises(UnsupportedModel, match=why):
        Forest.from_text(booster.model_to_string())


@pytest.mark.parametrize(
    "text",
    ["", "tree\nversion=v4\nobjective=binary sigmoid:1\n", "not a model at all"],
)
def test_text_that_is_not_a_model_is_refused(text):
    with pytest.raises(UnsupportedModel):
        Forest.from_text(text)


def test_a_model_text_with_a_broken_tree_is_refused():
    rng = np.random.default_rng(2)
    features = rng.random((500, 3))
    text = _train(features, (features[:, 0] > 0.5).astype(int)).model_to_string()
    broken = text.replace("left_child=", "left_child=999 ", 1)
    with pytest.raises(UnsupportedModel, match="tree 0"):
        Forest.from_text(broken)


def test_rows_of_the_wrong_width_are_refused():
    rng = np.random.default_rng(2)
    features = rng.random((500, 3))
    forest = Forest.from_text(
        _train(features, (features[:, 0] > 0.5).astype(int)).model_to_string()
    )
    with pytest.raises(ValueError, match="3 features"):
        forest.predict(np.zeros((1, 4)))


def test_log_odds_beyond_what_exp_can_hold_give_lightgbms_zero_and_one_without_a_warning():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(2000, 3))
    labels = (features[:, 0] > 0).astype(int)  # separable: a saturated, over-confident model
    booster = _train(features, labels, learning_rate=1000.0, min_data_in_leaf=1)
    raw = np.asarray(booster.predict(features, raw_score=True, num_threads=1))
    assert raw.min() < -745 and raw.max() > 745  # exp(-x) is 0.0 below x = -745, inf above 709
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        _assert_same(booster, features)
    assert set(Forest.from_text(booster.model_to_string()).predict(features)) <= {0.0, 1.0}
