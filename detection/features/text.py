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
(tested), in pure Python: a dictionary lookup per distinct term.
"""

from __future__ import annotations

import heapq
import io
import itertools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field

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


def terms_of(
    subject: str, body: str, version: int = FEATURISER_VERSION, squeezed: str | None = None
) -> list[str]:
    """The terms the text model sees: masked word unigrams and bigrams."""
    text = visible_text(subject, body, version, squeezed)
    if any(marker in text for marker in _MAYBE_MASKED):
        text = _ADDRESS_OR_URL.sub(_mask, text)
    text = text.lower()
    found = (_ASCII_WORD if text.isascii() else _WORD).findall(text)
    words = [w for w in found if len(w) <= MAX_TOKEN_CHARS][:MAX_TOKENS]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def text_terms(message: Message, version: int = FEATURISER_VERSION) -> list[str]:
    return terms_of(message.subject, message.body_text, version)


class TextModelError(ValueError):
    """A text model file that cannot be used; the message says why."""


@dataclass(frozen=True)
class TextModel:
    """TF-IDF + logistic regression over :func:`text_terms`. ``terms`` maps a term to its
    (idf, weight)."""

    terms: dict[str, tuple[float, float]]
    intercept: float
    featuriser_version: int = FEATURISER_VERSION  # the featuriser it was trained with
    # derived once for scoring: a column per term (-1 for terms outside the vocabulary), and
    # the columns' idf and idf * weight
    _columns: dict[str, int] = field(init=False, repr=False, compare=False)
    _squared: np.ndarray = field(init=False, repr=False, compare=False)
    _weighted: np.ndarray = field(init=False, repr=False, compare=False)
    _push: dict[str, float] = field(init=False, repr=False, compare=False)  # idf * weight

    def __post_init__(self) -> None:
        names = list(self.terms)
        idf = np.array([self.terms[t][0] for t in names] + [0.0])  # the last: unknown terms
        weight = np.array([self.terms[t][1] for t in names] + [0.0])
        object.__setattr__(self, "_columns", {t: i for i, t in enumerate(names)})
        object.__setattr__(self, "_squared", idf * idf)
        object.__setattr__(self, "_weighted", idf * weight)
        object.__setattr__(self, "_push", {t: i * w for t, (i, w) in self.terms.items()})

    def score_terms(self, terms: list[str]) -> float:
        """The log-odds of attack from the language alone: one dictionary lookup per distinct
        term (in C, through ``map``), then sublinear TF-IDF, the L2 norm and the dot product with
        the weights in NumPy (the unknown terms' column holds zeros)."""
        if not terms:
            return self.intercept
        counts = Counter(terms)
        unknown = len(self._squared) - 1
        columns = np.fromiter(
            map(self._columns.get, counts, itertools.repeat(unknown)), np.int64, len(counts)
        )
        tf = 1.0 + np.log(np.fromiter(counts.values(), np.float64, len(counts)))
        norm = float(np.dot(tf * tf, self._squared[columns]))
        if not norm:
            return self.intercept
        return self.intercept + float(np.dot(tf, self._weighted[columns])) / math.sqrt(norm)

    def message_terms(self, message: Message, squeezed: str | None = None) -> list[str]:
        """``message``'s terms as this model's featuriser version reads them (``squeezed``: its
        body squeezed, where the caller has it)."""
        return terms_of(message.subject, message.body_text, self.featuriser_version, squeezed)

    def terms_of(self, subject: str, body: str) -> list[str]:
        return terms_of(subject, body, self.featuriser_version)

    def score(self, message: Message) -> float:
        return self.score_terms(self.message_terms(message))

    def top_terms(self, message: Message, limit: int = 3) -> list[str]:
        """The terms of ``message`` that push most towards attack (for reasons; no body text
        leaves the scorer beyond these few words)."""
        return self.top_of_terms(self.message_terms(message), limit)

    def top_of_terms(self, terms: list[str], limit: int = 3) -> list[str]:
        """:meth:`top_terms` of a message's terms found already (the scorer's: found once)."""
        present = sorted(self._push.keys() & terms)  # sorted: ties keep an order
        ranked = heapq.nlargest(limit, present, key=self._push.__getitem__)
        return [t for t in ranked if self._push[t] > 0]

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
