"""Where the time goes: pyinstrument call-stack profiles of the two hot paths.

- ``scorer``: ``Scorer.score_bytes`` (production default) over the scorer benchmark's messages,
  repeated, on one core;
- ``features``: the content signals of one lake day (what ``message_features`` runs per file).

Writes ``var/bench/profile-<what>.txt`` and ``.html`` (open it in a browser) and prints the text.

Usage: python -m bench.profile scorer [--artifact var/artifacts] [--repeats 20] [--corpus DIR]
       python -m bench.profile features [--lake var/bench/lake-1000000]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pyinstrument import Profiler

OUT = Path("var/bench")


def profile_scorer(artifact: str, repeats: int, corpus: Path | None) -> Profiler:
    from bench.scorer import readable, sample_corpus, sample_mail
    from detection.serving.scorer import Scorer

    os.sched_setaffinity(0, {0})
    scorer = Scorer.load(artifact)
    sampled, tenant = sample_corpus(corpus, 1000) if corpus else sample_mail(2000)
    raws = readable(sampled, tenant)
    for raw in raws[:50]:
        scorer.score_bytes(raw, tenant_id=tenant)
    profiler = Profiler(interval=0.0001)
    with profiler:
        for _ in range(repeats):
            for raw in raws:
                scorer.score_bytes(raw, tenant_id=tenant)
    return profiler


def profile_features(lake: Path) -> Profiler:
    from detection.features.vector import file_content_frame

    first = sorted((lake / "messages").glob("*/*.parquet"))[0]
    profiler = Profiler(interval=0.001)
    with profiler:
        file_content_frame(first)
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("scorer", "features"))
    parser.add_argument("--artifact", default="var/artifacts")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--lake", type=Path, default=Path("var/bench/lake-1000000"))
    parser.add_argument("--corpus", type=Path, help="scorer: a real-mail corpus's sample instead")
    args = parser.parse_args()
    if args.what == "scorer":
        profiler = profile_scorer(args.artifact, args.repeats, args.corpus)
    else:
        profiler = profile_features(args.lake)
    OUT.mkdir(parents=True, exist_ok=True)
    text = profiler.output_text(color=False, show_all=False)
    (OUT / f"profile-{args.what}.txt").write_text(text)
    (OUT / f"profile-{args.what}.html").write_text(profiler.output_html())
    print(text)


if __name__ == "__main__":
    main()
