"""Price scores, composite scores and ranking (价格分、综合得分、排序).

Benchmark price (评标基准价) from the valid prices:

* ``lowest`` — the lowest valid price (低价优先法, required in government procurement);
* ``mean``   — the mean of the valid prices, optionally without the single highest and lowest
  (``drop_highest_lowest``) or without ``floor(count × drop_share)`` prices at each end
  (``drop_share``); either applies only when there are at least
  ``max(3, drop_share_min_bids)`` valid prices. Then optionally × the coefficient drawn at
  opening (``draw_coefficient`` draws it with a caller-supplied random source).

The benchmark is money: it is rounded half up to the fen (2 places) and the rounded value is
used from then on, as the published benchmark is.

Price score, rounded half up to the method's places:

* ``ratio``     — benchmark ÷ price × full marks, capped at full marks (a mean benchmark can
  exceed a low price);
* ``deviation`` — deviation d = (price − benchmark) ÷ benchmark;
  full marks − |d| × 100 × E, with E = ``e_above`` when d > 0 and ``e_below`` otherwise,
  floored at zero.

Composite = technical weight × technical + commercial weight × commercial + price score,
rounded half up to the method's places (the parts are already rounded; the weights may add
places). Ranking tie-break, in order: higher composite; lower price; higher technical score.
Bidders still equal share a rank and are marked ``tied`` — the rule offers nothing further,
so the committee decides (by lot, say); ``unresolved_ties`` says whether that touches the
first three candidates. Bidders with an invalid price are not ranked.

This module must never draw randomness of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from scoring.aggregation import Aggregation
from scoring.decimals import CONTEXT, mean, quantize
from scoring.errors import PriceError
from scoring.model import BenchmarkRule, BidPackage, PriceFormula, PriceRule

__all__ = [
    "CANDIDATES",
    "Benchmark",
    "PriceResult",
    "RandomSource",
    "RankedBidder",
    "Ranking",
    "benchmark_price",
    "draw_coefficient",
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


def benchmark_price(prices: Mapping[str, Decimal], rule: PriceRule) -> Benchmark:
    """The benchmark price from the valid prices (bidder id → price)."""
    if not prices:
        raise PriceError("no valid price to set a benchmark from")
    ordered = sorted(prices, key=lambda b: (prices[b], b))
    if rule.benchmark is BenchmarkRule.LOWEST:
        return Benchmark(quantize(prices[ordered[0]], _FEN), tuple(ordered), (), None)
    drop = 0
    if len(ordered) >= max(3, rule.drop_share_min_bids):
        if rule.drop_highest_lowest:
            drop = 1
        elif rule.drop_share is not None:
            drop = int(
                CONTEXT.multiply(Decimal(len(ordered)), rule.drop_share).to_integral_value(
                    rounding=ROUND_FLOOR
                )
            )
    included = ordered[drop : len(ordered) - drop] if drop else ordered
    dropped = ordered[:drop] + ordered[len(ordered) - drop :] if drop else []
    value = mean(prices[b] for b in included)
    if rule.coefficient_range is not None and rule.coefficient is None:
        raise PriceError(
            "the evaluation method draws a benchmark coefficient, but none is recorded; "
            "draw it at opening and record it in evaluation_method.price.coefficient"
        )
    if rule.coefficient is not None:
        value = CONTEXT.multiply(value, rule.coefficient)
    return Benchmark(quantize(value, _FEN), tuple(included), tuple(dropped), rule.coefficient)


def price_score(price: Decimal, benchmark: Decimal, rule: PriceRule, places: int) -> Decimal:
    if price <= 0 or benchmark <= 0:
        raise PriceError(f"prices must be positive (price {price}, benchmark {benchmark})")
    if rule.formula is PriceFormula.RATIO:
        score = min(
            CONTEXT.multiply(CONTEXT.divide(benchmark, price), rule.full_marks), rule.full_marks
        )
    else:
        deviation = CONTEXT.divide(price - benchmark, benchmark)
        e = rule.e_above if deviation > 0 else rule.e_below
        score = max(rule.full_marks - abs(deviation) * 100 * e, Decimal(0))
    return quantize(score, places)


@dataclass(frozen=True, slots=True)
class PriceResult:
    benchmark: Benchmark
    scores: Mapping[str, Decimal]


def score_prices(package: BidPackage) -> PriceResult:
    rule = package.method.price
    bench = benchmark_price(package.prices, rule)
    places = package.method.rounding_places
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
    places = method.rounding_places
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
