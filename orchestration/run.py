"""``make run``: land the labelled real-mail corpus when it is present (as the pooled tenant
``corpus:real-mail``, keeping each message's own date), then six weeks of simulated mail (one
partition per day, one run), then run the whole graph after it, and print where the deployed
model went. Each run is launched through the instance at $DAGSTER_HOME and the workspace's code
location, as the UI launches it (``orchestration.launch``), so ``make ui`` shows them on their
jobs' pages and the timeline and can re-execute them."""

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from assets.mail import MAIL_START
from assets.resources import real_mail_dir
from detection.features.behaviour import POOLED_TENANT_PREFIX
from orchestration.jobs import INGEST_JOB, RETRAIN_JOB
from orchestration.launch import Finished, LaunchError, launch, materialization, wait

CORPUS_TENANT = f"{POOLED_TENANT_PREFIX}real-mail"
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


def partition_range_tags(days: int) -> dict[str, str]:
    """Tags that make one run materialise ``days`` daily partitions from the first one."""
    last = date.fromisoformat(MAIL_START) + timedelta(days=days - 1)
    return {PARTITION_RANGE_START: MAIL_START, PARTITION_RANGE_END: last.isoformat()}


def _failed(finished: Finished) -> int:
    for line in finished.problems:
        print(line, file=sys.stderr)
    run = finished.run
    print(
        f"run {run.run_id} of {run.job_name} ended {run.status.value} and did not deploy a model "
        "(see the failed steps and checks above and the run in `make ui`); production is "
        "unchanged",
        file=sys.stderr,
    )
    return 1


def _run(
    instance: dg.DagsterInstance,
    job: str,
    tags: dict[str, str] | None = None,
    run_config: dict[str, object] | None = None,
) -> Finished:
    run_id = launch(job, tags=tags, run_config=run_config)
    print(f"launched {job} run {run_id}; waiting for it to finish")
    return wait(instance, run_id)


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
    if not os.environ.get("DAGSTER_HOME"):
        print(
            "DAGSTER_HOME is not set: runs are launched through a persistent Dagster instance "
            "(`make run` sets var/dagster)",
            file=sys.stderr,
        )
        return 2
    instance = dg.DagsterInstance.get()
    corpus = args.corpus or real_mail_dir()
    try:
        return _pipeline(instance, args.days, None if args.no_corpus else corpus)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # the terminal sends Ctrl-C to the whole foreground process group, the launched run's
        # process included: Dagster stops that run and records it as failed
        print(
            "interrupted: the run in progress was sent the interrupt too; its state is under "
            "Runs in `make ui`",
            file=sys.stderr,
        )
        return 130


def _pipeline(instance: dg.DagsterInstance, days: int, corpus: Path | None) -> int:
    if corpus is None:
        print("no real-mail corpus (--no-corpus): training on simulated mail only")
    elif not (corpus / "manifest.csv").is_file() and not (corpus / "attack").is_dir():
        print(f"no labelled real-mail corpus at {corpus}: training on simulated mail only")
    else:
        print(f"landing the labelled real-mail corpus from {corpus} as tenant {CORPUS_TENANT}")
        landed = _run(instance, INGEST_JOB, {PARTITION_TAG: MAIL_START}, corpus_run_config(corpus))
        if not landed.success:
            return _failed(landed)
    ingest = _run(instance, INGEST_JOB, partition_range_tags(days))
    if not ingest.success:
        return _failed(ingest)
    result = _run(instance, RETRAIN_JOB)
    metadata = materialization(instance, result.run.run_id, "deployed_model")
    if not result.success or metadata is None:
        return _failed(result)
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
