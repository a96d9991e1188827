"""The serving snapshot's rows: UTC time stamps converted from their integers (no pandas, no
pyarrow.compute) give exactly what pyarrow's own conversion gives."""

from datetime import UTC

import pyarrow as pa
import pytest

from detection.features.behaviour import _rows


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_utc_time_stamps_convert_as_pyarrow_does(unit: str):
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    values = [0, None, 1_767_225_600 * scale + scale // 8, -86_400 * scale, 2**33 * scale // 4]
    table = pa.table(
        {
            "tenant_id": ["a", "b", "c", "d", "e"],
            "first_seen_at": pa.array(values, pa.timestamp(unit, tz="UTC")),
            "prior_messages": [1, 2, 3, 4, 5],
        }
    )
    rows = _rows(table)
    plain = table.column("first_seen_at").cast(pa.timestamp(unit)).to_pylist()
    expected = [
        None
        if v is None
        else (v.to_pydatetime() if hasattr(v, "to_pydatetime") else v).replace(tzinfo=UTC)
        for v in plain
    ]
    assert [r["first_seen_at"] for r in rows] == expected
    assert [r["tenant_id"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert [r["prior_messages"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(r["first_seen_at"] is None or r["first_seen_at"].tzinfo is UTC for r in rows)


def test_a_table_without_time_stamps_reads_as_its_rows():
    table = pa.table({"tenant_id": ["a"], "url_domain": ["x.example"]})
    assert _rows(table) == [{"tenant_id": "a", "url_domain": "x.example"}]
