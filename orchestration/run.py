"""``make run``: land the labelled real-mail corpus when it is present (as the pooled tenant
``corpus:real-mail``, keeping each message's own date), then six weeks of simulated mail (one
partition per day, one run), then run the whole graph after it in-process, and print where the
deployed model went. Runs land in $DAGSTER_HOME, so ``make ui`` shows them."""

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from assets.mail import MAIL_START
from assets.resources import real_mail_dir
from detection.features.behaviour import POOLED_TENANT_PREFIX
from orchestration.definitions import defs
from orchestration.jobs import INGEST_JOB, RETRAIN_JOB

CORPUS_TENANT = f"{POOLED_TENANT_PREFIX}real-mail"
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


def partition_range_tags(days: int) -> dict[str, str]:
    """Tags that make one run materialise ``days`` daily partitions from the first one."""
    last = date.fromisoformat(MAIL_START) + timedelta(days=days - 1)
    return {PARTITION_RANGE_START: MAIL_START, PARTITION_RANGE_END: last.isoformat()}


def _failed(result: dg.ExecuteInProcessResult) -> int:
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            key = evaluation.asset_key.to_user_string()
            print(f"check failed: {key} {evaluation.check_name}", file=sys.stderr)
    print(
        f"run {result.run_id} did not deploy a model (see the failed checks above and the run in "
        "`make ui`); production is unchanged",
        file=sys.stderr,
    )
    return 1


def corpus_run_config(path: Path) -> dict[str, object]:
    config = {"source": "path", "path": str(path), "tenant_id": CORPUS_TENANT}
    return {"ops": {"raw_messages": {"config": config}}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=42, help="days of simulated mail to land")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="labelled real mail to land (manifest.csv or safe/ attack/ folders); default "
        "$ATTACK_DETECTION_REAL_MAIL_DIR, else ../shared/data/real-mail",
    )
    parser.add_argument("--no-corpus", action="store_true", help="simulated mail only")
    args = parser.parse_args()
    definitions = defs()
    instance = (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
    corpus = args.corpus or real_mail_dir()
    if args.no_corpus:
        print("no real-mail corpus (--no-corpus): training on simulated mail only")
    elif not (corpus / "manifest.csv").is_file() and not (corpus / "attack").is_dir():
        print(f"no labelled real-mail corpus at {corpus}: training on simulated mail only")
    else:
        print(f"landing the labelled real-mail corpus from {corpus} as tenant {CORPUS_TENANT}")
        landed = definitions.resolve_job_def(INGEST_JOB).execute_in_process(
            instance=instance,
            partition_key=MAIL_START,
            run_config=corpus_run_config(corpus),
            raise_on_error=False,
        )
        if not landed.success:
            return _failed(landed)
    ingest = definitions.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, tags=partition_range_tags(args.days), raise_on_error=False
    )
    if not ingest.success:
        return _failed(ingest)
    result = definitions.resolve_job_def(RETRAIN_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )
    deployed = result.asset_materializations_for_node("deployed_model") if result.success else []
    if not deployed:
        return _failed(result)
    metadata = {k: v.value for k, v in deployed[0].metadata.items()}
    recall, fpr, threshold, with_history = (
        float(str(metadata[k])) for k in ("recall", "fpr", "threshold", "with_history_threshold")
    )
    store = os.path.dirname(os.path.dirname(str(metadata["uri"])))
    print(f"deployed model {metadata['version']} -> {metadata['uri']}")
    print(f"  held-out days: recall {recall:.4f}, FPR {fpr:.5f}")
    print(
        f"  thresholds: {threshold:.6f} for mail without tenant history, "
        f"{with_history:.6f} for tenants with history"
    )
    print(f"  audit record: {metadata['audit_record']}")
    print(f"  score mail with: attack-detection score --artifact {store} PATH...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
