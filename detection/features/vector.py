"""The feature vector: content signals followed by behavioural features, in one fixed order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from detection.features.behaviour import BEHAVIOUR_DESCRIPTIONS, BEHAVIOUR_FEATURES
from detection.features.signals import CONTENT_DESCRIPTIONS, CONTENT_FEATURES, content_signals
from detection.mail.schema import Message

FEATURE_COLUMNS: tuple[str, ...] = (*CONTENT_FEATURES, *BEHAVIOUR_FEATURES)

DESCRIPTIONS: dict[str, str] = {**CONTENT_DESCRIPTIONS, **BEHAVIOUR_DESCRIPTIONS}


def content_frame(messages: Iterable[Message]) -> pd.DataFrame:
    """Content signals for many messages, one row each, indexed by message id."""
    rows, index = [], []
    for message in messages:
        rows.append(content_signals(message))
        index.append(message.message_id)
    frame = pd.DataFrame(
        rows, columns=list(CONTENT_FEATURES), index=pd.Index(index, name="message_id")
    )
    return frame.astype("float64")


KEY_COLUMNS = ("tenant_id", "received_at", "label", "category")


def file_content_frame(path: str | Path) -> pd.DataFrame:
    """Content signals of every message in one lake parquet file, with its key columns."""
    import pyarrow.parquet as pq

    from detection.mail.schema import message_from_row

    frames = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=20_000):
        rows = batch.to_pylist()
        signals = content_frame(message_from_row(row) for row in rows).reset_index()
        keys = pd.DataFrame({k: [row[k] for row in rows] for k in KEY_COLUMNS})
        frames.append(pd.concat([keys, signals], axis=1))
    columns = ["message_id", *KEY_COLUMNS, *CONTENT_FEATURES]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def files_content_frame(paths: Sequence[str | Path], workers: int = 1) -> pd.DataFrame:
    """Content signals of every message in many lake files, in file order; ``workers`` processes
    share the files (the same rows whatever the number of workers)."""
    if workers <= 1 or len(paths) <= 1:
        frames = [file_content_frame(p) for p in paths]
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(min(workers, len(paths)), mp_context=get_context("spawn")) as pool:
            frames = list(pool.map(file_content_frame, [str(p) for p in paths]))
    return pd.concat(frames, ignore_index=True)


def feature_workers() -> int:
    """Processes for the content signals: $ATTACK_DETECTION_FEATURE_WORKERS, else every core."""
    return int(os.environ.get("ATTACK_DETECTION_FEATURE_WORKERS") or os.cpu_count() or 1)


def join_behaviour(content: pd.DataFrame, behaviour: pd.DataFrame) -> pd.DataFrame:
    """The training table: content signals joined one-to-one with the behavioural features on
    ``message_id`` (messages missing from either side drop out), plus the ``is_attack`` label."""
    table = content.merge(behaviour, on="message_id", how="inner", validate="one_to_one")
    table["is_attack"] = (table["label"] == "attack").astype(int)
    return table
