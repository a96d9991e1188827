"""Counterfactual replay: what a proposed change would have decided on landed, labelled mail,
against what production decided.

A proposal is any mix of a rules file, a global threshold, a per-tenant threshold table and a
candidate bundle. It is applied to the production bundle (:meth:`Proposal.apply`), giving a second
bundle held in memory, and both bundles decide every message of the window the same way the online
scorer does (:func:`decide`): the booster's score over the message's point-in-time features with
the bundle's own text score, ``force_attack`` rules and specialised detectors, and the tenant's
own threshold, else the threshold for mail with history, else the global one (whether a message
had history is read from its point-in-time features, as a scorer serving when it arrived would
have seen it). The window's term signals are counted with this release's term families; a bundle
that learnt from another version is named in the report. The messages whose verdict flips are
the report: new catches, new misses, new false positives and false positives removed, counted per
category and per tenant with 95% intervals, the top examples as ids with reasons (never
bodies).

Decisions are vectorised over the whole window: one LightGBM call per bundle, the text model's
scores once per distinct text, rules as column comparisons. A proposal that keeps the production
model (rules or thresholds only) reuses production's scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from detection.features.behaviour import POOLED_TENANT_PREFIX
from detection.features.text import TEXT_SCORE, TextModel
from detection.model.intervals import Rate
from detection.rules import RuleSet, parse_rules, rule_entries
from detection.serving.artifact import (
    MODEL_FILE,
    RULES_FILE,
    TEXT_MODEL_FILE,
    THRESHOLD_FILE,
    Bundle,
)
from detection.serving.detectors import detectors_of

if TYPE_CHECKING:
    import pandas as pd

    from detection.model.text_training import TermMatrix

NEW_CATCH, NEW_MISS = "new_catch", "new_miss"
NEW_FALSE_POSITIVE, FALSE_POSITIVE_REMOVED = "new_false_positive", "false_positive_removed"
UNCHANGED = "unchanged"
CHANGES = (NEW_CATCH, NEW_MISS, NEW_FALSE_POSITIVE, FALSE_POSITIVE_REMOVED)
# the frame's columns a replay needs besides the bundle's features
KEYS = ("message_id", "tenant_id", "category", "label", "received_at")


class WhatIfError(ValueError):
    """A proposal or window that cannot be replayed; the message says what to change."""


@dataclass(frozen=True)
class Proposal:
    """A change to replay. Each part replaces production's: ``rules_text`` the whole rules file,
    ``added_rules_text`` rules after production's, ``threshold`` every threshold (with and
    without history, and each tenant's own unless ``tenant_thresholds`` gives the per-tenant
    table), ``bundle`` the model (its own rules and thresholds too, unless the other parts
    replace them)."""

    rules_text: str | None = None
    added_rules_text: str | None = None
    threshold: float | None = None
    tenant_thresholds: Mapping[str, float] | None = None
    bundle: Bundle | None = None

    def describe(self) -> str:
        parts = []
        if self.bundle is not None:
            parts.append(f"bundle {self.bundle.version}")
        if self.rules_text is not None:
            parts.append("rules file")
        if self.added_rules_text is not None:
            parts.append("added rules")
        if self.threshold is not None:
            parts.append(f"threshold {self.threshold:g}")
        if self.tenant_thresholds is not None:
            parts.append(f"tenant thresholds ({len(self.tenant_thresholds)} tenants)")
        return ", ".join(parts) or "no change (production against itself)"

    def apply(self, production: Bundle) -> Bundle:
        """The bundle this proposal would serve, in memory (not for deployment: its manifest's
        hashes no longer describe its files). Raises :class:`WhatIfError` for a bad part."""
        base = self.bundle or production
        files = dict(base.files)
        if self.rules_text is not None:
            parse_rules(self.rules_text, set(base.features))  # RuleError names the bad rule
            files[RULES_FILE] = self.rules_text.encode()
        if self.added_rules_text is not None:
            files[RULES_FILE] = _with_rules(files[RULES_FILE].decode(), self.added_rules_text)
            parse_rules(files[RULES_FILE].decode(), set(base.features))
        document = json.loads(files[THRESHOLD_FILE])
        if self.threshold is not None:
            _check_threshold("threshold", self.threshold)
            document["threshold"] = document["with_history"] = self.threshold
            document["tenants"] = {}  # one threshold for every message
        if self.tenant_thresholds is not None:
            for tenant, value in self.tenant_thresholds.items():
                _check_threshold(f"tenant {tenant!r}'s threshold", value)
            document["tenants"] = dict(sorted(self.tenant_thresholds.items()))
        files[THRESHOLD_FILE] = json.dumps(document).encode()
        manifest = {**base.manifest, "version": f"{base.version}+what-if"}
        return Bundle(files, manifest)


def tenant_table(text: str, where: str) -> dict[str, float]:
    """A per-tenant threshold table from JSON ``{"tenant": threshold, ...}``."""
    try:
        table = json.loads(text)
    except ValueError as exc:
        raise WhatIfError(f"{where} is not JSON: {exc}") from exc
    if not isinstance(table, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in table.values()
    ):
        raise WhatIfError(f'{where} must be a JSON object {{"tenant": threshold, ...}}')
    return {str(k): float(v) for k, v in table.items()}


def _with_rules(rules_text: str, added_text: str) -> bytes:
    """A rules file with the ``rules`` of ``added_text`` after its own (RuleError names what
    is wrong with either)."""
    import yaml

    merged = [*rule_entries(rules_text), *rule_entries(added_text)]
    return yaml.safe_dump({"rules": merged}, sort_keys=False).encode()


def _check_threshold(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise WhatIfError(
            f"{what} is {value!r}: a threshold is a model score in (0, 1]; the production one "
            "is in the bundle's threshold.json"
        )


@dataclass(frozen=True)
class Decisions:
    """One bundle's decision on every row of a window."""

    score: np.ndarray  # the booster's score (before rules)
    forced: np.ndarray  # a force_attack rule or a specialised detector fired
    threshold: np.ndarray  # the threshold that applied to the row

    @property
    def attack(self) -> np.ndarray:
        return self.forced | (self.score >= self.threshold)


@dataclass
class _Scores:
    """Scores computed once per distinct model (production's are reused by a proposal that keeps
    its model): the booster's, and the window with the text model's."""

    matrix: TermMatrix | None
    cache: dict[tuple[bytes, bytes], tuple[np.ndarray, pd.DataFrame]] = field(default_factory=dict)


def tenants_with_history(bundle: Bundle) -> frozenset[str]:
    """Tenants the bundle's snapshot knows (the scorer's ``with_history`` threshold applies)."""
    import pyarrow.compute as pc

    senders = bundle.snapshot()["sender_baselines"]
    known = pc.unique(senders["tenant_id"]).to_pylist()  # pyright: ignore[reportAttributeAccessIssue]
    return frozenset(t for t in known if t and not t.startswith(POOLED_TENANT_PREFIX))


def thresholds_of(
    bundle: Bundle, tenants: np.ndarray, history: np.ndarray | None = None
) -> np.ndarray:
    """Each row's threshold, as :meth:`Scorer.threshold_for` chooses it: the tenant's own, else
    the one for mail with history, else the one without. ``history`` says which rows had
    history when they arrived (the point-in-time features are known); without it, the tenants
    the bundle's snapshot knows have history, as when the scorer serves it."""
    own = bundle.tenant_thresholds
    with_history, default = bundle.with_history_threshold, bundle.threshold
    if history is None:
        history = np.isin(tenants.astype(str), list(tenants_with_history(bundle)))
    chosen = np.where(history, with_history, default).astype(float)
    for tenant, value in own.items():
        chosen[tenants == tenant] = value
    return chosen


HISTORY_FEATURE = "sender_prior_messages"  # missing exactly where the tenant had no history


def _model_scores(
    bundle: Bundle, frame: pd.DataFrame, scores: _Scores, threads: int
) -> tuple[np.ndarray, pd.DataFrame]:
    key = (bundle.files[MODEL_FILE], bundle.files.get(TEXT_MODEL_FILE, b""))
    if key not in scores.cache:
        scores.cache[key] = _score(bundle, frame, scores.matrix, threads)
    return scores.cache[key]


def _score(
    bundle: Bundle, frame: pd.DataFrame, matrix: TermMatrix | None, threads: int
) -> tuple[np.ndarray, pd.DataFrame]:
    import lightgbm as lgb

    from detection.model.text_training import score_rows

    features = bundle.features
    text = bundle.files.get(TEXT_MODEL_FILE, b"")
    if TEXT_SCORE in features:
        if matrix is None or not text:
            raise WhatIfError(
                f"bundle {bundle.version} reads the text model's score: the replay needs the "
                "window's texts (the lake) and a bundle with a text model"
            )
        positions = np.arange(len(frame))
        text_scores = score_rows(TextModel.from_bytes(text), matrix, positions)
        frame = cast("pd.DataFrame", frame.assign(**{TEXT_SCORE: text_scores}))
    missing = sorted(set(features) - set(frame.columns))
    if missing:
        raise WhatIfError(
            f"bundle {bundle.version} reads features the window lacks: {missing}; replay it on "
            "a training table built by the same release"
        )
    booster = lgb.Booster(model_str=bundle.files[MODEL_FILE].decode())
    values = frame[features].to_numpy(dtype=np.float64)
    return np.asarray(booster.predict(values, num_threads=threads), dtype=float), frame


def rules_of(bundle: Bundle) -> RuleSet:
    return parse_rules(bundle.files[RULES_FILE].decode(), set(bundle.features))


def decide(
    bundle: Bundle, frame: pd.DataFrame, scores: _Scores, threads: int = 2
) -> tuple[Decisions, pd.DataFrame]:
    """The bundle's decision on every row of ``frame``, and the frame with its text score."""
    score, frame = _model_scores(bundle, frame, scores, threads)
    forced = rules_of(bundle).forced(frame) | detectors_of(bundle).fired(frame)
    tenants = frame["tenant_id"].astype(str).to_numpy()
    history = None
    if HISTORY_FEATURE in frame.columns:
        history = ~np.isnan(frame[HISTORY_FEATURE].to_numpy(dtype=float))
    return Decisions(score, forced, thresholds_of(bundle, tenants, history)), frame


@dataclass(frozen=True)
class Side:
    """Production's or the proposal's view of the window."""

    bundle: Bundle
    decisions: Decisions
    frame: pd.DataFrame  # the window with this bundle's text scores


@dataclass(frozen=True)
class Replay:
    production: Side
    proposed: Side
    proposal: str
    rows: pd.DataFrame  # one row per message: keys, both scores and verdicts, ``change``

    @property
    def changed(self) -> pd.DataFrame:
        return cast("pd.DataFrame", self.rows.loc[self.rows["change"] != UNCHANGED])

    def summary(self, by: str | None = None) -> pd.DataFrame:
        """Counts, recall and FPR before and after with intervals, and each change's count: one
        row per value of ``by`` (``category`` or ``tenant_id``), or one row for the window."""
        return summarise(self.rows, by)


def change_of(label: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    attack, safe = label == "attack", label == "safe"
    change = np.full(len(label), UNCHANGED, dtype=object)
    change[attack & ~before & after] = NEW_CATCH
    change[attack & before & ~after] = NEW_MISS
    change[safe & ~before & after] = NEW_FALSE_POSITIVE
    change[safe & before & ~after] = FALSE_POSITIVE_REMOVED
    return change


def replay(
    production: Bundle,
    proposal: Proposal,
    frame: pd.DataFrame,
    matrix: TermMatrix | None,
    *,
    threads: int = 2,
) -> Replay:
    """Both bundles' decisions on the labelled rows of ``frame`` (aligned with ``matrix``, the
    window's term counts; None when neither bundle reads the text score)."""
    missing = sorted(set(KEYS) - set(frame.columns))
    if missing:
        raise WhatIfError(f"the window lacks the columns {missing}; give it a training table")
    if not len(frame):
        raise WhatIfError("the window holds no labelled mail: widen it or land labelled mail")
    proposed_bundle = proposal.apply(production)
    scores = _Scores(matrix)
    before, production_frame = decide(production, frame, scores, threads)
    after, proposed_frame = decide(proposed_bundle, frame, scores, threads)
    rows = frame[list(KEYS)].copy()
    rows["production_score"] = before.score
    rows["production_forced"] = before.forced
    rows["production_attack"] = before.attack
    rows["proposed_score"] = after.score
    rows["proposed_forced"] = after.forced
    rows["proposed_attack"] = after.attack
    rows["change"] = change_of(frame["label"].to_numpy(), before.attack, after.attack)
    return Replay(
        Side(production, before, production_frame),
        Side(proposed_bundle, after, proposed_frame),
        proposal.describe(),
        cast("pd.DataFrame", rows.reset_index(drop=True)),
    )


def summarise(rows: pd.DataFrame, by: str | None) -> pd.DataFrame:
    import pandas as pd

    attack = rows["label"] == "attack"
    safe = rows["label"] == "safe"
    parts = pd.DataFrame(
        {
            "group": rows[by].astype(str) if by else "all",
            "attacks": attack,
            "safe": safe,
            "caught_before": attack & rows["production_attack"],
            "caught_after": attack & rows["proposed_attack"],
            "fp_before": safe & rows["production_attack"],
            "fp_after": safe & rows["proposed_attack"],
            **{change: rows["change"] == change for change in CHANGES},
        }
    )
    sums = cast("pd.DataFrame", parts.groupby("group", sort=True).sum())
    counts = sums.to_dict(orient="index")
    out = []
    for group, row in counts.items():
        n = {name: int(value) for name, value in row.items()}
        recall_before = Rate.of(n["caught_before"], n["attacks"])
        recall_after = Rate.of(n["caught_after"], n["attacks"])
        fpr_before = Rate.of(n["fp_before"], n["safe"])
        fpr_after = Rate.of(n["fp_after"], n["safe"])
        out.append(
            {
                by or "window": group,
                "attacks": n["attacks"],
                "safe": n["safe"],
                **_columns("recall_before", recall_before),
                **_columns("recall_after", recall_after),
                **_columns("fpr_before", fpr_before),
                **_columns("fpr_after", fpr_after),
                **{change: n[change] for change in CHANGES},
            }
        )
    return pd.DataFrame(out)


def _columns(name: str, rate: Rate) -> dict[str, float]:
    return {name: rate.value, f"{name}_low": rate.low, f"{name}_high": rate.high}


def rate_cell(row: Mapping[str, object], name: str) -> str:
    """A rate :func:`summarise` wrote as three columns, as people read it."""
    value, low, high = (float(cast(float, row[f"{name}{end}"])) for end in ("", "_low", "_high"))
    if math.isnan(value):
        return "n/a"
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"
