"""The text model's featuriser and scorer: masking, caps, hostile text, storage, and exact parity
with scikit-learn's TF-IDF + logistic regression."""

import heapq
import itertools
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.features import text as text_module
from detection.features.text import (
    MAX_TOKENS,
    TextModel,
    TextModelError,
    terms_of,
    words_of,
)
from detection.mail.schema import Message
from detection.model.text_training import (
    TermMatrix,
    TextParams,
    fit_text_model,
    out_of_fold_scores,
    score_rows,
)

NOW = datetime(2026, 1, 6, 9, tzinfo=UTC)


def _message(subject: str, body: str) -> Message:
    return Message("m", "t", NOW, "a@b.com", subject=subject, body_text=body)


def test_terms_mask_addresses_urls_digits_list_tags_and_footers():
    terms = terms_of(
        "Re: [USRP-users] Verify your account 2024",
        "Call 713-345-3317 or write to bob@corp.com, see https://x.example/a?b=1\n"
        "__________\nUSRP-users mailing list footer",
    )
    assert "usrp" not in terms and "users" not in terms  # the list tag is gone
    assert "verify your" in terms and "your account" in terms
    assert "emailtoken" in terms and "urltoken" in terms
    assert not any(ch.isdigit() for term in terms for ch in term)
    assert "mailing" not in terms and "footer" not in terms  # cut at the footer rule


def test_empty_and_undecodable_text_are_values_not_errors():
    assert terms_of("", "") == []
    assert terms_of("\ufffd\ufffd", "\x00\x00\ufffd caf\xe9 ok") == ["café", "ok", "café ok"]
    model = TextModel({"ok": (1.0, 2.0)}, -0.5)
    assert model.score(_message("", "")) == -0.5


@given(st.text(max_size=5000), st.text(max_size=5000))
@settings(max_examples=200, deadline=None)
def test_any_text_gives_bounded_terms(subject, body):
    terms = terms_of(subject, body)
    assert len(terms) <= 2 * MAX_TOKENS
    assert all(term == term.lower() for term in terms)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=3000))
@settings(max_examples=300, deadline=None)
def test_ascii_text_splits_into_the_same_words_by_the_ascii_pattern(text):
    """Lower-cased ASCII text is split with ``[a-z]{2,}`` (twice as fast): the same words as the
    Unicode pattern every other text uses, whatever the digits, underscores and punctuation."""
    lowered = text.lower()
    assert text_module._ASCII_WORD.findall(lowered) == text_module._WORD.findall(lowered)


DOCS = [
    ("Verify your account now", "Your mailbox is suspended, log in to verify your password"),
    ("Urgent wire transfer", "Please send the payment today, keep this confidential"),
    ("Lunch tomorrow?", "Are we still on for lunch at noon tomorrow"),
    ("Minutes of the meeting", "Attached are the minutes, see you next week"),
    ("Account suspended", "Log in to restore access to your account"),
    ("Quarterly report", "The quarterly report is ready for review"),
    ("Password expiry notice", "Your password expires today verify now"),
    ("Team offsite", "Let us plan the team offsite for next month"),
]
Y = np.array([1, 1, 0, 0, 1, 0, 1, 0])


def test_scores_equal_scikit_learn_tfidf_and_logistic_regression():
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    documents = [terms_of(s, b) for s, b in DOCS]
    params = TextParams(c=10.0, min_df=2, seed=3)
    model = fit_text_model(TermMatrix.build(documents), np.arange(len(DOCS)), Y, params)
    counts = CountVectorizer(analyzer=lambda d: d, min_df=2)  # pyright: ignore[reportArgumentType]
    tfidf = TfidfTransformer(sublinear_tf=True)
    matrix = tfidf.fit_transform(counts.fit_transform(documents))
    reference = LogisticRegression(
        C=10.0, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=3
    ).fit(matrix, Y)
    expected = reference.decision_function(matrix)
    ours = [model.score(_message(s, b)) for s, b in DOCS]
    assert ours == pytest.approx(expected, abs=1e-9)
    rows = score_rows(model, TermMatrix.build(documents), np.arange(len(DOCS)))
    assert rows == pytest.approx(expected, abs=1e-9)
    assert model.top_terms(_message(*DOCS[0]))  # names the words that drove it


def test_storage_round_trip_and_refusal_of_other_formats():
    documents = [terms_of(s, b) for s, b in DOCS]
    model = fit_text_model(TermMatrix.build(documents), np.arange(len(DOCS)), Y, TextParams())
    data = model.to_bytes()
    assert data == model.to_bytes()  # deterministic bytes: the bundle version is stable
    again = TextModel.from_bytes(data)
    assert again == model
    with pytest.raises(TextModelError, match="unreadable"):
        TextModel.from_bytes(b"not parquet")


def test_out_of_fold_scores_come_from_models_that_never_saw_the_row():
    documents = [terms_of(s, b) for s, b in DOCS] * 3
    y = np.concatenate([Y, Y, Y])
    matrix = TermMatrix.build(documents)
    positions = np.arange(len(documents))
    scores = out_of_fold_scores(matrix, positions, y, y, TextParams(folds=3))
    assert scores.shape == (len(documents),) and np.isfinite(scores).all()
    fitted = score_rows(fit_text_model(matrix, positions, y, TextParams()), matrix, positions)
    assert not np.allclose(scores, fitted)


def test_repeated_texts_share_one_document_and_fit_as_repeated():
    """A million simulated messages carry a few thousand real texts: the matrix keeps one row
    per distinct text, while fits and scores are those of the repeated rows (scikit-learn on the
    repeated rows, as in the first test)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    documents = [terms_of(s, b) for s, b in DOCS]
    order = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 4, 2, 6, 7, 1, 3])
    repeated = [documents[i] for i in order]
    matrix = TermMatrix.build(repeated)
    assert matrix.counts.shape[0] == len(DOCS) and len(matrix) == len(order)
    y = Y[order]
    model = fit_text_model(matrix, np.arange(len(order)), y, TextParams(seed=3))
    counts = CountVectorizer(analyzer=lambda d: d, min_df=2)  # pyright: ignore[reportArgumentType]
    reference_matrix = TfidfTransformer(sublinear_tf=True).fit_transform(
        counts.fit_transform(repeated)
    )
    reference = LogisticRegression(
        C=10.0, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=3
    ).fit(reference_matrix, y)
    expected = reference.decision_function(reference_matrix)
    assert score_rows(model, matrix, np.arange(len(order))) == pytest.approx(expected, abs=1e-9)
    backwards = np.arange(len(order))[::-1]
    assert score_rows(model, matrix, backwards) == pytest.approx(expected[::-1], abs=1e-9)


_LURE = "Your password expires today, verify your account now"


@pytest.mark.parametrize("padding", ["\n", "\u200b\n", " \u00a0 ", "\t\ufeff\n"])
def test_padding_before_the_lure_does_not_hide_its_words(padding):
    """Featuriser 2 reads its window after squeezing whitespace runs and invisible characters:
    padding longer than the window (invisible in a client) no longer pushes the lure out of it,
    and a zero-width character no longer splits a word. Featuriser 1 (older bundles) reads the
    window as it stands, as it was trained."""
    padded = padding * 3_000 + _LURE
    assert terms_of("Notice", padded) == terms_of("Notice", _LURE)
    assert terms_of("Notice", padded, version=1) == terms_of("Notice", "", version=1)
    assert "password" in terms_of("", "pass\u200bword")
    assert "password" not in terms_of("", "pass\u200bword", version=1)


def test_a_model_scores_with_the_featuriser_version_it_was_trained_with():
    """A text model records its featuriser version; one from an older release loads and scores
    with that version; a version this code does not know is refused with what to do."""
    weights = {"password": (1.0, 3.0), "verify": (1.0, 2.0)}
    padded = _message("", "\n" * 3_000 + _LURE)
    current = TextModel.from_bytes(TextModel(weights, -1.0).to_bytes())
    older = TextModel.from_bytes(TextModel(weights, -1.0, featuriser_version=1).to_bytes())
    assert (current.featuriser_version, older.featuriser_version) == (2, 1)
    assert current.score(padded) > -1.0
    assert older.score(padded) == -1.0  # version 1's window holds only the padding
    assert older.message_words(padded) == words_of("", padded.body_text, version=1)
    with pytest.raises(TextModelError, match="scores versions 1, 2"):
        TextModel.from_bytes(TextModel(weights, -1.0, featuriser_version=3).to_bytes())


@given(st.text(alphabet=st.sampled_from(list("ab \n\t\u200b\u00a0")), max_size=6000))
@settings(max_examples=100, deadline=None)
def test_terms_from_a_body_squeezed_once_are_the_same(body):
    """The scorer squeezes each body once and hands it to the featuriser: the same terms."""
    from detection.mail.visible import squeeze

    assert terms_of("s", body, squeezed=squeeze(body)) == terms_of("s", body)


def _reference_score(model: TextModel, terms: list[str]) -> float:
    """Sublinear TF-IDF, L2 norm and the weights, term by term: the definition."""
    present = {t: n for t, n in Counter(terms).items() if t in model.terms}
    tf = {t: 1.0 + math.log(n) for t, n in present.items()}
    norm = math.sqrt(sum((tf[t] * model.terms[t][0]) ** 2 for t in present))
    if not norm:
        return model.intercept
    return model.intercept + sum(tf[t] * model.terms[t][0] * model.terms[t][1] for t in present) / (
        norm
    )


def _reference_top(model: TextModel, terms: list[str], limit: int = 3) -> list[str]:
    """The terms with the largest idf * weight above zero, ties alphabetical."""
    push = {t: model.terms[t][0] * model.terms[t][1] for t in set(terms) if t in model.terms}
    ranked = heapq.nlargest(limit, sorted(push), key=push.__getitem__)
    return [t for t in ranked if push[t] > 0]


_WORDS = st.sampled_from(["pay", "now", "the", "wire", "verify", "x", "ünï", "urltoken"])


@given(
    vocabulary=st.dictionaries(
        st.one_of(
            _WORDS,
            st.builds(lambda a, b: f"{a} {b}", _WORDS, _WORDS),
            st.builds(lambda a, b, c: f"{a} {b} {c}", _WORDS, _WORDS, _WORDS),
        ),
        # few distinct weights: ties between reason words are common (broken alphabetically)
        st.tuples(st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from([-1.0, 0.5, 1.0, 2.0])),
        max_size=40,
    ),
    words=st.lists(_WORDS, max_size=60),
)
@settings(max_examples=300, deadline=None)
def test_words_find_every_term_of_the_vocabulary(vocabulary, words):
    """Scoring reads words and finds bigrams as pairs of word numbers: the same score and reason
    words as the term strings, for any vocabulary, including bigrams whose words are not
    unigrams of it and terms of three words (never made by the featuriser: never found)."""
    model = TextModel(vocabulary, -0.25)
    terms = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    found = model.find(words)
    assert model.score_found(found) == model.score_terms(terms)
    assert model.score_found(found) == pytest.approx(_reference_score(model, terms), abs=1e-12)
    assert model.top_of(found) == _reference_top(model, terms)


def test_words_score_as_term_strings_on_the_whole_real_corpus(real_mail: Path):
    """Every message of the shared corpus, scored by a text model fitted on it: the words path
    the scorer takes gives exactly the score of the term strings (the path training's parity
    with scikit-learn is tested on) and the same reason words."""
    from detection.mail.ingest import ingest

    messages = ingest([real_mail]).messages
    documents = [terms_of(m.subject, m.body_text) for m in messages]
    labels = np.array([int(m.label == "attack") for m in messages])
    model = fit_text_model(
        TermMatrix.build(documents), np.arange(len(messages)), labels, TextParams()
    )
    assert len(model.terms) > 10_000
    differ = []
    for message, terms in zip(messages, documents, strict=True):
        found = model.find(words_of(message.subject, message.body_text))
        if model.score_found(found) != model.score_terms(terms) or model.top_of(
            found
        ) != _reference_top(model, terms):
            differ.append(message.message_id)
    assert not differ, f"{len(differ)} of {len(messages)} messages differ, e.g. {differ[:3]}"
