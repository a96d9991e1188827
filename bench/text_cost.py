"""The text path's cost per real message, beside the content signals' on the same messages.

A fixed random sample (seeded) of the shared real-mail corpus is parsed once; then, one message
at a time on one core, each is featurised for the text model (masking, tokens, n-grams) and
scored by the deployed bundle's text model, and separately its content signals and structure
features are computed. Prints JSON: median, p90 and p99 in microseconds per message for the
text path (featurise + score), featurising alone, and the content signals + structure features
(the named comparison: the text path should cost no more than the signals).

Usage: python -m bench.text_cost [--artifact var/artifacts] [--messages 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from bench.real_mail import DEFAULT_CORPUS
from detection.features.text import TextModel
from detection.features.vector import message_values
from detection.mail.ingest import ingest
from detection.serving.registry import load_production
from detection.serving.stores import open_store


def _micros(values: list[float]) -> dict[str, float]:
    array = np.array(values) * 1e6
    return {
        "median_us": float(np.median(array)),
        "p90_us": float(np.percentile(array, 90)),
        "p99_us": float(np.percentile(array, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", default="var/artifacts")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    bundle = load_production(open_store(args.artifact))
    if bundle.text_model is None:
        raise SystemExit(f"the bundle {bundle.version} has no text model")
    model = TextModel.from_bytes(bundle.text_model)
    messages = ingest([args.corpus]).messages
    order = np.random.default_rng(7).permutation(len(messages))[: args.messages]
    sample = [messages[i] for i in order]
    text, featurise, signals = [], [], []
    for message in sample[:50]:  # warm up caches (regexes, domain lookups)
        model.score(message)
        message_values(message)
    for message in sample:
        started = time.perf_counter()
        words = model.message_words(message)
        featurised = time.perf_counter()
        model.score_words(words)
        scored = time.perf_counter()
        message_values(message)
        done = time.perf_counter()
        featurise.append(featurised - started)
        text.append(scored - started)
        signals.append(done - scored)
    result = {
        "messages": len(sample),
        "mean_kib": float(np.mean([len(m.body_text) for m in sample]) / 1024),
        "text_model_terms": len(model.terms),
        "text_path": _micros(text),
        "featurise_only": _micros(featurise),
        "content_and_structure": _micros(signals),
    }
    result["text_over_signals_median"] = (
        result["text_path"]["median_us"] / result["content_and_structure"]["median_us"]
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
