"""``message_features``' cost per message on a lake with real words: the content signals and
structure features of every message of the lake's last ``--days`` day files, computed as the asset
computes them (``file_content_frame`` per file), in one process pinned to one core.

Prints JSON: messages, seconds, microseconds per message. Imports nothing of ``bench``, so another
checkout is timed on the same lake with ``PYTHONPATH=../other python bench/features_cost.py``.

Usage: python -m bench.features_cost [--lake var/bench/pipeline-33d-real-text/lake] [--days 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lake", type=Path, default=Path("var/bench/pipeline-33d-real-text/lake"))
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    from detection.features.vector import file_content_frame

    files = sorted((args.lake / "messages").glob("*/*.parquet"))[-args.days :]
    if not files:
        raise SystemExit(
            f"no lake files under {args.lake / 'messages'}: run `python -m bench.pipeline "
            "--days 33 --text-corpus ../shared/data/real-mail` first (it leaves this lake)"
        )
    os.sched_setaffinity(0, {0})
    started = time.perf_counter()
    messages = sum(len(file_content_frame(path)) for path in files)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "files": len(files),
                "messages": messages,
                "seconds": round(seconds, 2),
                "us_per_message": round(seconds / messages * 1e6, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
