"""The candidate model as the training stage hands it on: the LightGBM text model, its features,
its threshold and the facts of how it was trained (windows, counts, parameters). Written as
``model.txt`` + ``candidate.json`` by :meth:`Candidate.save`, read back and validated by
:meth:`Candidate.load`; no pickle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from detection import handoff, storage
from detection.model.detectors import Place
from detection.serving.detectors import Detector, DetectorSet

if TYPE_CHECKING:
    import pandas as pd

    from detection.storage import Location

# 1: the untyped candidate.json of earlier releases; 2: before the text model; 3: before the
# specialised detectors
FORMAT_VERSION = 4
INFO_FILE = "candidate.json"
MODEL_FILE = "model.txt"
PRODUCER = "candidate_model"
TEXT_FORMAT_VERSION = 1
TEXT_INFO_FILE = "text_model.json"
TEXT_MODEL_FILE = "text_model.parquet"
TEXT_PRODUCER = "text_model"


@dataclass(frozen=True)
class Window:
    """One part of the time split: its first and last arrival (inclusive), rows and attacks."""

    start: str
    end: str
    rows: int
    attacks: int

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Window:
        return cls(
            start=str(frame["received_at"].min()),
            end=str(frame["received_at"].max()),
            rows=len(frame),
            attacks=int(frame["is_attack"].to_numpy().sum()),
        )

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` that arrived inside this window."""
        import pandas as pd

        at = frame["received_at"]
        inside = (at >= pd.Timestamp(self.start)) & (at <= pd.Timestamp(self.end))
        return cast("pd.DataFrame", frame.loc[inside.to_numpy()])

    def as_dict(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "rows": self.rows, "attacks": self.attacks}


@dataclass(frozen=True)
class Candidate:
    model_text: str
    features: tuple[str, ...]
    threshold: (
        float  # within validation_fpr on the validation days (threshold_within_budget; the
        # operating point adds real mail)
    )
    validation_fpr: float
    train: Window  # the organisations' own mail
    pooled: Window  # labelled corpora trained on as well (their own eras' dates)
    validation: Window
    test: Window
    test_days: int
    seed: int
    params: dict[str, Any] = field(default_factory=dict)  # LightGBM parameters and rounds
    text_params: dict[str, Any] = field(default_factory=dict)  # the text model's, as fitted
    run_id: str = ""
    # the specialised detectors kept beside the general model, and each trained detector's
    # judgement (detection.model.detectors.earns_place); the threshold the general model alone
    # would have at the same validation budget (the "before" of the before/after figures)
    detectors: tuple[Detector, ...] = ()
    places: tuple[Place, ...] = ()
    threshold_without_detectors: float = float("nan")
    # the term families the training table counted (detection.features.terms); the bundle
    # records it and the scorer counts with it (a candidate of an earlier release: version 1)
    terms_version: int = 1

    def detector_set(self) -> DetectorSet:
        return DetectorSet(self.detectors)

    def windows(self) -> dict[str, Window]:
        return {
            "train": self.train,
            "train_pooled_corpora": self.pooled,
            "validation": self.validation,
            "test": self.test,
        }

    def save(self, directory: Location) -> Location:
        storage.make_dir(directory)
        (directory / MODEL_FILE).write_text(self.model_text)
        return handoff.save(self, directory / INFO_FILE, FORMAT_VERSION, exclude=("model_text",))

    @classmethod
    def load(cls, directory: Location) -> Candidate:
        model = directory / MODEL_FILE
        if not model.is_file():
            raise handoff.HandoffError(
                f"no candidate model at {model}; materialise {PRODUCER} first"
            )
        return handoff.load(
            cls,
            directory / INFO_FILE,
            FORMAT_VERSION,
            PRODUCER,
            extra={"model_text": model.read_text()},
        )


@dataclass(frozen=True)
class TextModelInfo:
    """How the text model was fitted; the model itself is ``text_model.parquet`` beside it."""

    params: dict[str, Any]  # TextParams fields
    rows: int
    attacks: int
    terms: int
    out_of_fold_rows: int
    run_id: str = ""

    def save(self, directory: Location, model_bytes: bytes) -> Location:
        storage.make_dir(directory)
        (directory / TEXT_MODEL_FILE).write_bytes(model_bytes)
        return handoff.save(self, directory / TEXT_INFO_FILE, TEXT_FORMAT_VERSION)

    @classmethod
    def load(cls, directory: Location) -> tuple[TextModelInfo, bytes]:
        model = directory / TEXT_MODEL_FILE
        if not model.is_file():
            raise handoff.HandoffError(
                f"no text model at {model}; materialise {TEXT_PRODUCER} first"
            )
        info = handoff.load(cls, directory / TEXT_INFO_FILE, TEXT_FORMAT_VERSION, TEXT_PRODUCER)
        return info, model.read_bytes()
