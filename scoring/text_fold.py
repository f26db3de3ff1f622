"""Folding a chapter's text for matching, with every folded character traced to the original
(归一化匹配): what lets the anonymity scan see 昆明 金马, ``<b>昆明</b>金马``,
０８７１－６５１２３４５６ and 趙文斌 for what they are, and still say where they stand in the file
the bidder submitted.

``split_markup`` cuts a chapter into markup (tags, comments, ``<script>``/``<style>``/``<title>``
blocks, ``<!DOCTYPE …>``) and text. The *visible* ranges are the text between markup, read as one
stream, so a tag splitting a name does not hide it; the *hidden* ranges — comment bodies, the
bodies of those blocks, the inside of each tag (its attributes) — are read one by one. Markup is looked for in every
chapter whatever its extension: Markdown carries inline HTML, and a plain-text chapter showing
``<b>`` still shows the name around it.

Two foldings, each character by itself:

* ``light``  — character entities decoded (``&#26118;``), NFKC (full-width letters, digits and
  punctuation become ASCII: ０８７１－ → 0871-), invisible characters (format characters such as
  zero-width spaces, variation selectors) dropped. Spacing and punctuation stay, so the shape
  patterns (phone numbers, e-mail addresses, URLs, codes) apply as written.
* ``strict`` — as light, then case-folded, traditional characters made simplified
  (``scoring.hanzi``), and everything that is not a letter or a digit dropped: spaces,
  punctuation, symbols. Known marks (names, codes, numbers) are folded the same way and
  searched in it.

Pure: takes text, never reads it.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from scoring.hanzi import to_simplified

__all__ = [
    "Attribute",
    "Folded",
    "Markup",
    "Tag",
    "fold",
    "fold_plain",
    "split_markup",
]

_MARKUP = re.compile(
    r"<!--(?P<comment>.*?)(?:-->|\Z)"
    r"|<(?P<raw>script|style|title|textarea)\b(?P<rawattrs>[^<>]*)>(?P<rawbody>.*?)"
    r"(?:</(?P=raw)\s*>|\Z)"
    # not a Markdown autolink (<https://…>): its address is text a reader sees
    r"|<(?P<close>/?)(?![A-Za-z][A-Za-z0-9+.-]*://)(?P<tag>[A-Za-z][A-Za-z0-9:-]*)"
    r"(?P<attrs>(?:[\s/][^<>]*)?)>"
    r"|<![^<>]*>|<\?[^<>]*>",
    re.S | re.I,
)
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""", re.S)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
#: invisible characters that are not format characters (Cf) by category
_INVISIBLE_MARKS = frozenset(
    [chr(c) for c in range(0xFE00, 0xFE10)] + [chr(c) for c in range(0xE0100, 0xE01F0)]
)


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: str
    #: where the value stands in the source (an attribute without a value: an empty range)
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    closing: bool
    start: int
    end: int
    attributes: tuple[Attribute, ...]

    def get(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@dataclass(frozen=True, slots=True)
class Markup:
    visible: tuple[tuple[int, int], ...]
    hidden: tuple[tuple[int, int], ...]
    tags: tuple[Tag, ...]
    #: comment (start, end) with its body's (start, end)
    comments: tuple[tuple[int, int, int, int], ...]
    #: script/style/title/textarea block: name, (start, end) of its body
    blocks: tuple[tuple[str, int, int], ...]


def _attributes(text: str, offset: int) -> tuple[Attribute, ...]:
    out = []
    for m in _ATTRIBUTE.finditer(text):
        for group in (2, 3, 4):
            if m.group(group) is not None:
                out.append(
                    Attribute(
                        m.group(1).lower(),
                        m.group(group),
                        offset + m.start(group),
                        offset + m.end(group),
                    )
                )
                break
        else:
            end = offset + m.end(1)
            out.append(Attribute(m.group(1).lower(), "", end, end))
    return tuple(out)


def split_markup(src: str) -> Markup:
    """The markup of a chapter and the ranges of text it leaves, visible and hidden."""
    visible: list[tuple[int, int]] = []
    hidden: list[tuple[int, int]] = []
    tags: list[Tag] = []
    comments: list[tuple[int, int, int, int]] = []
    blocks: list[tuple[str, int, int]] = []
    pos = 0
    for m in _MARKUP.finditer(src):
        if m.start() > pos:
            visible.append((pos, m.start()))
        pos = m.end()
        if m.group("comment") is not None:
            comments.append((m.start(), m.end(), m.start("comment"), m.end("comment")))
            hidden.append((m.start("comment"), m.end("comment")))
        elif m.group("raw") is not None:
            name = m.group("raw").lower()
            attrs = _attributes(m.group("rawattrs"), m.start("rawattrs"))
            tags.append(Tag(name, False, m.start(), m.start("rawbody"), attrs))
            blocks.append((name, m.start("rawbody"), m.end("rawbody")))
            hidden.append((m.start("rawbody"), m.end("rawbody")))
            if m.group("rawattrs").strip():
                hidden.append((m.start("rawattrs"), m.end("rawattrs")))
        elif m.group("tag") is not None:
            attrs = _attributes(m.group("attrs"), m.start("attrs"))
            tags.append(
                Tag(m.group("tag").lower(), m.group("close") == "/", m.start(), m.end(), attrs)
            )
            # the whole inside of the tag, names and values: in a Markdown or text chapter,
            # where the seat shows the source as it is, `<C30 时…>` is prose, not markup
            if m.group("attrs").strip():
                hidden.append((m.start("attrs"), m.end("attrs")))
    if pos < len(src):
        visible.append((pos, len(src)))
    return Markup(tuple(visible), tuple(hidden), tuple(tags), tuple(comments), tuple(blocks))


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text; character i came from ``source[starts[i]:ends[i]]``."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, i: int, j: int) -> tuple[int, int]:
        """The original range of folded characters i … j − 1."""
        return self.starts[i], self.ends[j - 1]


def _invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf" or char in _INVISIBLE_MARKS


@functools.cache
def _fold_light(char: str) -> str:
    if _invisible(char):
        return ""
    return unicodedata.normalize("NFKC", char)


@functools.cache
def _fold_strict(char: str) -> str:
    out = []
    for c in _fold_light(char).casefold():
        if unicodedata.category(c)[0] in "LN":
            out.append(to_simplified(c))
    return "".join(out)


def fold(src: str, ranges: tuple[tuple[int, int], ...], *, strict: bool) -> Folded:
    """The folded text of ``src`` within ``ranges``, read as one stream."""
    one = _fold_strict if strict else _fold_light
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for lo, hi in ranges:
        pos = lo
        for m in _ENTITY.finditer(src, lo, hi):
            _fold_run(src, pos, m.start(), one, chars, starts, ends)
            for c in html.unescape(m.group()):
                for f in one(c):
                    chars.append(f)
                    starts.append(m.start())
                    ends.append(m.end())
            pos = m.end()
        _fold_run(src, pos, hi, one, chars, starts, ends)
    return Folded("".join(chars), tuple(starts), tuple(ends))


def _fold_run(
    src: str,
    lo: int,
    hi: int,
    one: Callable[[str], str],
    chars: list[str],
    starts: list[int],
    ends: list[int],
) -> None:
    for i in range(lo, hi):
        folded = one(src[i])
        if len(folded) == 1:
            chars.append(folded)
            starts.append(i)
            ends.append(i + 1)
        else:
            for f in folded:
                chars.append(f)
                starts.append(i)
                ends.append(i + 1)


def fold_plain(text: str, *, strict: bool = True) -> str:
    """A mark (a name, a number) folded as chapter text is, without markup."""
    one = _fold_strict if strict else _fold_light
    return "".join(one(c) for c in html.unescape(text))
