from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from scoring.aggregation import Aggregation, BidderScore
from scoring.errors import PriceError
from scoring.model import AggregationRule, BenchmarkRule, PriceFormula, PriceRule
from scoring.price import (
    PriceResult,
    benchmark_price,
    draw_coefficient,
    price_score,
    rank,
    score_prices,
)
from tests.scoring.helpers import demo_package

D = Decimal
PRICES = {"a": D("100"), "b": D("90"), "c": D("110"), "d": D("95"), "e": D("120")}
LOWEST = PriceRule(D(30), PriceFormula.RATIO, BenchmarkRule.LOWEST)
MEAN = PriceRule(D(30), PriceFormula.DEVIATION, BenchmarkRule.MEAN)


def test_lowest_price_benchmark_and_ratio_score() -> None:
    bench = benchmark_price(PRICES, LOWEST)
    assert bench.value == D("90.00")
    # 90 / 120 × 30 = 22.5; 90 / 95 × 30 = 28.421… → 28.42; the lowest gets full marks
    assert price_score(D(120), bench.value, LOWEST, 2) == D("22.50")
    assert price_score(D(95), bench.value, LOWEST, 2) == D("28.42")
    assert price_score(D(95), bench.value, LOWEST, 3) == D("28.421")
    assert price_score(D(90), bench.value, LOWEST, 2) == D("30.00")


def test_ratio_score_is_capped_at_full_marks() -> None:
    assert price_score(D(80), D(100), LOWEST, 2) == D("30.00")


def test_mean_benchmark_variants() -> None:
    # plain mean: 515 / 5 = 103
    assert benchmark_price(PRICES, MEAN).value == D("103.00")
    # without the highest (e 120) and lowest (b 90): 305 / 3 = 101.666… → 101.67
    dropped = benchmark_price(PRICES, replace(MEAN, drop_highest_lowest=True))
    assert dropped.value == D("101.67")
    assert dropped.dropped == ("b", "e")
    assert dropped.included == ("d", "a", "c")
    # × 0.97: 101.666… × 0.97 = 98.616… → 98.62 (the coefficient applies before rounding)
    assert benchmark_price(
        PRICES, replace(MEAN, drop_highest_lowest=True, coefficient=D("0.97"))
    ).value == D("98.62")


def test_drop_share_needs_enough_bids() -> None:
    rule = replace(MEAN, drop_share=D("0.2"), drop_share_min_bids=5)
    # 5 bids × 0.2 = 1 at each end
    assert benchmark_price(PRICES, rule).dropped == ("b", "e")
    assert benchmark_price(dict(list(PRICES.items())[:4]), rule).dropped == ()
    # 5 × 0.1 = 0.5 → rounds down to none
    assert benchmark_price(PRICES, replace(rule, drop_share=D("0.1"))).dropped == ()


def test_deviation_score_uses_separate_e_and_floors_at_zero() -> None:
    # 2 % above: 30 − 2 × 1 = 28; 2 % below: 30 − 2 × 0.5 = 29; 40 % above → 0
    assert price_score(D(102), D(100), MEAN, 2) == D("28.00")
    assert price_score(D(98), D(100), MEAN, 2) == D("29.00")
    assert price_score(D(140), D(100), MEAN, 2) == D("0.00")
    # 0.3333… % above → 29.6666… → 29.67 (half up)
    assert price_score(D("100.3333333"), D(100), MEAN, 2) == D("29.67")


def test_price_errors() -> None:
    with pytest.raises(PriceError) as info:
        benchmark_price({}, MEAN)
    assert str(info.value) == "no valid price to set a benchmark from"
    with pytest.raises(PriceError) as info:
        benchmark_price(PRICES, replace(MEAN, coefficient_range=(D("0.95"), D("0.99"))))
    assert str(info.value) == (
        "the evaluation method draws a benchmark coefficient, but none is recorded; draw it at "
        "opening and record it in evaluation_method.price.coefficient"
    )
    with pytest.raises(PriceError) as info:
        price_score(D(0), D(100), MEAN, 2)
    assert str(info.value) == "prices must be positive (price 0, benchmark 100)"


def test_coefficient_draw_is_uniform_over_the_grid() -> None:
    rng = random.Random(42)
    draws = Counter(draw_coefficient(D("0.95"), D("0.99"), D("0.01"), rng) for _ in range(5000))
    assert sorted(draws) == [D("0.95"), D("0.96"), D("0.97"), D("0.98"), D("0.99")]
    assert all(900 < n < 1100 for n in draws.values())
    with pytest.raises(PriceError, match=r"coefficient range 0\.99–0\.95 is empty"):
        draw_coefficient(D("0.99"), D("0.95"), D("0.01"), rng)


def _aggregation(technical: dict[str, str], commercial: str = "20") -> Aggregation:
    return Aggregation(
        AggregationRule.MEAN,
        2,
        ("E1",),
        ("E1",),
        None,
        {},
        {b: BidderScore(b, {}, {}, D(t), D(commercial), {}) for b, t in technical.items()},
    )


def test_ranking_tie_break_price_then_technical_then_shared_rank() -> None:
    package = replace(
        demo_package(),
        prices={"b01": D(100), "b02": D(99), "b03": D(100), "b04": D(100), "b05": D(100)},
    )
    # composite = technical + 20 + price score; price scores chosen so b01–b04 all make 80
    agg = _aggregation({"b01": "30", "b02": "31", "b03": "31", "b04": "30", "b05": "20"})
    prices = PriceResult(
        benchmark_price(package.prices, LOWEST),
        {"b01": D(30), "b02": D(29), "b03": D(29), "b04": D(30), "b05": D(30)},
    )
    ranking = rank(package, agg, prices)
    # b02 (price 99) first; b03 beats b01/b04 on technical; b01 and b04 stay tied
    assert [(r.bidder_id, r.rank, r.composite, r.tied) for r in ranking.rows] == [
        ("b02", 1, D("80.00"), False),
        ("b03", 2, D("80.00"), False),
        ("b01", 3, D("80.00"), True),
        ("b04", 3, D("80.00"), True),
        ("b05", 5, D("70.00"), False),
    ]
    assert ranking.candidates == ("b02", "b03", "b01")
    assert ranking.unresolved_ties


def test_invalid_prices_are_not_ranked() -> None:
    package = demo_package()
    package = replace(
        package,
        prices={b: p for b, p in package.prices.items() if b != "b04"},
        invalid_prices={"b04": "报价超过最高投标限价"},
    )
    prices = score_prices(package)
    assert "b04" not in prices.scores
    agg = _aggregation(dict.fromkeys(package.bidder_ids, "30"))
    ranking = rank(package, agg, prices)
    assert [r.bidder_id for r in ranking.rows] == ["b02", "b05", "b01", "b03"]
    assert ranking.excluded == {"b04": "报价超过最高投标限价"}
