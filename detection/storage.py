"""Where the lake and the work directory live: a local directory (the default) or a URL that an
fsspec filesystem opens, such as ``s3://bucket/prefix``, so that steps on different machines
share them (issue #19).

A location is a :class:`pathlib.Path` for a local directory and a :class:`upath.UPath` for a
URL; both have the same path methods (``/``, ``open``, ``read_text``, ``write_bytes``,
``is_file``, ``glob``, ``mkdir``...), which is all most stages use. The few operations that
pathlib does not cover the same way on both (parquet through pyarrow, atomic replacement,
directories) are here, once.

S3 credentials and the endpoint come from the standard AWS chain (environment, profile, instance
role; ``AWS_ENDPOINT_URL_S3`` for an S3-compatible endpoint), read by s3fs when a step first
touches the location: never from config, never logged. The dbt subprocess reads the lake through
the same chain (``dbt_project/profiles.yml`` registers the s3 filesystem with DuckDB).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from upath import UPath

Location: TypeAlias = "Path | UPath"


def location(text: str | os.PathLike[str]) -> Location:
    """A local path, or a UPath for a URL (``scheme://...``; ``file://`` reads as local)."""
    text = os.fspath(text)
    if "://" not in text:
        return Path(text)
    if text.startswith("file://"):
        return Path(text.removeprefix("file://"))
    from upath import UPath

    # no cached listings: other processes (the simulator's workers, other steps, other runs)
    # write into these folders, and s3fs would otherwise answer a later glob, exists() or
    # is_file() from a listing taken before their writes (a whole landed day went unseen)
    return UPath(text, use_listings_cache=False)


def make_dir(path: Location) -> None:
    """Make a local directory and its parents (an object store has no directories to make)."""
    if isinstance(path, Path):
        path.mkdir(parents=True, exist_ok=True)


def write_bytes(path: Location, data: bytes) -> None:
    """Write a file atomically: readers see the old file or the new one, never half of one
    (locally a temp name then a rename; on an object store one PUT of the whole content, so a
    write that fails midway uploads nothing)."""
    make_dir(path.parent)
    if isinstance(path, Path):
        _replaced(path, lambda tmp: tmp.write_bytes(data))
    else:
        path.write_bytes(data)


def _replaced(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` a temp file beside ``path``, then rename it over ``path`` (atomic locally)."""
    tmp = path.with_name(f".tmp-{path.name}")
    write(tmp)
    os.replace(tmp, path)


def write_table(table: pa.Table, path: Location) -> None:
    """A parquet file (zstd), written atomically."""
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        make_dir(path.parent)
        _replaced(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
        return
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_bytes(path, sink.getvalue().to_pybytes())


def write_frame(frame: pd.DataFrame, path: Location) -> None:
    """A DataFrame as a parquet file (pandas' own writer, without the index); on an object store
    written whole or not at all."""
    make_dir(path.parent)
    if isinstance(path, Path):
        frame.to_parquet(path, index=False)
        return
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_bytes(path, buffer.getvalue())


def _buffer(path: UPath) -> pa.BufferReader:
    """A remote file's bytes in memory (one GET) for pyarrow's native readers: never a Python
    file object, which pyarrow's threads would call back into (that aborts the interpreter at
    exit, seen with pyarrow 23 over fsspec)."""
    import pyarrow as pa

    return pa.BufferReader(path.read_bytes())


def read_table(path: Location, columns: list[str] | None = None, schema: Any = None) -> pa.Table:
    """A parquet file as an Arrow table: ``columns`` (default all), read as ``schema`` when
    given (a column the file predates reads as nulls)."""
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        return pq.read_table(path, columns=columns, schema=schema)
    parquet = pq.ParquetFile(_buffer(path))
    if schema is None:
        return parquet.read(columns=columns)
    wanted = _fields(schema, columns)
    present = [n for n in wanted.names if n in parquet.schema_arrow.names]
    return _conformed(parquet.read(columns=present), wanted)


def read_frame(path: Location, columns: list[str] | None = None) -> pd.DataFrame:
    """A parquet file as a DataFrame (pandas' own reader, as the file was written)."""
    import pandas as pd

    if isinstance(path, Path):
        return pd.read_parquet(path, columns=columns)
    return pd.read_parquet(_buffer(path), columns=columns)


def column_names(path: Location) -> list[str]:
    """The columns of a parquet file, read from its footer."""
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        return pq.read_schema(path).names
    with path.open("rb") as source:  # the footer only, read on this thread
        return pq.ParquetFile(source).schema_arrow.names


def _fields(schema: pa.Schema, columns: list[str] | None) -> pa.Schema:
    import pyarrow as pa

    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def _conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with exactly ``schema``'s fields: absent ones as nulls (a file written before
    a column existed), in order, cast to its types."""
    import pyarrow as pa

    columns = [
        table.column(field.name).cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def batches(
    files: list[Location],
    columns: list[str],
    schema: pa.Schema,
    keep: Callable[[pa.Table], pa.Array] | None = None,
    expression: Any = None,
    batch_size: int = 20_000,
) -> Iterator[pa.RecordBatch]:
    """The ``columns`` of these parquet files in batches, read as ``schema`` (a column missing
    from an older file reads as nulls), keeping the rows a condition selects, given twice:
    ``expression`` (a pyarrow.dataset filter, pushed down into local reads) and ``keep`` (the
    same condition as a mask over ``columns``, for remote files); a remote file is read whole
    into memory (one GET), a local one in batches."""
    if (keep is None) != (expression is None):
        raise ValueError("give the row condition both as an expression and as keep, or neither")
    import pyarrow.parquet as pq

    if all(isinstance(f, Path) for f in files):
        import pyarrow.dataset as ds

        dataset = ds.dataset([str(f) for f in files], format="parquet", schema=schema)
        scanner = dataset.scanner(columns=columns, filter=expression, batch_size=batch_size)
        yield from scanner.to_batches()
        return
    import pyarrow as pa

    wanted = _fields(schema, columns)
    for file in files:
        if isinstance(file, Path):
            raise ValueError(f"{file}: one read mixes local files and URLs")
        parquet = pq.ParquetFile(_buffer(file))
        present = [c for c in columns if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size, columns=present):
            table = _conformed(pa.Table.from_batches([batch], batch.schema), wanted)
            if keep is not None:
                table = table.filter(keep(table))
            yield from table.to_batches()


def replace(source: Location, target: Location) -> None:
    """Move a file over another (atomic locally; a copy then a delete on an object store)."""
    if isinstance(source, Path) and isinstance(target, Path):
        os.replace(source, target)
    elif not isinstance(source, Path) and not isinstance(target, Path):
        source.rename(target)
    else:
        raise ValueError(f"cannot move {source} to {target}: one is local, the other is not")


def remove_tree(path: Location) -> None:
    """Delete a directory and everything under it, if it exists."""
    if isinstance(path, Path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.fs.rm(path.path, recursive=True)
