"""Pure rules of the hub's evaluation engine: score saves, review requests, the review's share.

A **score save** is what an expert sends for one part — a technical chapter, scored under the
labels of the expert's own view, or the commercial part (``"commercial"``), scored per bidder
id. Its JSON shape (the seat protocol carries it as the ``sheet`` of ``submit_score``)::

    {"expert": "E01",            # optional from a seat (the booked seat says who sits there)
     "part": "ch1",
     "entries": [{"subject": "AB", "item": "1.1", "points": "8.5", "comment": "…"}, …],
     "declared_totals": {"AB": "12.5", …}}   # optional: totals the expert wrote

A save is judged whole: it must score every (label, item) of its part for that expert, by the
rubric (``scoring.sheets.validate_sheet``, restricted to the part). A refused save is recorded
with every reason and never counts; the latest accepted save per (expert, part) counts. While
the session is in deviation review, a changed score is marked ``changed_in_review`` and, by the
rubric rules, needs a comment.

**Review requests** go to the expert a deviation flag names, with the anonymised spread of the
other experts' scores: the values, sorted, without names. For an objective item, the experts
whose value differs from the one most members gave are asked, and those who hold it are told
(an informational notice: no answer is taken); when no single value has the most members,
everyone is asked. Texts name chapters, labels and items, never bidders. A score deviates when it lies
further from the mean than the **deviation share** of the package's evaluation method (评标办法)
when the package sets one, else the share the deployment configures (``review_config``).

The report signature's document is ``scoring.signing.signature_document`` (the seat builds the
same one).

Never does I/O and never reads the clock.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scoring.decimals import mean, parse_decimal, quantize
from scoring.errors import ScoreSheetInvalid
from scoring.model import COMMERCIAL_PART, BidPackage
from scoring.review import DeviationScope, FlagReason, ReviewConfig, ReviewFlag
from scoring.sheets import Reintegrated, ScoreEntry, ScoreSheet, validate_sheet
from scoring.shuffle import ExpertView
from scoring.signing import canonical, decimal_text

__all__ = [
    "COMMERCIAL_PART",
    "EXPLAINABLE",
    "ParsedSave",
    "RequestSpec",
    "SaveRefused",
    "decimal_text",
    "document_digest",
    "entries_from_json",
    "entries_to_json",
    "judge_save",
    "majority_value",
    "parse_decimal_text",
    "parse_save",
    "part_ids",
    "part_name",
    "request_specs",
    "review_config",
]

_MAX_ENTRIES = 2000
_MAX_COMMENT = 2000


class SaveRefused(Exception):
    """A score save is not counted; ``problems`` says why, in Chinese, one line each."""

    def __init__(self, code: str, problems: Sequence[str]) -> None:
        self.code = code
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class ParsedSave:
    expert: str | None
    part: str
    entries: tuple[ScoreEntry, ...]
    declared: Mapping[str, Decimal]


def part_ids(package: BidPackage) -> tuple[str, ...]:
    """Every part an expert scores: the chapters in template order, then the commercial part."""
    return (*package.chapter_ids, COMMERCIAL_PART)


def part_name(package: BidPackage, part: str) -> str:
    if part == COMMERCIAL_PART:
        return "商务部分"
    return f"{part} {package.chapter(part).title}"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_save(raw: object) -> ParsedSave:
    """The save's structure; raises ``SaveRefused("invalid-sheet", …)`` listing every problem."""
    if not isinstance(raw, Mapping):
        raise SaveRefused("invalid-sheet", ["评分表应为一个对象"])
    problems: list[str] = []
    expert = raw.get("expert")
    if expert is not None and not (isinstance(expert, str) and expert.strip()):
        problems.append("字段 expert 应为专家编号")
    part = _text(raw.get("part"))
    if not part or not part.strip():
        problems.append("缺少字段 part（评分的章节编号或 commercial）")
    raw_entries = raw.get("entries")
    entries: list[ScoreEntry] = []
    if not isinstance(raw_entries, list) or not raw_entries:
        problems.append("缺少字段 entries（评分项列表）")
    elif len(raw_entries) > _MAX_ENTRIES:
        problems.append(f"评分项超过 {_MAX_ENTRIES} 条")
    else:
        for n, e in enumerate(raw_entries, start=1):
            if not isinstance(e, Mapping):
                problems.append(f"第 {n} 条评分项应为对象")
                continue
            subject, item = _text(e.get("subject")), _text(e.get("item"))
            points = parse_decimal(e.get("points"))
            comment = e.get("comment", "")
            if not subject or not item:
                problems.append(f"第 {n} 条评分项缺少 subject 或 item")
            elif points is None:
                problems.append(f"第 {n} 条评分项（{subject} {item}）的得分不是数字")
            elif not isinstance(comment, str) or len(comment) > _MAX_COMMENT:
                problems.append(f"第 {n} 条评分项的评分理由应为不超过 {_MAX_COMMENT} 字的文字")
            else:
                entries.append(ScoreEntry(part or "", subject, item, points, comment.strip()))
    declared: dict[str, Decimal] = {}
    raw_declared = raw.get("declared_totals", {})
    if not isinstance(raw_declared, Mapping):
        problems.append("字段 declared_totals 应为 标签 → 合计 的对象")
    else:
        for subject, total in raw_declared.items():
            value = parse_decimal(total)
            if not isinstance(subject, str) or value is None:
                problems.append(f"合计 {subject} 不是数字")
            else:
                declared[subject] = value
    if problems:
        raise SaveRefused("invalid-sheet", problems)
    assert part is not None
    return ParsedSave(
        expert.strip() if isinstance(expert, str) else None, part, tuple(entries), declared
    )


def judge_save(
    save: ParsedSave,
    *,
    expert: str,
    session_id: str,
    package: BidPackage,
    view: ExpertView,
    previous: Mapping[tuple[str, str], Decimal] | None,
    in_review: bool,
) -> tuple[ScoreEntry, ...]:
    """The entries to count, or ``SaveRefused`` with every reason.

    ``view`` is the expert's own view; ``previous`` the points of the save that counts now
    ((subject, item) → points), used to mark scores changed in review.
    """
    if save.part not in part_ids(package):
        raise SaveRefused(
            "unknown-part",
            [f"评分表所属章节「{save.part}」不在本评标会的标书包中"],
        )
    entries = save.entries
    if in_review and previous is not None:
        entries = tuple(
            dataclasses.replace(
                e,
                changed_in_review=previous.get((e.subject, e.item_id), e.points) != e.points,
            )
            for e in entries
        )
    if save.part == COMMERCIAL_PART:
        part_view = dataclasses.replace(view, chapters=())
        part_package = package
    else:
        part_view = dataclasses.replace(
            view, chapters=tuple(c for c in view.chapters if c.chapter_id == save.part)
        )
        part_package = dataclasses.replace(package, commercial_items=())
    sheet = ScoreSheet(
        session_id,
        expert,
        entries,
        {(save.part, s): t for s, t in save.declared.items()},
    )
    problems: list[str] = []
    subjects = {e.subject for e in entries}
    problems.extend(f"合计 {s}：不是本部分的评分对象" for s in save.declared if s not in subjects)
    try:
        validate_sheet(sheet, part_package, part_view)
    except ScoreSheetInvalid as exc:
        problems[:0] = [f"{p.item}：{p.reason}" for p in exc.problems]
    if problems:
        raise SaveRefused("sheet-invalid", problems)
    return entries


def parse_decimal_text(text: str) -> Decimal:
    """A stored score (written by ``decimal_text``) back as a Decimal."""
    return Decimal(text)


def entries_to_json(entries: Sequence[ScoreEntry]) -> list[dict[str, Any]]:
    return [
        {
            "subject": e.subject,
            "item": e.item_id,
            "points": decimal_text(e.points),
            "comment": e.comment,
            "changed_in_review": e.changed_in_review,
        }
        for e in entries
    ]


def entries_from_json(part: str, raw: Sequence[Mapping[str, Any]]) -> tuple[ScoreEntry, ...]:
    return tuple(
        ScoreEntry(
            part,
            e["subject"],
            e["item"],
            Decimal(e["points"]),
            e.get("comment", ""),
            bool(e.get("changed_in_review", False)),
        )
        for e in raw
    )


@dataclass(frozen=True)
class RequestSpec:
    """One review request to be made: to ``expert`` about ``flag``; ``informational``: the
    expert is told (they hold the value most members gave), not asked."""

    flag_key: str
    reason: str
    expert: str
    part: str
    subject: str
    item: str | None
    message: str
    spread: dict[str, Any]
    informational: bool = False


def majority_value(values: Mapping[str, Decimal]) -> Decimal | None:
    """The value most members gave, if exactly one value has the most (else None)."""
    counts: dict[Decimal, int] = {}
    for v in values.values():
        counts[v] = counts.get(v, 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None
    return next(v for v, n in counts.items() if n == ranked[0])


def _value(scores: Reintegrated, package: BidPackage, e: str, f: ReviewFlag) -> Decimal:
    if f.item_id is not None:
        return scores.score(e, f.part_id, f.bidder_id, f.item_id)
    items = (
        package.commercial_items
        if f.part_id == COMMERCIAL_PART
        else package.chapter(f.part_id).items
    )
    return sum((scores.score(e, f.part_id, f.bidder_id, i.id) for i in items), Decimal(0))


def request_specs(
    flags: Sequence[ReviewFlag], scores: Reintegrated, package: BidPackage
) -> list[RequestSpec]:
    """The requests the flags call for, each with the anonymised spread of the others."""
    specs: list[RequestSpec] = []
    for f in flags:
        targets = scores.expert_ids if f.expert_id is None else (f.expert_id,)
        values = {e: _value(scores, package, e, f) for e in scores.expert_ids}
        avg = mean(values.values())
        agreed = majority_value(values) if f.reason is FlagReason.OBJECTIVE else None
        for e in targets:
            others = sorted(v for o, v in values.items() if o != e)
            told = agreed is not None and values[e] == agreed
            if told:
                message = (
                    f"客观评分项 {f.part_id} {f.item_id} 各专家评分不一致；您的评分 "
                    f"{decimal_text(values[e])} 与多数专家一致，无需答复。其他专家核对后，"
                    "本通知将自动关闭"
                )
            elif f.reason is FlagReason.OBJECTIVE:
                # The flag's own message names every member's value (for the host); the member
                # asked sees the others as the review shows them everywhere: anonymously.
                subject = scores.labels.get((e, f.part_id, f.bidder_id), f.bidder_id)
                spread = (
                    f"多数专家给 {decimal_text(agreed)}"
                    if agreed is not None
                    else "其他专家给 " + "、".join(decimal_text(v) for v in others)
                )
                message = (
                    f"客观评分项 {f.part_id} {f.item_id} 各专家评分不一致：您在 {subject} 给 "
                    f"{decimal_text(values[e])}，{spread}，须核对后统一评分"
                )
            else:
                message = f.message
            specs.append(
                RequestSpec(
                    flag_key=f.key,
                    reason=f.reason.value,
                    expert=e,
                    part=f.part_id,
                    subject=scores.labels.get((e, f.part_id, f.bidder_id), f.bidder_id),
                    item=f.item_id,
                    message=message,
                    spread={
                        "yours": decimal_text(values[e]),
                        "others": [decimal_text(v) for v in others],
                        "mean": str(quantize(avg, 2)),
                    },
                    informational=told,
                )
            )
    return specs


#: flags an expert may answer by keeping the score with a written explanation (书面说明)
EXPLAINABLE = frozenset({FlagReason.DEVIATION.value})


def review_config(
    package: BidPackage, configured: Decimal, basis: str = DeviationScope.PART_TOTAL.value
) -> ReviewConfig:
    """The deviation review's rule for this package: its own share when its evaluation method
    sets one, else ``configured`` (``Regulation.review.deviation_share``), checked on what
    ``basis`` names (``Regulation.review.deviation_basis``: part totals or every item)."""
    own = package.method.deviation_share
    return ReviewConfig(share=configured if own is None else own, scope=DeviationScope(basis))


def document_digest(document: object) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()
