"""Specialised detectors as a bundle holds and the scorer runs them: ``detectors.json`` (format
1: each detector's category, description, features, threshold, FP budget and LightGBM model as
text inside JSON, never pickle), validated whole when a bundle is loaded, and scored on one
message or a frame. How they are trained and judged, and why the verdict is a union with the
general model: :mod:`detection.model.detectors`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from detection.mail.schema import ATTACK_CATEGORIES
from detection.serving.forest import Forest, UnsupportedModel

if TYPE_CHECKING:
    import pandas as pd

    from detection.serving.artifact import Bundle

DETECTORS_FORMAT = 1
# a detectors.json larger than this is refused (three small models are a few hundred KB)
MAX_DETECTORS_BYTES = 16 * 1024 * 1024


class DetectorError(ValueError):
    """A detectors file that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class Detector:
    category: str
    description: str
    features: tuple[str, ...]
    threshold: float
    fp_budget: float
    lightgbm_text: str = field(repr=False)

    @property
    def name(self) -> str:
        return self.category

    @cached_property
    def forest(self) -> Forest:
        """The detector's model, evaluated as the scorer evaluates the general model."""
        return Forest.from_text(self.lightgbm_text)

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """Scores of rows of this detector's features (shape ``(n, features)``)."""
        return self.forest.predict(matrix)

    def frame_scores(self, frame: pd.DataFrame) -> np.ndarray:
        return self.scores(frame[list(self.features)].to_numpy(dtype=float))

    def fires(self, frame: pd.DataFrame) -> np.ndarray:
        """The rows of ``frame`` whose score reaches this detector's threshold."""
        return self.frame_scores(frame) >= self.threshold

    def reason(self, score: float) -> str:
        return (
            f"detector {self.name}: {self.description}, score {score:.3f} >= its threshold "
            f"{self.threshold:.3f} (FP budget {self.fp_budget:g})"
        )


@dataclass(frozen=True)
class DetectorSet:
    """The kept detectors of a model (possibly none)."""

    detectors: tuple[Detector, ...] = ()

    def __len__(self) -> int:
        return len(self.detectors)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.detectors)

    def fired_by(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per detector, the rows it fires on."""
        return {d.name: d.fires(frame) for d in self.detectors}

    def fired(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows on which any detector fires."""
        hits = np.zeros(len(frame), dtype=bool)
        for mask in self.fired_by(frame).values():
            hits |= mask
        return hits

    def fired_one(self, values: Mapping[str, float]) -> list[tuple[Detector, float]]:
        """The detectors that fire on one message's feature values, with their scores."""
        return self.fired_rows([values])[0]

    def fired_rows(
        self, values: Sequence[Mapping[str, float]]
    ) -> list[list[tuple[Detector, float]]]:
        """:meth:`fired_one` for many messages' feature values, one LightGBM call per detector."""
        fired: list[list[tuple[Detector, float]]] = [[] for _ in values]
        for d in self.detectors:
            matrix = np.array([[v[name] for name in d.features] for v in values], dtype=float)
            for row, score in zip(fired, d.scores(matrix).tolist(), strict=True):
                if score >= d.threshold:
                    row.append((d, score))
        return fired

    def to_bytes(self) -> bytes:
        document = {
            "format_version": DETECTORS_FORMAT,
            "detectors": [dataclasses.asdict(d) for d in self.detectors],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode()

    @classmethod
    def from_bytes(
        cls, data: bytes, features: set[str], where: str = "detectors.json"
    ) -> DetectorSet:
        """Read and validate a detectors file; ``features`` are those the scorer computes."""
        if len(data) > MAX_DETECTORS_BYTES:
            raise DetectorError(f"{where} is {len(data)} bytes, over {MAX_DETECTORS_BYTES}")
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise DetectorError(f"{where} is not JSON ({exc}); rebuild the bundle") from exc
        found = document.get("format_version") if isinstance(document, dict) else None
        if found != DETECTORS_FORMAT:
            raise DetectorError(
                f"{where}: format {found} is not the {DETECTORS_FORMAT} this code reads; "
                "rebuild the bundle"
            )
        entries = document.get("detectors")
        if not isinstance(entries, list) or len(entries) > len(ATTACK_CATEGORIES):
            raise DetectorError(
                f"{where}: 'detectors' must be a list of at most {len(ATTACK_CATEGORIES)} (one "
                "per attack category); rebuild the bundle"
            )
        detectors = tuple(_detector(e, features, f"{where}[{i}]") for i, e in enumerate(entries))
        names = [d.name for d in detectors]
        if len(set(names)) != len(names):
            raise DetectorError(
                f"{where}: two detectors for one category ({names}); rebuild the bundle"
            )
        return cls(detectors)


def detectors_of(bundle: Bundle) -> DetectorSet:
    """A bundle's specialised detectors (none before bundle format 3), validated; a malformed
    file is a :class:`~detection.serving.artifact.BundleError`."""
    from detection.serving.artifact import BundleError

    data = bundle.detectors
    if data is None:
        return DetectorSet()
    try:
        return DetectorSet.from_bytes(
            data, set(bundle.features), f"bundle {bundle.version} detectors.json"
        )
    except DetectorError as exc:
        raise BundleError(str(exc)) from exc


def _detector(entry: Any, features: set[str], where: str) -> Detector:
    if not isinstance(entry, dict):
        raise DetectorError(f"{where} must be an object; rebuild the bundle")
    try:
        category, description = entry["category"], entry["description"]
        names, text = entry["features"], entry["lightgbm_text"]
        if not all(isinstance(v, str) for v in (category, description, text)):
            raise TypeError("category, description and lightgbm_text must be strings")
        if not isinstance(names, list) or not all(isinstance(f, str) for f in names):
            raise TypeError("features must be a list of names")
        detector = Detector(
            category=category,
            description=description,
            features=tuple(names),
            threshold=float(entry["threshold"]),
            fp_budget=float(entry["fp_budget"]),
            lightgbm_text=text,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DetectorError(f"{where}: malformed detector ({exc!r}); rebuild the bundle") from exc
    problems = []
    if category not in ATTACK_CATEGORIES:
        problems.append(f"its category {category!r} is not an attack category")
    unknown = sorted(set(detector.features) - features)
    if unknown:
        problems.append(f"it reads unknown features {unknown}")
    if not 0.0 < detector.threshold <= 1.0:
        problems.append(f"its threshold {detector.threshold} is not in (0, 1]")
    if not 0.0 < detector.fp_budget < 1.0:
        problems.append(f"its FP budget {detector.fp_budget} is not in (0, 1)")
    if not problems:
        problems = _model_problems(detector)
    if problems:
        raise DetectorError(f"{where} ({category}): {'; '.join(problems)}; rebuild the bundle")
    return detector


def _model_problems(detector: Detector) -> list[str]:
    """The model must parse and read exactly the detector's features, in their order."""
    try:
        forest = detector.forest
    except UnsupportedModel as exc:
        return [f"its LightGBM model does not load ({str(exc)[:200]})"]
    if list(forest.feature_names) != list(detector.features):
        return ["its model's features are not the detector's features in the same order"]
    return []
