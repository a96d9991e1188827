"""Real-mail evaluation: train and evaluate on a labelled corpus of real mail, held out by source
and by time, with shortcut features removed, and save the model as a bundle that
``attack-detection score`` accepts. Not part of the retraining job (``real_mail_job``)."""

import json
import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.resources import WorkDirResource
from detection.markdown import keyed_table, table
from detection.model.real_mail import RealMailConfig, RealMailError, run
from detection.serving.registry import promote
from detection.serving.stores import LocalArtifactStore

GROUP = "real_mail"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "data" / "real-mail"


class RealMailEvaluationConfig(dg.Config):
    path: str = Field(
        default="",
        description="labelled corpus (manifest.csv or safe/ attack/ folders); default "
        "$ATTACK_DETECTION_REAL_MAIL_DIR, else ../shared/data/real-mail",
    )
    recall_target: float = Field(default=0.95, description="recall the threshold must reach")
    time_cutoff: str = Field(
        default="2010-01-01", description="time-held-out split: train before, test from this date"
    )
    seed: int = Field(default=7, description="split and LightGBM seed")


def _table(splits: dict[str, dict], keys: tuple[str, ...]) -> str:
    return keyed_table("split", splits, keys)


@dg.asset(group_name=GROUP, kinds={"lightgbm"})
def real_mail_model(
    context: dg.AssetExecutionContext, config: RealMailEvaluationConfig, work_dir: WorkDirResource
) -> dg.MaterializeResult:
    """A content-only model trained on real labelled mail. Reports random, time-held-out and
    source-held-out (every attack source + safe source pair held out in turn) metrics and the gap
    between them; audits every feature for source identification and removes the shortcuts; the
    threshold comes from the source-held-out scores. The bundle is promoted in its own local store
    (path in metadata): `attack-detection score --artifact PATH mail.eml`."""
    corpus = Path(config.path or os.environ.get("ATTACK_DETECTION_REAL_MAIL_DIR") or DEFAULT_CORPUS)
    try:
        report, bundle = run(
            RealMailConfig(
                path=corpus,
                recall_target=config.recall_target,
                time_cutoff=config.time_cutoff,
                seed=config.seed,
            )
        )
    except RealMailError as exc:
        raise dg.Failure(str(exc)) from exc
    work = work_dir.open()
    store_dir = work.real_mail_store
    store = LocalArtifactStore(store_dir)
    promote(store, bundle, {"run_id": context.run_id, "kind": "real-mail", "corpus": str(corpus)})
    report_path = work.real_mail_report
    report_path.write_text(json.dumps(report, indent=2, default=float))
    splits = report["splits"]
    rows = {"random": splits["random"], "source held out (mean)": splits["source_held_out"]["mean"]}
    if "time_held_out" in splits:
        rows["time held out"] = splits["time_held_out"]
    rows.update({f"source held out: {k}": v for k, v in splits["source_held_out"]["folds"].items()})
    shortcut = report["without_shortcut_removal"]
    before = {
        "random": shortcut["random"],
        "source held out (mean)": shortcut["source_held_out"]["mean"],
    }
    if "time_held_out" in shortcut:
        before["time held out"] = shortcut["time_held_out"]
    audit = [r for r in report["feature_audit"] if r["removed"] or r["source_auc"] >= 0.8]
    audit_table = table(
        ["feature", "source AUC within a label", "label signal within an era", "removed"],
        ([r["feature"], r["source_auc"], r["label_signal"], bool(r["removed"])] for r in audit),
    )
    top = list(report["importance_gain"].items())[:10]
    context.log.info(
        f"real-mail model {bundle.version}: source-held-out {rows['source held out (mean)']}"
    )
    return dg.MaterializeResult(
        metadata={
            "version": bundle.version,
            "store": dg.MetadataValue.path(str(store_dir)),
            "messages": report["corpus"]["messages"],
            "by_source": dg.MetadataValue.json(report["corpus"]["by_source"]),
            "threshold": report["threshold"],
            "splits": dg.MetadataValue.md(_table(rows, ("recall", "fpr", "pr_auc"))),
            "with_shortcut_features": dg.MetadataValue.md(
                _table(before, ("recall", "fpr", "pr_auc"))
            ),
            "gap_random_minus_source_held_out": dg.MetadataValue.json(
                report["gap_random_minus_source_held_out"]
            ),
            "removed_features": dg.MetadataValue.json(report["removed_features"]),
            "feature_audit": dg.MetadataValue.md(audit_table),
            "top_features_by_gain": dg.MetadataValue.md(table(["feature", "gain"], top)),
            "report": dg.MetadataValue.path(str(report_path)),
        }
    )
