import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from detection.alerts import WEBHOOK_ENV, post_alert


@pytest.fixture
def webhook():
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204 if received[-1]["text"] != "fail" else 500)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def test_posts_to_the_webhook_and_reports_problems(webhook, monkeypatch):
    url, received = webhook
    assert post_alert("nothing configured") is None
    monkeypatch.setenv(WEBHOOK_ENV, url)
    assert post_alert("run failed") is None
    assert received == [{"text": "run failed"}]
    assert post_alert("fail") == "alert webhook answered HTTP 500"
    monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:9/unreachable")
    assert (post_alert("x") or "").startswith("alert webhook failed")
    monkeypatch.setenv(WEBHOOK_ENV, "file:///etc/passwd")
    assert "must be an http(s) URL" in (post_alert("x") or "")
