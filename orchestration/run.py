"""``make run``: land six weeks of simulated mail (one partition per day, one run), then run the
whole graph after it in-process, and print where the deployed model went. Runs land in
$DAGSTER_HOME, so ``make ui`` shows them."""

import argparse
import os
import sys
from datetime import date, timedelta

import dagster as dg

from assets.mail import MAIL_START
from orchestration.definitions import defs
from orchestration.jobs import INGEST_JOB, RETRAIN_JOB

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=42, help="days of simulated mail to land")
    args = parser.parse_args()
    definitions = defs()
    instance = (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
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
    recall, fpr, threshold = (float(str(metadata[k])) for k in ("recall", "fpr", "threshold"))
    store = os.path.dirname(os.path.dirname(str(metadata["uri"])))
    print(f"deployed model {metadata['version']} -> {metadata['uri']}")
    print(f"  recall {recall:.4f}, FPR {fpr:.5f}, threshold {threshold:.6f} (held-out days)")
    print(f"  audit record: {metadata['audit_record']}")
    print(f"  score mail with: attack-detection score --artifact {store} PATH...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
