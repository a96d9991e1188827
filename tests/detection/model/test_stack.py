"""The stack's text offset (measured by ``bench.real_mail --weighting``, not shipped): the
booster starts from the offset of the out-of-fold text scores and scoring adds the offset of the
stack's own text scores back to the booster's log-odds; without one, scoring is the booster's."""

import numpy as np
import pandas as pd

from detection.features.text import TEXT_SCORE
from detection.model.stack import Stack, TextOffset, fit_stack, score_stack, text_scores
from detection.model.text_training import TermMatrix, TextParams
from detection.model.training import TrainParams, predict


def _corpus(n: int = 240) -> tuple[pd.DataFrame, TermMatrix]:
    rng = np.random.default_rng(3)
    attack = rng.random(n) < 0.3
    words = [
        (["verify", "account", "prize"] if a else ["meeting", "notes", "agenda"])
        + [str(w) for w in rng.choice(["alpha", "beta", "gamma", "delta", "urgent"], 4)]
        for a in attack
    ]
    frame = pd.DataFrame(
        {
            "message_id": [f"m{i}" for i in range(n)],
            "source": "corpus:test",
            "is_attack": attack.astype(int),
            "links": rng.poisson(1 + 2 * attack),
        }
    )
    return frame, TermMatrix.build(words)


def test_positive_only_offset_keeps_the_positive_part():
    scores = np.array([-2.0, 0.0, 3.0])
    assert TextOffset(0.5)(scores).tolist() == [-1.0, 0.0, 1.5]
    assert TextOffset(0.5, positive_only=True)(scores).tolist() == [0.0, 0.0, 1.5]


def test_the_offset_is_added_to_the_boosters_log_odds():
    frame, matrix = _corpus()
    features = ["links", TEXT_SCORE]
    fit, test = np.arange(0, 180), np.arange(180, len(frame))
    train, text = TrainParams(num_boost_round=20, num_threads=1), TextParams()

    plain, _ = fit_stack(frame, matrix, fit, features, train, text)
    rows = frame.iloc[test].assign(**{TEXT_SCORE: text_scores(plain, matrix, test)})
    assert np.array_equal(
        score_stack(plain, frame, matrix, test), predict(plain.booster, rows, features)
    )

    offset = TextOffset(0.5)
    stacked, _ = fit_stack(frame, matrix, fit, features, train, text, offset)
    assert stacked.offset == offset
    text_score = text_scores(stacked, matrix, test)
    values = frame.iloc[test].assign(**{TEXT_SCORE: text_score})[features].to_numpy(dtype=float)
    log_odds = np.asarray(stacked.booster.predict(values, raw_score=True)) + 0.5 * text_score
    expected = 1.0 / (1.0 + np.exp(-log_odds))
    assert np.allclose(score_stack(stacked, frame, matrix, test), expected, rtol=0, atol=1e-12)
    # the same booster without the offset scores differently: the offset is not a no-op
    without = Stack(stacked.text_model, stacked.booster, features)
    assert not np.allclose(score_stack(without, frame, matrix, test), expected)
