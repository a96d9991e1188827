"""What the training table carries to the candidate: the term families its rows counted."""

import pandas as pd
import pytest

from detection.features.terms import TERMS_VERSION_COLUMN
from detection.model.training import TrainingError, terms_version_of


def test_the_terms_version_comes_from_the_table_and_one_table_has_one():
    rows = pd.DataFrame({"message_id": ["a", "b"], "terms_urgency": [0.0, 1.0]})
    assert terms_version_of(rows) == 1  # written by a release that counted version 1
    assert terms_version_of(rows.assign(**{TERMS_VERSION_COLUMN: [2, 2]})) == 2
    with pytest.raises(TrainingError, match=r"versions \[1, 2\].*message_features"):
        terms_version_of(rows.assign(**{TERMS_VERSION_COLUMN: [1, 2]}))
