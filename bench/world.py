"""The simulated world the scale benchmarks share, and where benchmarks write.

20 organisations of 575 people send about 31,000 messages a day."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path("var/bench")
TENANTS, EMPLOYEES, MESSAGES_PER_DAY = 20, 575, 31_000


def simulate(days: int, workers: int, out: Path) -> subprocess.CompletedProcess[str]:
    """``attack-detection simulate`` of this world into ``out``, as a whole process; its stdout
    (a JSON summary) is captured."""
    cli = Path(sys.executable).with_name("attack-detection")
    return subprocess.run(
        [
            str(cli),
            "simulate",
            "--days",
            str(days),
            "--tenants",
            str(TENANTS),
            "--employees",
            str(EMPLOYEES),
            "--workers",
            str(workers),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
