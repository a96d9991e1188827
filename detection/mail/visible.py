"""Text as a reader sees it: runs of whitespace and invisible characters squeezed out.

An attacker who knows that a reader looks at the first few thousand characters of a body pads
the start with what a mail client shows as nothing (blank lines, spaces, non-breaking spaces,
zero-width characters, HTML breaks already turned into line breaks) so that the lure falls past
the window. Squeezing those runs first makes the window count what can be seen.

:func:`squeeze` keeps the text's words and its paragraph breaks: each line's whitespace runs
become one space (leading and trailing whitespace dropped), blank lines collapse to one, and
invisible format characters (zero-width space/joiners, word joiner, soft hyphen, directional
marks and embeddings, BOM) are removed. Splitting on whitespace is done by ``str.split`` (C),
so the cost is linear and small; callers bound the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# invisible format characters: soft hyphen, combining grapheme joiner, Mongolian vowel separator,
# zero-width space/non-joiner/joiner, left-to-right and right-to-left marks, bidirectional
# embeddings and overrides, word joiner and invisible operators, byte order mark
_INVISIBLES = (
    "\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\ufeff"
)
_INVISIBLE = re.compile(f"[{_INVISIBLES}]+")


def drop_invisible(text: str) -> str:
    """``text`` without invisible format characters. Looking for each in turn (a C search, a
    few microseconds for 100,000 characters) spares most text the regular expression's scan,
    which costs three hundred times as much."""
    if text.isascii() or not any(char in text for char in _INVISIBLES):
        return text
    return _INVISIBLE.sub("", text)


def squeeze(text: str) -> str:
    """``text`` with invisible characters removed, whitespace runs within a line as one space,
    and blank lines collapsed to one (none at either end)."""
    text = drop_invisible(text)
    lines: list[str] = []
    blank = False
    for line in text.split("\n"):
        words = line.split()
        if words:
            lines.append(" ".join(words))
            blank = False
        elif lines and not blank:
            lines.append("")
            blank = True
    if blank:
        lines.pop()
    return "\n".join(lines)


class UnreadText(ValueError):
    """More than the squeeze's bound of text would be needed to fill the window: so much of the
    text is padding that what follows it would go unread."""


def squeezed_head(text: str, chars: int, most: int | None = None) -> str:
    """The first ``chars`` characters of :func:`squeeze` of ``text``, squeezing little more of
    it than it takes, so a short window of a long body costs little and padding cannot push the
    words past it. Each round squeezes a window half as long again as the last, so the windows
    add up to at most three times the last one, which is at most half again what was needed.
    With ``most``, at most that many characters of ``text`` are squeezed; :class:`UnreadText` if
    they do not fill the window and more text follows."""
    window = chars
    while True:
        if most is not None and window >= most:
            window = most
        head = squeeze(text[:window])
        if len(head) >= chars or window >= len(text):
            return head[:chars]
        if window == most:
            raise UnreadText(
                f"the first {window} characters squeeze to {len(head)} visible characters and "
                f"{len(text) - window} more follow"
            )
        window += window // 2 + 1


HEAD_CHARS = 20_000  # the body's visible head that the signals' term counts read


@dataclass(frozen=True)
class Visible:
    """What the features read of a body, padding squeezed out: its first ``HEAD_CHARS``
    characters squeezed (the text model's window is the start of it) and the words of all of
    it (invisible characters removed). Computed once per message for the signals, the structure
    features and the text model."""

    head: str
    words: list[str]

    @classmethod
    def of(cls, text: str) -> Visible:
        text = drop_invisible(text)  # once: the squeeze then finds none to drop
        return cls(squeezed_head(text, HEAD_CHARS), text.split())

    @property
    def length(self) -> int:
        """The body's length with each run of whitespace as one space."""
        return sum(map(len, self.words)) + max(len(self.words) - 1, 0)
