"""A golden set frozen before the term families were versioned is recognised (golden_set then
freezes it again: this release's bundles could not be judged on it)."""

import pandas as pd

from assets.bundle import frozen_with_term_versions
from detection.features.signals import TERM_SIGNALS
from detection.features.terms import TERMS_VERSIONS
from detection.model.comparison import versioned


def test_a_golden_set_without_every_versions_term_signals_is_stale(tmp_path):
    rows = pd.DataFrame({"message_id": ["a"], "is_attack": [1], **{n: [1.0] for n in TERM_SIGNALS}})
    before = tmp_path / "before.parquet"
    rows.to_parquet(before)
    assert not frozen_with_term_versions(before)
    every = {versioned(n, v): [1.0] for n in TERM_SIGNALS for v in TERMS_VERSIONS}
    now = tmp_path / "now.parquet"
    rows.assign(**every).to_parquet(now)
    assert frozen_with_term_versions(now)
    one_short = tmp_path / "short.parquet"
    rows.assign(**every).drop(columns=[versioned(TERM_SIGNALS[0], max(TERMS_VERSIONS))]).to_parquet(
        one_short
    )
    assert not frozen_with_term_versions(one_short)
