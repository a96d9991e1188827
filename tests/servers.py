"""Starting servers in tests: a free port on 127.0.0.1, and waiting until a started server
answers (failing with what it said when it exits or never answers)."""

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(
    url: str,
    process: subprocess.Popen,
    timeout: float = 60,
    output: Callable[[], str] = lambda: "",
) -> None:
    """Return once ``url`` answers 200; fail when ``process`` exits first or ``timeout``
    seconds pass (with the end of ``output()``, the server's log, in the message)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited:\n{output()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout:.0f} s:\n{output()[-3000:]}")
