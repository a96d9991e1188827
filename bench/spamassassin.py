"""SpamAssassin's ``spamc`` on the same messages, as the comparison a user would otherwise run.

Starts ``spamd`` on 127.0.0.1 with local tests only (no network lookups), times one ``spamc``
round trip per message, then stops the daemon. Returns None where SpamAssassin is not installed
(Debian package ``spamassassin``).
"""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"spamd did not listen on 127.0.0.1:{port} within {seconds} s")


def time_spamc(raws: list[bytes]) -> dict[str, float] | None:
    spamd, spamc = shutil.which("spamd"), shutil.which("spamc")
    if not spamd or not spamc:
        return None
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        pidfile = Path(tmp) / "spamd.pid"
        daemon = subprocess.Popen(
            [
                spamd,
                "--local",
                "--listen",
                f"127.0.0.1:{port}",
                "--max-children",
                "1",
                "--pidfile",
                str(pidfile),
                "--syslog",
                "stderr",
                "--username",
                "nobody",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(port, 120)
            times = []
            for raw in raws:
                start = time.perf_counter()
                subprocess.run(
                    [spamc, "-d", "127.0.0.1", "-p", str(port), "-c"],
                    input=raw,
                    stdout=subprocess.DEVNULL,
                    check=False,
                )
                times.append((time.perf_counter() - start) * 1000)
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    values = np.asarray(times)
    return {
        "messages": len(raws),
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
    }
