"""Evaluation stage: ``model_evaluation`` scores the held-out latest window with the candidate it
is given (metrics, slices, Evidently classification report, pictures, model card), the blocking
efficacy checks that gate deployment, prediction drift, and the FN/FP analysis."""

import base64
import json
from pathlib import Path
from typing import Any

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd

from assets.features import training_table
from assets.resources import LakeResource
from assets.training import candidate_model, load_candidate, reports_dir, training_frame
from detection.features.vector import DESCRIPTIONS, FEATURE_COLUMNS
from detection.model import plots
from detection.model.drift import classification_quality, prediction_drift
from detection.model.training import combined_scores, metrics, predict, recall_by_category, rows
from detection.rules import default_rules_text, parse_rules

GROUP = "evaluation"
EVALUATION_FILE = "evaluation.json"
RECALL_CHECK = "recall_at_threshold"
FPR_CHECK = "false_positive_rate_within_budget"
CATEGORY_CHECK = "category_recall_at_floor"
PREDICTION_DRIFT_CHECK = "prediction_drift"
SCORES_FILE = "evaluation_scores.parquet"  # verdict scores: validation and test windows
FPR_BUDGET = 0.01


def _markdown(rows: dict[str, dict[str, float]], columns: list[str]) -> str:
    lines = ["| slice | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        lines.append(
            f"| {name} | "
            + " | ".join(f"{values.get(c, float('nan')):.4g}" for c in columns)
            + " |"
        )
    return "\n".join(lines)


def category_floors(info: dict[str, Any], categories: list[str]) -> dict[str, float]:
    floors = dict(info.get("category_floors") or {"*": 0.0})
    default = float(floors.pop("*", 0.0))
    return {c: float(floors.get(c, default)) for c in categories}


def candidate_scores(
    frame: pd.DataFrame, info: dict[str, Any], model_text: str
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate's model scores and its force_attack rule hits on ``frame``."""
    features = list(info["features"])
    booster = lgb.Booster(model_str=model_text)
    forced = parse_rules(default_rules_text(), set(features)).forced(frame)
    return predict(booster, frame, features), forced


def evaluate_candidate(
    test: pd.DataFrame, info: dict[str, Any], model_text: str
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Metrics and slices on the test window, and the per-message scores behind them."""
    threshold = float(info["threshold"])
    y = test["is_attack"].to_numpy()
    model_scores, forced = candidate_scores(test, info, model_text)
    scores = combined_scores(model_scores, forced)
    tenants = {
        str(tenant): metrics(y[mask], scores[mask], threshold)
        for tenant in sorted(test["tenant_id"].unique())
        if (mask := (test["tenant_id"] == tenant).to_numpy()).any()
    }
    by_category = recall_by_category(test, scores, threshold)
    attacks = test.loc[test["is_attack"] == 1, "category"].value_counts()
    result = {
        "threshold": threshold,
        "recall_target": info["recall_target"],
        "window": info["windows"]["test"],
        "combined": metrics(y, scores, threshold),
        "model_only": metrics(y, model_scores, threshold),
        "rules_only": metrics(y, forced.astype(float), 0.5),
        "recall_by_category": by_category,
        "attacks_by_category": {str(k): int(v) for k, v in attacks.items()},
        "category_floors": category_floors(info, sorted(by_category)),
        "category_min_attacks": int(info.get("category_min_attacks", 0)),
        "by_tenant": tenants,
    }
    scored = test[["message_id", "tenant_id", "category", "is_attack"]].assign(
        score=scores, model_score=model_scores, forced=forced
    )
    return result, scored


def _image(name: str, png: bytes, directory: Path) -> str:
    (directory / f"{name}.png").write_bytes(png)
    return f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})"


def model_card(info: dict[str, Any], result: dict[str, Any], quality: dict[str, float]) -> str:
    """The model card as markdown: data window, features, metrics, slices, known limitations."""
    combined = result["combined"]
    windows = info["windows"]
    lines = [
        "### Model card",
        f"**Data**: trained on {windows['train']['start']} .. {windows['train']['end']} "
        f"({info['rows']['train']} messages, {info['attacks']['train']} attacks); threshold "
        f"chosen on {windows['validation']['start']} .. {windows['validation']['end']} for recall "
        f"{info['recall_target']}; tested on {windows['test']['start']} .. "
        f"{windows['test']['end']} ({info['rows']['test']} messages).",
        f"**Features**: {len(info['features'])} (content signals and point-in-time behaviour).",
        f"**Test metrics**: recall {combined['recall']:.4f}, FPR {combined['fpr']:.5f} "
        f"({combined['false_positives_per_million']:.0f} FP per million safe), PR-AUC "
        f"{combined['pr_auc']:.4f}; Evidently ROC AUC {quality.get('roc_auc', float('nan')):.4f}.",
        "**Recall by category**: "
        + ", ".join(
            f"{c} {r:.3f} ({result['attacks_by_category'].get(c, 0)})"
            for c, r in result["recall_by_category"].items()
        ),
        "**Tenants**: "
        + ", ".join(f"{t} recall {m['recall']:.3f}" for t, m in result["by_tenant"].items()),
        "**Known limitations**: trained on the simulated world unless real mail was landed; "
        "behavioural features need weeks of a tenant's history; categories with few test "
        "attacks have wide uncertainty; see docs/model_card.md.",
    ]
    return "\n\n".join(lines)


@dg.asset(group_name=GROUP, deps=[candidate_model], kinds={"python", "evidently"})
def model_evaluation(
    context: dg.AssetExecutionContext, lake_store: LakeResource
) -> dg.MaterializeResult:
    """Efficacy of the candidate on the latest, held-out days: recall at the chosen threshold,
    FPR and false positives per million safe messages, PR-AUC, recall per attack category and per
    tenant, rules alone vs model alone vs combined, Evidently's classification report, pictures
    (precision-recall, scores by class, recall per category) and the model card."""
    info, model_text = load_candidate(lake_store)
    frame = training_frame(lake_store)
    test = rows(frame, frame["received_at"] >= pd.Timestamp(info["windows"]["test"]["start"]))
    result, scored = evaluate_candidate(test, info, model_text)
    y, scores, threshold = (
        scored["is_attack"].to_numpy(),
        scored["score"].to_numpy(),
        result["threshold"],
    )
    directory = reports_dir(lake_store)
    quality = classification_quality(y, scores, threshold)
    (directory / "classification_quality.html").write_text(quality.html)
    result["evidently_classification"] = quality.values
    path = lake_store.path(EVALUATION_FILE)
    path.write_text(json.dumps(result, indent=2, default=float))
    windows = info["windows"]
    validation = rows(
        frame,
        (frame["received_at"] >= pd.Timestamp(windows["validation"]["start"]))
        & (frame["received_at"] <= pd.Timestamp(windows["validation"]["end"])),
    )
    reference = combined_scores(*candidate_scores(validation, info, model_text))
    pd.concat(
        [
            pd.DataFrame({"window": "validation", "score": reference}),
            scored[["score"]].assign(window="test"),
        ],
        ignore_index=True,
    ).to_parquet(lake_store.path(SCORES_FILE), index=False)
    combined = result["combined"]
    context.log.info(
        f"test recall {combined['recall']:.4f}, FPR {combined['fpr']:.5f} "
        f"at threshold {threshold:.4f}"
    )
    comparison = {k: result[k] for k in ("combined", "model_only", "rules_only")}
    pictures = "\n\n".join(
        [
            _image("precision_recall", plots.precision_recall_png(y, scores, threshold),
                   directory),
            _image("score_distribution", plots.score_distribution_png(y, scores, threshold),
                   directory),
            _image("category_recall", plots.category_recall_png(
                result["recall_by_category"], result["category_floors"]), directory),
        ]
    )  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "recall": combined["recall"],
            "fpr": combined["fpr"],
            "false_positives_per_million": combined["false_positives_per_million"],
            "pr_auc": combined["pr_auc"],
            "threshold": threshold,
            "recall_by_category": dg.MetadataValue.json(result["recall_by_category"]),
            "rules_vs_model_vs_combined": dg.MetadataValue.md(
                _markdown(comparison, ["recall", "fpr", "precision"])
            ),
            "by_tenant": dg.MetadataValue.md(
                _markdown(result["by_tenant"], ["recall", "fpr", "attacks"])
            ),
            "evidently_classification": dg.MetadataValue.json(quality.values),
            "classification_report": dg.MetadataValue.path(
                str(directory / "classification_quality.html")
            ),
            "pictures": dg.MetadataValue.md(pictures),
            "model_card": dg.MetadataValue.md(model_card(info, result, quality.values)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


def _evaluation(lake_store: LakeResource) -> dict[str, Any]:
    path = lake_store.path(EVALUATION_FILE)
    if not path.is_file():
        raise dg.Failure(f"no evaluation at {path}; materialise model_evaluation first")
    return json.loads(path.read_text())


@dg.asset_check(asset=model_evaluation, name=RECALL_CHECK, blocking=True)
def recall_at_threshold(lake_store: LakeResource) -> dg.AssetCheckResult:
    """Blocking. Recall on the held-out latest days at the chosen threshold must reach the recall
    target. When it fails the candidate is not deployed and production keeps serving. Look at
    recall_by_category on model_evaluation to see which attacks are missed."""
    result = _evaluation(lake_store)
    recall, target = float(result["combined"]["recall"]), float(result["recall_target"])
    return dg.AssetCheckResult(
        passed=bool(np.isfinite(recall) and recall >= target),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "recall": recall,
            "target": target,
            "attacks": result["combined"]["attacks"],
            "recall_by_category": dg.MetadataValue.json(result["recall_by_category"]),
        },
    )


@dg.asset_check(asset=model_evaluation, name=FPR_CHECK, blocking=True)
def false_positive_rate_within_budget(lake_store: LakeResource) -> dg.AssetCheckResult:
    """Blocking. The false-positive rate on held-out safe mail must stay within the budget (1%).
    When it fails the candidate is not deployed; look at by_tenant and the rules comparison on
    model_evaluation to find what over-fires."""
    result = _evaluation(lake_store)
    fpr = float(result["combined"]["fpr"])
    return dg.AssetCheckResult(
        passed=fpr <= FPR_BUDGET,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "fpr": fpr,
            "budget": FPR_BUDGET,
            "false_positives_per_million": result["combined"]["false_positives_per_million"],
        },
    )


@dg.asset_check(asset=model_evaluation, name=CATEGORY_CHECK, blocking=True)
def category_recall_at_floor(lake_store: LakeResource) -> dg.AssetCheckResult:
    """Blocking. Every attack category's recall on the held-out days must reach its floor
    (TrainingConfig.category_recall_floor, per-category overrides in category_floors); categories
    with fewer test attacks than category_min_attacks are listed but not judged. When it fails
    the candidate is not deployed: a model that is better overall but stops catching one kind of
    attack (say BEC) must not ship. Look at error_analysis for the missed messages' signals."""
    result = _evaluation(lake_store)
    floors, counts = result["category_floors"], result["attacks_by_category"]
    judged = {c: r for c, r in result["recall_by_category"].items()
              if counts.get(c, 0) >= result["category_min_attacks"]}  # fmt: skip
    below = {c: r for c, r in judged.items() if r < floors.get(c, 0.0)}
    return dg.AssetCheckResult(
        passed=not below,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "below_floor": dg.MetadataValue.json(below),
            "recall_by_category": dg.MetadataValue.json(result["recall_by_category"]),
            "floors": dg.MetadataValue.json(floors),
            "not_judged_too_few_attacks": dg.MetadataValue.json(
                sorted(set(result["recall_by_category"]) - set(judged))
            ),
        },
    )


@dg.asset_check(asset=model_evaluation, name=PREDICTION_DRIFT_CHECK, blocking=False)
def prediction_drift_check(lake_store: LakeResource) -> dg.AssetCheckResult:
    """WARN. Evidently drift test between the candidate's scores on the validation days and on
    the test days. When it warns, the model sees differently distributed mail than the one its
    threshold was chosen on: read the HTML report, compare attack share and categories between
    the windows (model_evaluation), and expect the drift sensor to retrain."""
    info, _ = load_candidate(lake_store)
    scores = pd.read_parquet(lake_store.path(SCORES_FILE))
    window = scores["window"].to_numpy()
    values = scores["score"].to_numpy()
    drift = prediction_drift(
        values[window == "validation"], values[window == "test"], seed=int(info["params"]["seed"])
    )
    report = reports_dir(lake_store) / "prediction_drift.html"
    report.write_text(drift.html)
    column = drift.column_scores.get("score", {})
    return dg.AssetCheckResult(
        passed=drift.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "drifted": not drift.passed,
            "method": str(column.get("method")),
            "drift_score": float(str(column.get("score", "nan"))),
            "reference_rows": drift.reference_rows,
            "current_rows": drift.current_rows,
            "report": dg.MetadataValue.path(str(report)),
        },
    )


def _sender_domains(lake_store: LakeResource, message_ids: list[str]) -> dict[str, str]:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    if not message_ids:
        return {}
    dataset = ds.dataset(str(lake_store.lake / "messages"), format="parquet")
    wanted = pc.field("message_id").isin(message_ids)  # pyright: ignore[reportAttributeAccessIssue]
    table = dataset.to_table(columns=["message_id", "sender_org_domain"], filter=wanted)
    return dict(zip(table["message_id"].to_pylist(), table["sender_org_domain"].to_pylist(),
                    strict=True))  # fmt: skip


def _counts_table(title: str, counts: pd.Series, limit: int = 15) -> str:
    lines = [f"| {title} | messages |", "|---|---|"]
    lines += [f"| {name} | {int(n)} |" for name, n in counts.head(limit).items()]
    return "\n".join(lines) if len(counts) else f"no {title.lower()}: nothing to show"


def missed_attack_table(
    missed: pd.DataFrame, contributions: np.ndarray, features: list[str]
) -> str:
    """Missed attacks per category, with the features that pushed them most towards attack."""
    lines = ["| category | missed | strongest signals (mean contribution) |", "|---|---|---|"]
    categories = missed["category"].to_numpy()
    for category in sorted(set(categories)):
        positions = np.flatnonzero(categories == category)
        mean = contributions[positions].mean(axis=0)
        top = [f"{DESCRIPTIONS.get(features[j], features[j])} ({mean[j]:+.2f})"
               for j in np.argsort(-mean)[:3] if mean[j] > 0]  # fmt: skip
        lines.append(f"| {category} | {len(positions)} | {'; '.join(top) or 'none'} |")
    return "\n".join(lines) if len(missed) else "no missed attacks in the test window"


@dg.asset(group_name=GROUP, deps=[candidate_model, training_table], kinds={"python"})
def error_analysis(
    context: dg.AssetExecutionContext, lake_store: LakeResource
) -> dg.MaterializeResult:
    """What the candidate gets wrong on the test window, for the analyst: missed attacks by
    category with their strongest signals (TreeSHAP), false positives by sender domain and by
    fired rule, and each rule's hit rate and precision there. No message content is shown. It
    scores the test window itself, so it runs (and explains) even when a blocking check on
    model_evaluation stops the deployment."""
    info, model_text = load_candidate(lake_store)
    features, threshold = list(info["features"]), float(info["threshold"])
    frame = training_frame(lake_store)
    test = rows(frame, frame["received_at"] >= pd.Timestamp(info["windows"]["test"]["start"]))
    _, scored = evaluate_candidate(test, info, model_text)
    test = test.reset_index(drop=True)
    caught = scored["score"].to_numpy() >= threshold
    attacks = scored["is_attack"].to_numpy() == 1
    missed = rows(test, attacks & ~caught).reset_index(drop=True)
    booster = lgb.Booster(model_str=model_text)
    matrix = missed[features].to_numpy(dtype=float)
    contributions = (
        np.asarray(booster.predict(matrix, pred_contrib=True))[:, :-1]
        if len(missed) else np.zeros((0, len(features)))
    )  # fmt: skip
    false_positives = rows(test, ~attacks & caught)
    domains = _sender_domains(lake_store, false_positives["message_id"].tolist())
    by_domain = pd.Series(
        [domains.get(m, "?") for m in false_positives["message_id"]]
    ).value_counts()
    hits = parse_rules(default_rules_text(), set(features)).hits(false_positives)
    fired = hits.sum()
    by_rule = pd.Series(fired[fired > 0]).sort_values(ascending=False)
    rules = rule_table(test)
    context.log.info(f"{len(missed)} missed attacks, {len(false_positives)} false positives")
    return dg.MaterializeResult(
        metadata={
            "missed_attacks": len(missed),
            "false_positives": len(false_positives),
            "missed_by_category": dg.MetadataValue.md(
                missed_attack_table(missed, contributions, features)
            ),
            "false_positives_by_sender_domain": dg.MetadataValue.md(
                _counts_table("Sender domain", by_domain)
            ),
            "false_positives_by_rule": dg.MetadataValue.md(_counts_table("Rule", by_rule)),
            "rules_on_test_window": dg.MetadataValue.md(
                _markdown(rules, ["hits", "hit_rate", "precision", "false_positives"])
            ),
        }
    )


def rule_table(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per rule: hits, hit rate, precision and attacks caught on labelled mail."""
    rules = parse_rules(default_rules_text(), set(FEATURE_COLUMNS))
    hits = rules.hits(frame)
    attacks = frame["is_attack"].to_numpy(dtype=bool)
    table = {}
    for rule in rules.rules:
        fired = hits[rule.name].to_numpy(dtype=bool)
        caught = int((fired & attacks).sum())
        table[rule.name] = {
            "hits": float(fired.sum()),
            "hit_rate": float(fired.mean()) if len(fired) else 0.0,
            "precision": caught / fired.sum() if fired.any() else float("nan"),
            "attacks_caught": float(caught),
            "false_positives": float((fired & ~attacks).sum()),
            "forces_attack": float(rule.action == "force_attack"),
        }
    return table


@dg.asset(group_name=GROUP, deps=[training_table], kinds={"python"})
def rule_report(
    context: dg.AssetExecutionContext, lake_store: LakeResource
) -> dg.MaterializeResult:
    """How each heuristic rule performs on all labelled mail: hits, hit rate, precision, attacks
    caught and false positives. A force_attack rule with false positives blocks good mail."""
    table = rule_table(training_frame(lake_store))
    context.log.info(f"rule report over {len(table)} rules")
    columns = ["hits", "precision", "attacks_caught", "false_positives"]
    return dg.MaterializeResult(
        metadata={
            "rules": dg.MetadataValue.md(_markdown(table, columns)),
            "force_attack_false_positives": sum(
                t["false_positives"] for t in table.values() if t["forces_attack"]
            ),
        }
    )
