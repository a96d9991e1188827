"""``make bench``: run each benchmark several times and print median, min and max per figure.

Needs a deployed model for the scorer benchmark (``make run`` first; this runs it if missing).
Results are printed as JSON and written to ``var/bench/``; BENCHMARKS.md records them.
"""

import json
import statistics
import subprocess
import sys
from pathlib import Path

RUNS = 5
OUT = Path("var/bench")


def _flatten(prefix: str, value: object, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = float(value)


def repeat(module: str, args: list[str], runs: int = RUNS) -> dict[str, dict[str, float]]:
    figures: dict[str, list[float]] = {}
    for index in range(runs):
        result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                                text=True, check=True)  # fmt: skip
        flat: dict[str, float] = {}
        _flatten("", json.loads(result.stdout), flat)
        for key, value in flat.items():
            figures.setdefault(key, []).append(value)
        print(f"{module} run {index + 1}/{runs} done", file=sys.stderr)
    return {
        k: {"median": statistics.median(v), "min": min(v), "max": max(v)}
        for k, v in figures.items()
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if not Path("var/artifacts/production.json").is_file():
        subprocess.run([sys.executable, "-m", "orchestration.run"], check=True)
    results = {
        "scorer": repeat("bench.scorer", ["--artifact", "var/artifacts", "--spamc", "100"]),
    }
    text = json.dumps(results, indent=2)
    (OUT / "results.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
