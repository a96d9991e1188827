"""Training and evaluation on a labelled corpus of real mail, honest about shortcuts.

Real corpora mix sources from different eras and mail systems: in the shared corpus every attack
source is either from 1999-2005 or from 2022-2025, and so is every safe source. A feature that
only tells the sources apart (a header one mail system always writes, another never) scores
perfectly on a random split and says nothing about new mail. So this module:

- evaluates on three splits: **random** (stratified; the optimistic reference), **time-held-out**
  (train before a cutoff date, test after it) and **source-held-out** (every pair of one attack
  source and one safe source held out in turn, trained on the rest) and reports the gap;
- measures, per feature, how well it identifies the *source* among mail of one label and how well
  it separates the *labels* among mail of one era, and drops features that identify sources but
  not labels, plus the transport/era header artefacts listed in ``TRANSPORT_FEATURES``;
- trains the final model on all the mail with the remaining features, and sets its threshold from
  the pooled source-held-out scores (what a new source looks like), not the random split.

Only content signals are used: the behavioural features describe one organisation's history, and
a corpus assembled from unrelated mailboxes has none (every sender there would look "new", and
sender repetition would only identify the mailbox).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from detection.features.behaviour import BehaviourState
from detection.features.signals import CONTENT_FEATURES
from detection.features.vector import content_frame
from detection.mail.ingest import ingest
from detection.model.evaluation import Metrics
from detection.model.thresholds import choose_threshold
from detection.model.training import TrainParams, predict, rows, train_booster
from detection.rules import default_rules_text, parse_rules
from detection.serving.artifact import Bundle

# Present or absent by mail system and era rather than by intent: old corpora predate DKIM and
# DMARC, some archives strip Message-ID/Date/Return-Path, honeypots record their own relay.
TRANSPORT_FEATURES = frozenset(
    {
        "spf_fail",
        "dkim_fail",
        "dmarc_fail",
        "message_id_missing",
        "message_id_domain_differs",
        "date_missing",
        "return_path_domain_differs",
    }
)
SOURCE_AUC_LIMIT = 0.8  # identifies a source within one label at least this well ...
LABEL_SIGNAL_FLOOR = 0.1  # ... while separating labels within an era by less than this (|AUC-.5|)


@dataclass(frozen=True)
class RealMailConfig:
    path: Path
    recall_target: float = 0.95
    time_cutoff: str = "2010-01-01"
    seed: int = 7
    test_share: float = 0.25
    params: TrainParams = field(default_factory=lambda: TrainParams(num_boost_round=150))


class RealMailError(ValueError):
    """The corpus cannot support an honest evaluation; the message says why and what to do."""


def load_corpus(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Content signals, label, source and date of every labelled message under ``path``."""
    if not path.exists():
        raise RealMailError(
            f"no real-mail corpus at {path}; set the path (config 'path' or "
            "ATTACK_DETECTION_REAL_MAIL_DIR) to a directory with manifest.csv or safe/ and attack/"
        )
    result = ingest([path])
    messages = [m for m in result.messages if m.label in ("safe", "attack")]
    frame = content_frame(messages).reset_index()
    frame["is_attack"] = [int(m.label == "attack") for m in messages]
    frame["source"] = [m.source or "unknown" for m in messages]
    frame["received_at"] = pd.to_datetime([m.received_at for m in messages], utc=True)
    summary = result.summary()
    return frame, {k: summary[k] for k in ("parsed", "quarantined", "duplicates", "by_reason")}


def _stratified(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    first, second = train_test_split(
        frame, test_size=share, stratify=frame["is_attack"], random_state=seed
    )
    return cast(pd.DataFrame, first), cast(pd.DataFrame, second)


def _cutoff(config: RealMailConfig) -> pd.Timestamp:
    return cast(pd.Timestamp, pd.Timestamp(config.time_cutoff, tz="UTC"))


def _auc(y: np.ndarray, values: np.ndarray) -> float:
    if len(np.unique(y)) < 2 or len(np.unique(values)) < 2:
        return 0.5
    return float(roc_auc_score(y, values))


def feature_audit(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per feature: how well it identifies a source among mail of one label (the best one-vs-rest
    AUC, direction-free), and how well it separates the labels within each era."""
    records = []
    eras = [rows(frame, frame["received_at"] < cutoff), rows(frame, frame["received_at"] >= cutoff)]
    for feature in CONTENT_FEATURES:
        source_auc = 0.5
        for _, same_label in frame.groupby("is_attack"):
            for source in same_label["source"].unique():
                y = (same_label["source"] == source).to_numpy(dtype=int)
                auc = _auc(y, same_label[feature].to_numpy())
                source_auc = max(source_auc, auc, 1 - auc)
        label_signal = max(
            (abs(_auc(era["is_attack"].to_numpy(), era[feature].to_numpy()) - 0.5) for era in eras),
            default=0.0,
        )
        records.append({"feature": feature, "source_auc": source_auc, "label_signal": label_signal})
    audit = pd.DataFrame(records).set_index("feature")
    audit["transport"] = audit.index.isin(sorted(TRANSPORT_FEATURES))
    audit["source_only"] = (audit["source_auc"] >= SOURCE_AUC_LIMIT) & (
        audit["label_signal"] < LABEL_SIGNAL_FLOOR
    )
    audit["removed"] = audit["transport"] | audit["source_only"]
    return audit


def _fit_and_score(
    train: pd.DataFrame, test: pd.DataFrame, features: list[str], config: RealMailConfig
) -> tuple[np.ndarray, float]:
    """Train on ``train`` (threshold from a stratified 20% of it), score ``test``."""
    fit, validation = _stratified(train, 0.2, config.seed)
    booster = train_booster(fit, features, config.params)
    threshold = choose_threshold(
        validation["is_attack"].to_numpy(),
        predict(booster, validation, features),
        config.recall_target,
    )
    return predict(booster, test, features), threshold


def _metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    return Metrics.of(y, scores, threshold).as_dict()


def _split_metrics(
    train: pd.DataFrame, test: pd.DataFrame, features: list[str], config: RealMailConfig
) -> dict[str, float]:
    scores, threshold = _fit_and_score(train, test, features, config)
    return _metrics(test["is_attack"].to_numpy(), scores, threshold) | {"threshold": threshold}


def evaluate_splits(
    frame: pd.DataFrame, features: list[str], config: RealMailConfig
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Random, time-held-out and source-held-out metrics; also the pooled source-held-out labels
    and scores (for the final threshold)."""
    train, test = _stratified(frame, config.test_share, config.seed)
    report: dict[str, Any] = {"random": _split_metrics(train, test, features, config)}
    cutoff = _cutoff(config)
    before = rows(frame, frame["received_at"] < cutoff)
    after = rows(frame, frame["received_at"] >= cutoff)
    if before["is_attack"].nunique() == 2 and after["is_attack"].nunique() == 2:
        report["time_held_out"] = _split_metrics(before, after, features, config) | {
            "train_rows": len(before),
            "test_rows": len(after),
            "cutoff": config.time_cutoff,
        }
    attack_sources = sorted(frame.loc[frame["is_attack"] == 1, "source"].unique())
    safe_sources = sorted(frame.loc[frame["is_attack"] == 0, "source"].unique())
    folds, pooled_y, pooled_scores = {}, [], []
    for attack, safe in itertools.product(attack_sources, safe_sources):
        held = frame["source"].isin([attack, safe])
        rest = rows(frame, ~held)
        if rest["is_attack"].nunique() < 2:
            continue
        test_fold = rows(frame, held)
        scores, threshold = _fit_and_score(rest, test_fold, features, config)
        y = test_fold["is_attack"].to_numpy()
        folds[f"{attack} + {safe}"] = _metrics(y, scores, threshold) | {"threshold": threshold}
        pooled_y.append(y)
        pooled_scores.append(scores)
    if not folds:
        raise RealMailError(
            "source-held-out evaluation needs at least two attack or two safe sources; "
            f"found attack sources {attack_sources} and safe sources {safe_sources}"
        )
    report["source_held_out"] = {
        "folds": folds,
        "mean": {
            key: float(np.nanmean([fold[key] for fold in folds.values()]))
            for key in ("recall", "fpr", "pr_auc")
        },
    }
    return report, np.concatenate(pooled_y), np.concatenate(pooled_scores)


def _empty_snapshot() -> dict[str, Any]:
    return BehaviourState().to_tables()


def _content_rules(features: list[str]) -> str:
    """The default rules whose conditions use only the model's features, as YAML text."""
    import yaml

    allowed = set(features)
    document = yaml.safe_load(default_rules_text())
    document["rules"] = [
        rule
        for rule in document["rules"]
        if all(condition["feature"] in allowed for condition in rule["all"])
    ]
    text = yaml.safe_dump(document, sort_keys=False)
    parse_rules(text, allowed)  # validated like any bundle's rules
    return text


def run(config: RealMailConfig) -> tuple[dict[str, Any], Bundle]:
    """The whole evaluation and the real-mail bundle (content features, no behaviour history)."""
    frame, corpus = load_corpus(config.path)
    if frame["is_attack"].nunique() < 2:
        raise RealMailError(f"the corpus at {config.path} needs both safe and attack mail")
    frame = frame.sort_values(["received_at", "message_id"], ignore_index=True)
    audit = feature_audit(frame, _cutoff(config))
    all_features = list(CONTENT_FEATURES)
    kept = [f for f in all_features if not audit.loc[f, "removed"]]
    with_shortcuts, _, _ = evaluate_splits(frame, all_features, config)
    honest, pooled_y, pooled_scores = evaluate_splits(frame, kept, config)
    booster = train_booster(frame, kept, config.params)
    threshold = choose_threshold(pooled_y, pooled_scores, config.recall_target)
    importance = dict(zip(kept, booster.feature_importance("gain").round(1).tolist(), strict=True))
    report = {
        "corpus": {
            "path": str(config.path),
            **corpus,
            "messages": len(frame),
            "attacks": int(frame["is_attack"].to_numpy().sum()),
            "by_source": {str(k): int(v) for k, v in frame["source"].value_counts().items()},
        },
        "recall_target": config.recall_target,
        "threshold": threshold,
        "features": kept,
        "removed_features": sorted(set(all_features) - set(kept)),
        "feature_audit": audit.round(4).reset_index().to_dict(orient="records"),
        "importance_gain": dict(sorted(importance.items(), key=lambda kv: -kv[1])),
        "without_shortcut_removal": with_shortcuts,
        "splits": honest,
        "gap_random_minus_source_held_out": {
            key: honest["random"][key] - honest["source_held_out"]["mean"][key]
            for key in ("recall", "fpr", "pr_auc")
        },
    }
    bundle = Bundle.build(
        model_text=booster.model_to_string(),
        features=kept,
        rules_text=_content_rules(kept),
        threshold=threshold,
        snapshot=_empty_snapshot(),
        metrics={"source_held_out": honest["source_held_out"]["mean"], "random": honest["random"]},
        lineage={
            "kind": "real-mail",
            "corpus": str(config.path),
            "messages": len(frame),
            "seed": config.params.seed,
        },
    )
    return report, bundle
