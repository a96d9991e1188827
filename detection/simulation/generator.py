"""Day-by-day mail generation: traffic volumes, replies, campaign waves, and a drift scenario.

``simulate`` yields one day at a time, so memory does not grow with the number of days.
Everything is drawn from ``random.Random(seed)`` streams, so the same config gives the same mail.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from detection import storage
from detection.mail.schema import ATTACK_CATEGORIES, Message
from detection.simulation import content, hard_cases
from detection.simulation.corpus_text import TextPool, with_text
from detection.simulation.world import Person, Tenant, build_world

DEFAULT_ATTACK_MIX = {
    "credential_phishing": 0.35,
    "bec": 0.15,
    "vendor_fraud": 0.12,
    "account_takeover": 0.10,
    "malware": 0.18,
    "extortion_scam": 0.10,
}
DRIFTED_ATTACK_MIX = {**DEFAULT_ATTACK_MIX, "credential_phishing": 0.6, "malware": 0.08}


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulated world. ``drift_day`` is a day index (0-based) or None for no drift."""

    days: int = 28
    tenants: int = 3
    employees: int = 30
    seed: int = 7
    attack_rate: float = 0.01
    start: date = date(2026, 1, 5)
    drift_day: int | None = None
    internal_rate: float = 2.5
    attack_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ATTACK_MIX))
    # real language: a pool written by detection.simulation.corpus_text.write_pool ("" for the
    # templates); from day index text_late_from on, words come from the held-back share only
    text_pool: str = ""
    text_late_from: int | None = None
    text_early: bool = True  # words before text_late_from too (False: templates there)
    # the share of BEC, vendor-fraud and account-takeover attacks drawn as hard cases (clean
    # content, genuine or lookalike senders: behaviour has to catch them)
    hard_case_share: float = 0.3
    # label noise: this share of safe mail is labelled attack (a user reported it) and of attacks
    # labelled safe (nobody noticed)
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if not 0.0 <= self.attack_rate < 0.5:
            raise ValueError(f"attack_rate must be in [0, 0.5), got {self.attack_rate}")
        for name in ("hard_case_share", "label_noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        unknown = set(self.attack_mix) - set(ATTACK_CATEGORIES)
        if unknown:
            raise ValueError(f"unknown attack categories in attack_mix: {sorted(unknown)}")


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation keeps big days fast
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


WAVE_BLOCK_DAYS = 3


def campaign_wave(seed: int, category: str, day_index: int) -> float:
    """The day's multiplier for a category: quiet (0.6) most of the time, a campaign (2-3x) in
    about one block of three days out of five. Drawn from the day's block alone, so any day can be
    generated without the others."""
    block = random.Random(f"{seed}/wave/{category}/{day_index // WAVE_BLOCK_DAYS}")
    return block.uniform(2.0, 3.0) if block.random() < 0.2 else 0.6


def _business_time(rng: random.Random, day: date) -> datetime:
    hour = min(23, max(0, round(rng.gauss(13, 3))))
    return datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=UTC
    )


def _pick_contact(rng: random.Random, tenant: Tenant, person: Person) -> Person:
    contacts = tenant.contacts[person.address]
    return rng.choices([c for c, _ in contacts], [w for _, w in contacts])[0]


class _DayBuilder:
    """Collects one tenant's messages for one day, then orders and names them. With a text pool,
    each message takes its words from a real message of its kind (drawn from a stream of its own,
    so the world is the same with or without the pool)."""

    def __init__(
        self,
        rng: random.Random,
        tenant: Tenant,
        day: date,
        drifted: bool,
        text: tuple[TextPool, random.Random, bool] | None = None,
    ) -> None:
        self.rng, self.tenant, self.day, self.drifted = rng, tenant, day, drifted
        self.text = text
        self.messages: list[Message] = []

    def draft(self) -> content.Draft:
        message_id = f"{self.tenant.tenant_id}-{self.day:%Y%m%d}-{len(self.messages):06d}"
        return content.Draft(
            self.rng, self.tenant, _business_time(self.rng, self.day), message_id, self.drifted
        )

    def add(self, message: Message, kind: str = "") -> Message:
        if self.text is not None and kind:
            pool, rng, late = self.text
            sample = pool.draw(rng, kind, late)
            if sample is not None:
                message = with_text(message, sample)
        self.messages.append(message)
        return message

    def worded(self, message: Message, kind: str) -> Message:
        """``message`` with a pool sample's words (unchanged without a pool)."""
        if self.text is None:
            return message
        pool, rng, late = self.text
        sample = pool.draw(rng, kind, late)
        return message if sample is None else with_text(message, sample)

    def finish(self) -> list[Message]:
        return sorted(self.messages, key=lambda m: (m.received_at, m.message_id))


def _safe_traffic(b: _DayBuilder, volume: float) -> None:
    rng, tenant = b.rng, b.tenant
    for person in tenant.employees:
        for _ in range(_poisson(rng, 2.5 * volume)):
            to = [_pick_contact(rng, tenant, person)]
            cc = [_pick_contact(rng, tenant, person)] if rng.random() < 0.2 else []
            cc = [c for c in cc if c != to[0]]
            first = b.add(content.internal(b.draft(), person, to, cc), "internal")
            if rng.random() < 0.4:  # the recipient answers later that day
                reply = content.internal(b.draft(), to[0], [person], [])
                if reply.received_at > first.received_at:
                    b.add(replace(b.worded(reply, "internal"), subject=f"Re: {first.subject}"))
        if rng.random() < 0.3 * volume:
            b.add(content.saas_notification(b.draft(), person), "notification")
        if rng.random() < 0.03 * volume:  # hard negative: a genuine reset or security notice
            b.add(hard_cases.password_reset(b.draft(), person))
    finance = tenant.by_role("finance")
    for vip in tenant.vips:
        if rng.random() < 0.1 * volume:
            everyone = [p for p in tenant.employees if p.address != vip.address]
            b.add(content.announcement(b.draft(), vip, everyone), "internal")
        if rng.random() < 0.05 * volume:  # hard negative: a genuine urgent payment request
            employee = rng.choice(finance + tenant.employees[:3])
            if employee.address != vip.address:
                b.add(hard_cases.urgent_executive_request(b.draft(), vip, employee))
    for vendor in tenant.vendors:
        for contact in vendor.contacts:
            if rng.random() < 0.25 * volume:
                employee = rng.choice(finance)
                bank_change = vendor.bank_change_day == (b.day - date(2000, 1, 1)).days
                # a properly announced bank change keeps its own words (the hard negative)
                mail = content.vendor_mail(b.draft(), contact, employee, bank_change)
                b.add(mail, "" if bank_change else "vendor")
                if rng.random() < 0.5:
                    b.add(
                        content.partner_mail(b.draft(), contact, employee, outbound=True), "partner"
                    )
    if rng.random() < 0.3 * volume:  # hard negative: a new supplier's first invoice
        b.add(hard_cases.new_vendor_first_invoice(b.draft(), rng.choice(finance)))
    for partner in tenant.partners:
        if rng.random() < 0.2 * volume:
            employee = rng.choice(tenant.employees)
            outbound = rng.random() < 0.5
            b.add(content.partner_mail(b.draft(), partner, employee, outbound=outbound), "partner")
    for _ in range(_poisson(rng, 1.0 * volume)):
        b.add(content.first_time_external(b.draft(), rng.choice(tenant.employees)), "partner")
    for _ in range(2 if volume > 0.5 else 1):
        readers = rng.sample(tenant.employees, k=max(1, len(tenant.employees) // 3))
        b.add(content.newsletter(b.draft(), readers), "newsletter")
    if rng.random() < 0.5 * volume:  # hard negative: marketing through click-tracking links
        b.add(hard_cases.tracked_marketing(b.draft(), rng.choice(tenant.employees)))


def _attacks(
    b: _DayBuilder,
    safe_count: int,
    config: SimulationConfig,
    day_index: int,
) -> None:
    rng, tenant = b.rng, b.tenant
    mix = DRIFTED_ATTACK_MIX if b.drifted else config.attack_mix
    total = sum(mix.values())
    expected = safe_count * config.attack_rate / (1.0 - config.attack_rate)
    for category, weight in mix.items():
        lam = expected * weight / total * campaign_wave(config.seed, category, day_index)
        for _ in range(_poisson(rng, lam)):
            if category in ("bec", "vendor_fraud"):
                victim = rng.choice(tenant.by_role("finance") + tenant.employees[:3])
            else:
                victim = rng.choice(tenant.employees)
            hard = category in hard_cases.HARD_ATTACKS and rng.random() < config.hard_case_share
            if hard and category == "vendor_fraud" and rng.random() < 0.5:
                b.add(hard_cases.partner_lookalike(b.draft(), victim))
            elif hard:  # clean content: keeps its own words
                b.add(hard_cases.HARD_ATTACKS[category](b.draft(), victim))
            else:
                # the drift scenario's new tactic keeps its own shape (image-only lures)
                kind = "" if b.drifted and category == "credential_phishing" else category
                b.add(content.ATTACK_BUILDERS[category](b.draft(), victim), kind)


def _noisy(message: Message, rng: random.Random, rate: float) -> Message:
    """With probability ``rate``, the label a busy organisation gives: safe mail reported as
    phishing (labelled a credential phish), an attack nobody noticed (labelled safe)."""
    if rng.random() >= rate:
        return message
    if message.label == "attack":
        return replace(message, label="safe", category="safe")
    return replace(message, label="attack", category="credential_phishing")


def simulate(
    config: SimulationConfig, day_indices: Iterable[int] | None = None
) -> Iterator[tuple[date, list[Message]]]:
    """Yield ``(day, messages)`` for each simulated day (or only ``day_indices``), messages
    ordered by arrival. A day depends only on the config and its index (any index >= 0, also
    beyond ``config.days``), never on which other days are generated, so days can be produced in
    any order or in parallel."""
    world = build_world(config.seed, config.tenants, config.employees)
    pool = TextPool.load(storage.location(config.text_pool)) if config.text_pool else None
    planner = random.Random(config.seed + 1)
    for tenant in world:
        for vendor in tenant.vendors:
            if planner.random() < 0.5:
                offset = planner.randrange(config.days)
                vendor.bank_change_day = (
                    config.start + timedelta(days=offset) - date(2000, 1, 1)
                ).days
    for day_index in range(config.days) if day_indices is None else day_indices:
        day = config.start + timedelta(days=day_index)
        drifted = config.drift_day is not None and day_index >= config.drift_day
        volume = 1.0 if day.weekday() < 5 else 0.2
        messages: list[Message] = []
        for tenant_index, tenant in enumerate(world):
            rng = random.Random(f"{config.seed}/{tenant_index}/{day_index}")
            text = None
            late = config.text_late_from is not None and day_index >= config.text_late_from
            if pool is not None and (late or config.text_early):
                words = random.Random(f"{config.seed}/{tenant_index}/{day_index}/text")
                text = (pool, words, late)
            builder = _DayBuilder(rng, tenant, day, drifted, text)
            _safe_traffic(builder, volume)
            _attacks(builder, len(builder.messages), config, day_index)
            day_mail = builder.finish()
            if config.label_noise:
                noise = random.Random(f"{config.seed}/{tenant_index}/{day_index}/labels")
                day_mail = [_noisy(m, noise, config.label_noise) for m in day_mail]
            messages.extend(day_mail)
        messages.sort(key=lambda m: (m.received_at, m.message_id))
        yield day, messages
