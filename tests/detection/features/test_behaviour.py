"""Behavioural features online (BehaviourState), one scenario per feature; the dbt parity tests
(tests/dbt_project) hold the mart to the same values on a whole simulated world."""

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detection.features.behaviour import (
    BEHAVIOUR_DESCRIPTIONS,
    BEHAVIOUR_FEATURES,
    HISTORY_CAP,
    POOLED_TENANT_PREFIX,
    BehaviourState,
    dbt_vars,
)
from detection.mail.schema import Message, Url

DBT_PROJECT = Path(__file__).resolve().parents[3] / "dbt_project"
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _mail(n: int, sender: str, recipient: str, **fields) -> Message:
    return Message(
        message_id=f"m{n:03d}",
        tenant_id="t",
        received_at=START + timedelta(hours=n),
        sender_address=sender,
        to_addresses=(recipient,),
        **fields,
    )


def _replay(messages: list[Message]) -> list[dict[str, float]]:
    state, seen = BehaviourState(), []
    for message in messages:
        seen.append(state.features(message))
        state.observe(message)
    return seen


def test_every_feature_is_declared_once_with_a_description():
    assert BEHAVIOUR_FEATURES == tuple(BEHAVIOUR_DESCRIPTIONS)
    assert all(BEHAVIOUR_DESCRIPTIONS.values())
    assert tuple(BehaviourState().features(_mail(0, "a@x.com", "b@corp.com"))) == BEHAVIOUR_FEATURES


def test_every_constant_the_dbt_models_use_comes_from_python():
    used = {
        name
        for path in DBT_PROJECT.glob("models/**/*.sql")
        for name in re.findall(r"var\(['\"](\w+)['\"]", path.read_text())
    }
    assert used == set(dbt_vars())


def test_a_first_time_sender_has_no_age_and_counts_start_at_zero():
    _, first, second = _replay(
        [
            _mail(0, "colleague@corp.com", "bob@corp.com"),
            _mail(1, "new@vendor.com", "bob@corp.com"),
            _mail(2, "new@vendor.com", "bob@corp.com"),
        ]
    )
    assert first["sender_prior_messages"] == 0 and math.isnan(first["sender_days_since_first_seen"])
    assert second["sender_prior_messages"] == 1 and second["pair_prior_messages"] == 1


def test_unknown_history_is_missing_not_new():
    """A tenant with no earlier mail (the default tenant, one the scorer never saw) and a pooled
    corpus of unrelated mailboxes say nothing about senders: every feature is NaN."""
    first, second = _replay(
        [_mail(0, "a@vendor.com", "bob@corp.com"), _mail(1, "b@x.com", "bob@corp.com")]
    )
    assert all(math.isnan(v) for v in first.values())
    assert second["sender_prior_messages"] == 0  # the tenant now has history: b@x.com is new
    state = BehaviourState()
    pooled = [_mail(n, "a@vendor.com", "bob@corp.com") for n in range(3)]
    for message in pooled:
        message.tenant_id = f"{POOLED_TENANT_PREFIX}real-mail"
        assert all(math.isnan(v) for v in state.features(message).values())
        state.observe(message)


def test_history_saturates_at_the_cap():
    mail = [_mail(n, "a@vendor.com", "bob@corp.com") for n in range(HISTORY_CAP + 3)]
    assert _replay(mail)[-1]["sender_prior_messages"] == HISTORY_CAP


def test_recipient_has_replied_once_the_recipient_wrote_to_the_sender():
    seen = _replay(
        [
            _mail(0, "a@vendor.com", "bob@corp.com"),
            _mail(1, "bob@corp.com", "a@vendor.com"),
            _mail(2, "a@vendor.com", "bob@corp.com"),
            _mail(3, "c@other.com", "bob@corp.com"),
        ]
    )
    assert math.isnan(seen[0]["recipient_has_replied"])  # the tenant's first mail: no history
    assert seen[1]["recipient_has_replied"] == 1  # a@vendor.com wrote to bob first
    assert seen[2]["recipient_has_replied"] == 1
    assert seen[3]["recipient_has_replied"] == 0  # bob never wrote to c@other.com


def test_display_name_of_a_colleague_from_outside():
    seen = _replay(
        [
            _mail(0, "ceo@corp.com", "bob@corp.com", sender_display_name="Dana Chief"),
            _mail(1, "dana.chief@gmail.com", "bob@corp.com", sender_display_name="Dana Chief"),
        ]
    )
    assert seen[1]["display_name_seen_internal"] == 1
    assert seen[1]["display_name_prior_addresses"] == 1


def test_a_link_to_a_lookalike_of_a_known_domain():
    known = [_mail(n, f"ap{n}@acmesupply.com", "bob@corp.com") for n in range(2)]
    lure = _mail(
        2,
        "billing@other.net",
        "bob@corp.com",
        urls=(Url(href="https://acmesuppIy.com/pay", host="acmesuppiy.com", text="pay"),),
    )
    honest = _mail(
        3,
        "x@other.net",
        "bob@corp.com",
        urls=(Url(href="https://acmesupply.com/", host="acmesupply.com", text=""),),
    )
    seen = _replay([*known, lure, honest])
    assert seen[2]["url_lookalike_of_known_domain"] == 1.0  # one edit from a known domain
    assert seen[3]["url_lookalike_of_known_domain"] == 0.0  # the known domain itself
