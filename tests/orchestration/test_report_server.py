"""The reports and the runbook the UI links to: published under content-addressed names, served
over real HTTP by orchestration.report_server (report files only), and a runbook anchor for every
check the code location defines."""

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from assets import report_links
from detection import storage
from detection.storage import Location
from orchestration import report_server
from tests.servers import free_port, wait_until_answering


@pytest.fixture(params=["local", "url"])
def reports(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Location]:
    """The work directory's reports folder: a local one, and one at an fsspec URL (the in-memory
    filesystem standing for s3://), which the stages publish to and the server reads alike."""
    work = str(tmp_path / "work") if request.param == "local" else f"memory://{tmp_path.name}/work"
    monkeypatch.setenv("ATTACK_DETECTION_WORK_DIR", work)
    monkeypatch.setenv("ATTACK_DETECTION_REPORTS_URL", "http://127.0.0.1:9/")
    report_server._reports_dir.cache_clear()
    folder = report_server._reports_dir()
    assert str(folder).startswith(work)
    yield folder
    report_server._reports_dir.cache_clear()


@pytest.fixture
def served(reports: Location) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), report_server.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_a_published_report_keeps_its_link_and_the_latest_copy(reports: Location):
    latest, first = report_links.publish(reports, "prediction_drift", b"<html>one</html>", ".html")
    _, second = report_links.publish(reports, "prediction_drift", b"<html>two</html>", ".html")
    assert latest.read_bytes() == b"<html>two</html>"  # the unhashed name is the newest
    assert first != second and first.startswith("http://127.0.0.1:9/reports/published/")
    old = reports / "published" / first.rsplit("/", 1)[1]
    assert old.read_bytes() == b"<html>one</html>"  # the older run's link still opens its own


def test_only_the_newest_copies_are_kept(reports: Location):
    for n in range(report_links.KEEP + 3):
        report_links.publish(reports, "feature_drift", f"<p>{n}</p>".encode(), ".html")
    kept = sorted((reports / "published").glob("feature_drift-*.html"))
    assert len(kept) == report_links.KEEP
    texts = {p.read_text() for p in kept}
    assert f"<p>{report_links.KEEP + 2}</p>" in texts and "<p>0</p>" not in texts


def test_pictures_are_short_markdown_images_pointing_at_their_url(reports: Location):
    value = report_links.picture(reports, "score_distribution", b"\x89PNG fake")
    text = str(value.value)
    assert text.startswith("![score_distribution](http://127.0.0.1:9/reports/published/")
    assert "base64" not in text and len(text) < 200


def test_the_server_serves_reports_and_refuses_everything_else(reports: Location, served: str):
    _, url = report_links.publish(reports, "classification_quality", b"<html>ok</html>", ".html")
    storage.make_dir(reports.parent / "candidate")
    (reports.parent / "candidate" / "candidate.json").write_text("{}")
    (reports / "notes.txt").write_text("not a report")
    path = url.split("/reports/", 1)[1]
    assert _get(f"{served}/reports/{path}")[::2] == (200, b"<html>ok</html>")
    assert _get(f"{served}/reports/classification_quality.html")[0] == 200
    status, kind, body = _get(f"{served}/")
    assert status == 200 and b"classification_quality.html" in body and "html" in kind
    for refused in (
        "/reports/../candidate/candidate.json",
        "/reports/%2e%2e/candidate/candidate.json",
        "/reports/published/../../candidate/candidate.json",
        "/reports/notes.txt",
        "/reports/published/",
        "/reports/missing.html",
        "/etc/passwd",
    ):
        status, _, body = _get(f"{served}{refused}")
        assert status == 404, refused
        assert b"reports are written under" in body


def test_every_check_has_a_runbook_anchor(dbt_manifest):
    """Each check's metadata links /runbook#<check name>: the anchor must exist."""
    from orchestration.definitions import all_asset_checks

    page = report_server.render_runbook(report_server.RUNBOOK.read_text())
    names = {spec.name for checks in all_asset_checks() for spec in checks.check_specs}
    assert len(names) >= 12
    missing = sorted(n for n in names if f'id="{n}"' not in page)
    assert not missing, f"docs/oncall.md has no ### `name` heading for {missing}"


def test_the_runbook_is_served_with_anchors(served: str):
    status, kind, body = _get(f"{served}/runbook")
    assert status == 200 and kind.startswith("text/html")
    assert b'<h3 id="false_positive_rate_within_budget">' in body


def test_the_server_stops_on_sigterm_even_when_it_was_started_ignoring_it(tmp_path: Path):
    """``make ui`` and the UI tests stop it with SIGTERM; a SIGTERM ignored by whatever started
    it (inherited across exec, as in one CI run) must not keep it serving its port."""
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    env = dict(os.environ, ATTACK_DETECTION_WORK_DIR=str(tmp_path / "work"))
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.report_server", "--port", str(port)],
        cwd=Path(report_server.__file__).resolve().parents[1],
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/", process)
        process.terminate()
        assert process.wait(timeout=10) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_unreadable_order_file_does_not_stop_publishing(reports: Location):
    for n in range(3):
        report_links.publish(reports, "feature_drift", f"<p>{n}</p>".encode(), ".html")
    (reports / "published" / "feature_drift.html.order.json").write_text("{half a list")
    for n in range(3, report_links.KEEP + 3):
        report_links.publish(reports, "feature_drift", f"<p>{n}</p>".encode(), ".html")
    kept = {p.read_text() for p in (reports / "published").glob("feature_drift-*.html")}
    assert len(kept) == report_links.KEEP and f"<p>{report_links.KEEP + 2}</p>" in kept


def test_the_index_says_none_yet_before_any_report(tmp_path: Path):
    """On an object store the reports folder exists only once a report is written."""
    empty = storage.location(f"memory://{tmp_path.name}-empty/work/reports")
    assert "none yet" in report_server.index_page(empty)
