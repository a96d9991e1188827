"""Figures in the UI are rounded for people; the exact values stay in the stages' files."""

import math

from assets.resources import for_people, metadata_of


def test_floats_are_rounded_to_four_significant_digits_everywhere():
    assert for_people(0.0023378141437755697) == 0.002338
    assert for_people(0.9312345, digits=6) == 0.931234
    assert for_people({"recall": [0.123456789, 3], "passed": True, "k": 5}) == {
        "recall": [0.1235, 3],
        "passed": True,
        "k": 5,
    }
    assert math.isnan(for_people(float("nan"))) and for_people(float("inf")) == float("inf")


def test_check_metadata_is_rounded():
    metadata = metadata_of({"fpr": 0.0023378141437755697, "interval": {"low": 0.912345678}})
    assert metadata["fpr"] == 0.002338
    assert metadata["interval"].value == {"low": 0.9123}
