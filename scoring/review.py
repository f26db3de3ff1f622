"""Deviation review (评分复核): flags that block sealing, and signals for the supervisors.

Flags are raised for exactly the four reasons for which results may be corrected once the
totals are in:

* ``SUMMATION``   计分汇总错误 — a total the expert wrote differs from the sum of their items;
* ``OUT_OF_RANGE`` 分值超出评分标准规定的评分范围 — an item scored below 0 or above its maximum;
* ``OBJECTIVE``   客观评审因素评分不一致 — experts disagree on an objective item;
* ``DEVIATION``   评分畸高、畸低 — an expert's total for one bidder and one part (a technical
  chapter, or the commercial part) is further from the members' arithmetic mean of that total
  than a share of that mean (or, alternatively, of the part's maximum). This is the default
  (``DeviationScope.PART_TOTAL``), as practice judges deviation: a half point on a two-point
  item is a quarter of that item's mean but nothing on the part. ``DeviationScope.ITEM``
  checks every subjective item as well as the part totals. The share is the caller's
  (``ReviewConfig``): the bid package's evaluation method when it sets one, else the
  deployment's configured share; this module holds no default share.

The session cannot seal while a flag is open. A flag closes by re-scoring — run ``review``
again on the corrected sheets and it is gone — or, for ``DEVIATION`` only, by the expert's
written explanation (书面说明); the other three are errors and must be corrected.

Signals (an agreement matrix, one expert consistently far from the rest on one bidder,
near-identical sheets) never block anything: they are for the supervisors. They name bidders,
so the hub shows them only after the mapping is revealed.

Flag texts name the chapter, the label the expert saw and the item, never the bidder: they
are shown before sealing. This module must never decide that a deviation is acceptable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import combinations

from scoring.decimals import CONTEXT, mean, quantize
from scoring.errors import SealBlocked
from scoring.model import COMMERCIAL_PART, BidPackage, RubricItem
from scoring.sheets import Reintegrated

__all__ = [
    "ConsistentOutlier",
    "DeviationBasis",
    "DeviationScope",
    "Explanation",
    "FlagReason",
    "NearIdenticalSheets",
    "ReviewConfig",
    "ReviewFlag",
    "Signals",
    "check_sealable",
    "open_flags",
    "review",
    "signals",
]


class FlagReason(StrEnum):
    SUMMATION = "summation_error"
    OUT_OF_RANGE = "out_of_range"
    OBJECTIVE = "objective_inconsistent"
    DEVIATION = "deviation"


class DeviationBasis(StrEnum):
    #: the allowed distance is a share of the committee's mean
    MEAN = "mean"
    #: the allowed distance is a share of the item's (or chapter's) maximum
    MAX_POINTS = "max_points"


class DeviationScope(StrEnum):
    #: each expert's total per bidder and part against the members' mean of it (practice)
    PART_TOTAL = "part_total"
    #: every subjective item against its mean, and the part totals too
    ITEM = "item"


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    """How far a score may lie from the committee's mean: ``share`` of the ``basis``, checked
    on part totals or, with ``scope=ITEM``, on every subjective item as well."""

    share: Decimal
    basis: DeviationBasis = DeviationBasis.MEAN
    scope: DeviationScope = DeviationScope.PART_TOTAL


@dataclass(frozen=True, slots=True)
class ReviewFlag:
    """One reason the session cannot seal yet."""

    reason: FlagReason
    #: the expert who must act; None for an objective item, where the committee must agree
    expert_id: str | None
    part_id: str
    bidder_id: str
    #: None for a chapter total
    item_id: str | None
    #: what the expert(s) and supervisors read: names labels, never bidders
    message: str

    @property
    def key(self) -> str:
        """A stable id for explanations; internal, because it contains the bidder id."""
        return ":".join(
            (
                self.reason.value,
                self.expert_id or "*",
                self.part_id,
                self.bidder_id,
                self.item_id or "*",
            )
        )


@dataclass(frozen=True, slots=True)
class Explanation:
    """An expert's written explanation (书面说明) of a deviation flag."""

    flag_key: str
    expert_id: str
    text: str


def _items(package: BidPackage) -> list[tuple[str, RubricItem]]:
    out = [(c.id, i) for c in package.chapters for i in c.items]
    out.extend((COMMERCIAL_PART, i) for i in package.commercial_items)
    return out


def _fmt(value: Decimal) -> str:
    return str(quantize(value, 2))


def _deviates(value: Decimal, avg: Decimal, maximum: Decimal, config: ReviewConfig) -> bool:
    base = avg if config.basis is DeviationBasis.MEAN else maximum
    return abs(value - avg) > CONTEXT.multiply(config.share, base)


def _allowed(config: ReviewConfig) -> str:
    pct = CONTEXT.multiply(config.share, Decimal(100)).normalize()
    return f"{pct:f}%" + ("" if config.basis is DeviationBasis.MEAN else "（按满分计）")


def review(scores: Reintegrated, package: BidPackage, config: ReviewConfig) -> list[ReviewFlag]:
    """Every flag the committee's scores raise, grouped by reason."""
    experts = scores.expert_ids
    flags: list[ReviewFlag] = []
    allowed = _allowed(config)

    def label(e: str, part: str, b: str) -> str:
        return scores.labels.get((e, part, b), b)

    parts = [(c.id, c.items) for c in package.chapters]
    parts.append((COMMERCIAL_PART, package.commercial_items))
    # summation errors
    for e in experts:
        for part, items in parts:
            for b in package.bidder_ids:
                declared = scores.declared.get((e, part, b))
                if declared is None:
                    continue
                actual = sum((scores.score(e, part, b, i.id) for i in items), Decimal(0))
                if declared != actual:
                    flags.append(
                        ReviewFlag(
                            FlagReason.SUMMATION,
                            e,
                            part,
                            b,
                            None,
                            f"专家 {e} 的 {part} {label(e, part, b)} 合计填写为 {declared}，"
                            f"各项得分之和为 {actual}，须更正",
                        )
                    )
    # out of range
    for part, item in _items(package):
        for b in package.bidder_ids:
            for e in experts:
                p = scores.score(e, part, b, item.id)
                if not Decimal(0) <= p <= item.max_points:
                    flags.append(
                        ReviewFlag(
                            FlagReason.OUT_OF_RANGE,
                            e,
                            part,
                            b,
                            item.id,
                            f"专家 {e} 对 {part} {label(e, part, b)} {item.id} 评分 {p}，"
                            f"超出分值范围 0–{item.max_points}，须重新评分",
                        )
                    )
    # objective items
    for part, item in _items(package):
        if not item.objective:
            continue
        for b in package.bidder_ids:
            given = [(e, scores.score(e, part, b, item.id)) for e in experts]
            if len({p for _, p in given}) > 1:
                listing = "、".join(f"专家 {e} 在 {label(e, part, b)} 给 {p}" for e, p in given)
                flags.append(
                    ReviewFlag(
                        FlagReason.OBJECTIVE,
                        None,
                        part,
                        b,
                        item.id,
                        f"客观评分项 {part} {item.id} 各专家评分不一致（{listing}），"
                        f"须核对后统一评分",
                    )
                )
    # 畸高畸低: items (only when checked per item), then part totals
    for part, item in _items(package) if config.scope is DeviationScope.ITEM else ():
        if item.objective:
            continue  # an objective item is either identical or already flagged above
        for b in package.bidder_ids:
            values = [scores.score(e, part, b, item.id) for e in experts]
            avg = mean(values)
            for e, p in zip(experts, values, strict=True):
                if _deviates(p, avg, item.max_points, config):
                    flags.append(
                        ReviewFlag(
                            FlagReason.DEVIATION,
                            e,
                            part,
                            b,
                            item.id,
                            f"专家 {e} 对 {part} {label(e, part, b)} {item.id} 评分 {p}，"
                            f"偏离各专家平均分 {_fmt(avg)} 超过 {allowed}，须复核或书面说明",
                        )
                    )
    for part, items in parts:
        maximum = sum((i.max_points for i in items), Decimal(0))
        for b in package.bidder_ids:
            totals = [
                sum((scores.score(e, part, b, i.id) for i in items), Decimal(0)) for e in experts
            ]
            avg = mean(totals)
            for e, t in zip(experts, totals, strict=True):
                if _deviates(t, avg, maximum, config):
                    flags.append(
                        ReviewFlag(
                            FlagReason.DEVIATION,
                            e,
                            part,
                            b,
                            None,
                            f"专家 {e} 对 {part} {label(e, part, b)} 的合计 {t}，"
                            f"偏离各专家平均分 {_fmt(avg)} 超过 {allowed}，须复核或书面说明",
                        )
                    )
    return flags


def open_flags(
    flags: Iterable[ReviewFlag], explanations: Iterable[Explanation] = ()
) -> list[ReviewFlag]:
    """The flags still open: every non-deviation flag, and deviations nobody explained."""
    explained = {(x.flag_key, x.expert_id) for x in explanations if x.text.strip()}
    return [
        f
        for f in flags
        if not (
            f.reason is FlagReason.DEVIATION
            and f.expert_id is not None
            and (f.key, f.expert_id) in explained
        )
    ]


def check_sealable(flags: Iterable[ReviewFlag], explanations: Iterable[Explanation] = ()) -> None:
    """Raise ``SealBlocked`` listing every open flag's message."""
    still_open = open_flags(flags, explanations)
    if still_open:
        raise SealBlocked([f.message for f in still_open])


@dataclass(frozen=True, slots=True)
class ConsistentOutlier:
    """One expert far from the rest, in the same direction, on every chapter of one bidder."""

    expert_id: str
    bidder_id: str
    #: expert's chapter total − mean of the other experts' totals, per chapter
    gaps: tuple[Decimal, ...]

    @property
    def message(self) -> str:
        direction = "偏高" if self.gaps[0] > 0 else "偏低"
        return f"专家 {self.expert_id} 对投标人 {self.bidder_id} 的各章节评分均明显{direction}"


@dataclass(frozen=True, slots=True)
class NearIdenticalSheets:
    """Two experts whose scores agree on (nearly) every item."""

    expert_a: str
    expert_b: str
    #: share of items scored identically, 0–1
    agreement: Decimal

    @property
    def message(self) -> str:
        if self.agreement == 1:
            return f"专家 {self.expert_a} 与专家 {self.expert_b} 的评分完全相同"
        pct = quantize(self.agreement * 100, 2)
        return f"专家 {self.expert_a} 与专家 {self.expert_b} 的评分 {pct}% 相同"


@dataclass(frozen=True, slots=True)
class Signals:
    """Supervisor signals; they never block sealing."""

    experts: tuple[str, ...]
    #: mean absolute difference of chapter totals between two experts, as a share of the
    #: chapter maximum (0 = always identical); indexed like ``experts``
    disagreement: tuple[tuple[Decimal, ...], ...]
    outliers: tuple[ConsistentOutlier, ...]
    near_identical: tuple[NearIdenticalSheets, ...]


def signals(
    scores: Reintegrated,
    package: BidPackage,
    *,
    outlier_share: Decimal = Decimal("0.15"),
    identical_share: Decimal = Decimal("0.95"),
) -> Signals:
    """The agreement matrix, consistent outliers and near-identical sheets.

    An outlier is an expert whose chapter total for one bidder is, in *every* technical
    chapter, on the same side of the other experts' mean by more than ``outlier_share`` of
    the chapter maximum: under staggered review an expert cannot tell which chapters belong
    together, so a consistent lean on one bidder suggests the anonymity was broken.
    """
    experts = scores.expert_ids
    chapters = package.chapters
    totals = {
        (e, c.id, b): sum((scores.score(e, c.id, b, i.id) for i in c.items), Decimal(0))
        for e in experts
        for c in chapters
        for b in package.bidder_ids
    }
    n = len(experts)
    cells = [(c, b) for c in chapters for b in package.bidder_ids]
    matrix: list[list[Decimal]] = [[Decimal(0)] * n for _ in range(n)]
    for x, y in combinations(range(n), 2):
        diffs = [
            CONTEXT.divide(
                abs(totals[experts[x], c.id, b] - totals[experts[y], c.id, b]), c.max_points
            )
            for c, b in cells
        ]
        matrix[x][y] = matrix[y][x] = mean(diffs)
    outliers: list[ConsistentOutlier] = []
    if n > 1:
        for e in experts:
            others = [o for o in experts if o != e]
            for b in package.bidder_ids:
                gaps = tuple(
                    totals[e, c.id, b] - mean(totals[o, c.id, b] for o in others) for c in chapters
                )
                limits = [CONTEXT.multiply(outlier_share, c.max_points) for c in chapters]
                same_side = all(g > 0 for g in gaps) or all(g < 0 for g in gaps)
                if same_side and all(abs(g) > lim for g, lim in zip(gaps, limits, strict=True)):
                    outliers.append(ConsistentOutlier(e, b, gaps))
    keys = sorted({k[1:] for k in scores.points})
    near: list[NearIdenticalSheets] = []
    for a, b in combinations(experts, 2):
        same = sum(1 for k in keys if scores.points.get((a, *k)) == scores.points.get((b, *k)))
        agreement = CONTEXT.divide(Decimal(same), Decimal(len(keys))) if keys else Decimal(0)
        if agreement >= identical_share:
            near.append(NearIdenticalSheets(a, b, agreement))
    return Signals(experts, tuple(tuple(row) for row in matrix), tuple(outliers), tuple(near))
