"""Runs launched the way the UI launches them: through the Dagster instance and the workspace's
code location (``dagster job launch -w workspace.yaml``), so they carry the code location's
origin. They appear on their job's **Runs** tab and the Overview timeline and can be re-executed
from the UI, which runs executed in a script's own process (``execute_in_process``) cannot.

The instance (``$DAGSTER_HOME/dagster.yaml``, from ``orchestration/dagster.yaml``) uses Dagster's
default run coordinator: a launched run starts at once in its own process, with or without the
daemon (``make ui``) running. Under a queued run coordinator the run waits for a daemon to take
it; :func:`wait` says so if none does."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = "workspace.yaml"
QUEUE_PATIENCE_S = 60.0  # how long a run may stay queued before we ask whether a daemon is up
DAEMON_SILENCE_S = 60.0  # a daemon whose last heartbeat is older than this is not running


class LaunchError(RuntimeError):
    """A run could not be launched or did not finish; the message says why and what to do."""


@dataclass(frozen=True)
class Finished:
    run: dg.DagsterRun
    problems: list[str]  # failed steps and failed checks, one line each

    @property
    def success(self) -> bool:
        return self.run.status == dg.DagsterRunStatus.SUCCESS


def launch(
    job: str,
    *,
    tags: dict[str, str] | None = None,
    run_config: dict[str, object] | None = None,
) -> str:
    """Submit ``job`` through the workspace's code location; return the new run's id."""
    run_id = str(uuid.uuid4())
    command = [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "launch",
        "-w",
        WORKSPACE,
        "-j",
        job,
        "--run-id",
        run_id,
    ]
    if tags:
        command += ["--tags", json.dumps(tags)]
    if run_config:
        command += ["--config-json", json.dumps(run_config)]
    # the run's own process outlives this command and writes its log to the same terminal
    completed = subprocess.run(command, cwd=REPO, check=False)
    if completed.returncode:
        raise LaunchError(
            f"`dagster job launch -j {job}` exited with {completed.returncode} (its error is "
            f"printed above); check that `dg check defs` loads the code location"
        )
    return run_id


def wait(
    instance: dg.DagsterInstance,
    run_id: str,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
) -> Finished:
    """Block until the run finishes (or ``timeout_s`` passes: :class:`LaunchError`); its failed
    steps and checks as lines. A run queued for a minute while no daemon is running is cancelled
    and reported: nothing would ever take it."""
    started = queued_since = time.monotonic()
    while True:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise LaunchError(
                f"run {run_id} is not in the instance at $DAGSTER_HOME: the launch wrote it "
                "elsewhere (is DAGSTER_HOME the same for both?)"
            )
        if run.is_finished:
            return Finished(run, problems(instance, run_id))
        now = time.monotonic()
        if timeout_s is not None and now - started > timeout_s:
            raise LaunchError(
                f"run {run_id} is still {run.status.value} after {timeout_s:.0f} s; see it under "
                "Runs in `make ui`"
            )
        if run.status != dg.DagsterRunStatus.QUEUED:
            queued_since = now
        elif now - queued_since > QUEUE_PATIENCE_S and not _daemon_running(instance):
            instance.run_coordinator.cancel_run(run_id)
            raise LaunchError(
                f"run {run_id} was queued for {QUEUE_PATIENCE_S:.0f} s and no daemon is running: "
                "the instance queues runs (QueuedRunCoordinator) and only the daemon takes them; "
                "the run is cancelled. Start `make ui` (its daemon launches queued runs) or use "
                "orchestration/dagster.yaml"
            )
        time.sleep(poll_s)


def _daemon_running(instance: dg.DagsterInstance) -> bool:
    beats = instance.get_daemon_heartbeats().values()
    return any(time.time() - beat.timestamp < DAEMON_SILENCE_S for beat in beats)


def problems(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """What went wrong in a run: each failed step with its error, each failed check."""
    kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    lines = []
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            lines.append(
                f"step failed: {event.step_key}: {_error_text(getattr(data, 'error', None))}"
            )
        elif isinstance(data, dg.AssetCheckEvaluation) and not data.passed:
            lines.append(f"check failed: {data.asset_key.to_user_string()} {data.check_name}")
    return lines


def _error_text(error: object) -> str:
    """The error and what caused it: Dagster wraps an exception raised in a step in its own
    ("Error occurred while executing op ..."), with the exception itself as the cause."""
    parts = []
    while error is not None and len(parts) < 5:
        message = str(getattr(error, "message", "")).strip()
        if message:
            # the wrapper's first line names the step; a cause is kept whole
            parts.append(message if parts else message.splitlines()[0])
        error = getattr(error, "cause", None)
    return " <- ".join(parts) or "no error recorded"


def materialization(
    instance: dg.DagsterInstance, run_id: str, asset: str
) -> dict[str, object] | None:
    """The metadata of ``asset``'s materialisation in the run, as plain values."""
    key = dg.AssetKey(asset)
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        done = entry.asset_materialization
        if done is not None and done.asset_key == key:
            return {name: value.value for name, value in done.metadata.items()}
    return None
