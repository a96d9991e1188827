"""Path attributions: exact decomposition of the raw score, credit where the model's splits are."""

import lightgbm as lgb
import numpy as np
import pytest

from detection.serving.explain import PathExplainer
from detection.serving.forest import Forest, UnsupportedModel


def _predict(booster: lgb.Booster, features: np.ndarray, **kind: bool) -> np.ndarray:
    return np.asarray(booster.predict(features, **kind))


def _explainer(booster: lgb.Booster) -> PathExplainer:
    return PathExplainer(Forest.from_text(booster.model_to_string()))


def _leaves(explainer: PathExplainer, booster: lgb.Booster, features: np.ndarray) -> np.ndarray:
    """The leaf nodes each row reaches, checked against LightGBM's own leaf indices."""
    nodes = explainer.forest.leaves(features)
    assert (explainer.forest.leaf[nodes] == _predict(booster, features, pred_leaf=True)).all()
    return nodes


def _model(labels: np.ndarray, features: np.ndarray, **params: object) -> lgb.Booster:
    settings = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1, **params}
    return lgb.train(settings, lgb.Dataset(features, labels), num_boost_round=40)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    features = rng.random((2000, 4))
    labels = (features[:, 0] > 0.6).astype(int)  # only feature 0 decides
    labels[rng.random(2000) < 0.05] ^= 1  # a little label noise
    return features, labels


def test_attributions_add_up_to_the_raw_score(data):
    features, labels = data
    booster = _model(labels, features, num_leaves=15)
    explainer = _explainer(booster)
    raw = _predict(booster, features[:300], raw_score=True)
    leaves = _leaves(explainer, booster, features[:300])
    for row, leaf_row, expected in zip(features[:300], leaves, raw, strict=True):
        total = explainer.bias + explainer.attributions(leaf_row).sum()
        assert total == pytest.approx(expected, abs=1e-9)
        single = explainer.explain(row.reshape(1, -1))
        assert np.allclose(single, explainer.attributions(leaf_row))


def test_attributions_credit_the_feature_the_label_depends_on(data):
    features, labels = data
    booster = _model(labels, features, num_leaves=7)
    explainer = _explainer(booster)
    leaves = _leaves(explainer, booster, features[:500])
    strongest = [int(np.argmax(np.abs(explainer.attributions(row)))) for row in leaves]
    assert strongest.count(0) / len(strongest) > 0.95
    # and they point the same way as TreeSHAP for that feature
    shap = _predict(booster, features[:500], pred_contrib=True)[:, 0]
    path = np.array([explainer.attributions(row)[0] for row in leaves])
    assert np.mean(np.sign(shap) == np.sign(path)) > 0.95


def test_trees_without_splits_are_handled(data):
    features, labels = data
    booster = _model(labels, features, min_data_in_leaf=5000)  # no split possible: single leaves
    explainer = _explainer(booster)
    leaves = _leaves(explainer, booster, features[:10])
    assert not explainer.attributions(leaves[0]).any()
    assert explainer.bias == pytest.approx(_predict(booster, features[:1], raw_score=True)[0])


def test_multiclass_models_are_refused(data):
    features, _ = data
    labels = (features[:, 0] * 3).astype(int)
    booster = _model(labels, features, objective="multiclass", num_class=3)
    with pytest.raises(UnsupportedModel, match="binary"):
        _explainer(booster)
