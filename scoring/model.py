"""The blind-bid model (技术暗标): a bid package as the engine sees it once it has been validated.

Everything here is an immutable value. A ``BidPackage`` is built only by
``scoring.package.parse_package``, which checks every rule; code that holds one may rely on
them (ids unique, every bidder has every chapter, rubric bands cover each item, …).
This module must never do I/O or hold anything mutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "COMMERCIAL_PART",
    "AggregationRule",
    "Band",
    "BenchmarkRule",
    "BidPackage",
    "Bidder",
    "ChapterSpec",
    "Contact",
    "EvaluationMethod",
    "PriceFormula",
    "PriceRule",
    "Project",
    "RubricItem",
    "Section",
]

#: The part id under which commercial items (商务部分) are scored. Commercial bids are not
#: blind, so experts score them per bidder id rather than per shuffled label.
COMMERCIAL_PART = "commercial"


class AggregationRule(StrEnum):
    """How the committee's item scores become one score (汇总规则)."""

    #: arithmetic mean of every expert's score
    MEAN = "mean"
    #: drop one highest and one lowest score per item when the committee has more than 5
    #: members, then the mean; a plain mean for 5 or fewer
    TRIMMED = "trimmed"
    #: the highway-works rule: with 9 members first drop every score of the expert whose
    #: totals spread most, then drop one highest and one lowest per item; otherwise TRIMMED
    HIGHWAY9 = "highway9"


class PriceFormula(StrEnum):
    """How a bid price becomes a price score."""

    #: benchmark ÷ bid × full marks (低价优先法, required in government procurement)
    RATIO = "ratio"
    #: full marks − |deviation %| × 100 × E, E differing above and below the benchmark
    DEVIATION = "deviation"


class BenchmarkRule(StrEnum):
    """How the benchmark price (评标基准价) is set from the valid prices."""

    LOWEST = "lowest"
    MEAN = "mean"


@dataclass(frozen=True, slots=True)
class Band:
    """A scoring band (评分档次): points from ``low`` to ``high`` inclusive, and what earns them."""

    low: Decimal
    high: Decimal
    description: str


@dataclass(frozen=True, slots=True)
class RubricItem:
    """One item of the scoring rubric (评分细则)."""

    id: str
    title: str
    max_points: Decimal
    step: Decimal
    bands: tuple[Band, ...]
    #: 客观评审因素: every expert must give the same score
    objective: bool = False

    @property
    def top_band(self) -> Band:
        return max(self.bands, key=lambda b: b.high)

    @property
    def bottom_band(self) -> Band:
        return min(self.bands, key=lambda b: b.low)


@dataclass(frozen=True, slots=True)
class ChapterSpec:
    """One chapter of the unified technical-bid template, with its rubric."""

    id: str
    title: str
    weight: Decimal
    items: tuple[RubricItem, ...]

    @property
    def max_points(self) -> Decimal:
        return sum((i.max_points for i in self.items), Decimal(0))


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Bidder:
    """A bidder (投标人) with everything that would identify it in a blind chapter."""

    id: str
    name: str
    credit_code: str
    contacts: tuple[Contact, ...] = ()
    aliases: tuple[str, ...] = ()
    key_staff: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Project:
    code: str
    name: str
    tenderer: str


@dataclass(frozen=True, slots=True)
class Section:
    """The bid section (标段) this package evaluates."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class PriceRule:
    """The price-scoring rule of the evaluation method."""

    full_marks: Decimal
    formula: PriceFormula
    benchmark: BenchmarkRule
    #: mean only: drop the single highest and lowest price first
    drop_highest_lowest: bool = False
    #: mean only: instead drop this share of bids at each end (rounded down) when there are at
    #: least ``drop_share_min_bids`` valid bids
    drop_share: Decimal | None = None
    drop_share_min_bids: int = 0
    #: mean only: the coefficient (下浮系数) drawn at opening from ``coefficient_range``
    coefficient: Decimal | None = None
    coefficient_range: tuple[Decimal, Decimal] | None = None
    coefficient_step: Decimal = Decimal("0.01")
    #: deviation formula: points deducted per percentage point above / below the benchmark
    e_above: Decimal = Decimal(1)
    e_below: Decimal = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class EvaluationMethod:
    """The evaluation method (评标办法) the package declares."""

    name: str
    rounding_places: int
    aggregation: AggregationRule
    technical_weight: Decimal
    commercial_weight: Decimal
    price: PriceRule
    #: the share of the mean beyond which a score deviates (畸高畸低), when the tender documents
    #: set their own; None: the hub's configured share applies (``Regulation.review``)
    deviation_share: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BidPackage:
    """A validated bid package: one project, one section, its bidders and their chapters."""

    project: Project
    section: Section
    method: EvaluationMethod
    chapters: tuple[ChapterSpec, ...]
    commercial_items: tuple[RubricItem, ...]
    bidders: tuple[Bidder, ...]
    #: bid price per bidder id; bidders whose price was declared invalid are absent
    prices: Mapping[str, Decimal]
    #: bidders whose price is invalid (否决), with the recorded reason
    invalid_prices: Mapping[str, str]
    #: chapter text per (bidder id, chapter id), plain text extracted from Markdown or HTML
    texts: Mapping[tuple[str, str], str] = field(repr=False)

    def chapter(self, chapter_id: str) -> ChapterSpec:
        for c in self.chapters:
            if c.id == chapter_id:
                return c
        raise KeyError(chapter_id)

    @property
    def bidder_ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.bidders)

    @property
    def chapter_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.chapters)
