import mailbox
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from detection.mail.ingest import ingest
from detection.mail.parsing import MAX_MESSAGE_BYTES
from detection.simulation.generator import SimulationConfig, simulate
from detection.simulation.render import render_rfc822


def _mail(count: int) -> list[bytes]:
    messages = [
        m for _, day in simulate(SimulationConfig(days=2, tenants=1, employees=10)) for m in day
    ]
    return [render_rfc822(m) for m in messages[:count]]


def test_mbox_manifest_labels_duplicates_and_quarantine(tmp_path):
    raws = _mail(3)
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    for raw in [*raws, raws[0], b"From: x@y.z\r\n\r\n"]:
        box.add(raw)
    box.flush()
    box.close()
    (tmp_path / "junk.eml").write_bytes(b"\x00\x01\x02 binary junk" * 20)
    (tmp_path / "manifest.csv").write_text(
        "path,label,category,source\ninbox.mbox,attack,bec,honeypot\n"
    )
    result = ingest([tmp_path], tenant_id="acme")
    assert result.duplicates == 1
    assert [q["reason"] for q in result.quarantine] == ["not_rfc822"]
    assert result.quarantine[0]["source_path"].endswith("junk.eml")
    assert len(result.messages) == 4
    assert {(m.label, m.category, m.source, m.tenant_id) for m in result.messages} == {
        ("attack", "bec", "honeypot", "acme")
    }
    summary = result.summary()
    assert (summary["parsed"], summary["quarantined"], summary["duplicates"]) == (4, 1, 1)


def test_labels_from_folder_names(tmp_path):
    raws = _mail(2)
    (tmp_path / "attack" / "kit").mkdir(parents=True)
    (tmp_path / "safe").mkdir()
    (tmp_path / "attack" / "kit" / "a.eml").write_bytes(raws[0])
    (tmp_path / "safe" / "b.eml").write_bytes(raws[1])
    result = ingest([tmp_path])
    assert sorted((m.label, m.category) for m in result.messages) == [
        ("attack", "unknown"),
        ("safe", "safe"),
    ]


def test_every_path_is_accounted_for(tmp_path):
    """Parsed, quarantined (unparseable, unreadable) or skipped with a reason and a count: a
    dotfile, the corpus's documentation, a dangling link, a FIFO, a file that fails to read."""
    raws = _mail(2)
    (tmp_path / "a.eml").write_bytes(raws[0])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.eml").write_bytes(raws[1])
    (tmp_path / ".hidden.eml").write_bytes(raws[0])
    (tmp_path / "README").write_text("about this corpus")
    (tmp_path / "gone.eml").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "pipe.eml")  # reading it would hang: it is skipped, and counted
    (tmp_path / "fails.eml").symlink_to("/proc/self/mem")  # a "regular file" that fails to read
    result = ingest([tmp_path])
    assert len(result.messages) == 2
    assert [q["reason"] for q in result.quarantine] == ["unreadable"]
    assert result.skipped == {
        "dotfile": 1,
        "corpus documentation": 1,
        "dangling link": 1,
        "not a regular file (FIFO, device or socket)": 1,
    }
    assert result.summary()["skipped"]["dotfile"] == 1


def test_mbox_messages_are_capped_while_streaming(tmp_path):
    raws = _mail(2)
    huge = raws[0].replace(b"\r\n\r\n", b"\r\n\r\n" + b"x" * (MAX_MESSAGE_BYTES + 10), 1)
    box = mailbox.mbox(tmp_path / "box.mbox")
    for raw in (raws[1], huge, raws[0]):
        box.add(raw)
    box.flush()
    box.close()
    result = ingest([tmp_path / "box.mbox"])
    assert len(result.messages) == 2
    assert [(q["reason"], q["source_path"][-2:]) for q in result.quarantine] == [
        ("too_large", "#1")
    ]


def test_undated_mail_arrives_at_a_time_from_the_input_not_the_clock(tmp_path):
    raw = b"From: a@b.c\r\nSubject: no date\r\n\r\nhello\r\n"
    path = tmp_path / "undated.eml"
    path.write_bytes(raw)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    first, again = ingest([path]), ingest([path])
    assert first.messages[0].received_at == again.messages[0].received_at
    assert first.messages[0].received_at == datetime.fromtimestamp(1_700_000_000, UTC)
    chosen = datetime(2026, 1, 6, 9, tzinfo=UTC)
    assert ingest([path], undated_time=chosen).messages[0].received_at == chosen


def test_cli_ingest_adds_batches_to_a_day_and_is_idempotent(tmp_path):
    raws = _mail(6)
    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "lake"
    for folder, batch in ((first, raws[:4]), (second, raws[4:])):
        folder.mkdir()
        for n, raw in enumerate(batch):
            (folder / f"{n}.eml").write_bytes(raw)
    cli = Path(sys.executable).with_name("attack-detection")
    for folder in (first, second, first):  # the first batch again: no duplicate rows
        subprocess.run(
            [str(cli), "ingest", "--out", str(out), str(folder)], check=True, capture_output=True
        )
    landed = pq.read_table(out / "messages").column("message_id").to_pylist()
    assert sorted(landed) == sorted({m for m in landed}) and len(landed) == 6
