"""Serves what the UI's links open: the Evidently reports and pictures the stages write under the
work directory's ``reports/``, and the on-call runbook (docs/oncall.md, rendered, an anchor per
check). ``make ui`` starts it beside ``dg dev``; the links come from :mod:`assets.report_links`.

It serves report files only (``.html`` and ``.png`` under ``reports/``, by plain names: no
directory listings, nothing outside that folder) and binds to 127.0.0.1 by default: the reports
describe the organisations' mail. Usage::

    python -m orchestration.report_server [--host 127.0.0.1] [--port 3001]
"""

import argparse
import html
import re
import signal
import sys
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from detection.storage import Location

REPO = Path(__file__).resolve().parent.parent
RUNBOOK = REPO / "docs" / "oncall.md"
TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png"}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
# a runbook heading that names a check or sensor: ### `name` (...)
_NAMED_HEADING = re.compile(r"<h3><code>([a-z0-9_]+)</code>")


def render_runbook(markdown: str) -> str:
    """docs/oncall.md as a page; each heading that names a check or sensor gets that name as its
    anchor (``/runbook#false_positive_rate_within_budget``)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    body = _NAMED_HEADING.sub(r'<h3 id="\1"><code>\1</code>', body)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>On-call runbook</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.45}"
        "code{background:#f3f3f3;padding:0 .2em}h3:target{background:#fff3c4}</style>"
        f"</head><body>{body}</body></html>"
    )


@cache
def _reports_dir() -> "Location":
    from assets.resources import WorkDirResource

    return WorkDirResource().open().reports


def report_file(reports: "Location", path: str) -> "Location | None":
    """The file ``path`` (after ``/reports/``) names, or None when it is not a report file:
    one plain name, or ``published/`` and one plain name, with a served suffix."""
    parts = unquote(path).split("/")
    if not 1 <= len(parts) <= 2 or (len(parts) == 2 and parts[0] != "published"):
        return None
    if not _NAME.match(parts[-1]) or Path(parts[-1]).suffix not in TYPES:
        return None
    candidate = reports.joinpath(*parts)
    return candidate if candidate.is_file() else None


def index_page(reports: "Location") -> str:
    # on an object store the folder does not exist until the first report is written
    files = reports.iterdir() if reports.is_dir() else []
    names = sorted(p.name for p in files if p.is_file() and p.suffix in TYPES)
    items = "".join(f"<li><a href='/reports/{quote(n)}'>{html.escape(n)}</a></li>" for n in names)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Reports</title></head><body>"
        "<h1>Attack detection: reports</h1><p><a href='/runbook'>On-call runbook</a></p>"
        f"<h2>Latest reports</h2><ul>{items or '<li>none yet: run the pipeline</li>'}</ul>"
        "</body></html>"
    )


class Handler(BaseHTTPRequestHandler):
    server_version = "attack-detection-reports"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        reports = _reports_dir()
        if path == "/runbook":
            self._send(HTTPStatus.OK, TYPES[".html"], render_runbook(RUNBOOK.read_text()).encode())
        elif path == "/":
            self._send(HTTPStatus.OK, TYPES[".html"], index_page(reports).encode())
        elif path.startswith("/reports/") and (found := report_file(reports, path[9:])):
            self._send(HTTPStatus.OK, TYPES[found.suffix], found.read_bytes())
        else:
            message = (
                f"no report at {path}: reports are written under {reports} when the pipeline "
                "runs; see / for the latest ones"
            )
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", message.encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the UI's own log is the place for access noise; errors reach the client


def main(argv: list[str] | None = None) -> None:
    from assets.report_links import base_url

    default = urlsplit(base_url())
    parser = argparse.ArgumentParser(
        description="Serve the reports and the runbook the UI links to."
    )
    parser.add_argument("--host", default=default.hostname or "127.0.0.1", help="bind address")
    parser.add_argument("--port", type=int, default=default.port or 3001, help="port")
    args = parser.parse_args(argv)
    # it is stopped with SIGTERM (make ui's trap, the UI tests): a SIGTERM ignored by whatever
    # started it, inherited across exec, kept one serving its port after its CI run had ended
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    sys.stderr.write(f"reports and runbook on http://{args.host}:{args.port}/ ({_reports_dir()})\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
