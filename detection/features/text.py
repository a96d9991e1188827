"""The learned text model: its featuriser (the one implementation, used by training and by the
scorer) and the linear model that scores a message's language.

Featuriser: the subject (list tags such as ``[USRP-users]`` and reply prefixes removed) and the
first ``MAX_BODY_CHARS`` characters of the visible body, cut at a mailing-list footer rule; e-mail
addresses and URLs masked as tokens; lower-cased words of two or more letters (digits, dates,
phone numbers and prices drop out, so era tokens such as years and area codes cannot be learned);
word unigrams and bigrams. Text that could not be decoded arrives with replacement characters,
which are not letters: they drop out too. Empty text yields no terms and scores the intercept.

Versions: a text model records the featuriser version it was trained with and is scored with
that version, so bundles of every released format keep scoring as they were trained.
- 1: the body's first ``MAX_BODY_CHARS`` characters as they stand.
- 2 (current): the first ``MAX_BODY_CHARS`` characters after squeezing whitespace runs and
  invisible characters out of the subject and body (:mod:`detection.mail.visible`): blank lines,
  spaces or zero-width characters before the lure no longer push its words out of the window,
  and a zero-width character inside a word no longer splits it.

Model: TF-IDF (sublinear term frequency, smoothed inverse document frequency, L2 norm) and a
logistic regression, stored as data (a parquet table of term, idf and weight plus the intercept),
never pickled. :meth:`TextModel.score` reproduces scikit-learn's ``decision_function`` exactly
(tested), without scikit-learn: a dictionary lookup per word and the rest in NumPy.
"""

from __future__ import annotations

import heapq
import io
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from detection.mail.schema import Message
from detection.mail.visible import squeeze, squeezed_head

FEATURISER_VERSION = 2
FEATURISER_VERSIONS = (1, 2)  # those this code can still score (older bundles' text models)
MAX_BODY_CHARS = 2000
MAX_TOKENS = 400
MAX_TOKEN_CHARS = 25
TEXT_SCORE = "text_score"
TEXT_DESCRIPTION = "language typical of phishing and fraud (learned text model)"

_LIST_TAG = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|tr)\s*:\s*)*\[[^\]]{1,40}\]\s*", re.IGNORECASE)
_FOOTER_RULE = re.compile(r"^(?:_{8,}|-{8,}|={8,})\s*$", re.MULTILINE)
# a URL or an address starts where no word character precedes it (one attempt per word, not per
# character: the scan stays linear and cheap)
_ADDRESS_OR_URL = re.compile(
    r"(?<![\w.+-])(?:(?P<url>(?:https?://|www\.)\S+)|(?P<address>[\w.+-]+@\S+))", re.IGNORECASE
)
_MAYBE_MASKED = ("@", "http", "HTTP", "www.", "WWW.")
_WORD = re.compile(r"[^\W\d_]{2,}")
# the same words in lower-cased ASCII text, where the only letters are a-z: Unicode classes cost
# the regex engine twice as much per character, and most mail is ASCII
_ASCII_WORD = re.compile(r"[a-z]{2,}")


def _mask(match: re.Match[str]) -> str:
    return " urltoken " if match.lastgroup == "url" else " emailtoken "


def visible_text(
    subject: str, body: str, version: int = FEATURISER_VERSION, squeezed: str | None = None
) -> str:
    """Subject and capped body as the text model of featuriser ``version`` reads them, before
    tokenising. ``squeezed``: the start of ``squeeze(body)``, at least the window long, where
    the caller has it already (the scorer squeezes each body once, for the signals too)."""
    if version == 1:
        subject = _LIST_TAG.sub("", subject[:500])
        body = body[:MAX_BODY_CHARS]
    else:
        subject = _LIST_TAG.sub("", squeeze(subject[:500]))
        if squeezed is None:
            body = squeezed_head(body, MAX_BODY_CHARS)
        else:
            body = squeezed[:MAX_BODY_CHARS]
    footer = _FOOTER_RULE.search(body)
    if footer:
        body = body[: footer.start()]
    return f"{subject}\n{body}"


def words_of(
    subject: str, body: str, version: int = FEATURISER_VERSION, squeezed: str | None = None
) -> list[str]:
    """The words the text model reads, in order: masked, lower-cased, at most ``MAX_TOKENS``.
    Its terms are these words and each pair of neighbours (:func:`terms_of`)."""
    text = visible_text(subject, body, version, squeezed)
    if any(marker in text for marker in _MAYBE_MASKED):
        text = _ADDRESS_OR_URL.sub(_mask, text)
    text = text.lower()
    found = (_ASCII_WORD if text.isascii() else _WORD).findall(text)
    return [w for w in found if len(w) <= MAX_TOKEN_CHARS][:MAX_TOKENS]


def terms_of(
    subject: str, body: str, version: int = FEATURISER_VERSION, squeezed: str | None = None
) -> list[str]:
    """The terms the text model sees: masked word unigrams and bigrams."""
    words = words_of(subject, body, version, squeezed)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def text_terms(message: Message, version: int = FEATURISER_VERSION) -> list[str]:
    return terms_of(message.subject, message.body_text, version)


class TextModelError(ValueError):
    """A text model file that cannot be used; the message says why."""


@dataclass(frozen=True, eq=False)
class Found:
    """The vocabulary columns a message's terms hit, ascending and distinct, with how often each
    occurs (terms outside the vocabulary carry no weight and are left out)."""

    columns: np.ndarray
    counts: np.ndarray


_NO_KEY = np.iinfo(np.int64).max  # ends the sorted bigram keys: a search never runs past it


@dataclass(frozen=True)
class TextModel:
    """TF-IDF + logistic regression over :func:`text_terms`. ``terms`` maps a term to its
    (idf, weight).

    Scoring reads a message's words (:func:`words_of`), not its term strings: each word is
    looked up once in the vocabulary's words, and its bigrams are found as pairs of word numbers
    in a sorted array (NumPy), so no bigram string is built and only about half as many strings
    are looked up in a dictionary. A bigram of the vocabulary has both of its words among the
    vocabulary's words (they are numbered from the unigrams and the bigrams' halves), so every
    term of the vocabulary is found, and the score is that of the term strings (tested against
    :meth:`score_terms` and scikit-learn)."""

    terms: dict[str, tuple[float, float]]
    intercept: float
    featuriser_version: int = FEATURISER_VERSION  # the featuriser it was trained with
    # derived once for scoring: the columns' idf squared and idf * weight; the vocabulary's
    # words numbered, the unigram column of each word number (the last number: a word outside
    # the vocabulary), and the bigrams as sorted keys (first * (words + 1) + second) with their
    # columns
    _names: list[str] = field(init=False, repr=False, compare=False)
    _squared: np.ndarray = field(init=False, repr=False, compare=False)
    _weighted: np.ndarray = field(init=False, repr=False, compare=False)
    _words: dict[str, int] = field(init=False, repr=False, compare=False)
    _unigram_columns: np.ndarray = field(init=False, repr=False, compare=False)
    _bigram_keys: np.ndarray = field(init=False, repr=False, compare=False)
    _bigram_columns: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = list(self.terms)
        values = list(self.terms.values())
        idf = np.array([v[0] for v in values] + [0.0])  # the last column: no term
        weight = np.array([v[1] for v in values] + [0.0])
        none = len(names)
        two = [" " in t for t in names]
        unigrams = [c for c, pair in enumerate(two) if not pair]
        # the vocabulary's words: its unigrams first, then any half of a bigram that is not one
        words = {names[c]: number for number, c in enumerate(unigrams)}
        bigrams = [c for c, pair in enumerate(two) if pair]
        # each bigram's two words by one split of them all (in C: a loop over 80k strings
        # costs more than the rest of this together); a term of three words, which the
        # featuriser never makes, cannot be found and is left out
        halves = " ".join([names[c] for c in bigrams]).split(" ") if bigrams else []
        if len(halves) != 2 * len(bigrams):
            bigrams = [c for c in bigrams if names[c].count(" ") == 1]
            halves = " ".join([names[c] for c in bigrams]).split(" ")
        firsts, seconds = halves[0::2], halves[1::2]
        for half in sorted(set(firsts).union(seconds).difference(words)):  # rare: a unigram
            words[half] = len(words)  # occurs at least as often as the bigrams it is part of
        unigram_columns = np.full(len(words) + 1, none, np.int64)
        unigram_columns[: len(unigrams)] = unigrams
        stride = len(words) + 1
        first = np.fromiter(map(words.__getitem__, firsts), np.int64, len(firsts))
        second = np.fromiter(map(words.__getitem__, seconds), np.int64, len(seconds))
        keys = np.append(first * stride + second, _NO_KEY)
        columns = np.array([*bigrams, none], np.int64)
        order = np.argsort(keys, kind="stable")
        for name, value in (
            ("_names", names),
            ("_squared", idf * idf),
            ("_weighted", idf * weight),
            ("_words", words),
            ("_unigram_columns", unigram_columns),
            ("_bigram_keys", keys[order]),
            ("_bigram_columns", columns[order]),
        ):
            object.__setattr__(self, name, value)

    @cached_property
    def _columns(self) -> dict[str, int]:
        """Term string -> column, for :meth:`score_terms` (scoring reads words instead)."""
        return {t: i for i, t in enumerate(self._names)}

    def find(self, words: list[str]) -> Found:
        """The vocabulary's terms among ``words`` (:func:`words_of`) and their pairs."""
        outside = len(self._words)
        numbers = np.fromiter(
            map(self._words.get, words, itertools.repeat(outside)), np.int64, len(words)
        )
        keys = numbers[:-1] * (outside + 1) + numbers[1:]
        at = np.searchsorted(self._bigram_keys, keys)
        hits = at[self._bigram_keys[at] == keys]
        return self._found(
            np.concatenate((self._unigram_columns[numbers], self._bigram_columns[hits]))
        )

    def _found(self, columns: np.ndarray) -> Found:
        distinct, counts = np.unique(columns, return_counts=True)
        if len(distinct) and distinct[-1] == len(self._names):  # no term of the vocabulary
            distinct, counts = distinct[:-1], counts[:-1]
        return Found(distinct, counts)

    def score_found(self, found: Found) -> float:
        """The log-odds of attack from the language alone: sublinear TF-IDF, the L2 norm and
        the dot product with the weights."""
        if not len(found.columns):
            return self.intercept
        tf = 1.0 + np.log(found.counts)
        norm = float(np.dot(tf * tf, self._squared[found.columns]))
        if not norm:
            return self.intercept
        return self.intercept + float(np.dot(tf, self._weighted[found.columns])) / math.sqrt(norm)

    def score_terms(self, terms: list[str]) -> float:
        """:meth:`score_found` of term strings (:func:`terms_of`): the same score."""
        none = len(self._names)
        columns = np.fromiter(
            map(self._columns.get, terms, itertools.repeat(none)), np.int64, len(terms)
        )
        return self.score_found(self._found(columns))

    def message_words(self, message: Message, squeezed: str | None = None) -> list[str]:
        """``message``'s words as this model's featuriser version reads them (``squeezed``: its
        body squeezed, where the caller has it)."""
        return words_of(message.subject, message.body_text, self.featuriser_version, squeezed)

    def words_of(self, subject: str, body: str) -> list[str]:
        return words_of(subject, body, self.featuriser_version)

    def score_words(self, words: list[str]) -> float:
        return self.score_found(self.find(words))

    def score(self, message: Message) -> float:
        return self.score_words(self.message_words(message))

    def top_terms(self, message: Message, limit: int = 3) -> list[str]:
        """The terms of ``message`` that push most towards attack (for reasons; no body text
        leaves the scorer beyond these few words)."""
        return self.top_of(self.find(self.message_words(message)), limit)

    def top_of(self, found: Found, limit: int = 3) -> list[str]:
        """:meth:`top_terms` of a message's terms found already (the scorer's: found once):
        the largest idf * weight first, ties alphabetical, none that pushes towards safe."""
        pushes = self._weighted[found.columns].tolist()
        names = [self._names[c] for c in found.columns.tolist()]
        pushing = [(-push, name) for push, name in zip(pushes, names, strict=True) if push > 0]
        return [name for _, name in heapq.nsmallest(limit, pushing)]

    # --- storage: a parquet table, never pickle ------------------------------------------------
    def to_bytes(self) -> bytes:
        names = sorted(self.terms)
        table = pa.table(
            {
                "term": pa.array(names, pa.string()),
                "idf": pa.array([self.terms[t][0] for t in names], pa.float64()),
                "weight": pa.array([self.terms[t][1] for t in names], pa.float64()),
            }
        )
        meta = {"intercept": self.intercept, "featuriser_version": self.featuriser_version}
        table = table.replace_schema_metadata({"text_model": json.dumps(meta, sort_keys=True)})
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TextModel:
        try:
            table = pq.ParquetFile(io.BytesIO(data)).read()  # read_table would load pandas
            meta = json.loads((table.schema.metadata or {})[b"text_model"])
        except (pa.ArrowException, KeyError, ValueError) as exc:
            raise TextModelError(f"unreadable text model ({exc})") from exc
        version = meta.get("featuriser_version")
        if version not in FEATURISER_VERSIONS:
            raise TextModelError(
                f"text model built for featuriser version {version}, this code scores versions "
                f"{', '.join(map(str, FEATURISER_VERSIONS))}; retrain it, or score it with the "
                "release that built it"
            )
        terms = table["term"].to_pylist()
        pairs = zip(table["idf"].to_pylist(), table["weight"].to_pylist(), strict=True)
        return cls(dict(zip(terms, pairs, strict=True)), float(meta["intercept"]), version)
