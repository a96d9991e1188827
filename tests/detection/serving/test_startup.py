"""A process that only scores does not load what it does not use: the CLI's ``score`` imports
neither LightGBM (with SciPy) nor scikit-learn, pandas, Dagster, DuckDB, Evidently, fsspec or
pyarrow's compute functions, and still scores; with TreeSHAP reasons it imports LightGBM without
scikit-learn and pandas; other processes keep LightGBM whole."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from detection.serving.scorer import Scorer
from tests.detection.serving.test_bundle_formats import PHISH, RELEASED

HEAVY = (
    "lightgbm",
    "scipy",
    "sklearn",
    "pandas",
    "dagster",
    "duckdb",
    "evidently",
    "fsspec",
    "pyarrow.compute",  # 0.13 s of wrapping every compute function, for one cast
)
PROBE = f"""
import json, sys
from detection.cli import main
code = main(sys.argv[1:])
loaded = [m for m in {HEAVY!r} if m in sys.modules]
print(json.dumps({{"code": code, "loaded": loaded}}), file=sys.stderr)
"""


def test_score_loads_nothing_it_does_not_use(tmp_path: Path):
    message = tmp_path / "one.eml"
    message.write_bytes(PHISH)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "score", "--artifact", str(RELEASED[-1]), str(message)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    assert probe == {"code": 0, "loaded": []}
    (row,) = csv.DictReader(io.StringIO(done.stdout))
    expected = Scorer.load(RELEASED[-1]).score_bytes(PHISH)  # this process loads it all
    assert row["verdict"] == expected.verdict
    assert abs(float(row["score"]) - expected.score) < 1e-6 and float(row["score"]) > 0


def test_treeshap_reasons_load_lightgbm_without_sklearn_and_pandas(tmp_path: Path):
    message = tmp_path / "one.eml"
    message.write_bytes(PHISH)
    args = ["score", "--attribution", "shap", "--artifact", str(RELEASED[-1]), str(message)]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    assert probe == {"code": 0, "loaded": ["lightgbm", "scipy"]}


def test_other_processes_keep_lightgbm_whole():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sklearn, lightgbm.compat as c; "
            "from detection.serving.startup import import_lightgbm_for_scoring as f; "
            "f(); print(c.SKLEARN_INSTALLED, c.PANDAS_INSTALLED)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.split() == ["True", "True"]
