import mailbox

from detection.mail.ingest import ingest
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
