"""The work directory: where the Python stages keep their outputs, and the one place that knows
its layout. Each stage writes through this class and reads another stage's output only through
its typed loader, which fails with a :class:`~detection.handoff.HandoffError` naming the asset to
materialise when the output is missing or from an older release.

Layout under the root ($ATTACK_DETECTION_WORK_DIR, default var/work; a URL such as
``s3://bucket/work`` puts it on an object store, see :mod:`detection.storage`)::

    message_features.parquet    content signals per message          message_features
    training_table.parquet      content + behaviour + label           training_table
    snapshot/<table>.parquet    the serving snapshot of the baselines baseline_snapshot
    text_model/                 text_model.parquet + .json            text_model
    text_scores.parquet         text score per message (out-of-fold)  text_model
    detectors/detectors.json    the specialised detectors as trained  specialised_detectors
    candidate/                  model.txt + candidate.json            candidate_model
    real_mail/                  holdouts, held-out scores, shortcut
                                audit, the operating point            real_mail_evaluation
    evaluation.json             the test-window evaluation            model_evaluation
    evaluation_scores.parquet   labelled scores: validation, test     model_evaluation
    reports/                    Evidently HTML, PNG pictures          checks and evaluation
    candidate_bundle/           the bundle that would ship            candidate_bundle
    golden/golden_set.parquet   the frozen comparison set             golden_set
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from detection import storage
from detection.features.behaviour import SNAPSHOT_TABLES
from detection.features.text import TEXT_SCORE, TextModel, TextModelError
from detection.handoff import HandoffError
from detection.model.candidate import Candidate, TextModelInfo
from detection.serving.artifact import Bundle, BundleError

if TYPE_CHECKING:  # each loader imports its stage's module when called: nothing heavy at import
    import pandas as pd

    from detection.model.detectors import DetectorTraining
    from detection.model.evaluation import Evaluation
    from detection.model.holdouts import HoldoutReport
    from detection.model.operating_point import OperatingPoint
    from detection.model.shortcuts import ShortcutAudit
    from detection.storage import Location


@dataclass(frozen=True)
class WorkDir:
    root: Location

    # --- paths -------------------------------------------------------------------------------
    def _file(self, *parts: str) -> Location:
        path = self.root.joinpath(*parts)
        storage.make_dir(path.parent)
        return path

    @property
    def message_features(self) -> Location:
        return self._file("message_features.parquet")

    @property
    def training_table(self) -> Location:
        return self._file("training_table.parquet")

    @property
    def snapshot(self) -> Location:
        return self._file("snapshot", "x").parent

    def snapshot_table(self, name: str) -> Location:
        return self._file("snapshot", f"{name}.parquet")

    @property
    def candidate(self) -> Location:
        return self._file("candidate", "x").parent

    @property
    def detectors(self) -> Location:
        return self._file("detectors", "detectors.json")

    @property
    def evaluation(self) -> Location:
        return self._file("evaluation.json")

    @property
    def evaluation_scores(self) -> Location:
        return self._file("evaluation_scores.parquet")

    @property
    def reports(self) -> Location:
        return self._file("reports", "x").parent

    @property
    def candidate_bundle(self) -> Location:
        return self._file("candidate_bundle", "x").parent

    @property
    def golden_set(self) -> Location:
        return self._file("golden", "golden_set.parquet")

    def text_pool(self, key: str) -> Location:
        """The simulator's pool of real words for one corpus (see simulation.corpus_text)."""
        return self._file("text_pool", f"{key}.parquet")

    @property
    def text_model(self) -> Location:
        return self._file("text_model", "x").parent

    @property
    def text_scores(self) -> Location:
        return self._file("text_scores.parquet")

    @property
    def holdout_report(self) -> Location:
        return self._file("real_mail", "holdouts.json")

    @property
    def holdout_scores(self) -> Location:
        return self._file("real_mail", "held_out_scores.parquet")

    @property
    def shortcut_audit(self) -> Location:
        return self._file("real_mail", "shortcut_audit.json")

    @property
    def whatif(self) -> Location:
        """The last what-if replay's parquet files (detection.model.whatif_report)."""
        return self._file("whatif", "x").parent

    @property
    def operating_point(self) -> Location:
        return self._file("real_mail", "operating_point.json")

    # --- typed loaders -----------------------------------------------------------------------
    def read_message_features(self) -> pd.DataFrame:
        return _parquet(self.message_features, "message_features")

    def read_training_table(self) -> pd.DataFrame:
        """The labelled rows of the training table in arrival order."""
        frame = _parquet(self.training_table, "training_table")
        labelled = cast("pd.DataFrame", frame.loc[frame["label"].notna().to_numpy()])
        return labelled.sort_values(by=["received_at", "message_id"], ignore_index=True)

    def read_snapshot(self) -> dict[str, pa.Table]:
        tables = {}
        for name in SNAPSHOT_TABLES:
            path = self.snapshot_table(name)
            if not path.is_file():
                raise HandoffError(f"no snapshot table at {path}; materialise baseline_snapshot")
            tables[name] = storage.read_table(path)
        return tables

    def load_candidate(self) -> Candidate:
        return Candidate.load(self.candidate)

    def load_detectors(self) -> DetectorTraining:
        from detection.model.detectors import DetectorTraining

        return DetectorTraining.load(self.detectors)

    def load_text_model(self) -> tuple[TextModelInfo, TextModel]:
        info, data = TextModelInfo.load(self.text_model)
        try:
            return info, TextModel.from_bytes(data)
        except TextModelError as exc:
            raise HandoffError(f"{self.text_model}: {exc}; materialise text_model again") from exc

    def read_text_scores(self) -> pd.DataFrame:
        return _parquet(self.text_scores, "text_model")

    def read_scored_training_table(self) -> pd.DataFrame:
        """The labelled training table with each message's text score (out-of-fold on the
        training rows), as the text model wrote it."""
        frame, scores = self.read_training_table(), self.read_text_scores()
        joined = frame.merge(
            scores[["message_id", TEXT_SCORE]], on="message_id", how="left", validate="one_to_one"
        )
        if joined[TEXT_SCORE].isna().to_numpy().any():
            raise HandoffError(
                f"the text scores at {self.text_scores} do not cover the training table; "
                "materialise text_model again after training_table"
            )
        return joined

    def load_holdouts(self) -> HoldoutReport:
        from detection.model.holdouts import HoldoutReport

        return HoldoutReport.load(self.holdout_report)

    def read_holdout_scores(self) -> pd.DataFrame:
        return _parquet(self.holdout_scores, "real_mail_evaluation")

    def load_shortcut_audit(self) -> ShortcutAudit:
        from detection.model.shortcuts import ShortcutAudit

        return ShortcutAudit.load(self.shortcut_audit)

    def load_operating_point(self) -> OperatingPoint:
        from detection.model.operating_point import OperatingPoint

        return OperatingPoint.load(self.operating_point)

    def load_evaluation(self) -> Evaluation:
        from detection.model.evaluation import Evaluation

        return Evaluation.load(self.evaluation)

    def read_evaluation_scores(self) -> pd.DataFrame:
        return _parquet(self.evaluation_scores, "model_evaluation")

    def load_candidate_bundle(self) -> Bundle:
        try:
            return Bundle.read_dir(self.candidate_bundle)
        except BundleError as exc:
            raise HandoffError(f"{exc}; materialise candidate_bundle first") from exc

    def read_golden_set(self) -> pd.DataFrame:
        return _parquet(self.golden_set, "golden_set")


def _parquet(path: Location, producer: str) -> pd.DataFrame:
    if not path.is_file():
        raise HandoffError(f"no {path.name} at {path}; materialise {producer} first")
    return storage.read_frame(path)
