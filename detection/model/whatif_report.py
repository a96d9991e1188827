"""The what-if replay as analysts read it: the window loaded from the lake and the training table,
the top examples of each change with their reasons, markdown for the UI and the terminal, and
parquet files for notebooks. Ids, scores and reasons only: no message body leaves here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from detection import storage
from detection.features.text import TEXT_SCORE
from detection.markdown import table
from detection.model.gaps import Gaps, capability_gaps
from detection.model.training import terms_version_of
from detection.model.whatif import (
    CHANGES,
    FALSE_POSITIVE_REMOVED,
    KEYS,
    NEW_CATCH,
    NEW_FALSE_POSITIVE,
    NEW_MISS,
    Proposal,
    Replay,
    Side,
    WhatIfError,
    rate_cell,
    replay,
)

if TYPE_CHECKING:
    import pandas as pd

    from detection.model.text_training import TermMatrix
    from detection.serving.artifact import Bundle
    from detection.storage import Location

DEFAULT_DAYS = 14
EXAMPLES = 5
# which side called the message an attack, for its reasons
_FLAGGING_SIDE = {
    NEW_CATCH: "proposed",
    NEW_FALSE_POSITIVE: "proposed",
    NEW_MISS: "production",
    FALSE_POSITIVE_REMOVED: "production",
}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime  # exclusive
    frame: pd.DataFrame  # labelled rows of the training table in the window
    matrix: TermMatrix | None  # their term counts (None when not needed)
    history: dict[str, int]  # labelled attacks per category before the window

    def describe(self) -> dict[str, object]:
        label = self.frame["label"].to_numpy()
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "messages": len(self.frame),
            "attacks": int((label == "attack").sum()),
            "safe": int((label == "safe").sum()),
        }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_window(
    training_table: Location,
    lake_dir: Location | None,
    *,
    vocabulary: Iterable[str] | None = None,
    workers: int = 1,
    columns: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    days: int | None = DEFAULT_DAYS,
) -> Window:
    """The labelled mail received in [start, end) (default: the last ``days`` days of labelled
    mail; ``days`` None: all of it), with its point-in-time features from the training table and
    its texts from the lake (``lake_dir`` None: no texts, for bundles without a text model),
    counted over ``vocabulary`` (:func:`vocabulary_of` the bundles to replay) when given, by
    ``workers`` processes; ``columns``: read only these of the table besides the keys
    (:func:`columns_of` the bundles), not every column."""
    import pandas as pd

    from detection.model.text_training import lake_term_matrix

    if lake_dir is not None and not (lake_dir / "messages").is_dir():
        raise WhatIfError(
            f"no lake at {lake_dir} (no messages/ in it): the text model reads the window's "
            "texts there; point --lake (or ATTACK_DETECTION_LAKE_DIR) at the pipeline's lake"
        )
    if not training_table.is_file():
        raise WhatIfError(
            f"no training table at {training_table}: materialise training_table (make run) or "
            "point --work at the pipeline's work directory"
        )
    wanted = None
    if columns is not None:  # the keys, and what the bundles and the gap report read
        present = set(storage.column_names(training_table))
        wanted = [c for c in dict.fromkeys([*KEYS, *columns]) if c in present]
    frame = storage.read_frame(training_table, columns=wanted)
    frame = frame[frame["label"].isin(["attack", "safe"])]
    if not len(frame):
        raise WhatIfError(f"{training_table} holds no labelled mail; land labelled mail first")
    received = pd.to_datetime(frame["received_at"], utc=True)
    first = cast(datetime, pd.Timestamp(cast(datetime, received.min())).to_pydatetime())
    last = cast(datetime, pd.Timestamp(cast(datetime, received.max())).to_pydatetime())
    until = _utc(end) if end is not None else last + timedelta(microseconds=1)
    if start is not None:
        since = _utc(start)
    else:
        since = first if days is None else until - timedelta(days=days)
    if since >= until:
        raise WhatIfError(
            f"the window is empty: start {since} is not before end {until}; give a start "
            "before the end (or --days)"
        )
    inside = ((received >= since) & (received < until)).to_numpy()
    attacks_before = frame.loc[(received < since).to_numpy() & (frame["label"] == "attack")]
    history = {str(k): int(v) for k, v in attacks_before["category"].value_counts().items()}
    window = frame.loc[inside].reset_index(drop=True)
    if not len(window):
        raise WhatIfError(
            f"no labelled mail received in [{since}, {until}); labelled mail runs from "
            f"{first} to {last}"
        )
    matrix = None
    if lake_dir is not None:
        ids = window["message_id"].astype(str).tolist()
        matrix = lake_term_matrix(ids, lake_dir, vocabulary, workers)
    return Window(since, until, window, matrix, history)


def run(
    production: Bundle,
    proposal: Proposal,
    window: Window,
    *,
    examples: int = EXAMPLES,
    fpr_cap: float = 0.001,
    threads: int = 2,
) -> Report:
    """Replay the proposal over the window, with the examples and the proposal's gap report."""
    result = replay(production, proposal, window.frame, window.matrix, threads=threads)
    side = result.proposed
    gaps = capability_gaps(
        side.frame, side.decisions.attack, side.bundle.features, window.history, fpr_cap=fpr_cap
    )
    return Report(window, result, top_examples(result, examples), gaps, fpr_cap)


def training_overlap(bundle: Bundle, frame: pd.DataFrame) -> int:
    """How many of the window's messages arrived inside the bundle's training window (its
    manifest's lineage; pooled corpora by their own window): figures on them flatter it."""
    import pandas as pd

    from detection.features.behaviour import POOLED_TENANT_PREFIX

    lineage = bundle.manifest.get("lineage")
    windows = lineage.get("data_windows") if isinstance(lineage, dict) else None
    if not isinstance(windows, dict):
        return 0
    received = pd.to_datetime(frame["received_at"], utc=True)
    pooled = frame["tenant_id"].astype(str).str.startswith(POOLED_TENANT_PREFIX).to_numpy()
    inside = np.zeros(len(frame), dtype=bool)
    for name, rows in (("train", ~pooled), ("train_pooled_corpora", pooled)):
        window = windows.get(name)
        if isinstance(window, dict) and window.get("start") and window.get("end"):
            start, end = pd.Timestamp(window["start"]), pd.Timestamp(window["end"])
            start = start.tz_localize("UTC") if start.tzinfo is None else start
            end = end.tz_localize("UTC") if end.tzinfo is None else end
            inside |= rows & ((received >= start) & (received <= end)).to_numpy()
    return int(inside.sum())


def top_examples(result: Replay, limit: int = EXAMPLES) -> pd.DataFrame:
    """The ``limit`` messages of each change the flagging side scored highest, with its
    reasons (rules fired, the features that pushed most towards attack)."""
    import pandas as pd

    from detection.serving.scorer import Scorer

    rows, scorers = [], {}
    for change in CHANGES:
        side_name = _FLAGGING_SIDE[change]
        side: Side = getattr(result, side_name)
        positions = np.flatnonzero((result.rows["change"] == change).to_numpy())
        if not len(positions):
            continue
        score = result.rows[f"{side_name}_score"].to_numpy()[positions]
        forced = result.rows[f"{side_name}_forced"].to_numpy()[positions]
        chosen = positions[np.lexsort((-score, ~forced))][:limit]
        if side_name not in scorers:
            scorers[side_name] = Scorer(side.bundle)
        scorer = scorers[side_name]
        for position in chosen:
            record = side.frame.iloc[position]
            values = {name: float(record[name]) for name in side.bundle.features}
            meta = result.rows.iloc[position]
            rows.append(
                {
                    "change": change,
                    "message_id": str(meta["message_id"]),
                    "tenant_id": str(meta["tenant_id"]),
                    "category": str(meta["category"]),
                    "production_score": float(meta["production_score"]),
                    "proposed_score": float(meta["proposed_score"]),
                    "reasons_of": side_name,
                    "reasons": list(scorer.explain_values(values)),
                }
            )
    columns = [
        "change",
        "message_id",
        "tenant_id",
        "category",
        "production_score",
        "proposed_score",
        "reasons_of",
        "reasons",
    ]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Report:
    window: Window
    replay: Replay
    examples: pd.DataFrame
    gaps: Gaps
    fpr_cap: float

    def counts(self) -> dict[str, int]:
        changes = self.replay.rows["change"].to_numpy()
        return {change: int((changes == change).sum()) for change in CHANGES}

    def summary(self) -> dict[str, Any]:
        """The window's headline figures (for metadata and JSON output)."""
        return self._summary

    @cached_property
    def _summary(self) -> dict[str, Any]:
        total = self.replay.summary().to_dict(orient="records")[0]
        return {
            "production": self.replay.production.bundle.version,
            "proposal": self.replay.proposal,
            "window": self.window.describe(),
            "changes": self.counts(),
            "recall_before": rate_cell(total, "recall_before"),
            "recall_after": rate_cell(total, "recall_after"),
            "fpr_before": rate_cell(total, "fpr_before"),
            "fpr_after": rate_cell(total, "fpr_after"),
            "misses_after": self.gaps.misses,
            "in_production_training_window": training_overlap(
                self.replay.production.bundle, self.window.frame
            ),
            "in_proposal_training_window": training_overlap(
                self.replay.proposed.bundle, self.window.frame
            ),
            # bundles that learnt from other term families than the window's table counts
            "other_terms_version": {
                side: {"bundle": bundle.version, "terms_version": bundle.terms_version}
                for side, bundle in (
                    ("production", self.replay.production.bundle),
                    ("proposal", self.replay.proposed.bundle),
                )
                if bundle.terms_version != terms_version_of(self.window.frame)
            },
            "window_terms_version": terms_version_of(self.window.frame),
        }

    # --- markdown -----------------------------------------------------------------------------
    def summary_markdown(self, by: str | None = None) -> str:
        frame = self.replay.summary(by)
        key = by or "window"
        return table(
            [
                key,
                "attacks",
                "safe",
                "recall before",
                "recall after",
                "FPR before",
                "FPR after",
                *CHANGES,
            ],
            (
                [
                    row[key],
                    row["attacks"],
                    row["safe"],
                    rate_cell(row, "recall_before"),
                    rate_cell(row, "recall_after"),
                    rate_cell(row, "fpr_before"),
                    rate_cell(row, "fpr_after"),
                    *(row[c] for c in CHANGES),
                ]
                for row in frame.to_dict(orient="records")
            ),
        )

    def examples_markdown(self) -> str:
        if not len(self.examples):
            return "No message changed its verdict."
        return table(
            ["change", "message id", "tenant", "category", "production", "proposed", "reasons"],
            (
                [
                    r["change"],
                    r["message_id"],
                    r["tenant_id"],
                    r["category"],
                    r["production_score"],
                    r["proposed_score"],
                    f"{r['reasons_of']}: " + "; ".join(r["reasons"]),
                ]
                for r in self.examples.to_dict(orient="records")
            ),
        )

    def gaps_markdown(self) -> str:
        gaps = self.gaps
        head = f"{gaps.misses} of {gaps.attacks} attacks in the window are missed."
        absent = table(
            ["absent", "category", "misses", "attacks in category", "share"],
            gaps.by_absent.itertuples(index=False),
        )
        relation = table(
            ["relationship", "category", "misses", "attacks in category", "share"],
            gaps.by_relationship.itertuples(index=False),
        )
        ideas = table(
            [
                "group",
                "rule (force_attack)",
                "category",
                "group's misses caught",
                "all misses caught",
                "new false positives (of safe mail)",
            ],
            (
                [
                    i.group,
                    i.describe(),
                    i.category,
                    str(i.catches),
                    str(i.catches_all),
                    str(i.new_false_positives),
                ]
                for i in gaps.ideas
            ),
        )
        return (
            f"{head}\n\n**By what was absent** (a miss can be in several groups)\n\n{absent}\n\n"
            f"**By sender relationship**\n\n{relation}\n\n"
            f"**Rule ideas** (at most {self.fpr_cap:g} of the window's safe mail newly flagged; "
            f"costs measured by the rule engine on the window)\n\n{ideas}"
        )

    def markdown(self) -> str:
        s = self.summary()
        window = s["window"]
        return "\n\n".join(
            [
                f"# What if: {s['proposal']}",
                f"Production {s['production']} against the proposal, on {window['messages']} "
                f"labelled messages received {window['start']} to {window['end']} "
                f"({window['attacks']} attacks, {window['safe']} safe).",
                self._overlap_note(s),
                *self._terms_note(s),
                "## Whole window",
                self.summary_markdown(),
                "## By category",
                self.summary_markdown("category"),
                "## By tenant",
                self.summary_markdown("tenant_id"),
                "## Top examples",
                self.examples_markdown(),
                "## Capability gaps (after the proposal)",
                self.gaps_markdown(),
                "## Rule ideas as YAML",
                f"```yaml\n{self.ideas_yaml()}```",
            ]
        )

    @staticmethod
    def _overlap_note(s: dict[str, Any]) -> str:
        production, proposal = s["in_production_training_window"], s["in_proposal_training_window"]
        if not production and not proposal:
            return "No message of the window is in either bundle's training window."
        return (
            f"**Caution**: {production} messages of the window arrived in production's training "
            f"window and {proposal} in the proposal's: figures on them flatter the bundle that "
            "trained on them. Replay a later window to compare fairly."
        )

    @staticmethod
    def _terms_note(s: dict[str, Any]) -> list[str]:
        other = s["other_terms_version"]
        if not other:
            return []
        named = " and ".join(
            f"{side} ({o['bundle']}, terms version {o['terms_version']})"
            for side, o in other.items()
        )
        return [
            f"**Caution**: {named} learnt from other term families than the window's features "
            f"count (version {s['window_terms_version']}, detection.features.terms): its "
            "decisions here can "
            "differ from serving on mail the versions count differently (version 2 added six "
            "languages to version 1's English)."
        ]

    def ideas_yaml(self) -> str:
        """The rule ideas as a rules file (``whatif --add-rules`` replays them)."""
        if not self.gaps.ideas:
            return "rules: []\n"
        return "rules:\n" + "".join(i.yaml(k) for k, i in enumerate(self.gaps.ideas))

    # --- parquet --------------------------------------------------------------------------
    def write(self, directory: Location) -> dict[str, Location]:
        """Parquet for analysts: every changed message, the summaries, the examples, the gaps
        and the rule ideas, plus ``summary.json``."""
        import pandas as pd

        storage.make_dir(directory)
        ideas = pd.DataFrame(
            [
                {
                    "group": i.group,
                    "rule": i.describe(),
                    "category": i.category,
                    "yaml": i.yaml(k),
                    "group_misses_caught": i.catches.k,
                    "group_misses": i.catches.n,
                    "misses_caught": i.catches_all.k,
                    "misses": i.catches_all.n,
                    "new_false_positives": i.new_false_positives.k,
                    "safe": i.new_false_positives.n,
                    "new_fpr_high": i.new_false_positives.high,
                }
                for k, i in enumerate(self.gaps.ideas)
            ]
        )
        frames = {
            "changes": self.replay.changed,
            "summary_by_category": self.replay.summary("category"),
            "summary_by_tenant": self.replay.summary("tenant_id"),
            "examples": self.examples,
            "gaps_by_absent": self.gaps.by_absent,
            "gaps_by_relationship": self.gaps.by_relationship,
            "rule_ideas": ideas,
        }
        # every file is written into a staging folder first and moved in only when all are
        # written: a failure leaves the previous report's files as they were, never a mix
        staging = directory / ".writing"
        storage.remove_tree(staging)
        storage.make_dir(staging)
        try:
            names = {}
            for name, frame in frames.items():
                names[name] = f"{name}.parquet"
                storage.write_frame(frame, staging / names[name])
            names["rule_ideas_yaml"] = "rule_ideas.yaml"  # for whatif --add-rules
            (staging / names["rule_ideas_yaml"]).write_text(self.ideas_yaml())
            names["summary"] = "summary.json"
            summary = json.dumps(self.summary(), indent=2, sort_keys=True)
            (staging / names["summary"]).write_text(summary)
            for file in names.values():
                storage.replace(staging / file, directory / file)
        finally:
            storage.remove_tree(staging)
        return {name: directory / file for name, file in names.items()}


def needs_text(*bundles: Bundle) -> bool:
    return any(TEXT_SCORE in b.features for b in bundles)


def columns_of(*bundles: Bundle) -> list[str]:
    """The training table's columns a replay of these bundles and its gap report read."""
    from detection.model.gaps import GAP_FEATURES

    return list(dict.fromkeys([*(f for b in bundles for f in b.features), *GAP_FEATURES]))


def vocabulary_of(*bundles: Bundle) -> list[str]:
    """Every term the bundles' text models know, in a fixed order: the only terms a replay
    needs to count."""
    from detection.features.text import TextModel

    terms: dict[str, None] = {}
    for bundle in bundles:
        if TEXT_SCORE in bundle.features and bundle.text_model is not None:
            terms.update(dict.fromkeys(sorted(TextModel.from_bytes(bundle.text_model).terms)))
    return list(terms)
