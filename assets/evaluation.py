"""Evaluation stage: ``model_evaluation`` scores the held-out latest window with the candidate it
is given, and the blocking efficacy checks that gate deployment."""

import json
from typing import Any

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd

from assets.features import training_table
from assets.resources import LakeResource
from assets.training import candidate_model, load_candidate, training_frame
from detection.features import FEATURE_COLUMNS
from detection.model import combined_scores, metrics, predict, recall_by_category, rows
from detection.rules import default_rules_text, parse_rules

GROUP = "evaluation"
EVALUATION_FILE = "evaluation.json"
RECALL_CHECK = "recall_at_threshold"
FPR_CHECK = "false_positive_rate_within_budget"
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


def evaluate_candidate(test: pd.DataFrame, info: dict[str, Any], model_text: str) -> dict[str, Any]:
    features = list(info["features"])
    threshold = float(info["threshold"])
    booster = lgb.Booster(model_str=model_text)
    y = test["is_attack"].to_numpy()
    model_scores = predict(booster, test, features)
    forced = parse_rules(default_rules_text(), set(features)).forced(test)
    scores = combined_scores(model_scores, forced)
    tenants = {
        str(tenant): metrics(y[mask], scores[mask], threshold)
        for tenant in sorted(test["tenant_id"].unique())
        if (mask := (test["tenant_id"] == tenant).to_numpy()).any()
    }
    return {
        "threshold": threshold,
        "recall_target": info["recall_target"],
        "window": info["windows"]["test"],
        "combined": metrics(y, scores, threshold),
        "model_only": metrics(y, model_scores, threshold),
        "rules_only": metrics(y, forced.astype(float), 0.5),
        "recall_by_category": recall_by_category(test, scores, threshold),
        "by_tenant": tenants,
    }


@dg.asset(group_name=GROUP, deps=[candidate_model], kinds={"python"})
def model_evaluation(
    context: dg.AssetExecutionContext, lake_store: LakeResource
) -> dg.MaterializeResult:
    """Efficacy of the candidate on the latest, held-out days: recall at the chosen threshold,
    FPR and false positives per million safe messages, PR-AUC, recall per attack category and per
    tenant, and rules alone vs model alone vs combined."""
    info, model_text = load_candidate(lake_store)
    frame = training_frame(lake_store)
    test = rows(frame, frame["received_at"] >= pd.Timestamp(info["windows"]["test"]["start"]))
    result = evaluate_candidate(test, info, model_text)
    path = lake_store.path(EVALUATION_FILE)
    path.write_text(json.dumps(result, indent=2, default=float))
    combined = result["combined"]
    context.log.info(
        f"test recall {combined['recall']:.4f}, FPR {combined['fpr']:.5f} "
        f"at threshold {result['threshold']:.4f}"
    )
    comparison = {k: result[k] for k in ("combined", "model_only", "rules_only")}
    return dg.MaterializeResult(
        metadata={
            "recall": combined["recall"],
            "fpr": combined["fpr"],
            "false_positives_per_million": combined["false_positives_per_million"],
            "pr_auc": combined["pr_auc"],
            "threshold": result["threshold"],
            "recall_by_category": dg.MetadataValue.json(result["recall_by_category"]),
            "rules_vs_model_vs_combined": dg.MetadataValue.md(
                _markdown(comparison, ["recall", "fpr", "precision"])
            ),
            "by_tenant": dg.MetadataValue.md(
                _markdown(result["by_tenant"], ["recall", "fpr", "attacks"])
            ),
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
