"""Hostile HTML at the caps: how long one message's worst HTML takes to read, and the HTML
extractor against the earlier standard-library one on the real corpus's HTML parts.

For each hostile pattern (unclosed tags, comments, deep nesting, many attributes, ...) at 80 KB
and at the 1 MB part cap, the time of ``extract_html``; and whole messages shaped to cost the
MIME parser the most (:func:`detection.mail.mutations.hostile_messages`: millions of lines,
parts or headers, headers times parts, 20 hostile HTML parts, long parameter headers, encoded
parts before a large body) and a legitimate 18 MB attachment,
through ``parse_message``: seconds and outcome (parsed, or the reason it was refused). With
``--corpus``, both extractors over every HTML part of the real corpus (the earlier one is kept in
tests/ for the parity test). With ``--artifact`` too, the evasion edits
(:data:`detection.mail.mutations.EVASIONS`) on every corpus attack the deployed model flags: the
share still flagged (or held as unreadable) after each edit; how many messages each edit left as
they were (it could not rewrite them, e.g. an unknown charset: they count as still flagged) and
the share still flagged among those it did change. Prints one JSON object.

Usage: python -m bench.hostile [--corpus ../shared/data/real-mail [--artifact var/artifacts
[--evasion-only] [--edits NAME ...]]]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from detection.mail.html_text import MAX_HTML_CHARS, extract_html
from detection.mail.mutations import hostile_html, hostile_messages, large_attachment
from detection.mail.parsing import ParseError, parse_message


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _parse_or_refuse(raw: bytes) -> str:
    try:
        parse_message(raw, tenant_id="t")
    except ParseError as exc:
        return exc.reason
    return "parsed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--artifact", default="", help="a store: measure the evasion edits")
    parser.add_argument(
        "--evasion-only", action="store_true", help="only the evasion edits (needs both above)"
    )
    parser.add_argument(
        "--edits", nargs="+", default=None, help="only these evasion edits (default: all)"
    )
    args = parser.parse_args()
    result: dict[str, object] = {}
    if args.evasion_only:
        if not (args.corpus and args.artifact):
            parser.error("--evasion-only needs --corpus and --artifact")
        print(json.dumps({"evasion": _evasion(args.corpus, args.artifact, args.edits)}))
        return
    for size in (80_000, MAX_HTML_CHARS):
        times = {
            name: _seconds(lambda h=html: extract_html(h))
            for name, html in hostile_html(size).items()
        }
        result[f"html_{size}_seconds"] = times
        result[f"html_{size}_worst_seconds"] = max(times.values())
    messages = {**hostile_messages(), "attachment_18mb": large_attachment(bytes(18_000_000))}
    result["message_seconds"] = {
        name: _seconds(lambda r=raw: _parse_or_refuse(r)) for name, raw in messages.items()
    }
    result["message_refused"] = {  # 1: refused as too_complex (held), 0: parsed and scored
        name: int(_parse_or_refuse(raw) != "parsed") for name, raw in messages.items()
    }
    result["message_worst_seconds"] = max(result["message_seconds"].values())
    if args.corpus:
        from tests.detection.mail import stdlib_html
        from tests.detection.mail.test_html_text import _html_parts

        parts = _html_parts(args.corpus)
        result["corpus_html_parts"] = len(parts)
        result["corpus_lxml_seconds"] = _seconds(lambda: [extract_html(h) for h in parts])
        result["corpus_stdlib_seconds"] = _seconds(
            lambda: [stdlib_html.extract_html(h) for h in parts]
        )
        if args.artifact:
            result["evasion"] = _evasion(args.corpus, args.artifact, args.edits)
    print(json.dumps(result))


def _evasion(corpus: Path, artifact: str, edits: list[str] | None = None) -> dict[str, object]:
    """Every corpus attack the deployed model flags, edited each way: the share still flagged."""
    import csv
    import random

    from detection.mail.mutations import EVASIONS
    from detection.mail.parsing import ParseError
    from detection.serving.scorer import Scorer

    scorer = Scorer.load(artifact)

    def held(raw: bytes) -> bool:
        try:
            return scorer.score_bytes(raw, explain=False).verdict == "attack"
        except ParseError:
            return True  # unreadable: the CLI holds it as suspicious (fail closed)

    with (corpus / "manifest.csv").open() as f:
        attacks = [corpus / r["path"] for r in csv.DictReader(f) if r["label"] == "attack"]
    flagged = [raw for p in attacks if held(raw := p.read_bytes())]
    shares: dict[str, float] = {}
    of_edited: dict[str, float] = {}
    unchanged: dict[str, int] = {}
    unknown = sorted(set(edits or ()) - set(EVASIONS))
    if unknown:
        raise SystemExit(f"unknown evasion edits {unknown}; choose from {sorted(EVASIONS)}")
    for name, edit in EVASIONS.items():
        if edits and name not in edits:
            continue
        rng = random.Random(f"16:{name}")  # each edit its own draws: alone or with the others
        edited = [edit(raw, rng) for raw in flagged]
        still = [held(e) for e in edited]
        changed = [s for s, e, raw in zip(still, edited, flagged, strict=True) if e != raw]
        shares[name] = sum(still) / len(flagged)
        # an edit leaves a message it cannot rewrite (e.g. an unknown charset) as it was: that
        # message counts as still flagged above; here only the messages the edit changed count
        unchanged[name] = len(flagged) - len(changed)
        of_edited[name] = sum(changed) / len(changed) if changed else float("nan")
    return {
        "flagged_attacks": len(flagged),
        "of": len(attacks),
        "still_flagged": shares,
        "left_unchanged_by_the_edit": unchanged,
        "still_flagged_of_those_edited": of_edited,
    }


if __name__ == "__main__":
    main()
