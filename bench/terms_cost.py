"""What counting the term families costs per real message, by terms version (version 1: English
only; version 2: with the translations into six more languages; ``detection.features.terms``).

Every message of the shared real-mail corpus is parsed once and read as the content signals read
it (subject and the squeezed body, first 20,000 characters); then the whole corpus is counted
with each version in turn, the versions alternated, and each keeps its fastest pass (a noisy
neighbour slows a pass, never speeds it). Prints JSON: microseconds per message for each version
and their ratio.

Usage: python -m bench.terms_cost [--corpus ../shared/data/real-mail] [--passes 7]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.real_mail import DEFAULT_CORPUS
from detection.features.terms import TERMS_VERSIONS, term_counts
from detection.mail.ingest import ingest
from detection.mail.visible import Visible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--passes", type=int, default=7)
    args = parser.parse_args()
    messages = [m for m in ingest([args.corpus]).messages if m.label in ("safe", "attack")]
    texts = [f"{m.subject}\n{Visible.of(m.body_text).head}"[:20000] for m in messages]
    fastest = dict.fromkeys(TERMS_VERSIONS, float("inf"))
    for _ in range(args.passes):
        for version in TERMS_VERSIONS:
            start = time.perf_counter()
            for text in texts:
                term_counts(text, version)
            fastest[version] = min(fastest[version], time.perf_counter() - start)
    per_message = {v: seconds / len(texts) * 1e6 for v, seconds in fastest.items()}
    print(
        json.dumps(
            {
                "messages": len(texts),
                "passes": args.passes,
                "us_per_message": {str(v): round(us, 2) for v, us in per_message.items()},
                "ratio_2_to_1": round(per_message[2] / per_message[1], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
