"""Where the scorer's time goes on real mail, stage by stage, on one core.

The same fixed random sample of the shared corpus as ``bench.scorer --corpus`` (seed 7), each
message timed through each stage ``--passes`` times; a message's figure is its fastest pass
(the least disturbed by a noisy machine), and the table gives the median, p90, p99 and mean of
those per-message minima, in microseconds. Caches the scorer keeps across messages (link hosts,
brands' lookalike scores) are warm from the first pass on: the sample's few hundred hosts fit
in them. Stages:

- ``parse``: ``parse_message`` on the raw bytes (MIME, headers, HTML, links);
- ``html``: of which ``extract_html`` over the message's HTML parts, each decoded by its
  declared charset (close to what the parser hands the extractor, without its charset checks,
  part caps and per-message HTML budget; zero for a message without HTML);
- ``values``: ``message_values`` (content signals and structure features);
- ``terms`` and ``text_score``: the text model's featuriser (the words it reads) and its score
  of them;
- ``model``: the deployed model on the message's feature row (the scorer's own forest);
- ``score``: ``Scorer.score_message`` as served (reasons for attack verdicts), which includes
  ``values``, ``terms``, ``text_score`` and ``model``.

Usage: python -m bench.stages --artifact var/artifacts [--corpus ../shared/data/real-mail]
[--messages 1000] [--passes 5] [--out stages.json]
"""

from __future__ import annotations

import argparse
import email
import json
import os
import time
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

import numpy as np

from bench.scorer import readable, sample_corpus
from detection.features.vector import message_values
from detection.mail.html_text import MAX_HTML_CHARS, extract_html
from detection.mail.parsing import parse_message
from detection.serving.scorer import Scorer


def html_parts(raw: bytes) -> list[str]:
    """The message's text/html parts, decoded by their declared charset (UTF-8 if unknown)."""
    parts = []
    for part in email.message_from_bytes(raw, policy=policy.compat32).walk():
        payload = part.get_payload(decode=True)
        if part.get_content_type() == "text/html" and isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                text = payload.decode(charset, "replace")
            except (LookupError, UnicodeError, ValueError):
                text = payload.decode("utf-8", "replace")
            parts.append(text[:MAX_HTML_CHARS])
    return parts


def fastest(stage: Callable[[Any], object], items: list[Any], passes: int) -> np.ndarray:
    """Each item's fastest of ``passes`` timings (µs); passes interleave over all items."""
    best = np.full(len(items), np.inf)
    for _ in range(passes):
        for i, item in enumerate(items):
            start = time.perf_counter_ns()
            stage(item)
            best[i] = min(best[i], (time.perf_counter_ns() - start) / 1e3)
    return best


def summary(values: np.ndarray) -> dict[str, float]:
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50_us": p50, "p90_us": p90, "p99_us": p99, "mean_us": float(values.mean())}


def run(artifact: str, corpus: Path, count: int, passes: int) -> dict[str, object]:
    os.sched_setaffinity(0, {0})  # one core
    scorer = Scorer.load(artifact)
    sampled, tenant = sample_corpus(corpus, count)
    raws = readable(sampled, tenant)
    messages = [parse_message(raw, tenant_id=tenant) for raw in raws]
    for message in messages[:50]:  # warm caches, as bench.scorer does
        scorer.score_message(message)
    scorer.prepare_for_serving()
    text_model = scorer.text_model
    if text_model is None:
        raise SystemExit(f"{artifact}: the bundle has no text model; this benchmark times one")
    words = [text_model.message_words(m) for m in messages]
    rows = [scorer.feature_row(scorer.feature_vector(m)) for m in messages]
    parts = [html_parts(raw) for raw in raws]
    stages: dict[str, tuple[Callable[[Any], object], list[Any]]] = {
        "parse": (lambda raw: parse_message(raw, tenant_id=tenant), raws),
        "html": (lambda texts: [extract_html(t) for t in texts], parts),
        "values": (message_values, messages),
        "terms": (text_model.message_words, messages),
        "text_score": (text_model.score_words, words),
        "model": (lambda row: scorer.forest.probabilities(scorer.forest.leaves(row)), rows),
        "score": (scorer.score_message, messages),
    }
    return {
        "messages": len(raws),
        "with_html": sum(bool(p) for p in parts),
        "passes": passes,
        **{name: summary(fastest(stage, items, passes)) for name, (stage, items) in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", default="var/artifacts")
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/real-mail"))
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not (args.corpus / "manifest.csv").is_file():
        raise SystemExit(f"{args.corpus}: no manifest.csv; give the real-mail corpus (--corpus)")
    result = run(args.artifact, args.corpus, args.messages, args.passes)
    text = json.dumps(result, default=float)  # one line: bench.run_all reads the last line
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
