from collections import Counter
from datetime import date

import pytest

from detection.mail.schema import ATTACK_CATEGORIES
from detection.simulation.generator import SimulationConfig, simulate


def _all(config: SimulationConfig):
    return [m for _, messages in simulate(config) for m in messages]


def test_same_seed_same_mail_and_other_seed_differs():
    config = SimulationConfig(days=4, tenants=2, employees=15, seed=11, attack_rate=0.05)
    first, second = _all(config), _all(config)
    assert first == second
    other = _all(SimulationConfig(days=4, tenants=2, employees=15, seed=12, attack_rate=0.05))
    assert [m.subject for m in other] != [m.subject for m in first]


def test_days_stream_in_order_with_messages_sorted_by_arrival():
    days = list(simulate(SimulationConfig(days=5, tenants=1, employees=10)))
    assert [d for d, _ in days] == [date(2026, 1, 5 + i) for i in range(5)]
    for day, messages in days:
        assert all(m.received_at.date() == day for m in messages)
        keys = [(m.received_at, m.message_id) for m in messages]
        assert keys == sorted(keys)
    ids = [m.message_id for _, ms in days for m in ms]
    assert len(ids) == len(set(ids))


def test_attack_base_rate_and_every_category_present():
    messages = _all(SimulationConfig(days=40, tenants=2, employees=20, attack_rate=0.02, seed=3))
    attacks = [m for m in messages if m.label == "attack"]
    rate = len(attacks) / len(messages)
    assert 0.01 < rate < 0.04, rate
    assert set(Counter(m.category for m in attacks)) == set(ATTACK_CATEGORIES)
    assert all(m.category == "safe" for m in messages if m.label == "safe")


def test_drift_scenario_introduces_image_only_phishing_after_drift_day():
    config = SimulationConfig(
        days=20, tenants=2, employees=20, attack_rate=0.05, drift_day=10, seed=5
    )
    before, after = [], []
    for index, (_, messages) in enumerate(simulate(config)):
        (after if index >= 10 else before).extend(
            m for m in messages if m.category == "credential_phishing"
        )
    image_only = lambda ms: sum(1 for m in ms if m.html_image_count and not m.body_text)  # noqa: E731
    assert image_only(before) == 0
    assert image_only(after) > len(after) // 3


@pytest.mark.parametrize("bad", [{"days": 0}, {"attack_rate": 0.7}, {"attack_mix": {"spam": 1.0}}])
def test_invalid_config_is_refused_with_a_clear_message(bad):
    with pytest.raises(ValueError, match=r"days|attack_rate|attack categories"):
        SimulationConfig(**bad)


def test_any_day_can_be_generated_alone_and_workers_do_not_change_output(tmp_path):
    import pyarrow.parquet as pq

    from detection.simulation.to_lake import write_simulation

    config = SimulationConfig(days=4, tenants=1, employees=12, attack_rate=0.05, seed=8)
    everything = dict(simulate(config))
    assert dict(simulate(config, [3, 1])) == {d: everything[d] for d in sorted(everything)[1::2]}
    assert next(iter(simulate(config, [40])))[1], "days past config.days exist too"
    one, two = tmp_path / "one", tmp_path / "two"
    write_simulation(config, one, workers=1)
    write_simulation(config, two, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*.parquet"))
    assert files == sorted(p.relative_to(two) for p in two.rglob("*.parquet")) and len(files) == 12
    assert all(pq.read_table(one / f).equals(pq.read_table(two / f)) for f in files)
