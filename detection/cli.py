"""attack-detection: score mail with a deployed model, simulate mail, ingest real mail.

Exit status: 0 every input was read and handled (and, with -E, no attack was found); 1 with -E,
at least one message is an attack and every input was scored; 2 usage: a bad option, a missing
input path or artifact (checked before any model is loaded); 3 runtime or partial: the model
could not be loaded, or some input could not be read (its rows say why; the rest are printed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from detection import storage
from detection.mail.schema import dumps_summary

EXIT_CLEAN, EXIT_ATTACK, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
UNREADABLE = "suspicious"  # the verdict for mail the scorer cannot read: held, never passed


# what a directory walk passes over on purpose; any other skip (a dangling link, an unreadable
# file, a FIFO) means an input was not read
DELIBERATE_SKIPS = frozenset({"dotfile", "corpus documentation"})


class UsageError(Exception):
    """A bad option or input path: exit 2, said before any model is loaded."""


def _check_inputs(paths: Sequence[str]) -> None:
    for path in paths:
        if not Path(path).exists():
            raise UsageError(
                f"input path {path!r} does not exist: give .eml files, mbox files or "
                "directories of them"
            )


def _check_artifact(artifact: str) -> None:
    if not artifact.startswith("s3://") and not Path(artifact).is_dir():
        raise UsageError(
            f"--artifact {artifact!r} is not a directory: give the store `make run` printed "
            "(e.g. var/artifacts), a bundle directory, or s3://bucket/prefix"
        )


def _progress(unit: str, total: int | None = None) -> Any:
    """A progress bar on stderr, shown only when stderr is a terminal (never in pipes or logs)."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True)


def _unreadable(why: str) -> dict[str, Any]:
    """Fail closed: input that cannot be parsed or scored is held as suspicious, with the reason
    (a crafted message must not evade scoring by being unreadable)."""
    return {
        "message_id": "",
        "score": None,
        "verdict": UNREADABLE,
        "reasons": [why, "not read, so held for review: unreadable mail is never passed as safe"],
    }


class _Rows:
    """Writes each result as soon as it is scored (CSV rows, JSON Lines, or the JSON document's
    results one by one), so nothing already scored is lost if a batch is interrupted."""

    def __init__(self, fmt: str, version: str) -> None:
        self.fmt, self.count, self.version = fmt, 0, version
        if fmt == "json":
            sys.stdout.write(f'{{"model_version": {json.dumps(version)}, "results": [')
        elif fmt == "csv":
            self.writer = csv.writer(sys.stdout)
            self.writer.writerow(["path", "message_id", "score", "verdict", "reasons"])

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            sys.stdout.write(json.dumps({**row, "model_version": self.version}) + "\n")
        elif self.fmt == "json":
            sys.stdout.write(("," if self.count else "") + "\n  " + json.dumps(row))
        else:
            reasons = " | ".join(row["reasons"])
            self.writer.writerow(
                [row["path"], row["message_id"], row["score"], row["verdict"], reasons]
            )
        self.count += 1
        sys.stdout.flush()

    def close(self) -> None:
        if self.fmt == "json":
            sys.stdout.write("\n]}\n")
        sys.stdout.flush()


def _score(args: argparse.Namespace) -> int:
    _check_artifact(args.artifact)
    _check_inputs(args.paths)
    if args.attribution == "shap":  # the only use of LightGBM when scoring (TreeSHAP)
        from detection.serving.startup import import_lightgbm_for_scoring

        import_lightgbm_for_scoring()  # first: this process only scores
    from detection.mail.ingest import iter_raw_messages, walk_inputs
    from detection.mail.parsing import ParseError
    from detection.serving.scorer import Scorer

    endpoint = os.environ.get("ATTACK_DETECTION_S3_ENDPOINT_URL") or None
    scorer = Scorer.load(args.artifact, endpoint_url=endpoint, attribution=args.attribution)
    out = _Rows(args.format, scorer.version)
    skipped: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    unread = 0
    bar = _progress("msg")
    try:
        for file, _, skip in walk_inputs(Path(p) for p in args.paths):
            if skip:
                skipped[skip] += 1
                continue
            for name, raw, why in iter_raw_messages(file):
                row: dict[str, Any] = {"path": name}
                if raw is None:
                    row.update(_unreadable(f"too_large: {why}"))
                else:
                    try:
                        verdict = scorer.score_bytes(raw, tenant_id=args.tenant, explain=True)
                        row.update(verdict.as_dict())
                    except ParseError as exc:
                        row.update(_unreadable(f"{exc.reason}: {exc.detail}"))
                    except Exception as exc:  # one message never costs the batch its output
                        row.update(_unreadable(f"scoring_failed: {type(exc).__name__}"))
                unread += row["score"] is None
                out.write(row)
                verdicts[row["verdict"]] += 1
                bar.update()
    finally:
        bar.close()
        out.close()
        # the count of unreadable (suspicious) mail is part of every run's summary
        print(f"scored {sum(verdicts.values())} messages: {dict(verdicts)}", file=sys.stderr)
        if skipped:
            print(f"skipped {sum(skipped.values())} paths: {dict(skipped)}", file=sys.stderr)
    missed = unread + sum(n for why, n in skipped.items() if why not in DELIBERATE_SKIPS)
    if missed:
        print(
            f"{missed} inputs could not be read (held as {UNREADABLE} or skipped, see above): "
            f"exit {EXIT_PARTIAL}",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return EXIT_ATTACK if args.exit_on_attack and verdicts["attack"] else EXIT_CLEAN


def _simulate(args: argparse.Namespace) -> int:
    from detection.simulation.generator import SimulationConfig
    from detection.simulation.to_lake import write_simulation

    config = SimulationConfig(
        days=args.days,
        tenants=args.tenants,
        employees=args.employees,
        seed=args.seed,
        attack_rate=args.attack_rate,
        start=date.fromisoformat(args.start),
        drift_day=args.drift_day,
    )
    with _progress("day", total=args.days) as bar:
        counts = write_simulation(
            config, storage.location(args.out), workers=args.workers, on_day=lambda n: bar.update()
        )
    attacks = {k: v for k, v in counts.items() if k != "safe"}
    summary = {
        "messages": sum(counts.values()),
        "attacks": sum(attacks.values()),
        "attacks_by_category": attacks,
        "days": args.days,
        "out": _shown(storage.location(args.out)),
    }
    print(dumps_summary(summary))
    return 0


def _shown(where: storage.Location) -> str:
    """A location as the summary prints it: a local path made absolute, a URL as it is."""
    return str(where.resolve()) if isinstance(where, Path) else str(where)


def _ingest(args: argparse.Namespace) -> int:
    _check_inputs(args.paths)
    from collections import defaultdict

    from detection.mail.ingest import ingest
    from detection.mail.lake import write_day, write_quarantine
    from detection.mail.schema import messages_to_tables

    out = storage.location(args.out)
    undated = datetime.fromisoformat(args.undated_time) if args.undated_time else None
    if undated is not None and undated.tzinfo is None:
        undated = undated.replace(tzinfo=UTC)
    with _progress("msg") as bar:
        result = ingest(
            args.paths, tenant_id=args.tenant, undated_time=undated, on_message=bar.update
        )
    by_day = defaultdict(list)
    for message in result.messages:
        by_day[message.received_at.date()].append(message)
    # each batch is its own part of a day, named by what it holds: a second batch adds to the
    # day, and ingesting the same files again rewrites the same part with the same rows
    for day, messages in sorted(by_day.items()):
        ids = "\n".join(sorted(m.message_id for m in messages))
        write_day(out, day, messages_to_tables(messages), part=_part_name("batch", ids))
    if result.quarantine:
        day = (undated or datetime.now(UTC)).date()
        rows = "\n".join(sorted(map(str, result.quarantine)))
        write_quarantine(out, day, result.quarantine, part=_part_name("quarantine", rows))
    print(dumps_summary({**result.summary(), "out": _shown(out)}))
    # quarantined mail is landed with its reason (nothing lost); a path that could not be read
    # at all is not
    unread = sum(n for why, n in result.skipped.items() if why not in DELIBERATE_SKIPS)
    return EXIT_PARTIAL if unread else EXIT_CLEAN


def _part_name(kind: str, content: str) -> str:
    """A part of a day named by what it holds: the same content always lands in the same part."""
    from detection.mail.parsing import sha256_hex

    return f"{kind}-{sha256_hex(content.encode())[:16]}"


def _rollback(args: argparse.Namespace) -> int:
    from detection.serving.registry import list_versions, rollback
    from detection.serving.stores import open_store

    store = open_store(
        args.artifact, endpoint_url=os.environ.get("ATTACK_DETECTION_S3_ENDPOINT_URL")
    )
    versions = list_versions(store)
    if args.to not in versions:
        raise UsageError(f"no model version {args.to!r} in {store.uri}; available: {versions}")
    result = rollback(store, args.to, {"run_id": "cli", "reason": args.reason}, force=args.force)
    print(dumps_summary(result))
    return 0


def _text_of(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{what} {path!r} is not a file")
    if file.stat().st_size > 10 * 1024 * 1024:
        raise UsageError(f"{what} {path!r} is over 10 MiB; a rules or threshold file is small")
    return file.read_text(encoding="utf-8", errors="replace")


def _tenant_table(path: str | None) -> dict[str, float] | None:
    from detection.model.whatif import WhatIfError, tenant_table

    text = _text_of(path, "--tenant-thresholds")
    if text is None:
        return None
    try:
        return tenant_table(text, f"--tenant-thresholds {path!r}")
    except WhatIfError as exc:
        raise UsageError(str(exc)) from exc


def _whatif(args: argparse.Namespace) -> int:
    _check_artifact(args.artifact)
    if args.days < 1 or args.examples < 0 or not 0 <= args.idea_fpr <= 1:
        raise UsageError("--days must be at least 1, --examples 0 or more, --idea-fpr in [0, 1]")
    if args.bundle is not None:
        _check_artifact(args.bundle)
    work, lake = storage.location(args.work), storage.location(args.lake)
    if not (work / "training_table.parquet").is_file():
        raise UsageError(
            f"no training table in --work {args.work!r}: run the pipeline (make run) or point "
            "--work at its work directory"
        )
    try:
        window = {
            "start": datetime.fromisoformat(args.start) if args.start else None,
            "end": datetime.fromisoformat(args.end) if args.end else None,
            "days": None if args.all else args.days,
        }
    except ValueError as exc:
        raise UsageError(f"--start/--end: {exc}; give an ISO time such as 2026-02-01") from exc
    rules = _text_of(args.rules, "--rules")
    added = _text_of(args.add_rules, "--add-rules")
    tenants = _tenant_table(args.tenant_thresholds)
    from detection.features.vector import feature_workers
    from detection.model.whatif import Proposal, WhatIfError
    from detection.model.whatif_report import (
        columns_of,
        load_window,
        needs_text,
        run,
        vocabulary_of,
    )
    from detection.rules import RuleError
    from detection.serving.registry import load_production
    from detection.serving.scorer import Scorer
    from detection.serving.stores import open_store

    endpoint = os.environ.get("ATTACK_DETECTION_S3_ENDPOINT_URL") or None
    production = load_production(open_store(args.artifact, endpoint_url=endpoint))
    candidate = Scorer.load(args.bundle, endpoint_url=endpoint).bundle if args.bundle else None
    proposal = Proposal(
        rules_text=rules,
        added_rules_text=added,
        threshold=args.threshold,
        tenant_thresholds=tenants,
        bundle=candidate,
    )
    try:
        proposal.apply(production)
    except (WhatIfError, RuleError) as exc:
        raise UsageError(str(exc)) from exc
    bundles = [production] + ([candidate] if candidate else [])
    print(f"loading the window from {work} and {lake} ...", file=sys.stderr)
    loaded = load_window(
        work / "training_table.parquet",
        lake if needs_text(*bundles) else None,
        vocabulary=vocabulary_of(*bundles),
        workers=feature_workers(),
        columns=columns_of(*bundles),
        **window,
    )
    report = run(production, proposal, loaded, examples=args.examples, fpr_cap=args.idea_fpr)
    if args.out:
        paths = report.write(storage.location(args.out))
        print(f"parquet written to {args.out}: {', '.join(sorted(paths))}", file=sys.stderr)
    if args.format == "json":
        document = {
            **report.summary(),
            "examples": report.examples.to_dict(orient="records"),
            "rule_ideas": [i.yaml(k) for k, i in enumerate(report.gaps.ideas)],
        }
        print(json.dumps(document, indent=2, default=str))
    else:
        print(report.markdown())
    return EXIT_CLEAN


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.ArgumentDefaultsHelpFormatter(prog, max_help_position=32)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("attack-detection")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attack-detection",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = sub.add_parser(
        "score",
        help="score .eml files, directories or mbox files with a deployed model",
        description="Score mail with a deployed model: one row per message (path, message id, "
        "score, verdict, reasons), written as each is scored. Mail that cannot be read is held "
        f"as {UNREADABLE!r} with the reason. Exit 0 clean, 1 attack found (with -E), 2 usage, "
        "3 some input not read or the model not loaded.",
        formatter_class=_formatter,
    )
    score.add_argument(
        "--artifact",
        required=True,
        help="the model store (its production.json names the bundle; `make run` prints it), "
        "a bundle directory, or s3://bucket/prefix (endpoint from "
        "ATTACK_DETECTION_S3_ENDPOINT_URL)",
    )
    score.add_argument(
        "--format",
        choices=("csv", "jsonl", "json"),
        default="csv",
        help="csv rows; JSON Lines (one object per message, with model_version); or one JSON "
        "document {model_version, results}",
    )
    score.add_argument(
        "--tenant",
        default="default",
        help="tenant whose behavioural history to use ('default' has none: content decides)",
    )
    score.add_argument(
        "--attribution",
        choices=("path", "shap"),
        default="path",
        help="rank reasons by per-leaf path attributions (as the service does) or exact TreeSHAP",
    )
    score.add_argument(
        "-E",
        "--exit-on-attack",
        action="store_true",
        help="exit 1 when any message is an attack (as spamc -E does for spam)",
    )
    score.add_argument("paths", nargs="+", metavar="PATH", help=".eml file, mbox or directory")
    score.set_defaults(run=_score)

    simulate = sub.add_parser(
        "simulate",
        help="write simulated mail as daily parquet partitions",
        description="Simulate tenants' mail (safe traffic and attacks) into a lake directory, "
        "one parquet partition per day; the same options give the same mail.",
        formatter_class=_formatter,
    )
    simulate.add_argument("--days", type=int, default=28, help="days to simulate")
    simulate.add_argument("--tenants", type=int, default=3, help="organisations")
    simulate.add_argument("--employees", type=int, default=30, help="mailboxes per tenant")
    simulate.add_argument("--seed", type=int, default=7, help="random seed")
    simulate.add_argument(
        "--attack-rate", type=float, default=0.01, help="share of messages that are attacks"
    )
    simulate.add_argument("--start", default="2026-01-05", help="first day (ISO date)")
    simulate.add_argument(
        "--drift-day", type=int, default=None, help="day index from which attacks change tactic"
    )
    simulate.add_argument("--workers", type=int, default=2, help="processes (output is identical)")
    simulate.add_argument("--out", required=True, help="lake directory to write")
    simulate.set_defaults(run=_simulate)

    ingest = sub.add_parser(
        "ingest",
        help="parse .eml/mbox mail into daily parquet partitions",
        description="Parse real mail into the lake (one part per batch and day; the same files "
        "again rewrite the same part). Unparseable mail lands in the quarantine table with its "
        "reason. Exit 0 all read, 2 usage, 3 some path could not be read.",
        formatter_class=_formatter,
    )
    ingest.add_argument("--out", required=True, help="lake directory to write")
    ingest.add_argument("--tenant", default="default", help="tenant the mail belongs to")
    ingest.add_argument(
        "--undated-time",
        default="",
        help="ISO time for mail without a usable Date header (empty: its file's modification "
        "time; never the clock, so ingesting the same files again gives the same rows)",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help=".eml file, mbox or directory")
    ingest.set_defaults(run=_ingest)

    back = sub.add_parser(
        "rollback",
        help="point production at an earlier model version",
        description="Point the store's production pointer at an earlier model version (audited).",
        formatter_class=_formatter,
    )
    back.add_argument("--artifact", required=True, help="store directory or s3://bucket/prefix")
    back.add_argument("--to", required=True, help="model version (see models/ in the store)")
    back.add_argument("--reason", default="", help="why, for the audit record")
    back.add_argument(
        "--force",
        action="store_true",
        help="replace a production pointer that cannot be read (audited as such)",
    )
    back.set_defaults(run=_rollback)

    whatif = sub.add_parser(
        "whatif",
        help="replay a proposed rules file, threshold or bundle over landed labelled mail",
        description="Counterfactual replay: what production decided on landed, labelled mail "
        "against what a proposal would have decided (any mix of a rules file, added rules, a "
        "threshold, a per-tenant threshold table and a candidate bundle), with the messages "
        "that flip per category and tenant (counts and 95% intervals), top examples as ids with "
        "reasons (no bodies), and the capability-gap report of what is still missed with rule "
        "ideas and their false-positive cost. Markdown on stdout (or JSON); parquet with --out. "
        "Exit 0 done, 2 usage (bad option, file or proposal), 3 the data or model could not be "
        "read.",
        formatter_class=_formatter,
    )
    whatif.add_argument(
        "--artifact", required=True, help="store whose production model is the comparison"
    )
    whatif.add_argument(
        "--work",
        default=os.environ.get("ATTACK_DETECTION_WORK_DIR") or "var/work",
        help="the pipeline's work directory (its training_table.parquet holds the features)",
    )
    whatif.add_argument(
        "--lake",
        default=os.environ.get("ATTACK_DETECTION_LAKE_DIR") or "var/lake",
        help="the lake (the texts the text model reads)",
    )
    whatif.add_argument("--rules", help="a rules file to use instead of production's")
    whatif.add_argument("--add-rules", help="rules to add to production's (e.g. rule ideas)")
    whatif.add_argument(
        "--threshold",
        type=float,
        help="one threshold for every message (tenants' own too, unless --tenant-thresholds)",
    )
    whatif.add_argument(
        "--tenant-thresholds", help='JSON {"tenant": threshold}: replaces the per-tenant table'
    )
    whatif.add_argument("--bundle", help="a candidate bundle directory or store")
    whatif.add_argument("--days", type=int, default=14, help="the last N days of labelled mail")
    whatif.add_argument("--all", action="store_true", help="every labelled message (no window)")
    whatif.add_argument("--start", help="window start (ISO time, UTC; overrides --days)")
    whatif.add_argument("--end", help="window end, exclusive (ISO time, UTC)")
    whatif.add_argument("--examples", type=int, default=5, help="examples per kind of change")
    whatif.add_argument(
        "--idea-fpr",
        type=float,
        default=0.001,
        help="a rule idea may newly flag at most this share of the window's safe mail",
    )
    whatif.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="the report as markdown, or the headline figures, examples and ideas as JSON",
    )
    whatif.add_argument("--out", help="directory for the parquet files")
    whatif.set_defaults(run=_whatif)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a bad option exits 2 with argparse's message
    try:
        return int(args.run(args))
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"attack-detection {args.command}: error: {exc}\n")
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"attack-detection {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_PARTIAL


if __name__ == "__main__":
    raise SystemExit(main())
