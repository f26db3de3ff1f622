"""Price scores, composite scores and ranking (价格分、综合得分、排序).

Benchmark price (评标基准价) from the valid prices:

* ``lowest`` — the lowest valid price (低价优先法, required in government procurement);
* ``mean``   — the mean of the valid prices, optionally without the single highest and lowest
  (``drop_highest_lowest``) or without ``count × drop_share`` prices at each end, rounded by
  ``drop_share_rounding`` (default down, the floor) (``drop_share``); either applies only when
  there are at least ``max(3, drop_share_min_bids)`` valid prices. Or ``drop_table`` says how
  many highest and lowest to drop for each number of valid prices (≤ 5 none, 6 the highest,
  ≥ 7 both, say). Then optionally × the coefficient drawn at opening (``draw_coefficient``
  draws it with a caller-supplied random source).

The benchmark is money: it is rounded half up to the fen (2 places) and the rounded value is
used from then on, as the published benchmark is.

Price score, rounded half up to the method's places:

* ``ratio``     — benchmark ÷ price × full marks, capped at full marks (a mean benchmark can
  exceed a low price);
* ``deviation`` — deviation d = (price − benchmark) ÷ benchmark; its magnitude in percentage
  points, |d| × 100, rounded first by ``deviation_rounding`` (偏差率精确到 0.01 %) and then to
  whole steps by ``deviation_step`` (不足 1 % 按 1 % 计); the deduction is the sum over the
  side's rate bands (above: d > 0; below otherwise) of rate × the part of the deviation inside
  the band — one band at ``e_above`` / ``e_below`` unless the package lists bands — capped at
  the side's ``max_deduction``; the score is full marks − deduction, floored at zero. Every
  step is monotone, so the score never rises as the price moves away from the benchmark.

Composite = technical weight × technical + commercial weight × commercial + price score,
rounded half up to the method's places (the parts are already rounded; the weights may add
places). Ranking tie-break, in order: higher composite; lower price; higher technical score.
Bidders still equal share a rank and are marked ``tied`` — the rule offers nothing further,
so the committee decides (by lot, say); ``unresolved_ties`` says whether that touches the
first three candidates. Bidders with an invalid price are not ranked.

This module must never draw randomness of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from scoring.aggregation import Aggregation
from scoring.decimals import CONTEXT, mean, quantize, round_to
from scoring.errors import PriceError
from scoring.model import BenchmarkRule, BidPackage, PriceFormula, PriceRule, RateBand

__all__ = [
    "CANDIDATES",
    "Benchmark",
    "PriceResult",
    "RandomSource",
    "RankedBidder",
    "Ranking",
    "benchmark_price",
    "describe_formula",
    "deviation_deduction",
    "deviation_percent",
    "draw_coefficient",
    "drop_counts",
    "price_score",
    "rank",
    "score_prices",
]

CANDIDATES = 3
_FEN = 2


class RandomSource(Protocol):
    """What ``draw_coefficient`` needs: ``random.Random`` and ``secrets.SystemRandom`` fit."""

    def randrange(self, stop: int, /) -> int: ...


def draw_coefficient(low: Decimal, high: Decimal, step: Decimal, rng: RandomSource) -> Decimal:
    """A coefficient drawn uniformly from low, low + step, …, high."""
    count = int(CONTEXT.divide_int(high - low, step)) + 1
    if count < 1:
        raise PriceError(f"coefficient range {low}–{high} is empty")
    return low + step * rng.randrange(count)


@dataclass(frozen=True, slots=True)
class Benchmark:
    value: Decimal
    #: bidders whose prices formed the benchmark, and those dropped at the ends
    included: tuple[str, ...]
    dropped: tuple[str, ...]
    coefficient: Decimal | None


def drop_counts(count: int, rule: PriceRule) -> tuple[int, int]:
    """How many of ``count`` valid prices the benchmark drops: (lowest, highest)."""
    if rule.benchmark is BenchmarkRule.LOWEST:
        return 0, 0
    if rule.drop_table:
        row = next((r for r in rule.drop_table if r.covers(count)), None)
        return (row.lowest, row.highest) if row is not None else (0, 0)
    if count < max(3, rule.drop_share_min_bids):
        return 0, 0
    if rule.drop_highest_lowest:
        return 1, 1
    if rule.drop_share is not None:
        share = CONTEXT.multiply(Decimal(count), rule.drop_share)
        n = int(round_to(share, Decimal(1), rule.drop_share_rounding))
        return n, n
    return 0, 0


def benchmark_price(prices: Mapping[str, Decimal], rule: PriceRule) -> Benchmark:
    """The benchmark price from the valid prices (bidder id → price)."""
    if not prices:
        raise PriceError("no valid price to set a benchmark from")
    ordered = sorted(prices, key=lambda b: (prices[b], b))
    if rule.benchmark is BenchmarkRule.LOWEST:
        return Benchmark(quantize(prices[ordered[0]], _FEN), tuple(ordered), (), None)
    low, high = drop_counts(len(ordered), rule)
    if low + high >= len(ordered):
        # the importer refuses rules that can do this; a rule built in code may still
        raise PriceError(
            f"dropping {low} lowest and {high} highest of {len(ordered)} valid prices "
            f"leaves none to set a benchmark from"
        )
    included = ordered[low : len(ordered) - high]
    dropped = ordered[:low] + ordered[len(ordered) - high :]
    value = mean(prices[b] for b in included)
    if rule.coefficient_range is not None and rule.coefficient is None:
        raise PriceError(
            "the evaluation method draws a benchmark coefficient, but none is recorded; "
            "draw it at opening and record it in evaluation_method.price.coefficient"
        )
    if rule.coefficient is not None:
        value = CONTEXT.multiply(value, rule.coefficient)
    return Benchmark(quantize(value, _FEN), tuple(included), tuple(dropped), rule.coefficient)


def deviation_percent(price: Decimal, benchmark: Decimal, rule: PriceRule) -> Decimal:
    """The deviation the formula uses, in percentage points, signed (+ above the benchmark):
    |d| × 100 rounded by ``deviation_rounding``, then to whole ``deviation_step`` steps."""
    if price <= 0 or benchmark <= 0:
        raise PriceError(f"prices must be positive (price {price}, benchmark {benchmark})")
    d = CONTEXT.divide(price - benchmark, benchmark)
    magnitude = CONTEXT.multiply(abs(d), Decimal(100))
    if rule.deviation_rounding is not None:
        grid = rule.deviation_rounding
        magnitude = round_to(magnitude, grid.quantum, grid.mode)
    if rule.deviation_step is not None:
        grid = rule.deviation_step
        magnitude = round_to(magnitude, grid.quantum, grid.mode)
    return magnitude if d > 0 else -magnitude


def deviation_deduction(percent: Decimal, bands: Sequence[RateBand]) -> Decimal:
    """Points deducted for ``percent`` (≥ 0) percentage points: each band's rate times the part
    of the deviation inside that band."""
    total, lower = Decimal(0), Decimal(0)
    for band in bands:
        if percent <= lower:
            break
        upper = percent if band.up_to is None else min(percent, band.up_to)
        total += CONTEXT.multiply(upper - lower, band.rate)
        if band.up_to is None:
            break
        lower = band.up_to
    return total


def _bands_text(side: str, bands: Sequence[RateBand]) -> str:
    if len(bands) == 1:
        return f"每{side}评标基准价 1 % 扣 {bands[0].rate} 分"
    parts, lower = [], Decimal(0)
    for band in bands:
        span = f"{lower}–{band.up_to} % " if band.up_to is not None else f"{lower} % 以上"
        parts.append(f"{span}的部分每 1 % 扣 {band.rate} 分")
        lower = band.up_to if band.up_to is not None else lower
    return f"{side}评标基准价的，偏差 " + "、".join(parts)


def describe_formula(rule: PriceRule) -> str:
    """How a price becomes a price score under ``rule``, in the words of an evaluation report
    (the benchmark itself is described with the figure it produced)."""
    if rule.formula is PriceFormula.RATIO:
        return f"价格分 = 评标基准价 ÷ 投标报价 × {rule.full_marks}（不超过满分）"
    sides = []
    for above, side in ((True, "高于"), (False, "低于")):
        text = _bands_text(side, rule.bands(above))
        cap = rule.max_deduction(above)
        if cap is not None:
            text += f"，最多扣 {cap} 分"
        sides.append(text)
    text = f"价格分 = {rule.full_marks} − 扣分；" + "；".join(sides)
    if rule.deviation_rounding is not None:
        grid = rule.deviation_rounding
        text += f"；偏差率精确到 {grid.quantum} %（{grid.mode.label}）"
    if rule.deviation_step is not None:
        grid = rule.deviation_step
        text += f"；偏差按每 {grid.quantum} % 一档计（不足一档{grid.mode.label}）"
    return text + "；扣分后不低于 0 分"


def price_score(price: Decimal, benchmark: Decimal, rule: PriceRule, places: int) -> Decimal:
    if price <= 0 or benchmark <= 0:
        raise PriceError(f"prices must be positive (price {price}, benchmark {benchmark})")
    if rule.formula is PriceFormula.RATIO:
        score = min(
            CONTEXT.multiply(CONTEXT.divide(benchmark, price), rule.full_marks), rule.full_marks
        )
    else:
        percent = deviation_percent(price, benchmark, rule)
        above = percent > 0
        deduction = deviation_deduction(abs(percent), rule.bands(above))
        cap = rule.max_deduction(above)
        if cap is not None:
            deduction = min(deduction, cap)
        score = max(rule.full_marks - deduction, Decimal(0))
    return quantize(score, places)


@dataclass(frozen=True, slots=True)
class PriceResult:
    benchmark: Benchmark
    scores: Mapping[str, Decimal]


def score_prices(package: BidPackage) -> PriceResult:
    rule = package.method.price
    bench = benchmark_price(package.prices, rule)
    places = package.method.price_rounding
    scores = {b: price_score(p, bench.value, rule, places) for b, p in package.prices.items()}
    return PriceResult(bench, scores)


@dataclass(frozen=True, slots=True)
class RankedBidder:
    bidder_id: str
    rank: int
    technical: Decimal
    commercial: Decimal
    price: Decimal
    price_score: Decimal
    composite: Decimal
    #: another bidder has the same composite, price and technical score
    tied: bool


@dataclass(frozen=True, slots=True)
class Ranking:
    rows: tuple[RankedBidder, ...]
    #: the first three candidates (中标候选人) in order
    candidates: tuple[str, ...]
    #: bidders not ranked (invalid price), with the reason
    excluded: Mapping[str, str]
    #: a tie the rule cannot break reaches into the first three
    unresolved_ties: bool


def rank(package: BidPackage, aggregation: Aggregation, prices: PriceResult) -> Ranking:
    method = package.method
    places = method.composite_rounding
    rows: list[tuple[tuple[Decimal, Decimal, Decimal], RankedBidder]] = []
    for b in package.bidder_ids:
        if b not in prices.scores:
            continue
        s = aggregation.bidders[b]
        composite = quantize(
            CONTEXT.multiply(method.technical_weight, s.technical)
            + CONTEXT.multiply(method.commercial_weight, s.commercial)
            + prices.scores[b],
            places,
        )
        key = (-composite, package.prices[b], -s.technical)
        rows.append(
            (
                key,
                RankedBidder(
                    b,
                    0,
                    s.technical,
                    s.commercial,
                    package.prices[b],
                    prices.scores[b],
                    composite,
                    False,
                ),
            )
        )
    rows.sort(key=lambda r: (r[0], r[1].bidder_id))
    ranked: list[RankedBidder] = []
    for key, row in rows:
        first = next(j for j, (k, _) in enumerate(rows) if k == key)
        tied = sum(1 for k, _ in rows if k == key) > 1
        ranked.append(
            RankedBidder(
                row.bidder_id,
                first + 1,
                row.technical,
                row.commercial,
                row.price,
                row.price_score,
                row.composite,
                tied,
            )
        )
    candidates = tuple(r.bidder_id for r in ranked[:CANDIDATES])
    unresolved = any(r.tied and r.rank <= CANDIDATES for r in ranked)
    return Ranking(tuple(ranked), candidates, dict(package.invalid_prices), unresolved)
