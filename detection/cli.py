"""``attack-detection``: score mail with a deployed model, simulate mail, ingest real mail."""

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

from detection.mail.schema import dumps_summary

UNREADABLE = "suspicious"  # the verdict for mail the scorer cannot read: held, never passed


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
    """Writes each result as soon as it is scored (CSV rows, or the JSON document's results one
    by one), so a long batch shows progress and nothing already scored is lost."""

    def __init__(self, fmt: str, version: str) -> None:
        self.fmt, self.count = fmt, 0
        if fmt == "json":
            sys.stdout.write(f'{{"model_version": {json.dumps(version)}, "results": [')
        else:
            self.writer = csv.writer(sys.stdout)
            self.writer.writerow(["path", "message_id", "score", "verdict", "reasons"])

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "json":
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
                out.write(row)
                verdicts[row["verdict"]] += 1
    finally:
        out.close()
        # the count of unreadable (suspicious) mail is part of every run's summary
        print(f"scored {sum(verdicts.values())} messages: {dict(verdicts)}", file=sys.stderr)
        if skipped:
            print(f"skipped {sum(skipped.values())} paths: {dict(skipped)}", file=sys.stderr)
    return 0


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
    counts = write_simulation(config, Path(args.out), workers=args.workers)
    attacks = {k: v for k, v in counts.items() if k != "safe"}
    summary = {
        "messages": sum(counts.values()),
        "attacks": sum(attacks.values()),
        "attacks_by_category": attacks,
        "days": args.days,
        "out": str(Path(args.out).resolve()),
    }
    print(dumps_summary(summary))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from collections import defaultdict

    from detection.mail.ingest import ingest
    from detection.mail.lake import write_day, write_quarantine
    from detection.mail.schema import messages_to_tables

    undated = datetime.fromisoformat(args.undated_time) if args.undated_time else None
    if undated is not None and undated.tzinfo is None:
        undated = undated.replace(tzinfo=UTC)
    result = ingest(args.paths, tenant_id=args.tenant, undated_time=undated)
    by_day = defaultdict(list)
    for message in result.messages:
        by_day[message.received_at.date()].append(message)
    # each batch is its own part of a day, named by what it holds: a second batch adds to the
    # day, and ingesting the same files again rewrites the same part with the same rows
    for day, messages in sorted(by_day.items()):
        ids = "\n".join(sorted(m.message_id for m in messages))
        write_day(Path(args.out), day, messages_to_tables(messages), part=_part_name("batch", ids))
    if result.quarantine:
        day = (undated or datetime.now(UTC)).date()
        rows = "\n".join(sorted(map(str, result.quarantine)))
        write_quarantine(
            Path(args.out), day, result.quarantine, part=_part_name("quarantine", rows)
        )
    print(dumps_summary({**result.summary(), "out": str(Path(args.out).resolve())}))
    return 0


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
        raise ValueError(f"no model version {args.to!r} in {store.uri}; available: {versions}")
    result = rollback(store, args.to, {"run_id": "cli", "reason": args.reason}, force=args.force)
    print(dumps_summary(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attack-detection", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    score = sub.add_parser("score", help="score .eml files, directories or mbox files")
    score.add_argument(
        "--artifact", required=True, help="bundle dir, store dir, or s3://bucket/prefix"
    )
    score.add_argument("--format", choices=("csv", "json"), default="csv")
    score.add_argument("--tenant", default="default", help="tenant whose history to use")
    score.add_argument(
        "--attribution",
        choices=("path", "shap"),
        default="path",
        help="rank reasons by per-leaf path attributions (as the service does) or exact TreeSHAP",
    )
    score.add_argument("paths", nargs="+")
    score.set_defaults(run=_score)

    simulate = sub.add_parser("simulate", help="write simulated mail as daily parquet partitions")
    simulate.add_argument("--days", type=int, default=28)
    simulate.add_argument("--tenants", type=int, default=3)
    simulate.add_argument("--employees", type=int, default=30)
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--attack-rate", type=float, default=0.01)
    simulate.add_argument("--start", default="2026-01-05")
    simulate.add_argument("--drift-day", type=int, default=None)
    simulate.add_argument("--workers", type=int, default=2, help="processes (output is identical)")
    simulate.add_argument("--out", required=True)
    simulate.set_defaults(run=_simulate)

    ingest = sub.add_parser("ingest", help="parse .eml/mbox mail into daily parquet partitions")
    ingest.add_argument("--out", required=True)
    ingest.add_argument("--tenant", default="default")
    ingest.add_argument(
        "--undated-time",
        default="",
        help="ISO time for mail without a usable Date header (default: its file's modification "
        "time; never the clock, so ingesting the same files again gives the same rows)",
    )
    ingest.add_argument("paths", nargs="+")
    ingest.set_defaults(run=_ingest)
    back = sub.add_parser("rollback", help="point production at an earlier model version")
    back.add_argument("--artifact", required=True, help="store directory or s3://bucket/prefix")
    back.add_argument("--to", required=True, help="model version (see models/ in the store)")
    back.add_argument("--reason", default="", help="why, for the audit record")
    back.add_argument(
        "--force",
        action="store_true",
        help="replace a production pointer that cannot be read (audited as such)",
    )
    back.set_defaults(run=_rollback)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"attack-detection {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
