"""Anonymity scan (暗标合规检查): identifying marks in blind technical chapters.

A blind chapter must not tell who wrote it. The scan looks in every chapter for every
bidder's name, aliases, unified social credit code, key staff and contact names, and for
anything shaped like a phone number, an email address, a URL, a credit code or a company
name (…有限公司, …集团). It reports the chapter's bidder, the chapter, the position (offset,
line, column) and a snippet. A flagged chapter is released to experts only when an override
with a non-blank reason is recorded for it.

This module must never decide on its own that a finding is harmless: that is a person's call,
recorded as an ``Override``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from scoring.errors import AnonymityBlocked
from scoring.model import Bidder, BidPackage

__all__ = [
    "Finding",
    "FindingKind",
    "Override",
    "blocked_chapters",
    "check_release",
    "scan_chapter",
    "scan_package",
]


class FindingKind(StrEnum):
    NAME = "name"
    ALIAS = "alias"
    CREDIT_CODE = "credit_code"
    STAFF = "staff"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    COMPANY = "company"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    FindingKind.NAME: "投标人名称",
    FindingKind.ALIAS: "投标人简称",
    FindingKind.CREDIT_CODE: "统一社会信用代码",
    FindingKind.STAFF: "人员姓名",
    FindingKind.PHONE: "电话号码",
    FindingKind.EMAIL: "电子邮箱",
    FindingKind.URL: "网址",
    FindingKind.COMPANY: "企业名称",
}

_PATTERNS: tuple[tuple[FindingKind, re.Pattern[str]], ...] = (
    (
        FindingKind.CREDIT_CODE,
        re.compile(
            r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])"
        ),
    ),
    (
        FindingKind.EMAIL,
        re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    ),
    (
        FindingKind.URL,
        re.compile(
            r"(?:https?://|www\.)[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+", flags=re.IGNORECASE
        ),
    ),
    # mobile numbers, with or without 3-4-4 separators
    (FindingKind.PHONE, re.compile(r"(?<!\d)1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")),
    # landlines with an area code: 0871-65123456, (0871)65123456, 0871 6512 3456
    (
        FindingKind.PHONE,
        re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[-－ ])\d{3,4}[- ]?\d{4}(?!\d)"),
    ),
    (
        FindingKind.COMPANY,
        re.compile(r"[\u4e00-\u9fff]{2,20}?(?:有限责任公司|股份有限公司|有限公司|集团)"),
    ),
)

# Generic patterns that overlap a specific finding (a bidder's own name, say) add nothing.
_SPECIFIC = frozenset({FindingKind.NAME, FindingKind.ALIAS, FindingKind.STAFF})
_SNIPPET_CONTEXT = 12


@dataclass(frozen=True, slots=True)
class Finding:
    """One identifying mark found in one chapter."""

    #: the bidder whose chapter carries the mark
    bidder_id: str
    chapter_id: str
    kind: FindingKind
    match: str
    start: int
    end: int
    line: int
    column: int
    snippet: str
    #: the bidder the mark belongs to, when it is a known bidder's name, code or person
    owner_id: str | None = None

    def describe(self) -> str:
        owner = f"（属于投标人 {self.owner_id}）" if self.owner_id else ""
        return (
            f"投标人 {self.bidder_id} 章节 {self.chapter_id} 第 {self.line} 行第 {self.column} 列："
            f"{self.kind.label}「{self.match}」{owner}…{self.snippet}…"
        )


@dataclass(frozen=True, slots=True)
class Override:
    """A person's decision to release a flagged chapter anyway, with the reason."""

    bidder_id: str
    chapter_id: str
    reason: str
    recorded_by: str


def _marks(bidders: Iterable[Bidder]) -> list[tuple[FindingKind, str, str]]:
    marks: list[tuple[FindingKind, str, str]] = []
    for b in bidders:
        marks.append((FindingKind.NAME, b.name, b.id))
        marks.append((FindingKind.CREDIT_CODE, b.credit_code, b.id))
        marks.extend((FindingKind.ALIAS, a, b.id) for a in b.aliases)
        marks.extend((FindingKind.STAFF, s, b.id) for s in b.key_staff)
        marks.extend((FindingKind.STAFF, c.name, b.id) for c in b.contacts)
        marks.extend((FindingKind.PHONE, c.phone, b.id) for c in b.contacts if c.phone)
        marks.extend((FindingKind.EMAIL, c.email, b.id) for c in b.contacts if c.email)
    # longest first, so a full name wins over an alias that is a prefix of it
    return sorted(marks, key=lambda m: -len(m[1]))


def _finding(
    text: str,
    bidder_id: str,
    chapter_id: str,
    kind: FindingKind,
    start: int,
    end: int,
    owner: str | None,
) -> Finding:
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    lo, hi = max(0, start - _SNIPPET_CONTEXT), min(len(text), end + _SNIPPET_CONTEXT)
    snippet = re.sub(r"\s+", " ", text[lo:hi])
    return Finding(
        bidder_id, chapter_id, kind, text[start:end], start, end, line, column, snippet, owner
    )


def scan_chapter(
    text: str, bidder_id: str, chapter_id: str, bidders: Sequence[Bidder]
) -> list[Finding]:
    """Every identifying mark in one chapter, in text order."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for kind, mark, owner in _marks(bidders):
        for m in re.finditer(re.escape(mark), text):
            if free(m.start(), m.end()):
                found.append(_finding(text, bidder_id, chapter_id, kind, m.start(), m.end(), owner))
                taken.append((m.start(), m.end()))
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if free(m.start(), m.end()):
                found.append(_finding(text, bidder_id, chapter_id, kind, m.start(), m.end(), None))
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda f: (f.start, f.end))


def scan_package(package: BidPackage) -> list[Finding]:
    """Every identifying mark in every chapter of the package, by bidder, chapter and position."""
    findings: list[Finding] = []
    for b in package.bidders:
        for c in package.chapters:
            findings.extend(scan_chapter(package.texts[b.id, c.id], b.id, c.id, package.bidders))
    return findings


def _overridden(overrides: Iterable[Override]) -> set[tuple[str, str]]:
    # An override without a reason is not an override: the rule is "with a reason recorded".
    return {(o.bidder_id, o.chapter_id) for o in overrides if o.reason.strip()}


def blocked_chapters(
    findings: Iterable[Finding], overrides: Iterable[Override] = ()
) -> Mapping[tuple[str, str], int]:
    """(bidder id, chapter id) → number of findings, for chapters that may not be released."""
    released = _overridden(overrides)
    blocked: dict[tuple[str, str], int] = {}
    for f in findings:
        key = (f.bidder_id, f.chapter_id)
        if key not in released:
            blocked[key] = blocked.get(key, 0) + 1
    return blocked


def check_release(
    bidder_id: str,
    chapter_id: str,
    findings: Iterable[Finding],
    overrides: Iterable[Override] = (),
) -> None:
    """Raise ``AnonymityBlocked`` unless the chapter is clean or overridden with a reason."""
    count = blocked_chapters(findings, overrides).get((bidder_id, chapter_id), 0)
    if count:
        raise AnonymityBlocked(bidder_id, chapter_id, count)
