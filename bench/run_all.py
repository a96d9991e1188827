"""``make bench``: run each benchmark several times and print median, min and max per figure.

- simulator: messages per second on both cores and on one (3 runs);
- scorer: p50/p99/throughput vs LightGBM's bare predict and SpamAssassin (5 runs), on simulated
  mail and on a fixed sample of 1,000 messages of the real corpus when it is present, with the
  cost of each stage on those real messages (``bench.stages``, 3 runs);
- baselines: dbt-duckdb vs pandas at 100k and 1M messages, then content signals, the training
  table and LightGBM training on the same lake (3 runs each; ``--scale`` adds 5M);
- the whole graph at about 1M messages (3 runs of 2.5 to 4 minutes); the what-if replay over the
  world with real words it leaves (3 runs of each proposal); the garbage collector's pauses
  while scoring with the model it deployed, then Evidently at 1M rows on its training table
  (3 runs);
- text: the text model's cost per real message beside the content signals' (3 runs);
- real_mail: what each step of the model adds on the real corpus, held out by source (1 run);
- efficacy: a world with real words at 0.5% attacks, FP per million, recall at 100 FP per million,
  PR-AUC and per-category recall with intervals (one run for each of three seeds);
- hostile: hostile HTML at the caps and whole messages shaped to cost the MIME parser the most
  (refused or read) beside a legitimate 18 MB attachment; the HTML extractor against
  the earlier standard-library one on the real corpus (3 runs);
- startup: the CLI scoring one message end to end, and importing the Dagster definitions, each
  a fresh process (5 runs);
- make_run (only when named): ``make run``'s pipeline end to end on fresh folders (3 runs of about
  4 minutes);
- a plot of the cost per message against volume (var/bench/cost_vs_volume.png) and a cost model:
  each step's time as fixed seconds plus a marginal cost per message, fitted over the sizes.

Needs a deployed model for the scorer benchmark (``make run`` first; this runs it if missing).
Results are printed as JSON and written to ``var/bench/``; BENCHMARKS.md records them.
"""

import json
import subprocess
import sys
from pathlib import Path

from bench.child import run_json, spread
from bench.world import BENCH_DIR

RUNS = 5


def _flatten(prefix: str, value: object, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, int | float):  # booleans too, as 0 or 1
        out[prefix] = float(value)


def repeat(module: str, args: list[str], runs: int = RUNS) -> dict[str, dict[str, float]]:
    figures: dict[str, list[float]] = {}
    for index in range(runs):
        flat: dict[str, float] = {}
        _flatten("", run_json(module, *args), flat)
        for key, value in flat.items():
            figures.setdefault(key, []).append(value)
        print(f"{module} run {index + 1}/{runs} done", file=sys.stderr)
    return {k: spread(v) for k, v in figures.items()}


PLOTTED = (
    ("to_model_seconds", "landed mail to trained model"),
    ("dbt.seconds", "dbt-duckdb baselines, full build"),
    ("dbt.last_day_seconds", "dbt-duckdb, one new day (incremental)"),
    ("pandas.seconds", "pandas baselines, full"),
    ("features.content_seconds", "content signals (2 processes)"),
    ("features.training_seconds", "LightGBM training"),
)


def cost_model(baselines: dict[int, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each step's median time as fixed seconds plus a marginal cost per message (least squares
    over the sizes), with the largest relative gap between the line and a measured size, and the
    marginal cost between consecutive sizes: flat marginal costs mean linear growth."""
    import numpy as np

    sizes = sorted(baselines)
    messages = np.array([baselines[n]["messages"]["median"] for n in sizes])
    fits: dict[str, dict[str, float]] = {}
    for key, _ in PLOTTED:
        seconds = np.array([baselines[n][key]["median"] for n in sizes])
        slope, fixed = np.polyfit(messages, seconds, 1)
        line = fixed + slope * messages
        fit = {
            "fixed_seconds": float(fixed),
            "marginal_us_per_message": float(slope * 1e6),
            "worst_gap_pct": float(np.max(np.abs(line - seconds) / seconds) * 100),
        }
        for i in range(1, len(sizes)):
            step = (seconds[i] - seconds[i - 1]) / (messages[i] - messages[i - 1])
            fit[f"marginal_us_{sizes[i - 1]}_to_{sizes[i]}"] = float(step * 1e6)
        fits[key] = fit
    return fits


def plot(baselines: dict[int, dict[str, dict[str, float]]], path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    sizes = sorted(baselines)
    messages = [baselines[n]["messages"]["median"] for n in sizes]
    figure = Figure(figsize=(5.5, 3.5))
    axes = figure.add_subplot()
    for engine, label in PLOTTED:
        pairs = zip(sizes, messages, strict=True)
        per_message = [baselines[n][engine]["median"] / m * 1e6 for n, m in pairs]
        axes.plot(messages, per_message, marker="o", label=label)
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="messages",
        ylabel="µs per message (history size)",
        title="Cost per message against volume",
    )
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.savefig(path, dpi=90, bbox_inches="tight")


def main() -> None:
    """Sections run in order; each one's results are saved as soon as it finishes. Pass section
    names (simulator, scorer, baselines, pipeline, whatif, gc, evidently, text, real_mail,
    efficacy, hostile, startup, make_run) to run only those, or ``plot`` to redraw the plot from
    saved results; --scale adds 5M messages to the baselines. make_run runs only when named."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    wanted = [a for a in sys.argv[1:] if not a.startswith("--")] or [
        "simulator",
        "baselines",
        "scorer",
        "pipeline",
        "whatif",
        "gc",
        "evidently",
        "text",
        "real_mail",
        "efficacy",
        "hostile",
        "startup",
    ]
    path = BENCH_DIR / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for section in wanted:
        if section == "simulator":
            results["simulator"] = repeat("bench.simulator", [], runs=3)
        elif section == "scorer":
            if not Path("var/artifacts/production.json").is_file():
                subprocess.run([sys.executable, "-m", "orchestration.run"], check=True)
            results["scorer"] = repeat(
                "bench.scorer", ["--artifact", "var/artifacts", "--spamc", "100"]
            )
            if Path("../shared/data/real-mail/manifest.csv").is_file():  # the same, on real mail
                results["scorer_real_mail"] = repeat(
                    "bench.scorer",
                    [
                        *("--artifact", "var/artifacts", "--spamc", "200", "--messages", "1000"),
                        *("--corpus", "../shared/data/real-mail"),
                    ],
                )
                # where the time goes, stage by stage, on the same messages
                results["scorer_stages_real_mail"] = repeat(
                    "bench.stages", ["--artifact", "var/artifacts"], runs=3
                )
        elif section == "text":
            if not Path("var/artifacts/production.json").is_file():
                subprocess.run([sys.executable, "-m", "orchestration.run"], check=True)
            results["text_cost"] = repeat("bench.text_cost", ["--artifact", "var/artifacts"], 3)
            # the term families by version (English only; with six more languages)
            results["terms_cost"] = repeat("bench.terms_cost", [], 3)
        elif section == "real_mail":  # an evaluation, deterministic: one run
            results["real_mail"] = run_json("bench.real_mail")
        elif section == "hostile":  # hostile HTML at the caps, and both extractors on the corpus
            results["hostile"] = repeat(
                "bench.hostile",
                ["--corpus", "../shared/data/real-mail", "--artifact", "var/artifacts"],
                runs=3,
            )
        elif section == "startup":  # fresh processes, timed from outside: 5 runs inside
            if not Path("var/artifacts/production.json").is_file():
                subprocess.run([sys.executable, "-m", "orchestration.run"], check=True)
            results["startup"] = run_json("bench.startup", "--artifact", "var/artifacts")
        elif section == "make_run":  # 3 runs inside, each on fresh folders
            results["make_run"] = run_json("bench.make_run")
        elif section == "efficacy":  # deterministic per seed: one run for each of three seeds
            results["efficacy_base_rate"] = {
                seed: run_json("bench.efficacy", "--seed", seed) for seed in ("7", "8", "9")
            }
        elif section == "baselines":
            sizes = [100_000, 1_000_000] + ([5_000_000] if "--scale" in sys.argv else [])
            baselines = {
                n: repeat("bench.baselines", ["--messages", str(n)], runs=3) for n in sizes
            }
            plot(baselines, BENCH_DIR / "cost_vs_volume.png")
            results["baselines"] = {str(n): figures for n, figures in baselines.items()}
            results["baselines_cost_model"] = cost_model(baselines)
        elif section == "plot":  # redraw the plot and the cost model from saved results
            saved = {int(n): figures for n, figures in results["baselines"].items()}
            plot(saved, BENCH_DIR / "cost_vs_volume.png")
            results["baselines_cost_model"] = cost_model(saved)
        elif section == "pipeline":
            results["pipeline_1m"] = repeat("bench.pipeline", ["--days", "33"], runs=3)
            if Path("../shared/data/real-mail/manifest.csv").is_file():  # real words (#17)
                results["pipeline_1m_real_text"] = repeat(
                    "bench.pipeline",
                    ["--days", "33", "--text-corpus", "../shared/data/real-mail"],
                    runs=3,
                )
                # message_features' cost per message on the lake that run leaves
                results["features_cost_real_text"] = repeat("bench.features_cost", [], runs=3)
        elif section == "whatif":  # over the real-words world the pipeline section leaves
            if not Path("var/work/candidate_bundle/manifest.json").is_file():
                subprocess.run([sys.executable, "-m", "orchestration.run"], check=True)
            results["whatif_1m"] = run_json("bench.whatif", "--repeats", "3", "--phases")
        elif section == "gc":  # collector pauses, scoring with the model the pipeline deployed
            results["gc_pause"] = repeat("bench.gc_pause", [], runs=1)
        elif section == "evidently":
            results["evidently_1m"] = repeat("bench.drift", ["--rows", "1000000"], runs=3)
        path.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
