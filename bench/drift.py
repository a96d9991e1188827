"""Evidently at one million rows: the feature-drift check (two windows of up to 1M rows each,
every model feature) and the classification report, as the assets run them (seeded sampling).

Reads the training table of the whole-graph benchmark (bench/pipeline.py) and repeats it up to
``--rows`` rows per window, so the data is real feature rows at the wanted volume.

Usage: python -m bench.drift --rows 1000000 [--table PATH]
(default PATH: var/bench/pipeline-33d/work/training_table.parquet)
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from detection.features.vector import FEATURE_COLUMNS
from detection.model.drift import classification_quality, data_drift


def _window(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    repeats = -(-rows // len(frame))
    return pd.concat([frame] * repeats, ignore_index=True).iloc[:rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--table", type=Path, default=Path("var/bench/pipeline-33d/work/training_table.parquet")
    )
    args = parser.parse_args()
    frame = pd.read_parquet(args.table).sort_values("received_at", ignore_index=True)
    half = len(frame) // 2
    reference = _window(frame.iloc[:half], args.rows)
    current = _window(frame.iloc[half:], args.rows)
    started = time.perf_counter()
    drift = data_drift(reference, current, list(FEATURE_COLUMNS), drift_share_threshold=0.3)
    drift_seconds = time.perf_counter() - started
    y = current["is_attack"].to_numpy(dtype=int)
    scores = np.clip(current["url_domains_new_to_tenant"].to_numpy(dtype=float) / 3, 0, 1)
    started = time.perf_counter()
    classification_quality(y, scores, 0.5)
    quality_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows_per_window": args.rows,
                "features": len(FEATURE_COLUMNS),
                "feature_drift_seconds": drift_seconds,
                "classification_report_seconds": quality_seconds,
                "drift_share": drift.drift_share,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
