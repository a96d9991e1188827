"""The deployment gate's comparisons (no Dagster): champion vs challenger on a frozen golden set,
and scoring latency on a replay set."""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detection.features.signals import TERM_SIGNALS, term_signals
from detection.features.terms import TERMS_VERSIONS
from detection.features.text import MAX_BODY_CHARS, TEXT_SCORE, TextModel
from detection.mail.lake import read_texts
from detection.mail.schema import Message
from detection.mail.visible import Visible
from detection.markdown import table
from detection.model.thresholds import recall_at_fpr
from detection.model.training import combined_scores, predict
from detection.rules import parse_rules
from detection.serving.artifact import MODEL_FILE, RULES_FILE, Bundle
from detection.serving.detectors import detectors_of
from detection.serving.scorer import Scorer

if TYPE_CHECKING:
    import pandas as pd

    from detection.storage import Location


class GoldenSetError(ValueError):
    """The golden set cannot evaluate this bundle; the message says why and what to do."""


GOLDEN_TEXT_COLUMNS = ("subject", "body_text")  # the text each bundle's own text model reads


def versioned(name: str, terms_version: int) -> str:
    """The golden set's column of term signal ``name`` counted with ``terms_version``."""
    return f"{name}@terms{terms_version}"


def with_texts(rows: pd.DataFrame, lake_dir: Location) -> pd.DataFrame:
    """``rows`` (feature rows with a message_id) with the subject and body each bundle's own text
    model scores, and the term signals as each terms version counts them (each bundle is judged
    on the version it learnt from), read from the lake as landed."""
    texts = read_texts(lake_dir, rows["message_id"].tolist())
    ids = rows["message_id"].tolist()
    heads = {m: Visible.of(texts[m][1]).head for m in ids}
    counted = {
        version: [term_signals(texts[m][0], heads[m], version) for m in ids]
        for version in TERMS_VERSIONS
    }
    return rows.assign(
        subject=[texts[m][0] for m in ids],
        # four text windows: the squeezing featuriser (version 2) reads its window after
        # whitespace runs are squeezed out, which takes more than one window of mail as landed
        body_text=[texts[m][1][: 4 * MAX_BODY_CHARS] for m in ids],
        **{
            versioned(name, version): [row[name] for row in counted[version]]
            for version in TERMS_VERSIONS
            for name in TERM_SIGNALS
        },
    )


def with_terms_of(bundle: Bundle, golden: pd.DataFrame) -> pd.DataFrame:
    """The golden rows with the term signals counted as ``bundle`` counts them. A golden set
    frozen before the term families were versioned holds version 1's counts only: a bundle of a
    later version cannot be judged on it."""
    version = bundle.terms_version
    columns = [versioned(name, version) for name in TERM_SIGNALS]
    if set(columns) <= set(golden.columns):
        return golden.assign(**{n: golden[c] for n, c in zip(TERM_SIGNALS, columns, strict=True)})
    if version == 1 and not any("@terms" in str(c) for c in golden.columns):
        return golden  # frozen by a release that counted version 1 only
    raise GoldenSetError(
        f"the golden set holds no term signals of terms version {version}, which model "
        f"{bundle.version} learnt from; re-freeze it (materialise golden_set with refresh: true)"
    )


def bundle_scores(bundle: Bundle, golden: pd.DataFrame) -> np.ndarray:
    """The bundle's verdict scores (model, or 1.0 where a force_attack rule or a specialised
    detector fires) on rows. A
    bundle with a text model scores the golden set's frozen text with its own text model."""
    import lightgbm as lgb

    rows = with_terms_of(bundle, golden)
    if TEXT_SCORE in bundle.features:
        if not set(GOLDEN_TEXT_COLUMNS) <= set(golden.columns) or bundle.text_model is None:
            raise GoldenSetError(
                f"the golden set holds no message text for the text model of {bundle.version}; "
                "re-freeze it (materialise golden_set with refresh: true)"
            )
        text_model = TextModel.from_bytes(bundle.text_model)
        scores = [
            text_model.score_words(text_model.words_of(s or "", b or ""))
            for s, b in zip(golden["subject"], golden["body_text"], strict=True)
        ]
        rows = rows.assign(**{TEXT_SCORE: scores})
    missing = sorted(set(bundle.features) - set(rows.columns))
    if missing:
        raise GoldenSetError(
            f"the golden set has no column for features {missing} of model {bundle.version}; "
            "re-freeze it (materialise golden_set with refresh: true) after a feature change"
        )
    booster = lgb.Booster(model_str=bundle.files[MODEL_FILE].decode())
    rules = parse_rules(bundle.files[RULES_FILE].decode(), set(bundle.features))
    forced = rules.forced(rows) | detectors_of(bundle).fired(rows)
    return combined_scores(predict(booster, rows, bundle.features), forced)


@dataclass(frozen=True)
class Comparison:
    champion: dict[str, float]
    challenger: dict[str, float]
    regressions: dict[str, float]  # slice -> recall lost beyond the tolerance
    not_judged: list[str]

    @property
    def passed(self) -> bool:
        return not self.regressions

    def table(self) -> str:
        rows = ([name, self.champion[name], self.challenger[name]] for name in self.champion)
        return table(["slice", "champion", "challenger"], rows)


def compare(
    golden: pd.DataFrame,
    champion: np.ndarray,
    challenger: np.ndarray,
    *,
    budget: float,
    tolerance: float,
    min_attacks: int,
) -> Comparison:
    """Recall at the FP budget, overall and per category, for both; a regression is a slice where
    the challenger loses more than ``tolerance``. Categories with fewer than ``min_attacks``
    attacks are reported but not judged."""
    y = golden["is_attack"].to_numpy(dtype=int)
    categories = golden["category"].to_numpy()
    slices: dict[str, np.ndarray | None] = {"overall": None}
    not_judged = []
    for category in sorted(set(categories[y == 1])):
        mask = categories == category
        if int((mask & (y == 1)).sum()) >= min_attacks:
            slices[str(category)] = mask
        else:
            not_judged.append(str(category))
    old = {name: recall_at_fpr(y, champion, budget, m) for name, m in slices.items()}
    new = {name: recall_at_fpr(y, challenger, budget, m) for name, m in slices.items()}
    regressions = {
        name: old[name] - new[name] for name in slices if new[name] < old[name] - tolerance
    }
    return Comparison(old, new, regressions, not_judged)


def latency_ms(
    bundle: Bundle, messages: Sequence[Message], *, warmup: int = 20, passes: int = 3
) -> dict[str, float]:
    """Per-message scoring latency of the bundle (features, model, rules, reasons for attacks)
    over ``messages``, one at a time on one thread: p50 and p99 (each the median over
    ``passes`` passes, so one stall on a shared machine does not decide a blocking check) and the
    max in milliseconds. Measured as a serving process runs (``Scorer.prepare_for_serving``: what
    is alive is frozen out of the cyclic collector's reach), so a check inside a large pipeline
    process does not time that process's garbage collections; the freeze is undone afterwards."""
    scorer = Scorer(bundle)
    for message in messages[:warmup]:
        scorer.score_message(message)
    runs: list[np.ndarray] = []
    scorer.prepare_for_serving()
    try:
        for _ in range(passes):
            timings = []
            for message in messages:
                started = time.perf_counter()
                scorer.score_message(message)
                timings.append((time.perf_counter() - started) * 1000)
            runs.append(np.array(timings))
    finally:
        gc.unfreeze()
    return {
        "p50_ms": float(np.median([np.percentile(v, 50) for v in runs])),
        "p99_ms": float(np.median([np.percentile(v, 99) for v in runs])),
        "max_ms": float(max(v.max() for v in runs)),
        "messages": float(len(messages)),
        "passes": float(passes),
    }
