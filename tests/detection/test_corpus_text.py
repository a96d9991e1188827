"""Real words for the simulated world: kinds, the held-back share, deterministic draws, the same
world with or without words, provenance, hard cases and label noise."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from detection.features.vector import FEATURE_COLUMNS
from detection.mail.schema import Attachment, Message, Url
from detection.rules import default_rules_text, parse_rules
from detection.simulation import hard_cases
from detection.simulation.content import URGENT, Draft
from detection.simulation.corpus_text import (
    Sample,
    TextPool,
    build_pool,
    classify,
    held_back_ids,
    provenance,
    with_text,
)
from detection.simulation.generator import SimulationConfig, simulate
from detection.simulation.world import build_world

START = datetime(2020, 1, 1, tzinfo=UTC)


def _real(n: int, origin: str, label: str, **fields) -> Message:
    base = {
        "message_id": f"{origin}{n:060d}",
        "tenant_id": "corpus:x",
        "received_at": START + timedelta(days=n),
        "sender_address": "a@b.com",
        "subject": f"subject {n}",
        "body_text": f"body {n} see http://example.com/{n}",
        "label": label,
        "source": origin,
    }
    return Message(**{**base, **fields})


def test_the_latest_share_of_each_source_is_held_back():
    mail = [_real(n, "enron", "safe") for n in range(20)]
    mail += [_real(n, "phish", "attack") for n in range(10)]
    held = held_back_ids(mail, 0.2)
    assert held == {
        m.message_id
        for m in mail
        if m.source == "enron" and m.received_at.day > 16 and m.received_at.month == 1
    } | {_real(n, "phish", "attack").message_id for n in (8, 9)}
    assert held_back_ids(mail, 0.0) == set()


@pytest.mark.parametrize(
    ("fields", "label", "kind"),
    [
        (
            {"attachments": (Attachment("x.docm", "application/vnd.ms-word", 5, "h"),)},
            "attack",
            "malware",
        ),
        ({"body_text": "You won the lottery, claim your prize"}, "attack", "extortion_scam"),
        ({"body_text": "Our bank details have changed, pay the invoice"}, "attack", "vendor_fraud"),
        ({"body_text": "Send me the wire today"}, "attack", "bec"),
        (
            {"body_text": "Verify your password", "urls": (Url("http://x.y/", "x.y", "login"),)},
            "attack",
            "credential_phishing",
        ),
        ({"source": "enron"}, "safe", "internal"),
        (
            {
                "source": "spamassassin",
                "urls": tuple(Url(f"http://n.com/{i}", "n.com", "") for i in range(6)),
            },
            "safe",
            "newsletter",
        ),
        (
            {"source": "spamassassin", "urls": (Url("http://n.com/", "n.com", ""),)},
            "safe",
            "notification",
        ),
        ({"source": "usrp", "body_text": "a long technical reply " * 100}, "safe", "partner"),
    ],
)
def test_kinds(fields, label, kind):
    assert classify(_real(1, "src", label, **fields)) == kind


def _pool() -> TextPool:
    mail = [_real(n, "enron", "safe") for n in range(10)]
    mail += [
        _real(
            n,
            "phish",
            "attack",
            body_text=f"verify your password {n}",
            urls=(Url("http://x.y/", "x.y", "log in"),),
        )
        for n in range(10)
    ]
    table = build_pool(mail, 0.3)
    samples: dict = {}
    for row in table.to_pylist():
        sample = Sample(
            row["subject"], row["body"], tuple(row["link_texts"]), row["source"], row["corpus_id"]
        )
        samples.setdefault((row["kind"], row["late"]), []).append(sample)
    return TextPool(samples, min_distinct=1)


def test_draws_are_deterministic_kind_and_window_bound_with_fallbacks():
    pool = _pool()
    first = [pool.draw(random.Random(3), "internal", late=True) for _ in range(5)]
    again = [pool.draw(random.Random(3), "internal", late=True) for _ in range(5)]
    assert first == again
    late_ids = {s.corpus_id for s in pool.samples[("internal", True)]}
    rng = random.Random(1)
    assert all(pool.draw(rng, "internal", True).corpus_id in late_ids for _ in range(50))  # type: ignore[union-attr]
    assert not late_ids & {s.corpus_id for s in pool.samples[("internal", False)]}
    # account takeover has no samples of its own: it borrows credential lures
    assert pool.draw(random.Random(1), "account_takeover", False).source == "phish"  # type: ignore[union-attr]


def test_a_kind_with_few_texts_lends_them_to_a_share_of_its_messages_only():
    samples = _pool().samples
    few = TextPool(samples, min_distinct=30)  # 3 late credential lures: 3/30 of the draws
    rng = random.Random(5)
    drawn = [few.draw(rng, "credential_phishing", True) for _ in range(3000)]
    share = sum(d is not None for d in drawn) / len(drawn)
    assert 0.07 < share < 0.13, share
    assert len({d.corpus_id for d in drawn if d}) == len(samples[("credential_phishing", True)])
    assert all(TextPool(samples, 1).draw(rng, "credential_phishing", True) for _ in range(50))


def test_words_replace_text_keep_the_world_and_record_where_they_came_from():
    message = _real(
        1, "sim", "attack", urls=(Url("https://evil.test/x", "evil.test", ""),), source="simulator"
    )
    sample = Sample(
        "Verify now",
        "Click http://paypal.com/login to verify",
        ("Log in",),
        "phishing_pot",
        "a" * 64,
    )
    worded = with_text(message, sample)
    assert worded.subject == "Verify now" and "https://evil.test/x" in worded.body_text
    assert "paypal.com" not in worded.body_text  # the body links to the message's own link
    assert worded.urls[0].text == "Log in" and worded.urls[0].host == "evil.test"
    assert worded.sender_address == message.sender_address and worded.label == "attack"
    assert provenance(worded.source) == ("phishing_pot", "a" * 64)
    assert provenance("simulator") is None


def test_the_world_is_the_same_with_or_without_words(tmp_path):
    path = tmp_path / "pool.parquet"
    real = [_real(n, "enron", "safe") for n in range(30)]
    pq.write_table(build_pool(real, 0.2), path)
    late_ids = held_back_ids(real, 0.2)
    config = SimulationConfig(days=3, tenants=1, employees=10, attack_rate=0.05, seed=2)
    plain = [m for _, day in simulate(config) for m in day]
    for early in (True, False):
        worded_config = SimulationConfig(
            **{**config.__dict__, "text_pool": str(path), "text_late_from": 2, "text_early": early}
        )
        worded = [m for _, day in simulate(worded_config) for m in day]
        assert [(m.message_id, m.sender_address, m.label) for m in plain] == [
            (m.message_id, m.sender_address, m.label) for m in worded
        ]
        last_day = max(m.received_at.date() for m in plain)
        for message in worded:
            origin = provenance(message.source)
            if message.received_at.date() == last_day:  # the last day: held-back words only
                assert origin is None or origin[1] in late_ids
            else:
                assert origin is None if not early else origin is None or origin[1] not in late_ids
        assert any(provenance(m.source) for m in worded)


def test_hard_cases_look_clean_and_keep_their_labels():
    tenant = build_world(5, 1, 12)[0]
    draft = Draft(random.Random(1), tenant, datetime(2026, 1, 5, 9, tzinfo=UTC), "m1")
    victim = tenant.by_role("finance")[0]
    hijack = hard_cases.thread_hijack(draft, victim)
    assert hijack.label == "attack" and hijack.subject.startswith("Re: ") and not hijack.urls
    vendor_domains = {c.address.rpartition("@")[2] for v in tenant.vendors for c in v.contacts}
    assert hijack.sender_domain in vendor_domains  # the real, known account
    lookalike = hard_cases.partner_lookalike(draft, victim)
    partner_domains = {p.address.rpartition("@")[2] for p in tenant.partners}
    assert lookalike.sender_domain not in partner_domains and lookalike.category == "vendor_fraud"
    reset = hard_cases.password_reset(draft, victim)
    invoice = hard_cases.new_vendor_first_invoice(draft, victim)
    assert reset.label == invoice.label == "safe" and "password" in reset.body_text.lower()
    ceo = tenant.vips[0]
    urgent = hard_cases.urgent_executive_request(draft, ceo, victim)
    assert urgent.label == "safe" and urgent.sender_address == ceo.address  # her own account
    assert any(u in urgent.body_text for u in URGENT)
    rules = parse_rules(default_rules_text(), set(FEATURE_COLUMNS))
    assert not any(
        r.action == "force_attack" for r in rules.rules if r.name == "first_contact_bank_change"
    )


def test_label_noise_flips_about_its_rate_both_ways():
    config = SimulationConfig(days=5, tenants=2, employees=20, attack_rate=0.1, seed=4)
    clean = [m for _, day in simulate(config) for m in day]
    noisy_config = SimulationConfig(**{**config.__dict__, "label_noise": 0.05})
    noisy = [m for _, day in simulate(noisy_config) for m in day]
    flips = Counter(
        (a.label, b.label) for a, b in zip(clean, noisy, strict=True) if a.label != b.label
    )
    assert flips[("safe", "attack")] > 0 and flips[("attack", "safe")] > 0
    assert 0.02 < sum(flips.values()) / len(clean) < 0.08
    with pytest.raises(ValueError, match="label_noise"):
        SimulationConfig(label_noise=1.5)
