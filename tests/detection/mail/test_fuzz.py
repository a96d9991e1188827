"""A mutation fuzz of real mail through the parser: every input ends as a Message or a ParseError
(never another exception), and each is timed (the worst is reported; speed targets live in
bench/). ``make fuzz`` runs more cases (ATTACK_DETECTION_FUZZ_CASES)."""

import csv
import logging
import os
import random
import time

from detection.mail.mutations import mutate
from detection.mail.parsing import ParseError, parse_message
from detection.mail.schema import MAX_BODY_CHARS

CASES = int(os.environ.get("ATTACK_DETECTION_FUZZ_CASES", "10000"))


def test_mutated_real_mail_never_escapes_the_parser(real_mail):
    with (real_mail / "manifest.csv").open() as f:
        paths = [row["path"] for row in csv.DictReader(f)]
    rng = random.Random(16)
    seeds = [(real_mail / p).read_bytes() for p in rng.sample(paths, 300)]
    escaped: list[str] = []
    outcomes = {"parsed": 0, "quarantined": 0}
    worst = 0.0
    for case in range(CASES):
        raw = mutate(seeds[case % len(seeds)], rng)
        started = time.perf_counter()
        try:
            message = parse_message(raw, tenant_id="t")
        except ParseError as exc:
            assert exc.reason
            outcomes["quarantined"] += 1
        except Exception as exc:  # the failure this test exists to find
            escaped.append(f"case {case}: {type(exc).__name__}: {exc}"[:200])
        else:
            assert len(message.body_text) <= MAX_BODY_CHARS
            outcomes["parsed"] += 1
        worst = max(worst, time.perf_counter() - started)
    logging.getLogger(__name__).info("fuzz: %d cases %s, worst %.3f s", CASES, outcomes, worst)
    assert not escaped, escaped[:5]
    assert sum(outcomes.values()) == CASES  # nothing dropped
