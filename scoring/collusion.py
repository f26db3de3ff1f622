"""Collusion signals between bidders (串通投标提示信号): places and sizes, never a finding.

Each signal is something for the supervisors to look into (提示信号，不构成违规认定). It names
bidder ids, chapters, offsets and sizes, never the shared text: a shared passage or string may
reveal a bidder's identity to whoever reads it. Three kinds, beside the same-chapter similarity
of :func:`scoring.similarity.find_similar_pairs`:

1. **Alike chapters under different chapter ids** (跨章节雷同): bidder A's ch2 against bidder
   B's ch3, :func:`scoring.similarity.find_cross_chapter_pairs`, the same thresholds
   (:func:`bidder_signals` also runs the same-chapter check, so both are at hand).

2. **Shared unusual strings** (相同异常字符串). An *unusual string* in a chapter's plain text
   (``BidPackage.texts``) is one of:

   * a **code-like token** (``code``): a match of :data:`scoring.marks.TOKEN` that
     :func:`scoring.marks.is_odd_token` accepts (ASCII letters mixed with digits or symbols, at
     least 3 characters, not ordinary road-works vocabulary such as C30 or JTG F80/1-2017), read
     after full-width ASCII is folded to ASCII, compared case-folded;
   * a **wrong-form character** (``hanzi``): a Han character that has another simplified form
     (:func:`scoring.hanzi.to_simplified`) in a chapter written in simplified characters (such
     characters are at most ``traditional_share`` of its Han characters), taken with the
     ``context`` characters before and after it in the normalised text
     (:func:`scoring.similarity.normalise`: no whitespace or punctuation), so that the same odd
     character in the same words is one string;
   * an **unusual symbol or invisible character** (``symbol``): a run that
     :func:`scoring.marks.symbol_marks` reports, taken with the ``context`` characters before
     and after it as written.

   A string is a signal when the chapters of at least two bidders contain it and no more than
   ``max(2, bidders // 3)`` do: a string most bidders share came from the tender documents. Each
   holder's first place in each chapter is reported (offsets into the plain text).
   :func:`bidder_signals` leaves out a string whose places all lie in chapters already reported
   alike to each other (a copied chapter carries every odd string along).

3. **Identical price tails** (报价尾数相同). Write both prices with the same ``d`` decimals
   (the finer of the two, at least 2: fen) as integers of ``10^-d`` yuan and take the longest
   common suffix of their digits. Its trailing zeros are what rounding explains (a price to the
   thousand yuan ends in 00000 fen in every bid); the digits left above them are the *shared
   tail*. Two prices are a signal when their shared tail has at least ``min_tail_digits`` digits
   (default 3): two independent prices share a given 3-digit tail about once in a thousand
   pairs. 36,961,205.37 and 35,400,005.37 share ``0537`` (tail 4 digits, lowest digit fen);
   36,960,000.00 and 35,640,000.00 share ``0000000`` only (nothing left: no signal).

Pure: text and prices in, dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from itertools import combinations

import numpy as np
import numpy.typing as npt

from scoring.hanzi import is_han, to_simplified
from scoring.marks import TOKEN, is_odd_token, symbol_marks
from scoring.similarity import (
    CrossChapterPair,
    SimilarityConfig,
    SimilarPair,
    find_cross_chapter_pairs,
    find_similar_pairs,
    normalise,
)

__all__ = [
    "BidderSignals",
    "CollusionConfig",
    "Place",
    "PriceTail",
    "SharedString",
    "StringKind",
    "bidder_signals",
    "price_tails",
    "shared_strings",
]

#: full-width ASCII (！ to ～) → ASCII, one character to one: offsets stay those of the text
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}


class StringKind(StrEnum):
    CODE = "code"
    HANZI = "hanzi"
    SYMBOL = "symbol"

    @property
    def label(self) -> str:
        return {
            StringKind.CODE: "相同的特殊字符串",
            StringKind.HANZI: "相同的异常用字",
            StringKind.SYMBOL: "相同的异常符号",
        }[self]


@dataclass(frozen=True, slots=True)
class CollusionConfig:
    similarity: SimilarityConfig = field(default_factory=SimilarityConfig)
    #: characters either side of a wrong-form character or an unusual symbol
    context: int = 2
    #: a chapter with more traditional-form characters than this share of its Han characters
    #: is written in traditional characters: they are not errors there (in running text
    #: written in traditional characters, a quarter or more of them have another form)
    traditional_share: float = 0.1
    min_tail_digits: int = 3


@dataclass(frozen=True, slots=True)
class Place:
    """Where a string stands: offsets into the chapter's plain text."""

    bidder_id: str
    chapter_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SharedString:
    """One unusual string found in the chapters of two or more bidders (never its text)."""

    kind: StringKind
    #: its length in characters (the token, or the character or symbol with its context)
    length: int
    places: tuple[Place, ...]

    @property
    def bidders(self) -> tuple[str, ...]:
        return tuple(sorted({p.bidder_id for p in self.places}))


@dataclass(frozen=True, slots=True)
class PriceTail:
    """Two prices whose digits end alike beyond what rounding explains (never the digits)."""

    bidder_a: str
    bidder_b: str
    #: digits in the shared tail
    digits: int
    #: the place of its lowest digit, in yuan (0.01: fen, 1: yuan, 1000: thousand yuan)
    lowest_place: Decimal


@dataclass(frozen=True, slots=True)
class BidderSignals:
    same_chapter: tuple[SimilarPair, ...]
    cross_chapter: tuple[CrossChapterPair, ...]
    shared_strings: tuple[SharedString, ...]
    price_tails: tuple[PriceTail, ...]

    @property
    def count(self) -> int:
        return (
            len(self.same_chapter)
            + len(self.cross_chapter)
            + len(self.shared_strings)
            + len(self.price_tails)
        )


#: runs of ASCII and full-width ASCII: the only places a token can stand
_ASCII_RUN = re.compile("[\x21-\x7e\uff01-\uff5e]+")


def _codes(text: str) -> Iterator[tuple[str, int, int]]:
    for run in _ASCII_RUN.finditer(text):
        for m in TOKEN.finditer(run.group().translate(_FULL_WIDTH)):
            if is_odd_token(m.group()):
                yield m.group().casefold(), run.start() + m.start(), run.start() + m.end()


@dataclass(frozen=True, slots=True)
class _Forms:
    """The Han characters of the texts, and those of them with another simplified form."""

    han: npt.NDArray[np.uint32]
    odd: npt.NDArray[np.uint32]

    @classmethod
    def of(cls, normalised: Iterator[npt.NDArray[np.uint32]]) -> _Forms:
        every = np.concatenate([np.empty(0, dtype=np.uint32), *normalised])
        present: list[int] = np.flatnonzero(np.bincount(every)).tolist() if len(every) else []
        han = [c for c in present if is_han(chr(c))]
        odd = [c for c in han if to_simplified(chr(c)) != chr(c)]
        return cls(np.array(han, dtype=np.uint32), np.array(odd, dtype=np.uint32))


def _wrong_forms(
    codes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.intp],
    forms: _Forms,
    config: CollusionConfig,
) -> Iterator[tuple[str, int, int]]:
    odd = np.isin(codes, forms.odd)
    found = int(odd.sum())
    if not found or found > config.traditional_share * int(np.isin(codes, forms.han).sum()):
        return
    chars = "".join(map(chr, codes.tolist()))
    context = config.context
    for k in np.flatnonzero(odd).tolist():
        lo, hi = max(0, k - context), min(len(chars), k + context + 1)
        yield chars[lo:hi], int(offsets[lo]), int(offsets[hi - 1]) + 1


def _symbols(text: str, context: int) -> Iterator[tuple[str, int, int]]:
    for kind, start, end in symbol_marks(text):
        lo, hi = max(0, start - context), min(len(text), end + context)
        yield f"{kind.value}:{text[lo:hi]}", lo, hi


def shared_strings(
    texts: Mapping[tuple[str, str], str], config: CollusionConfig = CollusionConfig()
) -> list[SharedString]:
    """Unusual strings in the chapters of two or more bidders but not of most (module doc)."""
    bidders = {b for b, _ in texts}
    most = max(2, len(bidders) // 3)
    found: dict[tuple[StringKind, str], dict[tuple[str, str], tuple[int, int]]] = {}
    normalised = {key: normalise(text) for key, text in texts.items()}
    forms = _Forms.of(codes for codes, _ in normalised.values())
    for (bidder, chapter), text in sorted(texts.items()):
        kinds = (
            (StringKind.CODE, _codes(text)),
            (StringKind.HANZI, _wrong_forms(*normalised[bidder, chapter], forms, config)),
            (StringKind.SYMBOL, _symbols(text, config.context)),
        )
        for kind, strings in kinds:
            for key, start, end in strings:
                found.setdefault((kind, key), {}).setdefault((bidder, chapter), (start, end))
    out: list[SharedString] = []
    for (kind, key), places in found.items():
        holders = {b for b, _ in places}
        if not 2 <= len(holders) <= most:
            continue
        length = len(key.split(":", 1)[1]) if kind is StringKind.SYMBOL else len(key)
        out.append(
            SharedString(
                kind,
                length,
                tuple(Place(b, c, s, e) for (b, c), (s, e) in sorted(places.items())),
            )
        )
    return sorted(out, key=lambda x: (x.bidders, x.places[0].chapter_id, x.places[0].start))


def _digits(price: Decimal, decimals: int) -> str:
    return str(int(price.scaleb(decimals).to_integral_value()))


def _decimals(price: Decimal) -> int:
    exponent = price.normalize().as_tuple().exponent
    return max(2, -exponent) if isinstance(exponent, int) else 2


def price_tails(
    prices: Mapping[str, Decimal], config: CollusionConfig = CollusionConfig()
) -> list[PriceTail]:
    """Pairs of prices sharing a tail of at least ``min_tail_digits`` digits (module doc)."""
    out: list[PriceTail] = []
    for a, b in combinations(sorted(prices), 2):
        if not (prices[a].is_finite() and prices[b].is_finite()):
            continue
        d = max(_decimals(prices[a]), _decimals(prices[b]))
        x, y = _digits(prices[a], d), _digits(prices[b], d)
        common = 0
        while common < min(len(x), len(y)) and x[-1 - common] == y[-1 - common]:
            common += 1
        suffix = x[len(x) - common :]
        tail = suffix.rstrip("0")
        zeros = len(suffix) - len(tail)
        if len(tail) >= config.min_tail_digits:
            place = Decimal(1).scaleb(zeros - d)
            out.append(PriceTail(a, b, len(tail), place))
    return out


def _beyond_alike(found: SharedString, alike: frozenset[frozenset[tuple[str, str]]]) -> bool:
    """Whether two of the string's places, of two bidders, stand in chapters not already
    reported alike to each other."""
    return any(
        p.bidder_id != q.bidder_id
        and frozenset({(p.bidder_id, p.chapter_id), (q.bidder_id, q.chapter_id)}) not in alike
        for p, q in combinations(found.places, 2)
    )


def bidder_signals(
    texts: Mapping[tuple[str, str], str],
    prices: Mapping[str, Decimal],
    config: CollusionConfig = CollusionConfig(),
) -> BidderSignals:
    """Every collusion signal between bidders that the package alone shows.

    A shared unusual string is left out when every pair of its places lies in two chapters
    already reported alike (the same chapter id or not): a copied chapter carries all its odd
    strings along, and the similarity signal already says so. The strings tell of copying the
    similarity check does not see, such as a rewritten text that kept the same errors.
    """
    same = find_similar_pairs(texts, config.similarity)
    cross = find_cross_chapter_pairs(texts, config.similarity)
    alike = frozenset(
        [frozenset({(p.bidder_a, p.chapter_id), (p.bidder_b, p.chapter_id)}) for p in same]
        + [frozenset({(p.bidder_a, p.chapter_a), (p.bidder_b, p.chapter_b)}) for p in cross]
    )
    strings = [x for x in shared_strings(texts, config) if _beyond_alike(x, alike)]
    return BidderSignals(
        tuple(same), tuple(cross), tuple(strings), tuple(price_tails(prices, config))
    )
