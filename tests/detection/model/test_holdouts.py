"""The real-mail splits: what each split trains on and how its threshold is chosen."""

from typing import cast

import numpy as np
import pandas as pd
import pytest

from detection.model.holdouts import ATTACK_SOURCE, SAFE_SOURCE, evaluate_holdouts
from detection.model.policy import GatePolicy
from detection.model.thresholds import source_threshold

CUTOFF = cast(pd.Timestamp, pd.Timestamp("2010-01-01", tz="UTC"))


def _frame() -> pd.DataFrame:
    rows = []
    for source, label, count in (
        ("s1", 0, 40),
        ("s2", 0, 40),
        ("s3", 0, 40),
        ("a1", 1, 30),
        ("a2", 1, 30),
    ):
        for n in range(count):
            year = 2001 if n % 2 else 2020
            rows.append(
                {
                    "message_id": f"{source}-{n}",
                    "tenant_id": "corpus:x",
                    "source": source,
                    "is_attack": label,
                    "label": "attack" if label else "safe",
                    "received_at": pd.Timestamp(f"{year}-03-01", tz="UTC"),
                }
            )
    for n in range(60):  # simulated mail: some took the words of s1 or a1 messages
        origin = (
            ("s1", f"s1-{n % 40}") if n % 3 == 0 else ("a1", f"a1-{n % 30}") if n % 3 == 1 else None
        )
        rows.append(
            {
                "message_id": f"t-{n}",
                "tenant_id": "t000",
                "is_attack": int(n % 3 == 1),
                "source": f"simulator:{origin[0]}:{origin[1]}" if origin else "simulator",
                "label": "attack" if n % 3 == 1 else "safe",
                "received_at": pd.Timestamp("2026-01-05", tz="UTC"),
            }
        )
    return pd.DataFrame(rows)


def test_splits_leave_out_the_held_out_part_and_copies_of_its_words():
    frame = _frame()
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    rng = np.random.default_rng(0)

    def fit_score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        seen.append((train, test))
        return frame["is_attack"].to_numpy()[test] * 0.5 + rng.uniform(0, 0.5, len(test))

    report, held = evaluate_holdouts(
        frame,
        np.arange(len(frame)),
        fit_score,
        budget=0.05,
        time_cutoff=CUTOFF,
        seed=1,
    )
    assert report.judged
    names = [s.name for s in report.splits]
    assert names[:3] == [f"{SAFE_SOURCE}: s1", f"{SAFE_SOURCE}: s2", f"{SAFE_SOURCE}: s3"]
    assert f"{ATTACK_SOURCE}: a1" in names and "random" in names and "time held out" in names
    sources = frame["source"].to_numpy()
    for (train, test), name in zip(seen, names, strict=True):
        assert not set(train) & set(test)
        copied = {s.rpartition(":")[2] for s in sources[train] if s.startswith("simulator:")}
        assert not copied & set(frame["message_id"].to_numpy()[test])  # no copy of a test text
        held_out = name.rpartition(": ")[2]
        if name.startswith((SAFE_SOURCE, ATTACK_SOURCE)):
            assert held_out not in set(sources[train])
            assert not any(s.startswith(f"simulator:{held_out}:") for s in sources[train])
    # a safe source's threshold comes from the other folds' held-out safe mail only
    folds = report.of_kind(SAFE_SOURCE)
    for fold in folds:
        others = {
            o.held_out: held.loc[
                (held["split"] == o.name) & (held["is_attack"] == 0), "score"
            ].to_numpy()
            for o in folds
            if o is not fold
        }
        assert fold.threshold == pytest.approx(min(1.0, max(0.0, source_threshold(others, 0.05))))


def test_without_two_safe_sources_it_says_why():
    frame = _frame()
    frame = pd.DataFrame(frame[~frame["source"].isin(["s2", "s3"])]).reset_index(drop=True)
    report, held = evaluate_holdouts(
        frame,
        np.arange(len(frame)),
        lambda a, b: np.zeros(len(b)),
        budget=0.01,
        time_cutoff=CUTOFF,
        seed=1,
    )
    assert not report.judged and "two safe sources" in report.reason and held.empty
    assert GatePolicy().min_source_safe == 300
