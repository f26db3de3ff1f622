"""Deliberate marks in blind chapters (暗记): formatting, symbols and strings a bidder could use to
be recognised without writing its name.

What counts as a mark, looked for in every chapter (HTML and Markdown syntax alike, whatever the
file's extension):

* **colour** (颜色标记) — a ``color``/``bgcolor``/``text`` attribute, a ``<mark>`` or ``<font
  color>``, any CSS ``color``, ``background``, ``background-color`` or ``*-color`` declaration
  (in a ``style`` attribute or a ``<style>`` block) other than ``inherit``/``initial``/
  ``unset``/``transparent``/``currentcolor``/``none``, a LaTeX ``\\color{…}``/``\\textcolor{…}``;
* **font** (字体标记) — ``<font>``, a ``face`` attribute, CSS ``font-family``/``font``,
  ``@font-face``;
* **size** (字号标记) — ``<big>``, ``<small>``, ``<font size>``, CSS ``font-size``;
* **image** (图片) — ``<img>``, ``<svg>``, ``<picture>``, ``<object>``, ``<embed>``,
  ``<canvas>``, ``<video>``, ``<iframe>``, a ``background`` attribute, any CSS ``url(…)``, a
  Markdown image ``![…](…)`` or ``![…][…]``;
* **page header or footer** (页眉页脚) — ``<header>``, ``<footer>``, a CSS ``@page`` rule;
* **hidden content** (隐藏内容) — a comment with text in it, a ``hidden`` attribute, CSS
  ``display: none``, ``visibility: hidden``, ``opacity: 0``, ``font-size: 0``;
* **invisible characters** (不可见字符) — format characters (zero-width space and joiners,
  direction marks and overrides, word joiner, soft hyphen, a byte-order mark inside the text,
  tag characters) and variation selectors;
* **unusual symbols** (异常符号) — private-use characters; emoji and pictographs
  (U+1F000–1FBFF); miscellaneous symbols, dingbats and symbols-and-arrows (U+2600–27BF,
  U+2B00–2BFF) except the bullets and ticks documents use (★ ☆ ☐ ☑ ☒ ✓ ✔ ✕ ✖ ✗ ✘ ❶–➓);
  circled Latin letters (Ⓐ–ⓩ); enclosed ideographs (U+3200–32FF) except ㈠–㈩ and ㊀–㊉;
  mathematical styled letters (U+1D400–1D7FF); Braille patterns;
* **repeated odd strings** (重复出现的特殊字符串) — a code-like token (ASCII letters mixed with
  digits or symbols, at least 3 characters, after full-width folding) that stands in two or more
  of one bidder's chapters and in none of any other bidder's, unless it is ordinary road-works
  vocabulary: a stake (K12+300), a material grade (C30, HRB400, Q235B, M7.5, AC-13C), a
  standard's number (JTG F80/1-2017, GB50204-2015) or a quantity with its unit (8.5m, 20MPa).

A mark is reported, never judged: the person releasing the chapter decides (an ``Override``).
Pure: takes text, never reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from scoring.findings import FindingKind
from scoring.text_fold import Folded, Markup

__all__ = ["TOKEN", "Mark", "is_odd_token", "markup_marks", "repeated_strings", "symbol_marks"]

#: (kind, start, end) in the chapter as submitted
Mark = tuple[FindingKind, int, int]

_IMAGE_TAGS = frozenset(
    {"img", "svg", "picture", "object", "embed", "canvas", "video", "iframe", "image"}
)
_NEUTRAL = frozenset({"inherit", "initial", "unset", "transparent", "currentcolor", "none", ""})
_DECLARATION = re.compile(r"([A-Za-z-]+)\s*:\s*([^;{}]*)")
_AT_RULE = re.compile(r"@(page|font-face)\b", re.I)
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\](?:\([^)\n]*\)|\[[^\]\n]*\])")
_TEX_COLOUR = re.compile(r"\\(?:text)?color\s*\{[^}\n]*\}")

_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufe00-\ufe0f\U000e0000-\U000e007f\U000e0100-\U000e01ef]+"
)
_ALLOWED_SYMBOLS = "★☆☐☑☒✓✔✕✖✗✘" + "".join(chr(c) for c in range(0x2776, 0x2794))
_UNUSUAL_RANGES = (
    "\ue000-\uf8ff\U000f0000-\U0010fffd"  # private use
    "\U0001f000-\U0001fbff"  # emoji, pictographs, game symbols, legacy computing
    "\u2600-\u27bf\u2b00-\u2bff"  # miscellaneous symbols, dingbats, symbols and arrows
    "\u24b6-\u24e9"  # circled Latin letters
    "\u3200-\u321f\u322a-\u327f\u328a-\u32ff"  # enclosed ideographs, but ㈠–㈩ and ㊀–㊉
    "\U0001d400-\U0001d7ff"  # mathematical styled letters
    "\u2800-\u28ff"  # Braille
)
_UNUSUAL = re.compile(f"(?:(?![{_ALLOWED_SYMBOLS}])[{_UNUSUAL_RANGES}])+")

#: a token as the odd-string rules read it (see :func:`is_odd_token`)
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-/#@.+&=~^*%$|\\]*[A-Za-z0-9#@&=~^*%$|\\]")
_ODD_SYMBOLS = frozenset("#@&=~^*_%$|\\")
_ORDINARY = re.compile(
    r"[A-Z]{0,2}K\d+(?:\+\d+(?:\.\d+)?)?"  # stakes
    r"|(?:L?C|HRB|HPB|CRB|Q|MU?|P|F)\d{1,3}(?:\.\d)?[A-Z]?E?"  # concrete, steel, mortar …
    r"|(?:AC|SMA|ATB|OGFC|SUP|AM|LSM)-?\d{1,2}[A-Z]?"  # asphalt mixes
    r"|(?:GB|JTG|JTJ|JGJ|CJJ|JTT?|DB\d{0,2}|TB|SL|DL|JC|CECS|HG|YB|JJG|ISO)(?:/?[TZ])?"
    r"[A-Z]?\d+(?:[./-]\d+)*"  # standards
    r"|[A-Z]\d{1,3}(?:/\d+)?-(?:19|20)\d{2}"  # a standard's number with its year
    r"|\d+(?:\.\d+)?(?:mm|cm|dm|m|km|m2|m3|km2|t|kg|g|kn|mpa|kpa|kw|kva|h|d|min|s|l)",
    re.I,
)


def _css(text: str, offset: int) -> list[Mark]:
    marks: list[Mark] = []
    for m in _DECLARATION.finditer(text):
        prop, value = m.group(1).lower(), m.group(2).strip().lower()
        span = (offset + m.start(), offset + m.end())
        if "url(" in value:
            marks.append((FindingKind.IMAGE, *span))
        elif prop in ("color", "background", "background-color") or prop.endswith("-color"):
            if value not in _NEUTRAL:
                marks.append((FindingKind.COLOUR, *span))
        elif prop in ("font-family", "font"):
            marks.append((FindingKind.FONT, *span))
        elif prop == "font-size":
            zero = re.fullmatch(r"0+(?:\.0+)?[a-z%]*", value) is not None
            marks.append((FindingKind.HIDDEN if zero else FindingKind.SIZE, *span))
        elif (
            (prop == "display" and value == "none")
            or (prop == "visibility" and value in ("hidden", "collapse"))
            or (prop == "opacity" and re.fullmatch(r"0+(?:\.0+)?%?", value) is not None)
        ):
            marks.append((FindingKind.HIDDEN, *span))
    for m in _AT_RULE.finditer(text):
        kind = FindingKind.HEADER if m.group(1).lower() == "page" else FindingKind.FONT
        marks.append((kind, offset + m.start(), offset + m.end()))
    return marks


def markup_marks(src: str, markup: Markup) -> list[Mark]:
    """Formatting marks: colour, font, size, images, headers, hidden content."""
    marks: list[Mark] = []
    for tag in markup.tags:
        if tag.closing:
            continue
        span = (tag.start, tag.end)
        if tag.name in _IMAGE_TAGS:
            marks.append((FindingKind.IMAGE, *span))
        elif tag.name in ("big", "small"):
            marks.append((FindingKind.SIZE, *span))
        elif tag.name == "mark":
            marks.append((FindingKind.COLOUR, *span))
        elif tag.name in ("header", "footer"):
            marks.append((FindingKind.HEADER, *span))
        elif tag.name in ("font", "basefont") and not any(
            tag.get(a) for a in ("color", "face", "size")
        ):
            marks.append((FindingKind.FONT, *span))
        for a in tag.attributes:
            where = (a.start, a.end) if a.end > a.start else span
            if a.name == "style":
                marks.extend(_css(a.value, a.start))
            elif a.name in ("color", "bgcolor", "text"):
                marks.append((FindingKind.COLOUR, *where))
            elif a.name == "face":
                marks.append((FindingKind.FONT, *where))
            elif a.name == "size" and tag.name in ("font", "basefont"):
                marks.append((FindingKind.SIZE, *where))
            elif a.name == "background":
                marks.append((FindingKind.IMAGE, *where))
            elif a.name == "hidden":
                marks.append((FindingKind.HIDDEN, *span))
    for name, lo, hi in markup.blocks:
        if name == "style":
            marks.extend(_css(src[lo:hi], lo))
    for start, end, lo, hi in markup.comments:
        if src[lo:hi].strip():
            marks.append((FindingKind.HIDDEN, start, end))
    for lo, hi in markup.visible:
        for pattern, kind in ((_MD_IMAGE, FindingKind.IMAGE), (_TEX_COLOUR, FindingKind.COLOUR)):
            marks.extend((kind, m.start(), m.end()) for m in pattern.finditer(src, lo, hi))
    return marks


def symbol_marks(src: str) -> list[Mark]:
    """Runs of invisible characters and of unusual symbols, anywhere in the chapter."""
    marks: list[Mark] = [
        (FindingKind.INVISIBLE, m.start(), m.end()) for m in _INVISIBLE.finditer(src)
    ]
    marks.extend((FindingKind.SYMBOL, m.start(), m.end()) for m in _UNUSUAL.finditer(src))
    return marks


def is_odd_token(token: str) -> bool:
    """A code-like token (ASCII letters mixed with digits or symbols, at least 3 characters)
    that is not ordinary road-works vocabulary; ``token`` is one match of :data:`TOKEN`."""
    if len(token) < 3 or not any(c.isascii() and c.isalpha() for c in token):
        return False
    if not any(c.isdigit() or c in _ODD_SYMBOLS for c in token):
        return False  # a word or an acronym is language, not a code
    return not _ORDINARY.fullmatch(token)


def _odd_tokens(light: Folded) -> dict[str, tuple[int, int]]:
    """Code-like tokens of a chapter's light-folded visible text → first folded range."""
    out: dict[str, tuple[int, int]] = {}
    for m in TOKEN.finditer(light.text):
        if is_odd_token(m.group()):
            out.setdefault(m.group().casefold(), (m.start(), m.end()))
    return out


def repeated_strings(
    chapters: Mapping[tuple[str, str], Folded],
) -> list[tuple[str, str, int, int]]:
    """(bidder, chapter, start, end) of each odd token's first place in each chapter of the one
    bidder whose chapters repeat it (two or more) and no other bidder's chapters contain."""
    tokens = {key: _odd_tokens(light) for key, light in chapters.items()}
    holders: dict[str, set[str]] = {}
    places: dict[str, list[tuple[str, str]]] = {}
    for (bidder, chapter), found in tokens.items():
        for token in found:
            holders.setdefault(token, set()).add(bidder)
            places.setdefault(token, []).append((bidder, chapter))
    out: list[tuple[str, str, int, int]] = []
    for token, bidders in holders.items():
        if len(bidders) != 1 or len(places[token]) < 2:
            continue
        for bidder, chapter in places[token]:
            i, j = tokens[bidder, chapter][token]
            out.append((bidder, chapter, *chapters[bidder, chapter].span(i, j)))
    return sorted(out)
