"""The Dagster UI as on-call opens it, in a real browser (headless Chromium driven by Playwright):
``dagster-webserver`` serves the workspace the README's ``make ui`` serves, and the pages an
engineer reads when something goes wrong show what the code declares: the code location loaded,
the jobs with their descriptions, the sensors with what they do, the blocking gate checks on the
model evaluation, the dbt baselines in the lineage; and what the metadata links to (pictures shown
in place, an Evidently report and the runbook opened through ``orchestration.report_server``, as
``make ui`` starts it beside the UI); and a run launched through the UI's GraphQL API runs to
success and is listed on its job's Runs tab."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_answering
from tests.system_deps import browser_missing, chromium_path, require

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LOCATION = "orchestration.definitions"  # workspace.yaml's python_module
# Chromium as root in a container, on a machine with no way out: no sandbox (root), no GPU, and
# none of the background connections that a closed network refuses
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dagster-home")
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.fixture(scope="module")
def webserver(session_env: Path, dbt_manifest: Path, dagster_home: Path) -> Iterator[str]:
    require(browser_missing())
    home = dagster_home
    port = free_port()
    log = home / "webserver.log"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    webserver = Path(sys.executable).with_name("dagster-webserver")
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/server_info", process, 180, log.read_text)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def launched_run(webserver: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A run of ``ingest_job`` launched through the webserver's GraphQL API (the mutation the
    Launch button sends), landing one message from a folder; the id of the run, which must
    succeed: the local instance starts launched runs without a daemon."""
    import time

    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    from orchestration.run import PARTITION_TAG

    mail = tmp_path_factory.mktemp("mail")
    (mail / "one.eml").write_text(
        "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: lunch\n"
        "Date: Mon, 05 Jan 2026 10:00:00 +0000\nMessage-ID: <1@example.com>\n\n"
        "See you at noon.\n"
    )
    config = {"source": "path", "path": str(mail), "tenant_id": "browser-test"}
    port = int(webserver.rsplit(":", 1)[1])
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    run_id = client.submit_job_execution(
        "ingest_job",
        run_config={"ops": {"raw_messages": {"config": config}}},
        tags={PARTITION_TAG: "2026-01-05"},
    )
    deadline = time.monotonic() + 300
    status = client.get_run_status(run_id)
    finished = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    while status not in finished and time.monotonic() < deadline:
        time.sleep(1)
        status = client.get_run_status(run_id)
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {status}"
    return run_id


@pytest.fixture(scope="module")
def browser(webserver: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})  # type: ignore[attr-defined]
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        # a picture of the page for whoever reads a failure (kept under pytest's tmp_path)
        page.screenshot(path=str(tmp_path / f"{request.node.name}.png"), full_page=True)
        page.close()


def _text(page, webserver: str, path: str, *expected: str) -> None:
    """Open ``path`` and wait until every ``expected`` text is visible."""
    from playwright.sync_api import expect

    page.goto(f"{webserver}{path}")
    # a first visit shows Dagster's "join the community" dialog over the page: skip it
    skip = page.get_by_role("button", name="Skip")
    page.wait_for_load_state("networkidle")
    if skip.count():
        skip.click()
    for text in expected:
        expect(page.get_by_text(text, exact=False).first).to_be_visible()


def test_code_location_loads_without_errors(page, webserver):
    _text(page, webserver, "/locations", LOCATION)
    from playwright.sync_api import expect

    expect(page.get_by_text("Loaded", exact=False).first).to_be_visible()
    expect(page.get_by_text("Failed", exact=True)).to_have_count(0)


def test_jobs_carry_their_descriptions(page, webserver):
    _text(
        page,
        webserver,
        f"/locations/{LOCATION}/jobs/ingest_job",
        "Land one or more days of mail",
    )
    _text(
        page,
        webserver,
        f"/locations/{LOCATION}/jobs/retrain_job",
        "Compute features over all landed mail, retrain, evaluate",
    )


def test_a_launched_run_is_on_its_jobs_runs_tab(page, webserver, launched_run):
    """A launched run carries the code location's origin, which the job's Runs tab filters on;
    a run executed in a script's own process has none and is missing there. ``make run`` launches
    its runs through the code location too (tests/orchestration/test_launch.py)."""
    _text(page, webserver, f"/locations/{LOCATION}/jobs/ingest_job/runs", launched_run[:8])
    _text(page, webserver, f"/runs/{launched_run}", "Success", "Re-execute")
    _text(page, webserver, "/overview/activity/timeline", "ingest_job")
    # the checks the run evaluated show their results on the asset
    _text(page, webserver, "/assets/raw_messages?view=checks", "quarantine_rate_within_bound")
    from playwright.sync_api import expect

    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()


def test_sensors_say_what_they_do(page, webserver):
    _text(
        page,
        webserver,
        f"/locations/{LOCATION}/sensors/drift_retrain_sensor",
        "Requests one retraining run per drift episode",
    )
    _text(
        page,
        webserver,
        f"/locations/{LOCATION}/sensors/feature_automation_sensor",
        "Declarative automation",
    )


def test_gate_checks_show_on_the_model_evaluation(page, webserver):
    """The four gate checks are listed; a blocking check opens on what to do when it fails."""
    _text(
        page,
        webserver,
        "/assets/model_evaluation?view=checks",
        "Checks (4)",
        "recall_at_threshold",
        "category_recall_at_floor",
        "prediction_drift",
    )
    _text(
        page,
        webserver,
        "/assets/model_evaluation?view=checks&checkDetail=false_positive_rate_within_budget",
        "The false-positive rate on held-out safe mail must stay within the gate",
        "look at by_tenant and the rules",
    )


def test_lineage_shows_the_dbt_baselines(page, webserver):
    _text(page, webserver, "/assets/fct_message_behaviour", "fct_message_behaviour")
    _text(page, webserver, "/asset-groups", "baselines", "features")


@pytest.fixture(scope="module")
def report_server(session_env: Path) -> Iterator[str]:
    """``python -m orchestration.report_server`` as ``make ui`` starts it, on a free port, with
    the links the stages write pointing at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATTACK_DETECTION_REPORTS_URL", url)
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.report_server"], cwd=REPO, env=dict(os.environ)
        )
        try:
            wait_until_answering(f"{url}/", process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # as the webserver's: a stopped child ignores TERM
                process.kill()
                process.wait(timeout=30)


def test_pictures_reports_and_runbook_open_from_the_ui(
    page, webserver, dagster_home, report_server
):
    """The metadata model_evaluation and its checks write (built by the stages' own helpers, a
    real Evidently report and real pictures) shows in the UI: the picture in place, without a
    click (loaded: naturalWidth > 0); the report link opens the Evidently report; the check's
    runbook link opens its entry; the check shows its result and its blocking badge."""
    import dagster as dg
    import numpy as np
    from playwright.sync_api import expect

    from assets.report_links import picture, report_metadata, runbook
    from assets.resources import WorkDirResource
    from detection.model import plots
    from detection.model.drift import classification_quality

    reports = WorkDirResource().open().reports
    y = np.array([0, 1] * 100)
    scores = np.clip(y * 0.6 + np.linspace(0, 0.4, 200), 0, 1)
    quality = classification_quality(y, scores, 0.5)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="model_evaluation",
            metadata={
                "picture_precision_recall": picture(
                    reports, "precision_recall", plots.precision_recall_png(y, scores, 0.5)
                ),
                **report_metadata(reports, "classification_quality", quality.html),
            },
        )
    )
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("model_evaluation"),
            check_name="false_positive_rate_within_budget",
            passed=True,
            metadata=runbook("false_positive_rate_within_budget"),
        )
    )

    _text(page, webserver, "/assets/model_evaluation", "picture_precision_recall")
    image = page.locator(f"img[src^='{report_server}/reports/published/precision_recall-']")
    expect(image.first).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.first.element_handle()
    )
    link = page.locator(f"a[href^='{report_server}/reports/published/classification_quality-']")
    href = link.first.get_attribute("href")
    assert href
    response = page.goto(href)
    assert response is not None and response.ok
    expect(page.get_by_text("Model Quality Metrics").first).to_be_visible()  # drawn by its JS

    _text(
        page,
        webserver,
        "/assets/model_evaluation?view=checks&checkDetail=false_positive_rate_within_budget",
        "runbook",
        # the gate's check: its result, and the badge that says a failure stops deployment
        "Succeeded",
        "This is a blocking asset check.",
    )
    runbook_link = page.locator(
        f"a[href='{report_server}/runbook#false_positive_rate_within_budget']"
    )
    href = runbook_link.first.get_attribute("href")
    assert href
    page.goto(href)
    expect(page.locator("#false_positive_rate_within_budget")).to_be_visible()


def test_a_range_of_simulated_days_is_chosen_in_the_launch_dialog(page, webserver):
    """The README's steps to land a range of days from the UI: the dialog shows the last 90 days
    first; "Show all partitions" and a typed range select the simulated world's six weeks."""
    from playwright.sync_api import expect

    _text(page, webserver, f"/locations/{LOCATION}/jobs/ingest_job", "ingest_job")
    page.get_by_role("button", name="Materialize all").first.click()
    page.get_by_text("Show all partitions").click()
    box = page.get_by_placeholder("ex: 2026-01-05", exact=False)
    box.fill("[2026-01-05...2026-02-15]")
    box.press("Enter")
    expect(page.get_by_text("42 partitions").first).to_be_visible()
    expect(page.get_by_role("button", name="Launch backfill")).to_be_enabled()
