"""Score sheets (评分表): what an expert submits, its validation, and re-integration (还原).

An expert scores technical chapters per (chapter, label, rubric item) — the label is the one
in their own view — and commercial items per (bidder id, item), because commercial bids are
not blind. ``validate_sheet`` checks bounds, step, completeness and the mandatory comments
(a score in the item's top or bottom band, or a score changed in review) and lists every
problem with the item and the reason. The check of one score against its item is
``item_faults``: the expert's page at the seat runs the same function on its form, so the rule
lives here once and each end words the faults for its reader. ``reintegrate`` turns labels back into bidder ids
with the shuffle, after sealing.

This module must never see the shuffle before sealing except through the expert's own view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from scoring.decimals import CONTEXT
from scoring.errors import ScoreSheetInvalid, SheetProblem
from scoring.model import COMMERCIAL_PART, BidPackage, RubricItem
from scoring.shuffle import ExpertView, StaggeredShuffle

__all__ = [
    "ItemFault",
    "ItemLimits",
    "Reintegrated",
    "ScoreEntry",
    "ScoreSheet",
    "item_faults",
    "item_name",
    "reintegrate",
    "validate_sheet",
]


@dataclass(frozen=True, slots=True)
class ScoreEntry:
    """One score: ``part_id`` is a chapter id or ``COMMERCIAL_PART``; ``subject`` is the label
    the expert saw (technical) or the bidder id (commercial)."""

    part_id: str
    subject: str
    item_id: str
    points: Decimal
    comment: str = ""
    changed_in_review: bool = False


@dataclass(frozen=True, slots=True)
class ScoreSheet:
    """One expert's sheet for one session."""

    session_id: str
    expert_id: str
    entries: tuple[ScoreEntry, ...]
    #: totals the expert wrote per (part id, subject), checked for summation errors in review
    declared_totals: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)


def item_name(part_id: str, subject: str, item_id: str) -> str:
    """How an item is named in problems and flags: ``<chapter> <label> <item>``."""
    return f"{part_id} {subject} {item_id}"


class ItemFault(Enum):
    """What is wrong with one score against its rubric item, in the order they are checked."""

    OUT_OF_RANGE = "out_of_range"
    OFF_STEP = "off_step"
    #: a score in the top band without a written reason
    TOP_BAND_UNEXPLAINED = "top_band_unexplained"
    #: a score in the bottom band without a written reason
    BOTTOM_BAND_UNEXPLAINED = "bottom_band_unexplained"
    #: a score changed during deviation review without a written reason
    CHANGE_UNEXPLAINED = "change_unexplained"


@dataclass(frozen=True, slots=True)
class ItemLimits:
    """What the check of one score needs of its rubric item (the seat has these four numbers
    from its briefing, the hub has the ``RubricItem``)."""

    max_points: Decimal
    step: Decimal
    #: the lowest score of the top band
    top_low: Decimal
    #: the highest score of the bottom band
    bottom_high: Decimal

    @classmethod
    def of(cls, item: RubricItem) -> ItemLimits:
        return cls(item.max_points, item.step, item.top_band.low, item.bottom_band.high)


def item_faults(
    points: Decimal, comment: str, limits: ItemLimits, *, changed_in_review: bool = False
) -> tuple[ItemFault, ...]:
    """Every fault of one score: out of 0..max, or off the step, or else in the top or bottom
    band without a reason; and, besides, changed in review without a reason."""
    faults: list[ItemFault] = []
    explained = bool(comment.strip())
    if not Decimal(0) <= points <= limits.max_points:
        faults.append(ItemFault.OUT_OF_RANGE)
    elif CONTEXT.remainder(points, limits.step) != 0:
        faults.append(ItemFault.OFF_STEP)
    elif not explained and points >= limits.top_low:
        faults.append(ItemFault.TOP_BAND_UNEXPLAINED)
    elif not explained and points <= limits.bottom_high:
        faults.append(ItemFault.BOTTOM_BAND_UNEXPLAINED)
    if changed_in_review and not explained:
        faults.append(ItemFault.CHANGE_UNEXPLAINED)
    return tuple(faults)


def _item_problems(entry: ScoreEntry, item: RubricItem) -> list[str]:
    p = entry.points
    top, bottom = item.top_band, item.bottom_band
    reasons = {
        ItemFault.OUT_OF_RANGE: f"得分 {p} 超出分值范围 0–{item.max_points}",
        ItemFault.OFF_STEP: f"得分 {p} 不是步长 {item.step} 的整数倍",
        ItemFault.TOP_BAND_UNEXPLAINED: f"得分 {p} 在最高档（{top.low}–{top.high}），须填写评分理由",
        ItemFault.BOTTOM_BAND_UNEXPLAINED: (
            f"得分 {p} 在最低档（{bottom.low}–{bottom.high}），须填写评分理由"
        ),
        ItemFault.CHANGE_UNEXPLAINED: "复核中修改了得分，须填写修改理由",
    }
    faults = item_faults(
        p, entry.comment, ItemLimits.of(item), changed_in_review=entry.changed_in_review
    )
    return [reasons[f] for f in faults]


def _expected(package: BidPackage, view: ExpertView) -> dict[tuple[str, str, str], RubricItem]:
    expected: dict[tuple[str, str, str], RubricItem] = {}
    for cv in view.chapters:
        spec = package.chapter(cv.chapter_id)
        for label in cv.labels:
            for item in spec.items:
                expected[cv.chapter_id, label, item.id] = item
    for bidder in package.bidder_ids:
        for item in package.commercial_items:
            expected[COMMERCIAL_PART, bidder, item.id] = item
    return expected


def validate_sheet(sheet: ScoreSheet, package: BidPackage, view: ExpertView) -> None:
    """Raise ``ScoreSheetInvalid`` listing every problem of the sheet, in rubric order."""
    if view.expert_id != sheet.expert_id:
        raise ValueError(f"view of {view.expert_id} used for the sheet of {sheet.expert_id}")
    expected = _expected(package, view)
    problems: list[SheetProblem] = []
    seen: set[tuple[str, str, str]] = set()
    for e in sheet.entries:
        key = (e.part_id, e.subject, e.item_id)
        name = item_name(*key)
        if key in seen:
            problems.append(SheetProblem(name, "重复评分"))
            continue
        seen.add(key)
        item = expected.get(key)
        if item is None:
            problems.append(SheetProblem(name, "不是本专家评审视图中的评分项"))
            continue
        problems.extend(SheetProblem(name, r) for r in _item_problems(e, item))
    problems.extend(SheetProblem(item_name(*k), "未评分") for k in expected if k not in seen)
    if problems:
        order = {item_name(*k): i for i, k in enumerate(expected)}
        problems.sort(key=lambda p: order.get(p.item, -1))
        raise ScoreSheetInvalid(sheet.expert_id, problems)


@dataclass(frozen=True, slots=True)
class Reintegrated:
    """Every expert's scores keyed by bidder again (还原后的评分)."""

    expert_ids: tuple[str, ...]
    #: (expert, part, bidder, item) → points
    points: Mapping[tuple[str, str, str, str], Decimal]
    #: (expert, part, bidder) → the label the expert saw (the bidder id for commercial items)
    labels: Mapping[tuple[str, str, str], str]
    #: (expert, part, bidder) → the total the expert wrote, where one was written
    declared: Mapping[tuple[str, str, str], Decimal]
    #: (expert, part, bidder, item) → the expert's comment
    comments: Mapping[tuple[str, str, str, str], str]

    def score(self, expert_id: str, part_id: str, bidder_id: str, item_id: str) -> Decimal:
        return self.points[expert_id, part_id, bidder_id, item_id]


def reintegrate(sheets: Sequence[ScoreSheet], shuffle: StaggeredShuffle) -> Reintegrated:
    """Map every label back to its bidder; the inverse of the shuffle for every seed."""
    points: dict[tuple[str, str, str, str], Decimal] = {}
    labels: dict[tuple[str, str, str], str] = {}
    declared: dict[tuple[str, str, str], Decimal] = {}
    comments: dict[tuple[str, str, str, str], str] = {}

    def bidder(expert: str, part: str, subject: str) -> str:
        return subject if part == COMMERCIAL_PART else shuffle.bidder_for(expert, part, subject)

    for sheet in sheets:
        for e in sheet.entries:
            b = bidder(sheet.expert_id, e.part_id, e.subject)
            points[sheet.expert_id, e.part_id, b, e.item_id] = e.points
            labels[sheet.expert_id, e.part_id, b] = e.subject
            if e.comment:
                comments[sheet.expert_id, e.part_id, b, e.item_id] = e.comment
        for (part, subject), total in sheet.declared_totals.items():
            declared[sheet.expert_id, part, bidder(sheet.expert_id, part, subject)] = total
    return Reintegrated(tuple(s.expert_id for s in sheets), points, labels, declared, comments)
