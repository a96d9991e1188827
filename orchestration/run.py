"""``make run``: materialise the whole graph once, in-process, on the built-in simulated mail, and
print where the deployed model went. Runs land in $DAGSTER_HOME, so ``make ui`` shows them."""

import os
import sys

import dagster as dg

from orchestration.definitions import defs
from orchestration.jobs import RETRAIN_JOB


def main() -> int:
    definitions = defs()
    instance = (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
    result = definitions.resolve_job_def(RETRAIN_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    for evaluation in failed:
        print(
            f"check failed: {evaluation.asset_key.to_user_string()} {evaluation.check_name}",
            file=sys.stderr,
        )
    deployed = (
        [m for m in result.asset_materializations_for_node("deployed_model")]
        if result.success
        else []
    )
    if not deployed:
        print(
            f"run {result.run_id} did not deploy a model (see the failed checks above and the "
            "run in `make ui`); production is unchanged",
            file=sys.stderr,
        )
        return 1
    metadata = {k: v.value for k, v in deployed[0].metadata.items()}
    print(f"deployed model {metadata['version']} -> {metadata['uri']}")
    recall, fpr, threshold = (float(str(metadata[k])) for k in ("recall", "fpr", "threshold"))
    print(f"  recall {recall:.4f}, FPR {fpr:.5f}, threshold {threshold:.6f} (held-out days)")
    print(f"  audit record: {metadata['audit_record']}")
    store = os.path.dirname(os.path.dirname(str(metadata["uri"])))
    print(f"  score mail with: attack-detection score --artifact {store} PATH...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
