"""Squeezing whitespace runs and invisible characters out of text (detection.mail.visible)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection.mail.visible import UnreadText, squeeze, squeezed_head

# letters, whitespace of every kind the padding uses, and the invisible characters
_INVISIBLE = ("\u200b", "\ufeff", "\u00ad", "\u2060")
_ALPHABET = st.sampled_from([*"ab \n\t\r\x0b\xa0\u2003", *_INVISIBLE])
_TEXT = st.text(_ALPHABET, max_size=200)


def _without_invisible(text: str) -> str:
    for char in _INVISIBLE:
        text = text.replace(char, "")
    return text


def test_squeeze_keeps_words_and_paragraphs():
    text = "  Dear  customer,\u00a0\n\n\n\t\n  your\u200b account\n\n\n\nis   locked \n"
    assert squeeze(text) == "Dear customer,\n\nyour account\n\nis locked"


@given(_TEXT)
def test_squeeze_keeps_the_words_and_drops_runs(text):
    squeezed = squeeze(text)
    assert squeezed.split() == _without_invisible(text).split()
    assert "  " not in squeezed and "\n\n\n" not in squeezed
    assert squeezed == squeezed.strip()
    assert squeeze(squeezed) == squeezed


@given(_TEXT, st.integers(min_value=1, max_value=50))
def test_squeezed_head_is_the_head_of_the_squeezed_text(text, chars):
    assert squeezed_head(text, chars) == squeeze(text)[:chars]


def test_padding_does_not_push_words_out_of_the_window():
    padding = "\u200b\n \u00a0\n\t" * 50_000
    assert squeezed_head(padding + "verify your password now", 100) == "verify your password now"


def test_squeezed_head_bounds_its_work():
    padding = "\n" * 2_000_000
    with pytest.raises(UnreadText, match="more follow"):
        squeezed_head(padding + "the lure", 100, most=1_000_000)
    assert squeezed_head("\n" * 1_000 + "the lure", 100, most=1_000_000) == "the lure"


@given(_TEXT)
def test_visible_is_the_squeezed_text_head_and_words(text):
    from detection.mail.visible import HEAD_CHARS, Visible

    visible = Visible.of(text)
    assert visible.head == squeeze(text)[:HEAD_CHARS]
    assert visible.words == squeeze(text).split()
    assert visible.length == len(" ".join(visible.words))
