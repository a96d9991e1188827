"""Scorer benchmark: raw RFC 822 bytes to verdict, on one core.

Measures, in one process and on the same messages:
- single-message latency (p50, p99) of ``Scorer.score_bytes`` with and without explanations;
- batch throughput of parse + ``Scorer.score_batch`` (messages per second);
- LightGBM's bare single-row ``Booster.predict`` on the same model, for the overhead ratio;
- with ``--spamc N``: SpamAssassin's spamc on the first N of the same messages.

Single-message figures: ``single_ms`` is the production default (reasons only for attack
verdicts, ranked by per-leaf path attributions), ``single_all_reasons_ms`` explains every message,
``single_no_reasons_ms`` none; the ``*_shap_ms`` figures are the same with exact TreeSHAP reasons
(the scorer's ``attribution="shap"``, what it did before).

With ``--corpus DIR`` the messages are a fixed random sample (seed 7) of a labelled real-mail
corpus instead (``../shared/data/real-mail``: every source, attacks and safe mail, HTML and
broken MIME as they come), scored for the default tenant (no history), as a new customer's
first day would be.

Usage: python -m bench.scorer --artifact var/artifacts [--messages 2000] [--corpus DIR]
    [--spamc N] [--out results.json]
"""

import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.spamassassin import time_spamc
from detection.mail.parsing import ParseError, parse_message
from detection.serving.scorer import Scorer
from detection.simulation.generator import SimulationConfig, simulate
from detection.simulation.render import render_rfc822


def sample_mail(count: int) -> tuple[list[bytes], str]:
    """Rendered simulated mail from the demo world (one tenant's day mix, attacks enriched)."""
    config = SimulationConfig(days=3, tenants=3, employees=30, attack_rate=0.1, seed=7)
    messages = [m for _, day in simulate(config) for m in day]
    tenant = messages[0].tenant_id
    chosen = [m for m in messages if m.tenant_id == tenant][:count]
    return [render_rfc822(m) for m in chosen], tenant


def sample_corpus(corpus: Path, count: int) -> tuple[list[bytes], str]:
    """A fixed random sample of the corpus's messages (the files as received), seed 7."""
    with open(corpus / "manifest.csv", newline="") as handle:
        paths = sorted(row["path"] for row in csv.DictReader(handle))
    order = np.random.default_rng(7).permutation(len(paths))[:count]
    return [(corpus / paths[i]).read_bytes() for i in order], "default"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def attack_rows(scorer: Scorer, raws: list[bytes], tenant: str) -> list[np.ndarray]:
    """The feature rows of the sample's messages the scorer calls attacks."""
    rows = []
    for raw in raws:
        message = parse_message(raw, tenant_id=tenant)
        if scorer.score_message(message, explain=False).verdict == "attack":
            rows.append(scorer.feature_row(scorer.feature_vector(message)))
    return rows


def reasons_fidelity(path: Scorer, exact: Scorer, rows: list[np.ndarray]) -> dict[str, float]:
    """Path attributions against exact TreeSHAP on attack verdicts: how often the strongest
    feature agrees, and how much of the TreeSHAP value of TreeSHAP's own top three the three
    path reasons carry. Also the largest error of bias + attributions against the raw score
    (both decompose it exactly)."""
    assert path.explainer is not None
    agree, carried, error = [], [], 0.0
    for row in rows:
        fast, shap = path.contributions(row), exact.contributions(row)
        raw_score = float(np.asarray(path.booster.predict(row, raw_score=True))[0])
        error = max(error, abs(path.explainer.bias + fast.sum() - raw_score))
        top_fast, top_shap = np.argsort(-fast)[:3], np.argsort(-shap)[:3]
        agree.append(float(top_fast[0] == top_shap[0]))
        best = np.clip(shap[top_shap], 0, None).sum()
        carried.append(float(np.clip(shap[top_fast], 0, None).sum() / best) if best > 0 else 1.0)
    return {
        "attack_verdicts": len(agree),
        "top_feature_agrees": statistics.mean(agree) if agree else float("nan"),
        "top3_shap_value_carried_median": statistics.median(carried) if carried else float("nan"),
        "top3_shap_value_carried_min": min(carried) if carried else float("nan"),
        "max_decomposition_error": error,
    }


def readable(raws: list[bytes], tenant: str) -> list[bytes]:
    """The messages the parser reads (the rest are held as suspicious: no model to time)."""
    kept = []
    for raw in raws:
        try:
            parse_message(raw, tenant_id=tenant)
        except ParseError:
            continue
        kept.append(raw)
    return kept


def explain_cost(scorer: Scorer, rows: list[np.ndarray]) -> dict[str, float]:
    """Milliseconds to explain one attack verdict (reasons alone)."""
    costs = []
    for row in rows:
        start = time.perf_counter_ns()
        scorer.contributions(row)
        costs.append((time.perf_counter_ns() - start) / 1e6)
    return {"p50": percentile(costs, 50), "p99": percentile(costs, 99)}


def run(
    artifact: str, count: int, repeats: int, spamc_messages: int, corpus: Path | None = None
) -> dict[str, object]:
    os.sched_setaffinity(0, {0})  # one core
    scorer = Scorer.load(artifact)
    exact = Scorer.load(artifact, attribution="shap")
    sampled, tenant = sample_corpus(corpus, count) if corpus else sample_mail(count)
    raws = readable(sampled, tenant)
    for raw in raws[:50]:  # warm caches (domain parsing, regex, LightGBM)
        scorer.score_bytes(raw, tenant_id=tenant)
        exact.score_bytes(raw, tenant_id=tenant)
    scorer.prepare_for_serving()  # as a serving process does once loaded

    # Every mode scores every message in turn, in rotating order, so that all modes see the
    # same machine: a noisy neighbour or a warm-up effect lands on all of them, not on one pass.
    modes: dict[str, tuple[Scorer, bool | None]] = {
        "single_ms": (scorer, None),
        "single_all_reasons_ms": (scorer, True),
        "single_no_reasons_ms": (scorer, False),
        "single_shap_ms": (exact, None),
        "single_all_reasons_shap_ms": (exact, True),
    }
    names = list(modes)
    timings: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(repeats * len(raws)):
        raw = raws[turn % len(raws)]
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            which, explain = modes[name]
            start = time.perf_counter_ns()
            which.score_bytes(raw, tenant_id=tenant, explain=explain)
            timings[name].append((time.perf_counter_ns() - start) / 1e6)
    single = {
        name: {"p50": percentile(values, 50), "p99": percentile(values, 99)}
        for name, values in timings.items()
    }

    start = time.perf_counter()
    parsed = [parse_message(raw, tenant_id=tenant) for raw in raws]
    scorer.score_batch(parsed)
    batch_seconds = time.perf_counter() - start

    features = len(scorer.features)
    rows = np.random.default_rng(0).random((len(raws), features))
    bare, forest = [], []
    for row in rows:
        start = time.perf_counter_ns()
        scorer.booster.predict(row.reshape(1, -1), num_threads=1)
        bare.append((time.perf_counter_ns() - start) / 1e6)
        start = time.perf_counter_ns()
        scorer.forest.predict(row.reshape(1, -1))
        forest.append((time.perf_counter_ns() - start) / 1e6)

    attacks = attack_rows(scorer, raws, tenant)
    return {
        "messages": len(raws),
        "mail": f"real: {corpus}" if corpus else "simulated",
        "refused_by_the_parser": len(sampled) - len(raws),
        "reasons_fidelity": reasons_fidelity(scorer, exact, attacks),
        "explain_one_attack_ms": {
            "path": explain_cost(scorer, attacks),
            "shap": explain_cost(exact, attacks),
        },
        "mean_message_bytes": statistics.mean(len(r) for r in raws),
        **single,
        "batch_messages_per_second": len(raws) / batch_seconds,
        "lightgbm_bare_predict_ms": {"p50": percentile(bare, 50), "p99": percentile(bare, 99)},
        # the scorer's own evaluation of the same model (detection.serving.forest)
        "forest_bare_predict_ms": {"p50": percentile(forest, 50), "p99": percentile(forest, 99)},
        "overhead_ratio_p50": single["single_no_reasons_ms"]["p50"] / percentile(bare, 50),
        "spamc": time_spamc(raws[:spamc_messages]) if spamc_messages else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", default="var/artifacts")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--spamc", type=int, default=0, help="messages to time with spamc (0: skip)"
    )
    parser.add_argument("--corpus", type=Path, help="a labelled real-mail corpus to sample")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.artifact, args.messages, args.repeats, args.spamc, args.corpus)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
