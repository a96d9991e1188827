"""Locations: the lake and the work directory read and write the same through a local path and
through an fsspec URL (fsspec's in-memory filesystem here; S3 on moto's server in
tests/assets/test_s3_storage.py)."""

import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from detection import storage
from detection.mail import lake
from detection.mail.schema import MESSAGES, messages_to_tables
from detection.model.operating_point import OperatingPoint
from detection.workdir import WorkDir
from tests.detection.mail.test_lake_replay import landed_messages


@pytest.fixture(params=["local", "memory"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> storage.Location:
    if request.param == "local":
        return tmp_path / "root"
    return storage.location(f"memory://test-{uuid.uuid4().hex}/root")


def test_location_reads_paths_and_urls(tmp_path: Path):
    assert storage.location(str(tmp_path)) == tmp_path
    assert storage.location(f"file://{tmp_path}") == tmp_path
    assert storage.location(tmp_path) == tmp_path
    remote = storage.location("s3://bucket/lake")
    assert not isinstance(remote, Path) and str(remote) == "s3://bucket/lake"
    assert str(remote / "messages") == "s3://bucket/lake/messages"


def test_parquet_round_trip_and_older_files_read_with_the_new_schema(root):
    path = root / "t" / "x.parquet"
    storage.write_table(pa.table({"a": [1, 2]}), path)
    assert path.is_file() and not (root / "t" / ".tmp-x.parquet").exists()
    assert storage.read_table(path).to_pylist() == [{"a": 1}, {"a": 2}]
    assert storage.column_names(path) == ["a"]
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    # a column the file predates reads as nulls
    assert storage.read_table(path, schema=schema).to_pylist()[0] == {"a": 1, "b": None}
    frame = storage.read_frame(path)
    storage.write_frame(frame.assign(c=[0.5, 1.5]), root / "f.parquet")
    assert storage.read_frame(root / "f.parquet", columns=["c"])["c"].tolist() == [0.5, 1.5]


def test_move_and_remove(root):
    storage.make_dir(root / "d")
    source, target = root / "d" / "a.txt", root / "d" / "b.txt"
    source.write_text("one")
    storage.replace(source, target)
    assert target.read_text() == "one" and not source.exists()
    storage.remove_tree(root / "d")
    assert not target.exists()
    storage.remove_tree(root / "never-made")  # nothing to remove is not an error


def test_moving_between_a_local_path_and_a_url_is_refused(tmp_path: Path):
    (tmp_path / "a").write_text("x")
    with pytest.raises(ValueError, match="one is local"):
        storage.replace(tmp_path / "a", storage.location("memory://elsewhere/a"))


def test_the_lake_reads_the_same_wherever_it_is(root):
    first, second = date(2026, 1, 5), date(2026, 1, 6)
    older, newer = landed_messages("acme", 3, 5), landed_messages("corpus:real-mail", 4, 6)
    lake.write_day(root, first, messages_to_tables(older))
    lake.write_day(root, second, messages_to_tables(newer))
    lake.write_quarantine(root, second, [])

    files = lake.message_files(root)
    assert [str(f).split("/")[-2] for f in files] == ["date=2026-01-05", "date=2026-01-06"]
    span = lake.arrival_span(root, [first, second])
    assert span is not None and span[0].day == 5 and span[1].day == 6
    wanted = [older[1].message_id, newer[2].message_id]
    texts = list(lake.iter_texts(root, wanted))
    assert [t[0] for t in texts] == wanted and texts[0][1] == "acme 1"
    assert lake.sender_org_domains(root, wanted) == {
        older[1].message_id: "org1.example",
        newer[2].message_id: "org2.example",
    }
    sets = lake.replay_sets(root, 2, "corpus:")
    assert len(sets["latest"]) == 2 and len(sets["real_mail"]) == 2


def test_lake_files_from_before_a_column_read_with_it_empty(root):
    """A lake written before ``body_is_html`` existed reads it as False, local or remote."""
    table = messages_to_tables(landed_messages("acme", 2, 5))["messages"]
    old = table.drop_columns(["body_is_html"])
    storage.write_table(old, lake.partition_dir(root, "messages", date(2026, 1, 5)) / "p.parquet")
    texts = list(lake.iter_texts(root, table.column("message_id").to_pylist()))
    assert [t[3] for t in texts] == [False, False]
    assert "body_is_html" in MESSAGES.names


def test_a_work_directory_at_a_url_hands_off_like_a_local_one(root):
    work = WorkDir(root)
    point = OperatingPoint(
        threshold=0.5,
        with_history=0.6,
        simulated=0.5,
        real_mail=0.4,
        fp_budget=0.005,
        decided_by="simulated",
        tenants={"acme": 0.7},
        alerts_per_day=3.0,
    )
    point.save(work.operating_point)
    assert work.load_operating_point() == point
    storage.write_frame(
        pa.table({"message_id": ["m"], "x": [1.0]}).to_pandas(), work.message_features
    )
    assert work.read_message_features()["message_id"].tolist() == ["m"]


def test_a_write_that_fails_midway_leaves_the_old_file(root):
    import pandas as pd

    path = root / "t" / "x.parquet"
    storage.write_frame(pd.DataFrame({"a": [1, 2]}), path)
    unwritable = pd.DataFrame({"a": [1, "two"]})  # mixed types: pyarrow refuses mid-write
    with pytest.raises((TypeError, ValueError, pa.ArrowException)):
        storage.write_frame(unwritable, path)
    assert storage.read_frame(path)["a"].tolist() == [1, 2]
    storage.write_bytes(path, b"new")
    assert path.read_bytes() == b"new"


def test_read_table_gives_the_columns_asked_for_as_the_schema_types_them(root):
    path = root / "x.parquet"
    storage.write_table(pa.table({"a": [1], "b": ["x"]}), path)
    schema = pa.schema([("a", pa.int64()), ("b", pa.string()), ("c", pa.bool_())])
    assert storage.read_table(path, columns=["a", "c"], schema=schema).to_pylist() == [
        {"a": 1, "c": None}
    ]


def test_a_row_condition_is_given_for_both_kinds_of_location(tmp_path: Path):
    with pytest.raises(ValueError, match="both as an expression and as keep"):
        list(
            storage.batches(
                [tmp_path / "x.parquet"],
                ["a"],
                pa.schema([("a", pa.int64())]),
                keep=lambda table: table.column("a"),
            )
        )
