"""The feature vector in one fixed order: content signals, structure features, the text model's
score, behavioural features. ``MODEL_FEATURES`` is what the model learns from: all of them but
the transport and era artefacts (kept for rules and analysis)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from detection.features.behaviour import BEHAVIOUR_DESCRIPTIONS, BEHAVIOUR_FEATURES
from detection.features.signals import (
    CONTENT_DESCRIPTIONS,
    CONTENT_FEATURES,
    ERA_ARTEFACTS,
    TRANSPORT_FEATURES,
    content_signals,
)
from detection.features.structure import (
    STRUCTURE_DESCRIPTIONS,
    STRUCTURE_FEATURES,
    structure_features,
)
from detection.features.terms import DEFAULT_TERMS_VERSION
from detection.features.text import TEXT_DESCRIPTION, TEXT_SCORE
from detection.mail.schema import Message
from detection.mail.visible import Visible

if TYPE_CHECKING:  # pandas is for the pipeline's frames; scoring one message never loads it
    import pandas as pd

    from detection.storage import Location

# computed per message from the message alone (the message_features asset, the scorer)
MESSAGE_FEATURES: tuple[str, ...] = (*CONTENT_FEATURES, *STRUCTURE_FEATURES)
FEATURE_COLUMNS: tuple[str, ...] = (*MESSAGE_FEATURES, TEXT_SCORE, *BEHAVIOUR_FEATURES)
MODEL_FEATURES: tuple[str, ...] = tuple(
    f for f in FEATURE_COLUMNS if f not in TRANSPORT_FEATURES | ERA_ARTEFACTS
)

DESCRIPTIONS: dict[str, str] = {
    **CONTENT_DESCRIPTIONS,
    **STRUCTURE_DESCRIPTIONS,
    TEXT_SCORE: TEXT_DESCRIPTION,
    **BEHAVIOUR_DESCRIPTIONS,
}


def message_values(
    message: Message, visible: Visible | None = None, terms_version: int = DEFAULT_TERMS_VERSION
) -> dict[str, float]:
    """Content signals and structure features of one message (the body's visible form found
    once for both; ``visible``: found by the caller already; ``terms_version``: the term
    families the model was trained with, ``detection.features.terms``)."""
    if visible is None:
        visible = Visible.of(message.body_text)
    signals = content_signals(message, visible, terms_version)
    return {**signals, **structure_features(message, visible)}


def content_frame(
    messages: Iterable[Message], terms_version: int = DEFAULT_TERMS_VERSION
) -> pd.DataFrame:
    """Content signals and structure features for many messages, one row each, indexed by
    message id (term families of ``terms_version``)."""
    import pandas as pd

    rows, index = [], []
    for message in messages:
        rows.append(message_values(message, terms_version=terms_version))
        index.append(message.message_id)
    frame = pd.DataFrame(
        rows, columns=list(MESSAGE_FEATURES), index=pd.Index(index, name="message_id")
    )
    return frame.astype("float64")


KEY_COLUMNS = ("tenant_id", "received_at", "label", "category", "source")


def file_content_frame(path: Location, terms_version: int = DEFAULT_TERMS_VERSION) -> pd.DataFrame:
    """Content signals of every message in one lake parquet file, with its key columns."""
    import pandas as pd

    from detection import storage
    from detection.mail.schema import MESSAGES, message_from_row

    frames = []
    for batch in storage.batches([path], MESSAGES.names, MESSAGES):
        rows = batch.to_pylist()
        messages = (message_from_row(row) for row in rows)
        signals = content_frame(messages, terms_version).reset_index()
        keys = pd.DataFrame({k: [row[k] for row in rows] for k in KEY_COLUMNS})
        frames.append(pd.concat([keys, signals], axis=1))
    columns = ["message_id", *KEY_COLUMNS, *MESSAGE_FEATURES]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def files_content_frame(
    paths: Sequence[Location], workers: int = 1, terms_version: int = DEFAULT_TERMS_VERSION
) -> pd.DataFrame:
    """Content signals of every message in many lake files, in file order; ``workers`` processes
    share the files (the same rows whatever the number of workers)."""
    import functools

    import pandas as pd

    one_file = functools.partial(file_content_frame, terms_version=terms_version)
    if workers <= 1 or len(paths) <= 1:
        frames = [one_file(p) for p in paths]
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(min(workers, len(paths)), mp_context=get_context("spawn")) as pool:
            frames = list(pool.map(one_file, paths))
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
