"""Alerts for the on-call engineer: a short text, written to the log and, when
``ATTACK_DETECTION_ALERT_WEBHOOK_URL`` is set, posted as JSON (``{"text": ...}``, the shape Slack
and most chat webhooks accept). Posting never raises: a broken webhook must not hide the alert
that is already in the log."""

import json
import os
import urllib.error
import urllib.request

WEBHOOK_ENV = "ATTACK_DETECTION_ALERT_WEBHOOK_URL"


def post_alert(text: str, *, timeout: float = 5.0) -> str | None:
    """Post ``text`` to the webhook if one is configured. Returns an error description or None."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return None
    if not url.startswith(("https://", "http://")):
        return f"{WEBHOOK_ENV} must be an http(s) URL; alert not posted"
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"alert webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"alert webhook failed: {type(exc).__name__}"
    return None if 200 <= status < 300 else f"alert webhook answered HTTP {status}"
