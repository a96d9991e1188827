"""Typed hand-offs: what one stage writes, the next reads back as the same object; a missing,
old or malformed file fails with a message that names the asset to materialise."""

import json
import math
from dataclasses import dataclass, field

import pytest

from detection import handoff
from detection.handoff import HandoffError
from detection.model.candidate import Candidate, Window
from detection.model.detectors import Place
from detection.model.evaluation import Evaluation, Metrics
from detection.model.intervals import Rate
from detection.serving.detectors import Detector


@dataclass(frozen=True)
class _Inner:
    name: str
    share: float


@dataclass(frozen=True)
class _Outer:
    count: int
    inner: _Inner
    by_key: dict[str, _Inner]
    names: tuple[str, ...]
    optional: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


def _outer() -> _Outer:
    return _Outer(
        count=3,
        inner=_Inner("a", float("nan")),
        by_key={"x": _Inner("b", 0.5)},
        names=("p", "q"),
    )


def test_round_trip_keeps_every_field_and_nan(tmp_path):
    path = handoff.save(_outer(), tmp_path / "outer.json", format_version=4)
    text = path.read_text()
    assert "NaN" not in text  # standard JSON: NaN is written as null
    back = handoff.load(_Outer, path, 4, "producer_asset")
    assert back.count == 3 and back.names == ("p", "q") and back.by_key["x"] == _Inner("b", 0.5)
    assert math.isnan(back.inner.share) and back.optional is None and back.extra == {}


def test_missing_file_names_the_producer(tmp_path):
    with pytest.raises(HandoffError, match="materialise producer_asset first"):
        handoff.load(_Outer, tmp_path / "absent.json", 1, "producer_asset")


def test_a_file_from_another_release_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "outer.json"
    path.write_text(json.dumps({"threshold": 0.5, "features": ["a"]}))  # an untyped old file
    with pytest.raises(HandoffError, match=r"format version None.*materialise producer_asset"):
        handoff.load(_Outer, path, 2, "producer_asset")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": "3"}, "_Outer.count must be an integer"),
        ({"count": True}, "_Outer.count must be an integer"),
        ({"names": "pq"}, "_Outer.names must be a list"),
        ({"inner": {"name": "a"}}, "_Outer.inner lacks the field 'share'"),
        ({"surprise": 1}, "unexpected fields"),
        ({"by_key": {"x": {"name": 1, "share": 0.5}}}, r"by_key\['x'\].name must be a str"),
    ],
)
def test_malformed_fields_are_refused_with_their_path(tmp_path, change, message):
    document = json.loads(handoff.to_json(_outer(), 1)) | change
    path = tmp_path / "outer.json"
    path.write_text(json.dumps(document))
    with pytest.raises(HandoffError, match=message):
        handoff.load(_Outer, path, 1, "producer_asset")


def test_unreadable_json_is_a_handoff_error(tmp_path):
    path = tmp_path / "outer.json"
    path.write_text("{not json")
    with pytest.raises(HandoffError, match="unreadable"):
        handoff.load(_Outer, path, 1, "producer_asset")


def _window(rows: int = 10) -> Window:
    return Window("2026-01-01 00:00:00+00:00", "2026-01-07 23:59:00+00:00", rows, 2)


def test_candidate_round_trip_with_its_model_in_a_file_of_its_own(tmp_path):
    candidate = Candidate(
        model_text="tree\nversion=v4\n",
        features=("a", "b"),
        threshold=0.25,
        validation_fpr=0.001,
        train=_window(100),
        pooled=_window(5),
        validation=_window(20),
        test=_window(30),
        test_days=7,
        seed=7,
        params={"objective": "binary", "num_leaves": 15},
        run_id="r1",
        detectors=(Detector("bec", "BEC", ("a",), 0.9, 0.0005, "tree\nversion=v4\n"),),
        places=(
            Place(
                "bec",
                True,
                "catches 2 more",
                Rate.of(8, 10),
                Rate.of(10, 10),
                Rate.of(1, 100),
                Rate.of(1, 100),
                None,
            ),
        ),
        threshold_without_detectors=0.3,
    )
    candidate.save(tmp_path / "candidate")
    assert (tmp_path / "candidate" / "model.txt").read_text() == candidate.model_text
    assert "model_text" not in (tmp_path / "candidate" / "candidate.json").read_text()
    assert Candidate.load(tmp_path / "candidate") == candidate


def test_candidate_without_its_model_file_is_refused(tmp_path):
    with pytest.raises(HandoffError, match="materialise candidate_model first"):
        Candidate.load(tmp_path / "nothing")


def test_evaluation_round_trip(tmp_path):
    metrics = Metrics(1.0, 0.5, 0.01, 10_000.0, float("nan"), 4, 100, 4, 1)
    evaluation = Evaluation(
        threshold=0.3,
        window=_window(),
        combined=metrics,
        model_only=metrics,
        rules_only=metrics,
        recall_by_category={"bec": 1.0},
        attacks_by_category={"bec": 4},
        by_tenant={"t1": metrics},
    )
    evaluation.save(tmp_path / "evaluation.json")
    back = Evaluation.load(tmp_path / "evaluation.json")
    assert back.by_tenant["t1"].attacks == 4 and math.isnan(back.combined.pr_auc)
    assert back.recall_by_category == {"bec": 1.0} and back.window == evaluation.window
