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

# invisible format characters: soft hyphen, combining grapheme joiner, Mongolian vowel separator,
# zero-width space/non-joiner/joiner, left-to-right and right-to-left marks, bidirectional
# embeddings and overrides, word joiner and invisible operators, byte order mark
_INVISIBLE = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")


def squeeze(text: str) -> str:
    """``text`` with invisible characters removed, whitespace runs within a line as one space,
    and blank lines collapsed to one (none at either end)."""
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
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
    """The first ``chars`` characters of :func:`squeeze` of ``text``, squeezing no more of it
    than it takes (a window four times larger each round), so a short window of a long body
    costs little and padding cannot push the words past it. With ``most``, at most that many
    characters of ``text`` are squeezed; :class:`UnreadText` if they do not fill the window and
    more text follows."""
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
        window *= 4
