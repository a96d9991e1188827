"""The latency gate's replay sets: the latest landed mail, and a fixed sample of a labelled real
corpus landed as a pooled tenant (none when no corpus landed)."""

from datetime import date

from detection.mail import lake
from detection.mail.parsing import parse_message
from detection.mail.schema import Message, messages_to_tables


def landed_messages(tenant: str, n: int, day: int) -> list[Message]:
    """``n`` (at most 10) small messages of ``tenant`` on ``day`` of January 2026, message ``i``
    from s<i>@org<i>.example at 10:0<i>."""
    return [
        parse_message(
            f"From: s{i}@org{i}.example\r\nTo: r@example.com\r\nSubject: {tenant} {i}\r\n"
            f"Date: Mon, {day} Jan 2026 10:0{i}:00 +0000\r\n\r\nbody {i}\r\n".encode(),
            tenant_id=tenant,
        )
        for i in range(n)
    ]


def test_latest_first_and_the_corpus_sample_by_id(tmp_path):
    first, second = date(2026, 1, 5), date(2026, 1, 6)
    corpus = landed_messages("corpus:real-mail", 5, 5)
    lake.write_day(tmp_path, first, messages_to_tables(landed_messages("acme", 3, 5)))
    lake.write_day(tmp_path, first, messages_to_tables(corpus), part="path-1")
    lake.write_day(tmp_path, second, messages_to_tables(landed_messages("acme", 3, 6)))

    sets = lake.replay_sets(tmp_path, 4, "corpus:")
    assert len(sets["latest"]) == 4
    assert all(m.received_at.day == 6 for m in sets["latest"][:3])  # the newest day first
    assert [m.message_id for m in sets["real_mail"]] == sorted(m.message_id for m in corpus)[:4]
    assert {m.tenant_id for m in sets["real_mail"]} == {"corpus:real-mail"}

    assert lake.replay_sets(tmp_path, 4, "other:")["real_mail"] == []
