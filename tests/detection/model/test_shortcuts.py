"""The shortcut audit: an input that only says where mail came from is caught, honest inputs
are not, and the slices count what they say."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from detection.features.vector import MODEL_FEATURES, content_frame
from detection.mail.ingest import ingest
from detection.model.shortcuts import (
    ShortcutAudit,
    audit_features,
    english_share,
    score_source_identification,
    slice_results,
)

CONTENT = [f for f in MODEL_FEATURES if f in content_frame([]).columns]


@pytest.fixture(scope="module")
def corpus_sample(real_mail, tmp_path_factory):
    """Content features of a few hundred messages of every source of the shared corpus."""
    result = ingest([real_mail])
    messages = [m for m in result.messages if m.label in ("safe", "attack")]
    frame = content_frame(messages).reset_index()
    frame["is_attack"] = [int(m.label == "attack") for m in messages]
    frame["source"] = [m.source for m in messages]
    return frame.groupby("source").sample(n=200, random_state=3).reset_index(drop=True)


def _audit(frame: pd.DataFrame, features: list[str]):
    booster = lgb.train(
        {
            "objective": "binary",
            "verbosity": -1,
            "seed": 1,
            "deterministic": True,
            "num_threads": 1,
            "min_data_in_leaf": 5,
        },
        lgb.Dataset(frame[features].to_numpy(float), frame["is_attack"].to_numpy()),
        num_boost_round=60,
    )
    gain = dict(zip(features, booster.feature_importance("gain").tolist(), strict=True))
    return audit_features(frame, features, gain)


def test_an_injected_source_identifier_is_a_shortcut_and_fails_the_audit(corpus_sample):
    injected = corpus_sample.assign(
        mail_system=pd.factorize(corpus_sample["source"], sort=True)[0].astype(float)
    )
    audit = _audit(injected, [*CONTENT, "mail_system"])
    shortcuts = [a.feature for a in audit if a.shortcut]
    assert shortcuts == ["mail_system"]
    [row] = [a for a in audit if a.feature == "mail_system"]
    assert row.safe_source_auc == 1.0 and row.label_auc == 1.0 and row.gain_share > 0.5
    assert not ShortcutAudit(True, "", shortcuts=shortcuts).passed


def test_the_model_inputs_alone_have_no_shortcut(corpus_sample):
    audit = _audit(corpus_sample, CONTENT)
    assert [a.feature for a in audit if a.shortcut] == []


def test_english_share_and_slices():
    assert english_share("Please find the report attached, thank you for your help") > 0.3
    assert english_share("Bitte senden Sie die Unterlagen bis morgen") < 0.08
    assert english_share("") == 0.0
    held = pd.DataFrame(
        {
            "split": ["f"] * 6,
            "is_attack": [1, 1, 0, 0, 1, 0],
            "score": [0.9, 0.2, 0.95, 0.1, 0.8, 0.3],
            "body_is_html": [True, True, True, False, False, False],
            "english": [True, False, True, True, True, True],
            "words": [5, 50, 10, 100, 200, 20],
            "attachments": [0, 0, 1, 0, 0, 0],
        }
    )
    slices = {s.name: s for s in slice_results(held, {"f": 0.5})}
    assert (slices["HTML-only body"].recall.k, slices["HTML-only body"].recall.n) == (1, 2)
    assert (slices["HTML-only body"].fpr.k, slices["HTML-only body"].fpr.n) == (1, 1)
    assert slices["not English"].recall.value == 0.0
    identification = score_source_identification(
        pd.DataFrame({"source": ["a", "a", "b", "b"], "score": [0.1, 0.2, 0.8, 0.9]})
    )
    assert identification == {"a": 1.0, "b": 1.0}
    assert np.isfinite(list(identification.values())).all()
