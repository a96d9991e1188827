"""Links from the Dagster UI to what on-call must open: the Evidently reports, the pictures and the
runbook, served over HTTP by ``python -m orchestration.report_server`` (which ``make ui`` starts
beside the UI, on 127.0.0.1:3001 unless ``$ATTACK_DETECTION_REPORTS_URL`` says otherwise).

A report is published under a name that carries its content's hash (``reports/published/
<name>-<sha256[:12]>.<ext>``), so the link in a run's metadata keeps opening that run's report
after later runs write theirs; the newest :data:`KEEP` copies of each name are kept. The
unhashed ``reports/<name>.<ext>`` beside it is always the latest (what scripts read).

Pictures are markdown images that point at their URL: short markdown, which the UI renders in
place (a data-URI image is long markdown, which it hides behind "[Show Markdown]").
"""

import hashlib
import json
import os

import dagster as dg

from detection import storage
from detection.storage import Location

DEFAULT_URL = "http://127.0.0.1:3001"
PUBLISHED = "published"
KEEP = 5  # copies of each report kept for older runs' links


def base_url() -> str:
    """Where the report server answers ($ATTACK_DETECTION_REPORTS_URL), without a trailing
    slash; read when a run uses it."""
    return (os.environ.get("ATTACK_DETECTION_REPORTS_URL") or DEFAULT_URL).rstrip("/")


def publish(reports: "Location", name: str, data: bytes, suffix: str) -> "tuple[Location, str]":
    """Write ``data`` as the latest ``reports/<name><suffix>`` and as its content-addressed copy;
    return the latest file's path and the copy's URL."""
    latest = reports / f"{name}{suffix}"
    latest.write_bytes(data)
    published = reports / PUBLISHED
    storage.make_dir(published)
    digest = hashlib.sha256(data).hexdigest()[:12]
    copy = published / f"{name}-{digest}{suffix}"
    copy.write_bytes(data)
    # the copies' order is kept in a small file beside them, not read from modification times:
    # an object store's are whole seconds, and several runs publish within one
    order_file = published / f"{name}{suffix}.order.json"
    order = [digest, *(d for d in _order(published, name, suffix, order_file) if d != digest)]
    for stale in order[KEEP:]:
        (published / f"{name}-{stale}{suffix}").unlink(missing_ok=True)
    storage.write_bytes(order_file, json.dumps(order[:KEEP]).encode())
    return latest, f"{base_url()}/reports/{PUBLISHED}/{copy.name}"


def _order(published: "Location", name: str, suffix: str, order_file: "Location") -> list[str]:
    """The copies' digests, newest first: as the order file lists them, then any copy it does not
    list (published before the file existed, or by a run whose list another run overwrote) by
    modification time; an unreadable order file counts as none."""
    try:
        listed = [str(d) for d in json.loads(order_file.read_text())]
    except (OSError, ValueError, TypeError):
        listed = []
    copies = sorted(
        published.glob(f"{name}-*{suffix}"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    found = [p.name[len(name) + 1 : -len(suffix)] for p in copies]
    return [d for d in listed if d in found] + [d for d in found if d not in listed]


def report_metadata(
    reports: "Location", name: str, html: str, key: str = "report"
) -> dict[str, dg.MetadataValue]:
    """An Evidently report published: ``key``, a link that opens it, and ``<key>_file``, the
    path of the latest copy."""
    latest, url = publish(reports, name, html.encode(), ".html")
    return {
        key: dg.MetadataValue.url(url),
        f"{key}_file": dg.MetadataValue.path(str(latest)),
    }


def picture(reports: "Location", name: str, png: bytes) -> dg.MetadataValue:
    """A PNG published and shown in place: a markdown image pointing at its URL."""
    _, url = publish(reports, name, png, ".png")
    return dg.MetadataValue.md(f"![{name}]({url})")


def runbook_url(check: str) -> str:
    """``check``'s entry in the on-call runbook (docs/oncall.md, served rendered)."""
    return f"{base_url()}/runbook#{check}"


def runbook(check: str) -> dict[str, dg.MetadataValue]:
    """The runbook link as check metadata."""
    return {"runbook": dg.MetadataValue.url(runbook_url(check))}
