"""HTML extraction: linear on hostile markup, never evaded by structure tricks, and reading at least
what the earlier standard-library extractor read on the real corpus."""

import csv
import email
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from detection.mail.html_text import (
    _READ_PROPERTIES,
    MAX_HTML_CHARS,
    extract_html,
    hides,
    may_hide,
    plain_declarations,
    xml_safe_utf8,
)
from detection.mail.mutations import hostile_html
from detection.mail.parsing import parse_message
from tests.detection.mail import stdlib_html

HOSTILE = hostile_html(MAX_HTML_CHARS)


@contextmanager
def _hang_guard(seconds: int) -> Iterator[None]:
    """Turns a hang into a failure. Not a speed target (those are in bench/): the standard
    library's parser took hours on the first input here; lxml takes well under a second."""

    def _raise(*_: object) -> None:
        raise TimeoutError(f"HTML extraction did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_markup_at_the_cap_finishes(name):
    with _hang_guard(30):
        facts = extract_html(HOSTILE[name] + "<p>visible <a href='http://evil.test/x'>go</a>")
    assert facts.form_count == 0 and "\x00" not in facts.text


def test_text_after_a_bogus_head_tag_is_still_read():
    """A made-up tag in <head> makes libxml2 keep the whole body "inside" head; the text must
    still be read (skipping <head> would let an attacker hide every word)."""
    html = (
        '<meta charset="utf-8"><Xq a*b="" c="">'
        "<title>t</title><body><p>Your mailbox is full, verify your password now</p>"
        '<a href="https://evil.test/login">Verify</a><form></form></body>'
    )
    facts = extract_html(html)
    assert "verify your password" in facts.text
    assert facts.anchors == [("https://evil.test/login", "Verify")] and facts.form_count == 1
    assert "t" not in facts.text.split()  # the title is not body text


def test_entities_scripts_and_nested_anchors():
    facts = extract_html(
        "<style>p{}</style><script>var a='<a href=x>';</script>"
        "<p>caf&eacute; &amp; more</p><a href='http://a.test/'>one <a href='http://b.test/'>two</a>"
    )
    assert facts.text.splitlines()[0] == "café & more"
    assert [h for h, _ in facts.anchors] == ["http://a.test/", "http://b.test/"]


# the characters XML cannot carry, as a regular expression over the text: the definition the
# byte-level removal must equal
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# every kind of character the removal must tell apart: controls kept and removed, ASCII, two-,
# three- and four-byte characters (some sharing EF BF with the noncharacters), the
# noncharacters themselves and lone surrogates (encoded as "?")
_TRICKY = st.sampled_from(
    [chr(c) for c in range(0x20)]
    + ["a", "<", "\x7f", "\x80", "é", "\u0800", "\ufefe", "\uffbf", "\ufffd", "\ufffe"]
    + ["\uffff", "\U00010000", "\U0010ffff", "\ud800", "\udfff"]
)


@given(st.lists(st.one_of(_TRICKY, st.characters()), max_size=60).map("".join))
def test_removing_what_xml_cannot_carry_from_the_bytes_equals_removing_the_characters(text):
    assert xml_safe_utf8(text) == _NOT_XML.sub("", text).encode("utf-8", "replace")


def test_tag_and_attribute_names_in_capitals_read_as_in_lower_case():
    """The extractor looks tags up as libxml2 hands them over, ASCII-lower-cased: capitals
    (common in older mail) must not hide a link, a form, an image, a script or a paragraph
    break."""
    html = (
        "<SCRIPT>var x</SCRIPT><P>Your account</P><Div>is locked</dIV>"
        "<A HREF='https://evil.test/'>Unlock</A><FORM></FORM><IMG SRC=x><TITLE>t</TITLE>"
    )
    upper, lower = extract_html(html), extract_html(html.lower())
    assert upper.text == "Your account\nis locked\nUnlock"
    assert upper.anchors == [("https://evil.test/", "Unlock")]
    assert (upper.form_count, upper.image_count) == (1, 1)
    assert (upper.text.lower(), upper.form_count, upper.image_count) == (
        lower.text,
        lower.form_count,
        lower.image_count,
    )
    assert [(h, t.lower()) for h, t in upper.anchors] == lower.anchors
    # libxml2 lower-cases ASCII letters only; a name whose other letters lower-case to a tag
    # that matters (the Kelvin sign to "k") is read as that tag, as the extractor always did
    assert extract_html("<p>a<bloc\u212aquote>b</bloc\u212aquote>c</p>").text == "a\nb\nc"


def _html_parts(root: Path) -> list[str]:
    parts = []
    with (root / "manifest.csv").open() as f:
        for row in csv.DictReader(f):
            msg = email.message_from_bytes(
                (root / row["path"]).read_bytes(), policy=policy.compat32
            )
            for part in msg.walk():
                payload = part.get_payload(decode=True)
                if part.get_content_type() == "text/html" and isinstance(payload, bytes):
                    parts.append(payload[:MAX_HTML_CHARS].decode("utf-8", "replace"))
    return parts


_STYLE_OR_HIDDEN = re.compile(r"\s(?:style|hidden)=", re.IGNORECASE)


def test_parity_with_the_earlier_extractor_on_the_real_corpus(real_mail):
    """On every HTML part of the corpus: the same forms, every link the earlier extractor found
    (all but a handful of entity-decoding differences), and never less text."""
    parts = _html_parts(real_mail)
    assert len(parts) > 1000
    links_missing, text_lost, forms_differ = [], [], []
    for i, html in enumerate(parts):
        # the earlier extractor read text a style hides; read it here too, to compare the parse
        new = extract_html(_STYLE_OR_HIDDEN.sub(" data-x=", html))
        old = stdlib_html.extract_html(html)
        if not {h for h, _ in old.anchors} <= {h for h, _ in new.anchors}:
            links_missing.append(i)
        if len(new.text.split()) < 0.9 * len(old.text.split()):
            text_lost.append(i)
        if new.form_count != old.form_count:
            forms_differ.append(i)
    assert not text_lost and not forms_differ, (text_lost[:10], forms_differ[:10])
    assert len(links_missing) <= len(parts) // 1000, links_missing[:10]


_LURE = "Verify your password"


@pytest.mark.parametrize(
    "html",
    [
        '<div style="display:none">Thank you for the minutes</div><p>{lure}</p>',
        '<div style="DISPLAY : None !important">Thank you for the minutes</div><p>{lure}</p>',
        "<div hidden>Thank you for the minutes</div><p>{lure}</p>",
        '<div style="display:/* a comment */none">Thank you for the minutes</div><p>{lure}</p>',
        '<div style="font-size:0px">Thank you for the minutes</div><p>{lure}</p>',
        '<div style="font: bold 0/0 a">Thank you for the minutes</div><p>{lure}</p>',
        '<div style="visibility:hidden">Thank you for the minutes</div><p>{lure}</p>',
        '<div style="opacity:0.0">Thank you for the minutes</div><p>{lure}</p>',
        '<div style="displ\\61y:n\\one">Thank you for the minutes</div><p>{lure}</p>',
        # what hides everything inside cannot be undone by what is inside
        '<div style="display:none"><p style="display:block;visibility:visible;font-size:14px">'
        "Thank you for the minutes</p></div><p>{lure}</p>",
        # a size relative to a zero font is zero
        '<div style="font-size:0"><span style="font-size:1.5em">Thank you for the minutes'
        "</span></div><p>{lure}</p>",
        # letters hidden inside a word ("hidden text salting") leave the word whole
        'Ver<span style="font-size:0">qz</span>ify your pass<span style="display:none">x</span>'
        "word",
    ],
)
def test_text_an_inline_style_hides_is_not_read(html):
    facts = extract_html(html.format(lure=_LURE))
    assert facts.text == _LURE


@pytest.mark.parametrize(
    "html",
    [
        # the last declaration wins; an !important one wins over any that is not
        '<div style="display:none;display:block">{lure}</div>',
        '<div style="display:block !important;display:none">{lure}</div>',
        # a hidden attribute gives way to a display the style sets
        '<div hidden style="display:block">{lure}</div>',
        # a descendant shows again what visibility or a zero font hid
        '<div style="visibility:hidden"><b style="visibility:visible">{lure}</b></div>',
        '<div style="font-size:0"><span style="font-size:14px">{lure}</span></div>',
        # not hiding: a zero height that does not clip, a fractional opacity, a small font
        '<div style="height:0">{lure}</div>',
        '<div style="opacity:0.5">{lure}</div>',
        '<div style="font-size:9px;visibility:visible;display:inline">{lure}</div>',
        '<div style="mso-hide:all">{lure}</div>',  # hides in Outlook only
        # what hides by layout depends on the element and the client (an inline element has no
        # height to clip, padding keeps a box open, Gmail drops position): read as shown
        '<span style="height:0;overflow:hidden">{lure}</span>',
        '<div style="max-height:0;padding-bottom:60px;overflow:hidden">{lure}</div>',
        '<div style="position:absolute;left:-9999px">{lure}</div>',
        '<span style="transform:scale(0)">{lure}</span>',
        # what a client tokenises differently from a split on semicolons (the review's cases)
        """<div style='font-family:"x;display:none;y"'>{lure}</div>""",
        "<div style='background:url(a;display:none;b)'>{lure}</div>",
        "<div style='color:red\\;display:none'>{lure}</div>",
        "<div style='display\\:none'>{lure}</div>",
        "<div style='dis/**/play:none'>{lure}</div>",
        "<div style='display:none&nbsp;'>{lure}</div>",
        "<div style='font-size:0;font:16px Arial'>{lure}</div>",  # the shorthand comes later
        "<div style='opacity:0px'>{lure}</div>",  # not a number
        "<div style='font:0'>{lure}</div>",  # no family: not a valid shorthand
        '<div style="font-size:0"><span style="font-size:initial">{lure}</span></div>',
        '<div style="display:none">x</div>{lure}',  # the hidden element closes
        '<div style="display:none">x<p>y</div>{lure}',  # and closes what it left open
    ],
)
def test_text_a_client_shows_is_read(html):
    assert extract_html(html.format(lure=_LURE)).text.replace("\n", " ").strip() == _LURE


def test_links_forms_and_images_a_style_hides_still_count():
    """A hidden link is still a link in the message (a scanner or a careless click follows it):
    only the words are a reader's; the link, form and image counts read the markup."""
    facts = extract_html(
        '<div style="display:none"><a href="https://evil.test/x">Thank you</a><form></form>'
        '<img src="x"></div><a href="https://evil.test/y">Open</a>'
    )
    assert facts.anchors == [("https://evil.test/x", ""), ("https://evil.test/y", "Open")]
    assert (facts.form_count, facts.image_count, facts.text) == (1, 1, "Open")


class _Balance:
    """A parser target counting open elements: the extractor's hidden stretches rely on libxml2
    closing every element it opens, and nothing else."""

    def __init__(self) -> None:
        self.open = 0
        self.closed_unopened = 0

    def start(self, tag: str, attrib: object) -> None:
        self.open += 1

    def end(self, tag: str) -> None:
        self.open -= 1
        self.closed_unopened += self.open < 0

    def data(self, data: str) -> None:
        pass

    def comment(self, text: str) -> None:
        pass

    def close(self) -> tuple[int, int]:
        return self.open, self.closed_unopened


_SOUP_TAGS = (
    "div p span a table tr td li br img html body head title script style form select option "
    "frameset svg font noscript textarea xmp plaintext iframe template"
).split()
_SOUP = st.lists(
    st.one_of(
        st.sampled_from(_SOUP_TAGS).flatmap(
            lambda tag: st.sampled_from([f"<{tag}>", f"</{tag}>", f"<{tag} hidden/>"])
        ),
        st.sampled_from(["text", "<", ">", "&amp;", "<!--", "-->", "</", "<br/>", "\u212a"]),
    ),
    max_size=40,
).map("".join)


@given(_SOUP)
def test_libxml2_closes_every_element_it_opens_and_no_other(soup):
    target = _Balance()
    parser = etree.HTMLParser(
        target=cast("etree.ParserTarget", target), recover=True, encoding="utf-8", no_network=True
    )
    try:
        parser.feed(xml_safe_utf8(soup))
        balance = parser.close()
    except etree.LxmlError:
        return
    assert balance == (0, 0)


@given(st.text(max_size=80), st.booleans())
def test_any_style_is_read_without_error(style, hidden_attribute):
    hiding = hides(style, hidden_attribute)
    assert isinstance(hiding.hard, bool)


def test_hidden_text_salting_in_the_wild_is_read_as_shown(real_mail):
    """Corpus attacks hide pages of unrelated prose (Portuguese literature, here) in zero-size or
    undisplayed elements before a customs-fee lure: what a client shows is the lure."""
    path = real_mail / "attack" / "phishing_pot" / "75e28ae8e8c8fb54.eml"
    if not path.is_file():
        pytest.skip(f"{path} is not in this copy of the corpus")
    message = parse_message(path.read_bytes(), tenant_id="t")
    assert "Verificamos que seu pacote está retido na alfândega" in message.body_text[:400]
    assert "Randall" not in message.body_text and len(message.body_text) < 2_000


_DECLARATION = st.tuples(
    st.sampled_from(
        "display visibility font-size font opacity overflow overflow-y height max-width position "
        "left transform color padding".split()
    ),
    st.sampled_from(
        [
            *("none", "block", "hidden", "visible", "collapse", "clip", "0", "0px", "0.0em"),
            *(".0", "10px", "1", "-9999px", "absolute", "scale(0)", "bold 0/0 a", "#000"),
            *("12px/1.2 arial", "0 0 10px 0", "inherit"),
        ]
    ),
    st.sampled_from(["", " !important", "!important"]),
    st.sampled_from([str.lower, str.upper, str.title]),
).map(lambda d: d[3](f"{d[0]}:{d[1]}{d[2]}"))


@given(st.lists(_DECLARATION, max_size=6).map(";".join))
def test_the_quick_look_never_misses_a_style_that_hides(style):
    """``may_hide`` spares most styles the whole reading; it may say yes to a style that hides
    nothing, never no to one that hides."""
    assert may_hide(style) or not hides(style).hides


def test_the_quick_look_on_every_style_of_the_real_corpus(real_mail):
    styles = {
        style
        for html in _html_parts(real_mail)
        for style in re.findall(r'style\s*=\s*"([^"]*)"', html, re.IGNORECASE)
    }
    assert len(styles) > 1000
    missed = [style for style in styles if hides(style).hides and not may_hide(style)]
    assert not missed, missed[:5]
    assert sum(map(may_hide, styles)) < len(styles) / 2  # the look spares most of them


def test_a_document_past_its_style_budget_reads_its_text_and_leaves_the_next_alone():
    """Styles read whole stop at a budget per document (a crafted one could hold the parser):
    past it, what a style would hide is read as shown, and nothing of it is remembered for the
    next document."""
    filler = "".join(f'<i style="opacity:1;color:#{n:06x};{"x" * 1000}">.</i>' for n in range(140))
    late = '<b style="display:none;margin:1px">Thank you for the minutes</b>'
    assert "Thank you for the minutes" in extract_html(filler + late + _LURE).text
    assert extract_html(late + _LURE).text == _LURE


def _as_tinycss2_reads(style):
    """The declarations the reading looks at, as tinycss2 gives them (the definition the plain
    reader must equal), each token as (kind, value, unit)."""
    import tinycss2
    from tinycss2.ast import Declaration

    found = []
    for item in tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True):
        if isinstance(item, Declaration) and item.lower_name in _READ_PROPERTIES:
            value = [t for t in item.value if t.type not in ("whitespace", "comment")]
            found.append((item.lower_name, item.important, [_token(t) for t in value]))
    return found


def _token(token):
    value = getattr(token, "lower_value", None) or getattr(token, "value", None)
    return (token.type, value, getattr(token, "lower_unit", None))


_PLAIN_PIECE = st.sampled_from(
    [
        *(
            "none",
            "NONE",
            "block",
            "hidden",
            "visible",
            "0",
            "0px",
            "0.0em",
            ".5",
            "+0",
            "-0",
            "1e3",
        ),
        *("1E3", "1.5e", "5-", "0.", "10%", "12PX", "#fff", "bold", "-x", "--y", "_z", "a1", "1a"),
        *("/", ",", "!", "!important", "! important", "important", " ", "\t", "\x0b", "é"),
        *("'a;b'", '"x:y"', "(a;b)", "url(a;display:none)", "rgb(0,0,0)", "'", "(", ")"),
        *("((a))", "'it''s'", '"a\nb"', "+.5e-3", "1e-3", "2E+1", "1.5e-3e"),
    ]
)
_PLAIN_STYLE = st.lists(
    st.tuples(
        st.sampled_from(
            [
                *("display", "DISPLAY", " font", "font-size", "opacity", "visibility", "color"),
                *("x y", "", "-display", "1a"),
            ]
        ),
        st.sampled_from([":", " : ", "", "::"]),
        st.lists(_PLAIN_PIECE, max_size=5).map(" ".join),
    ).map("".join),
    max_size=5,
).map(";".join)


@given(_PLAIN_STYLE)
def test_the_plain_reader_reads_as_tinycss2_does(style):
    """Most styles are plain (names, numbers, a few delimiters); the reader of those must give
    what tinycss2 gives, or hand the style to tinycss2."""
    plain = plain_declarations(style)
    if plain is not None:
        assert [(n, i, [_token(t) for t in v]) for n, i, v in plain] == _as_tinycss2_reads(style)


def test_the_plain_reader_on_every_style_of_the_real_corpus(real_mail):
    styles = {
        style
        for html in _html_parts(real_mail)
        for style in re.findall(r'style\s*=\s*"([^"]*)"', html, re.IGNORECASE)
    }
    read = [style for style in styles if (plain := plain_declarations(style)) is not None]
    assert len(read) > 0.85 * len(styles)  # most are plain
    for style in read:
        plain = plain_declarations(style)
        assert plain is not None
        assert [(n, i, [_token(t) for t in v]) for n, i, v in plain] == _as_tinycss2_reads(style)
