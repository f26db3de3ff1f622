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

from scoring.decimals import RoundingMode

__all__ = [
    "COMMERCIAL_PART",
    "AggregationRule",
    "Band",
    "BenchmarkRule",
    "BidPackage",
    "Bidder",
    "ChapterFormat",
    "ChapterSource",
    "ChapterSpec",
    "Contact",
    "DropRow",
    "EvaluationMethod",
    "GridRounding",
    "PriceFormula",
    "PriceRule",
    "Project",
    "RateBand",
    "RoundingMode",
    "RubricItem",
    "Section",
    "TrimBasis",
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


class TrimBasis(StrEnum):
    """What the trimming rules drop the highest and lowest of (去掉最高分和最低分的对象)."""

    #: per item, one highest and one lowest expert score
    ITEMS = "items"
    #: per bidder and part (technical, commercial), the expert with the highest and the one
    #: with the lowest total
    TOTALS = "totals"


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
class RateBand:
    """One band of the deviation formula on one side of the benchmark: within it, ``rate``
    points are deducted per percentage point (marginal: each band's rate applies to the part of
    the deviation inside it, as 超出部分 in tender documents)."""

    #: upper end of the band in percentage points from the benchmark; None: no upper end
    up_to: Decimal | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class DropRow:
    """A row of the trimming table by count (按有效报价家数去掉最高、最低报价)."""

    from_bids: int
    #: None: no upper bound
    to_bids: int | None
    highest: int
    lowest: int

    def covers(self, count: int) -> bool:
        return self.from_bids <= count and (self.to_bids is None or count <= self.to_bids)


@dataclass(frozen=True, slots=True)
class GridRounding:
    """Rounding to a whole multiple of ``quantum`` (0.01 for 精确到 0.01 %, 1 for a 1 % step)."""

    quantum: Decimal
    mode: RoundingMode


@dataclass(frozen=True, slots=True)
class PriceRule:
    """The price-scoring rule of the evaluation method.

    The deviation formula, in order: d = (price − benchmark) ÷ benchmark; the magnitude in
    percentage points, rounded by ``deviation_rounding`` then by ``deviation_step``; the
    deduction summed over the side's rate bands; capped by the side's maximum; full marks less
    the deduction, never below zero.
    """

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
    #: mean only: how ``count × drop_share`` becomes a whole number (default: down, the floor)
    drop_share_rounding: RoundingMode = RoundingMode.DOWN
    #: mean only: how many to drop at each end by the number of valid bids (instead of the
    #: two rules above); a count no row covers drops none
    drop_table: tuple[DropRow, ...] = ()
    #: deviation formula: rate bands above / below the benchmark; empty: one band at e_above /
    #: e_below
    bands_above: tuple[RateBand, ...] = ()
    bands_below: tuple[RateBand, ...] = ()
    #: deviation formula: the most points deducted above / below the benchmark
    max_deduction_above: Decimal | None = None
    max_deduction_below: Decimal | None = None
    #: deviation formula: the deviation (in percentage points) rounded before use
    deviation_rounding: GridRounding | None = None
    #: deviation formula: then counted in whole steps (不足 1 % 按 1 % 计: step 1, up)
    deviation_step: GridRounding | None = None

    def bands(self, above: bool) -> tuple[RateBand, ...]:
        """The rate bands of one side of the benchmark."""
        if above:
            return self.bands_above or (RateBand(None, self.e_above),)
        return self.bands_below or (RateBand(None, self.e_below),)

    def max_deduction(self, above: bool) -> Decimal | None:
        return self.max_deduction_above if above else self.max_deduction_below


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
    #: trimmed / highway9: what the highest and lowest are dropped of, and from which committee
    #: size on (trimming applies with more than ``trim_above`` experts)
    trim_basis: TrimBasis = TrimBasis.ITEMS
    trim_above: int = 5
    #: places per published figure; None: ``rounding_places``
    technical_places: int | None = None
    commercial_places: int | None = None
    price_places: int | None = None
    composite_places: int | None = None

    @property
    def technical_rounding(self) -> int:
        return self.technical_places or self.rounding_places

    @property
    def commercial_rounding(self) -> int:
        return self.commercial_places or self.rounding_places

    @property
    def price_rounding(self) -> int:
        return self.price_places or self.rounding_places

    @property
    def composite_rounding(self) -> int:
        return self.composite_places or self.rounding_places


class ChapterFormat(StrEnum):
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class ChapterSource:
    """A chapter file as the bidder submitted it (decoded): what the anonymity scan reads and
    where its positions point."""

    path: str
    format: ChapterFormat
    text: str = field(repr=False)


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
    #: the chapter files as submitted, per (bidder id, chapter id); a package built without
    #: them is scanned on ``texts``
    sources: Mapping[tuple[str, str], ChapterSource] = field(default_factory=dict, repr=False)

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
