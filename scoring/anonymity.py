"""Anonymity scan (暗标合规检查): identifying marks in blind technical chapters.

A blind chapter must not tell who wrote it. The scan looks in every chapter for

* every bidder's name and its region and trade name (``name_core``: 昆明金马 of
  昆明金马公路工程集团有限公司), aliases, unified social credit code, key staff and contact names,
  contact phone numbers and e-mail addresses — after folding both sides (``scoring.text_fold``:
  markup taken out, full-width folded, spaces, punctuation and symbols dropped, traditional
  characters made simplified), so 昆明 金马, ``<b>昆明</b>金马``, ０８７１－６５１２３４５６ and
  趙 文 斌 are found as surely as the plain forms. A mark of three folded characters or fewer
  (a two-character name) must not straddle clause punctuation (，。、；：！？), which ordinary
  prose puts between two unrelated characters; a mark that starts or ends with a letter or digit
  must not run on into another one (a number inside a longer number is not that number);
* anything shaped like a phone number (a mobile number may be spaced digit by digit), an e-mail
  address, a URL, a credit code or a company name (…有限公司, …集团), after light folding
  (full-width forms and entities decoded, invisible characters dropped);
* deliberate marks (``scoring.marks``): colour, font, size, images, page headers, hidden
  content, invisible characters, unusual symbols, and odd strings repeated across one bidder's
  chapters but absent from the others'.

Text inside markup that a reader does not see — comments, ``<script>``/``<style>``/``<title>``
bodies, the inside of tags (attributes such as ``alt``) — is searched too, each piece by
itself. Every finding carries the chapter's bidder, the chapter, the kind (the rule that found
it), and its span in the chapter as submitted: offset, line, column and length, with a
snippet. A flagged chapter is released to experts only when an override with a non-blank
reason is recorded for it.

This module must never decide on its own that a finding is harmless: that is a person's call,
recorded as an ``Override``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scoring.errors import AnonymityBlocked
from scoring.findings import Finding, FindingKind, make_finding
from scoring.marks import markup_marks, repeated_strings, symbol_marks
from scoring.model import Bidder, BidPackage
from scoring.text_fold import Folded, Markup, fold, fold_plain, split_markup

__all__ = [
    "Finding",
    "FindingKind",
    "Override",
    "blocked_chapters",
    "check_release",
    "name_core",
    "scan_chapter",
    "scan_package",
]


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
    # mobile numbers: plain, grouped 3-4-4, or spaced digit by digit
    (
        FindingKind.PHONE,
        re.compile(r"(?<![\d.])(?:1[3-9]\d[- ]?\d{4}[- ]?\d{4}|1 [3-9](?: \d){9})(?![\d.])"),
    ),
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
_SHORT = 3
_CLAUSE = frozenset("，。、；：！？,;:!?")


@dataclass(frozen=True, slots=True)
class Override:
    """A person's decision to release a flagged chapter anyway, with the reason."""

    bidder_id: str
    chapter_id: str
    reason: str
    recorded_by: str


#: a company name's organisational form (组织形式) and trade words (行业表述) at its end; what is
#: left is its region and trade name (行政区划 + 字号: 昆明金马), the part a reader knows it by
_ORG_FORMS = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "集团",
    "公司",
)
_TRADES = (
    "工程",
    "建设",
    "建筑",
    "路桥",
    "公路",
    "交通",
    "市政",
    "水利",
    "水电",
    "桥梁",
    "隧道",
    "铁路",
    "机械",
    "实业",
    "科技",
    "投资",
    "发展",
    "设计",
    "咨询",
    "监理",
    "勘察",
    "施工",
)
_CORE_MIN = 4


def name_core(name: str) -> str | None:
    """The region and trade name of a company name (昆明金马公路工程集团有限公司 → 昆明金马),
    or None when what is left is shorter than four characters or the whole name."""
    core = name
    for form in _ORG_FORMS:
        if core.endswith(form):
            core = core[: -len(form)]
            break
    stripped = True
    while stripped:
        stripped = False
        for trade in _TRADES:
            if core.endswith(trade) and len(core) > len(trade):
                core, stripped = core[: -len(trade)], True
    return core if len(core) >= _CORE_MIN and core != name else None


def _marks(bidders: Iterable[Bidder]) -> list[tuple[FindingKind, str, str, str]]:
    """(kind, mark, folded mark, owner) of every known bidder's mark, longest first."""
    marks: list[tuple[FindingKind, str, str]] = []
    for b in bidders:
        marks.append((FindingKind.NAME, b.name, b.id))
        core = name_core(b.name)
        if core is not None:
            marks.append((FindingKind.NAME, core, b.id))
        marks.append((FindingKind.CREDIT_CODE, b.credit_code, b.id))
        marks.extend((FindingKind.ALIAS, a, b.id) for a in b.aliases)
        marks.extend((FindingKind.STAFF, s, b.id) for s in b.key_staff)
        marks.extend((FindingKind.STAFF, c.name, b.id) for c in b.contacts)
        marks.extend((FindingKind.PHONE, c.phone, b.id) for c in b.contacts if c.phone)
        marks.extend((FindingKind.EMAIL, c.email, b.id) for c in b.contacts if c.email)
    folded = [(kind, mark, fold_plain(mark), owner) for kind, mark, owner in marks]
    # one folded character would match everywhere; longest first, so a full name wins over an
    # alias that is a prefix of it
    return sorted((m for m in folded if len(m[2]) >= 2), key=lambda m: -len(m[2]))


def _alnum(char: str) -> bool:
    return any(c.isascii() and c.isalnum() for c in unicodedata.normalize("NFKC", char))


def _acceptable(src: str, start: int, end: int, key: str) -> bool:
    if _alnum(key[0]) and start > 0 and _alnum(src[start - 1]):
        return False
    if _alnum(key[-1]) and end < len(src) and _alnum(src[end]):
        return False
    return not (len(key) <= _SHORT and _CLAUSE.intersection(src[start:end]))


@dataclass(slots=True)
class _Scan:
    src: str
    bidder_id: str
    chapter_id: str
    found: list[Finding]
    taken: list[tuple[int, int]]

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.taken)

    def add(
        self,
        kind: FindingKind,
        start: int,
        end: int,
        owner: str | None = None,
        matched_as: str | None = None,
        *,
        claim: bool = True,
    ) -> None:
        self.found.append(
            make_finding(
                self.src, self.bidder_id, self.chapter_id, kind, start, end, owner, matched_as
            )
        )
        if claim:
            self.taken.append((start, end))


def _identity(scan: _Scan, markup: Markup, bidders: Sequence[Bidder]) -> Folded:
    """Known marks and shapes, in the visible text and in each hidden piece; returns the
    visible text's light folding."""
    src = scan.src
    streams = [markup.visible, *(((lo, hi),) for lo, hi in markup.hidden)]
    marks = _marks(bidders)
    for ranges in streams:
        strict = fold(src, ranges, strict=True)
        for kind, mark, key, owner in marks:
            i = strict.text.find(key)
            while i >= 0:
                start, end = strict.span(i, i + len(key))
                if _acceptable(src, start, end, key) and scan.free(start, end):
                    original = src[start:end]
                    scan.add(kind, start, end, owner, None if original == mark else mark)
                i = strict.text.find(key, i + 1)
    visible = fold(src, markup.visible, strict=False)
    for n, ranges in enumerate(streams):
        light = visible if n == 0 else fold(src, ranges, strict=False)
        for kind, pattern in _PATTERNS:
            for m in pattern.finditer(light.text):
                start, end = light.span(m.start(), m.end())
                if scan.free(start, end):
                    original = src[start:end]
                    scan.add(kind, start, end, None, None if original == m.group() else m.group())
    return visible


def _scan(
    src: str, bidder_id: str, chapter_id: str, bidders: Sequence[Bidder]
) -> tuple[_Scan, Folded]:
    scan = _Scan(src, bidder_id, chapter_id, [], [])
    markup = split_markup(src)
    visible = _identity(scan, markup, bidders)
    seen: set[tuple[FindingKind, int, int]] = set()
    for kind, start, end in markup_marks(src, markup) + symbol_marks(src):
        if (kind, start, end) not in seen:
            seen.add((kind, start, end))
            scan.add(kind, start, end, claim=False)
    return scan, visible


def scan_chapter(
    text: str, bidder_id: str, chapter_id: str, bidders: Sequence[Bidder]
) -> list[Finding]:
    """Every identifying mark and deliberate mark in one chapter, in text order; positions
    are in ``text``, the chapter as submitted."""
    scan, _ = _scan(text, bidder_id, chapter_id, bidders)
    return sorted(scan.found, key=lambda f: (f.start, f.end))


def scan_package(package: BidPackage) -> list[Finding]:
    """Every mark in every chapter of the package, by bidder, chapter and position: each
    chapter's own, and the odd strings one bidder's chapters repeat and no other's contain."""
    scans: dict[tuple[str, str], _Scan] = {}
    visible: dict[tuple[str, str], Folded] = {}
    for b in package.bidders:
        for c in package.chapters:
            source = package.sources.get((b.id, c.id))
            src = source.text if source is not None else package.texts[b.id, c.id]
            scans[b.id, c.id], visible[b.id, c.id] = _scan(src, b.id, c.id, package.bidders)
    for bidder, chapter, start, end in repeated_strings(visible):
        scans[bidder, chapter].add(FindingKind.REPEATED, start, end, claim=False)
    findings: list[Finding] = []
    for b in package.bidders:
        for c in package.chapters:
            findings.extend(sorted(scans[b.id, c.id].found, key=lambda f: (f.start, f.end)))
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
