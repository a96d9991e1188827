"""Champion vs challenger comparison on a golden set."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detection.features.signals import TERM_SIGNALS
from detection.model.comparison import GoldenSetError, compare, versioned, with_terms_of
from detection.serving.artifact import Bundle


def _golden() -> pd.DataFrame:
    categories = ["safe"] * 200 + ["bec"] * 10 + ["malware"] * 10 + ["extortion_scam"] * 2
    return pd.DataFrame({"category": categories, "is_attack": [0] * 200 + [1] * 22})


def test_a_challenger_losing_one_category_is_refused():
    golden = _golden()
    rng = np.random.default_rng(3)
    champion = np.concatenate([rng.uniform(0, 0.4, 200), np.full(22, 0.9)])
    challenger = champion.copy()
    challenger[200:210] = 0.1  # stops catching BEC
    result = compare(golden, champion, challenger, budget=0.01, tolerance=0.01, min_attacks=5)
    assert not result.passed
    assert set(result.regressions) == {"overall", "bec"}
    assert result.not_judged == ["extortion_scam"]


def test_an_equal_or_better_challenger_passes():
    golden = _golden()
    champion = np.concatenate([np.linspace(0, 0.5, 200), np.full(22, 0.45)])
    challenger = np.concatenate([np.linspace(0, 0.5, 200), np.full(22, 0.95)])
    result = compare(golden, champion, challenger, budget=0.01, tolerance=0.01, min_attacks=5)
    assert result.passed and result.challenger["overall"] == 1.0


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bundles"


def test_each_bundle_is_judged_on_the_term_signals_of_its_own_version():
    """The golden set holds the term signals as each terms version counts them; a bundle of
    format 3 (version 1) reads version 1's, one of format 4 (version 2) version 2's. A golden set
    frozen before the versions (one set of counts, version 1's) still judges a version 1 bundle
    and refuses a version 2 one with what to do."""
    old, new = Bundle.read_dir(FIXTURES / "format-3"), Bundle.read_dir(FIXTURES / "format-4")
    assert (old.terms_version, new.terms_version) == (1, 2)
    golden = pd.DataFrame({name: [1.0, 1.0] for name in TERM_SIGNALS})
    golden = golden.assign(
        **{versioned(n, 1): [0.0, 0.0] for n in TERM_SIGNALS},
        **{versioned(n, 2): [3.0, 3.0] for n in TERM_SIGNALS},
    )
    assert (with_terms_of(old, golden)[list(TERM_SIGNALS)] == 0.0).all().all()
    assert (with_terms_of(new, golden)[list(TERM_SIGNALS)] == 3.0).all().all()
    frozen_before = pd.DataFrame({name: [1.0] for name in TERM_SIGNALS})
    assert with_terms_of(old, frozen_before).equals(frozen_before)
    with pytest.raises(GoldenSetError, match=r"terms version 2.*refresh: true"):
        with_terms_of(new, frozen_before)
