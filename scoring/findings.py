"""What the anonymity scan reports (暗标合规检查的发现): the kinds of finding — identifying text
and deliberate marks — and one finding with its place in the chapter as submitted.

Shared by ``scoring.anonymity`` (identifying text, the scan itself) and ``scoring.marks``
(deliberate marks); ``scoring.anonymity`` re-exports both names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Finding", "FindingKind", "make_finding"]


class FindingKind(StrEnum):
    # identifying text: a bidder's own marks, or anything shaped like one
    NAME = "name"
    ALIAS = "alias"
    CREDIT_CODE = "credit_code"
    STAFF = "staff"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    COMPANY = "company"
    # deliberate marks (暗记): formatting or content a reader could recognise a bidder by
    COLOUR = "colour"
    FONT = "font"
    SIZE = "size"
    IMAGE = "image"
    HEADER = "header"
    HIDDEN = "hidden"
    INVISIBLE = "invisible"
    SYMBOL = "symbol"
    REPEATED = "repeated"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def is_mark(self) -> bool:
        """A deliberate mark (formatting, symbols, repeated odd strings), not identifying text."""
        return self in _MARKS


_KIND_LABELS = {
    FindingKind.NAME: "投标人名称",
    FindingKind.ALIAS: "投标人简称",
    FindingKind.CREDIT_CODE: "统一社会信用代码",
    FindingKind.STAFF: "人员姓名",
    FindingKind.PHONE: "电话号码",
    FindingKind.EMAIL: "电子邮箱",
    FindingKind.URL: "网址",
    FindingKind.COMPANY: "企业名称",
    FindingKind.COLOUR: "颜色标记",
    FindingKind.FONT: "字体标记",
    FindingKind.SIZE: "字号标记",
    FindingKind.IMAGE: "图片",
    FindingKind.HEADER: "页眉页脚",
    FindingKind.HIDDEN: "隐藏内容",
    FindingKind.INVISIBLE: "不可见字符",
    FindingKind.SYMBOL: "异常符号",
    FindingKind.REPEATED: "重复出现的特殊字符串",
}
_MARKS = frozenset(
    {
        FindingKind.COLOUR,
        FindingKind.FONT,
        FindingKind.SIZE,
        FindingKind.IMAGE,
        FindingKind.HEADER,
        FindingKind.HIDDEN,
        FindingKind.INVISIBLE,
        FindingKind.SYMBOL,
        FindingKind.REPEATED,
    }
)
_SNIPPET_CONTEXT = 12
_SHOWN = 60
_TAGS = re.compile(r"<[^<>]*>")
_TAG_START = re.compile(r"</?[A-Za-z!]")


@dataclass(frozen=True, slots=True)
class Finding:
    """One identifying mark found in one chapter.

    ``start``/``end`` are offsets, ``line``/``column`` (from 1) the place, in the chapter file
    as submitted (decoded; for HTML the markup counts), so whoever opens the file finds it.
    """

    #: the bidder whose chapter carries the mark
    bidder_id: str
    chapter_id: str
    kind: FindingKind
    #: the original text of the span (with whatever spacing, tags or full-width forms it has)
    match: str
    start: int
    end: int
    line: int
    column: int
    snippet: str
    #: the bidder the mark belongs to, when it is a known bidder's name, code or person
    owner_id: str | None = None
    #: the known mark the span matched after folding, when the original differs from it
    #: (昆明 金马 → 昆明金马): the sign of an evasion
    matched_as: str | None = None

    @property
    def length(self) -> int:
        """The span's length in characters of the original."""
        return self.end - self.start

    def describe(self) -> str:
        owner = f"（属于投标人 {self.owner_id}）" if self.owner_id else ""
        shown = " ".join(self.match.split())
        shown = shown if len(shown) <= _SHOWN else shown[:_SHOWN] + "…"
        folded = f"（归一化后即「{self.matched_as}」）" if self.matched_as else ""
        return (
            f"投标人 {self.bidder_id} 章节 {self.chapter_id} 第 {self.line} 行第 {self.column} 列"
            f"（{self.length} 字）：{self.kind.label}「{shown}」{folded}{owner}…{self.snippet}…"
        )


def _before(text: str, start: int) -> int:
    """Where a snippet starts: ``_SNIPPET_CONTEXT`` characters before ``start``, tags not
    counted (and never cut in half)."""
    lo, seen = start, 0
    while lo > 0 and seen < _SNIPPET_CONTEXT:
        lo -= 1
        if text[lo] == ">":
            opening = text.rfind("<", 0, lo)
            if opening >= 0 and _TAG_START.match(text, opening):
                lo = opening
                continue
        seen += 1
    return lo


def _after(text: str, end: int) -> int:
    hi, seen = end, 0
    while hi < len(text) and seen < _SNIPPET_CONTEXT:
        if text[hi] == "<" and _TAG_START.match(text, hi):
            closing = text.find(">", hi)
            if closing >= 0:
                hi = closing + 1
                continue
        hi += 1
        seen += 1
    return hi


def make_finding(
    text: str,
    bidder_id: str,
    chapter_id: str,
    kind: FindingKind,
    start: int,
    end: int,
    owner: str | None = None,
    matched_as: str | None = None,
) -> Finding:
    """A finding for ``text[start:end]``, with its line, column and a snippet around it
    (markup and runs of whitespace taken out of the snippet, so it reads as text)."""
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    lo, hi = _before(text, start), _after(text, end)
    snippet = re.sub(r"\s+", " ", _TAGS.sub("", text[lo:hi])).strip()
    return Finding(
        bidder_id,
        chapter_id,
        kind,
        text[start:end],
        start,
        end,
        line,
        column,
        snippet,
        owner,
        matched_as,
    )
