"""Price rules from published tender documents, each as configuration of the package's price
section, with a worked example whose figures are computed by hand beside it.

Unless said otherwise: price full marks 30, method places 2 (half up), benchmark B given.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.aggregation import Aggregation, BidderScore
from scoring.decimals import RoundingMode
from scoring.errors import PackageInvalid, PriceError
from scoring.model import (
    AggregationRule,
    BenchmarkRule,
    DropRow,
    GridRounding,
    PriceFormula,
    PriceRule,
    RateBand,
)
from scoring.package import parse_package
from scoring.price import (
    benchmark_price,
    describe_formula,
    deviation_percent,
    price_score,
    rank,
    score_prices,
)
from tests.scoring.helpers import minimal_chapters, minimal_documents

D = Decimal
B = D("1000000.00")
DEVIATION = PriceRule(D(30), PriceFormula.DEVIATION, BenchmarkRule.MEAN)


def _package(price: dict[str, Any], amounts: tuple[str, ...] = ("100.00", "120")) -> Any:
    docs = copy.deepcopy(minimal_documents())
    docs["package.yaml"]["evaluation_method"]["price"] = price
    docs["prices.yaml"]["prices"] = [
        {"bidder": b, "amount": a} for b, a in zip(("b1", "b2"), amounts, strict=True)
    ]
    return parse_package(docs, minimal_chapters())


def _problems(price: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(PackageInvalid) as info:
        _package(price)
    return [(p.file, p.field, p.message) for p in info.value.problems]


def _score(price: str, rule: PriceRule, benchmark: Decimal = B) -> Decimal:
    return price_score(D(price), benchmark, rule, 2)


# --- 1. a cap on the deduction ---------------------------------------------------------------
# 每高于基准价 1 % 减 1 分，最多减 20 分；每低于 1 % 减 0.3 分，最多减 5 分.
CAPPED = replace(
    DEVIATION,
    e_above=D(1),
    e_below=D("0.3"),
    max_deduction_above=D(20),
    max_deduction_below=D(5),
)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        # +12 %: 12 × 1 = 12 (under the cap of 20) → 30 − 12 = 18
        ("1120000.00", "18.00"),
        # +25 %: 25 × 1 = 25, capped at 20 → 30 − 20 = 10 (without the cap: 5)
        ("1250000.00", "10.00"),
        # +3.333333 %: 3.333333 → 30 − 3.333333 = 26.666667 → 26.67
        ("1033333.33", "26.67"),
        # −10 %: 10 × 0.3 = 3 → 27
        ("900000.00", "27.00"),
        # −20 %: 20 × 0.3 = 6, capped at 5 → 25 (without the cap: 24)
        ("800000.00", "25.00"),
        # −50 %: 15, capped at 5 → 25: below the benchmark the score never drops under 25
        ("500000.00", "25.00"),
    ],
)
def test_capped_deduction(price: str, expected: str) -> None:
    assert _score(price, CAPPED) == D(expected)


def test_without_the_cap_the_same_bids_lose_more() -> None:
    uncapped = replace(CAPPED, max_deduction_above=None, max_deduction_below=None)
    assert _score("1250000.00", uncapped) == D("5.00")
    assert _score("800000.00", uncapped) == D("24.00")


# --- 2. rates that change past a threshold ----------------------------------------------------
# Below the benchmark −1 per 1 % down to −8 %, then −4 per 1 % (the part beyond 8 %);
# above +1 per 1 %.
BANDED = replace(
    DEVIATION,
    bands_below=(RateBand(D(8), D(1)), RateBand(None, D(4))),
)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("950000.00", "25.00"),  # −5 %: 5 × 1 = 5 → 25
        ("920000.00", "22.00"),  # −8 %: 8 × 1 = 8 → 22
        ("912500.00", "19.00"),  # −8.75 %: 8 × 1 + 0.75 × 4 = 11 → 19
        ("900000.00", "14.00"),  # −10 %: 8 × 1 + 2 × 4 = 16 → 14
        ("875000.00", "4.00"),  # −12.5 %: 8 + 4.5 × 4 = 26 → 4
        ("850000.00", "0.00"),  # −15 %: 8 + 7 × 4 = 36 > 30 → 0, never below zero
        ("1020000.00", "28.00"),  # +2 %: 2 × e_above 1 → 28
    ],
)
def test_rate_bands(price: str, expected: str) -> None:
    assert _score(price, BANDED) == D(expected)


# --- 3. step deductions: 不足 1 % 按 1 % 计 -----------------------------------------------------
STEPPED = replace(DEVIATION, deviation_step=GridRounding(D(1), RoundingMode.UP))


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("1023000.00", "27.00"),  # +2.3 % counts as 3 % → 30 − 3 × 1 = 27 (unstepped 27.70)
        ("1030000.00", "27.00"),  # +3 % exactly stays 3 % → 27
        ("1000100.00", "29.00"),  # +0.01 % counts as 1 % → 29
        ("996000.00", "29.50"),  # −0.4 % counts as 1 % → 30 − 1 × 0.5 = 29.5
        ("1000000.00", "30.00"),  # at the benchmark: 0 % → full marks
    ],
)
def test_step_deduction(price: str, expected: str) -> None:
    assert _score(price, STEPPED) == D(expected)


def test_a_step_that_rounds_down_ignores_the_part_step() -> None:
    # 不足 1 % 不计: +2.3 % counts as 2 % → 28
    rule = replace(DEVIATION, deviation_step=GridRounding(D(1), RoundingMode.DOWN))
    assert _score("1023000.00", rule) == D("28.00")


# --- 4. the deviation rounded before use: 偏差率精确到 0.01 % ------------------------------------
ROUNDED = replace(DEVIATION, deviation_rounding=GridRounding(D("0.01"), RoundingMode.HALF_UP))


def test_deviation_rounded_to_a_hundredth_of_a_percent() -> None:
    # P = 1 023 450: d = 23 450 / 1 000 000 = 2.345 %.
    # Unrounded: 30 − 2.345 = 27.655 → 27.66. Rounded half up first: 2.35 % → 27.65.
    assert _score("1023450.00", DEVIATION) == D("27.66")
    assert deviation_percent(D("1023450.00"), B, ROUNDED) == D("2.35")
    assert _score("1023450.00", ROUNDED) == D("27.65")
    # 直接舍去 (mode down): 2.34 % → 27.66
    truncated = replace(DEVIATION, deviation_rounding=GridRounding(D("0.01"), RoundingMode.DOWN))
    assert _score("1023450.00", truncated) == D("27.66")
    # below: P = 976 549 → −2.3451 % → 2.35 % → 30 − 2.35 × 0.5 = 28.825 → 28.83
    assert deviation_percent(D("976549.00"), B, ROUNDED) == D("-2.35")
    assert _score("976549.00", ROUNDED) == D("28.83")


def test_rounding_then_stepping() -> None:
    # 2.0004 % → 2.00 % at 0.01 % → a whole step: 2 % → 28; stepped without rounding: 3 % → 27
    both = replace(ROUNDED, deviation_step=GridRounding(D(1), RoundingMode.UP))
    assert _score("1020004.00", both) == D("28.00")
    assert _score("1020004.00", STEPPED) == D("27.00")


# --- 5. trimming by the number of bids --------------------------------------------------------
# ≤ 5 bids: none dropped; exactly 6: only the highest; ≥ 7: the highest and the lowest.
TABLE = replace(
    DEVIATION,
    drop_table=(DropRow(6, 6, 1, 0), DropRow(7, None, 1, 1)),
)
FIVE = {"a": D(100), "b": D(102), "c": D(104), "d": D(106), "e": D(108)}


def test_trimming_by_count() -> None:
    # 5 bids: (100 + 102 + 104 + 106 + 108) / 5 = 520 / 5 = 104.00, nothing dropped
    five = benchmark_price(FIVE, TABLE)
    assert (five.value, five.dropped) == (D("104.00"), ())
    # 6 bids (+ f 130): only the highest goes → 520 / 5 = 104.00 (a plain mean: 650 / 6 = 108.33)
    six = benchmark_price(FIVE | {"f": D(130)}, TABLE)
    assert (six.value, six.dropped) == (D("104.00"), ("f",))
    assert benchmark_price(FIVE | {"f": D(130)}, DEVIATION).value == D("108.33")
    # 7 bids (+ g 91): 91 and 130 go → 520 / 5 = 104.00 (only the highest: 611 / 6 = 101.83)
    seven = benchmark_price(FIVE | {"f": D(130), "g": D(91)}, TABLE)
    assert (seven.value, seven.dropped) == (D("104.00"), ("g", "f"))
    only_highest = replace(DEVIATION, drop_table=(DropRow(6, None, 1, 0),))
    assert benchmark_price(FIVE | {"f": D(130), "g": D(91)}, only_highest).value == D("101.83")


# --- 6. drop_share rounded as the rule says ---------------------------------------------------
EIGHT = {
    "a": D(80),
    "b": D(92),
    "c": D(95),
    "d": D(100),
    "e": D(100),
    "f": D(105),
    "g": D(110),
    "h": D(140),
}


def test_drop_share_rounding() -> None:
    share = replace(DEVIATION, drop_share=D("0.2"))
    # 8 × 20 % = 1.6. Down (the default, as before): 1 each end → drop 80 and 140:
    # (92 + 95 + 100 + 100 + 105 + 110) / 6 = 602 / 6 = 100.333… → 100.33
    floor = benchmark_price(EIGHT, share)
    assert (floor.value, floor.dropped) == (D("100.33"), ("a", "h"))
    # 四舍五入: 1.6 → 2 each end → drop 80, 92 and 110, 140: (95 + 100 + 100 + 105) / 4 = 100.00
    half_up = benchmark_price(EIGHT, replace(share, drop_share_rounding=RoundingMode.HALF_UP))
    assert (half_up.value, half_up.dropped) == (D("100.00"), ("a", "b", "g", "h"))


def test_a_rule_built_in_code_that_drops_every_bid_is_refused() -> None:
    rule = replace(DEVIATION, drop_share=D("0.45"), drop_share_rounding=RoundingMode.HALF_UP)
    # 4 × 0.45 = 1.8 → 2 at each end: nothing is left
    with pytest.raises(PriceError) as info:
        benchmark_price({"a": D(1), "b": D(2), "c": D(3), "d": D(4)}, rule)
    assert str(info.value) == (
        "dropping 2 lowest and 2 highest of 4 valid prices leaves none to set a benchmark from"
    )


# --- the package's YAML reaches the engine -----------------------------------------------------


def test_a_capped_banded_stepped_rule_imports_and_scores() -> None:
    package = _package(
        {
            "full_marks": "30",
            "formula": "deviation",
            "benchmark": "mean",
            "e_above": "1",
            "below": [{"up_to": "8", "rate": "1"}, {"rate": "4"}],
            "max_deduction_above": "20",
            "max_deduction_below": "5",
            "deviation_rounding": {"places": 2},
            "deviation_step": {"size": "1"},
        },
        amounts=("100.00", "123.45"),
    )
    rule = package.method.price
    assert rule.bands_below == (RateBand(D(8), D(1)), RateBand(None, D(4)))
    assert rule.deviation_rounding == GridRounding(D("0.01"), RoundingMode.HALF_UP)
    assert rule.deviation_step == GridRounding(D(1), RoundingMode.UP)
    # B = (100 + 123.45) / 2 = 111.725 → 111.73 (money, to the fen)
    # b1: (100 − 111.73) / 111.73 = −10.4985…% → 10.50 % → step 11 % → 8 + 3 × 4 = 20,
    #     capped at 5 → 25.00
    # b2: (123.45 − 111.73) / 111.73 = +10.4896…% → 10.49 % → 11 % → 11 → 19.00
    result = score_prices(package)
    assert result.benchmark.value == D("111.73")
    assert result.scores == {"b1": D("25.00"), "b2": D("19.00")}


def test_a_drop_table_and_share_rounding_import() -> None:
    table = _package(
        {
            "full_marks": "30",
            "formula": "deviation",
            "benchmark": "mean",
            "drop_table": [
                {"from": 7, "highest": 1, "lowest": 1},
                {"from": 6, "to": 6, "highest": 1, "lowest": 0},
            ],
        }
    )
    assert table.method.price.drop_table == (DropRow(6, 6, 1, 0), DropRow(7, None, 1, 1))
    share = _package(
        {
            "full_marks": "30",
            "formula": "deviation",
            "benchmark": "mean",
            "drop_share": "0.2",
            "drop_share_rounding": "half_up",
        }
    )
    assert share.method.price.drop_share_rounding is RoundingMode.HALF_UP
    # nothing said: down, as every package before
    assert (
        _package(
            {"full_marks": "30", "formula": "deviation", "benchmark": "mean", "drop_share": "0.2"}
        ).method.price.drop_share_rounding
        is RoundingMode.DOWN
    )


BASE = {"full_marks": "30", "formula": "deviation", "benchmark": "mean"}
F = "evaluation_method.price"


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (
            {**BASE, "formula": "ratio", "max_deduction_above": "20"},
            (f"{F}.max_deduction_above", "只适用于偏差率公式（formula: deviation）"),
        ),
        (
            {**BASE, "max_deduction_below": "40"},
            (f"{F}.max_deduction_below", "最多扣 40 分，超过价格分满分 30 分"),
        ),
        (
            {**BASE, "max_deduction_above": "0"},
            (f"{F}.max_deduction_above", "应大于 0，实际为 0"),
        ),
        (
            {**BASE, "e_below": "0.5", "below": [{"rate": "1"}]},
            (f"{F}.below", "e_below 与 below 只能选一种（单一扣分率或分档扣分率）"),
        ),
        (
            {**BASE, "below": [{"up_to": "8", "rate": "1"}, {"up_to": "20", "rate": "4"}]},
            (f"{F}.below[1].up_to", "最后一档不设上限（去掉 up_to），偏差再大也按该档扣分"),
        ),
        (
            {**BASE, "below": [{"rate": "1"}, {"rate": "4"}]},
            (f"{F}.below[0].up_to", "除最后一档外，每档都要写上限 up_to（百分点）"),
        ),
        (
            {
                **BASE,
                "above": [{"up_to": "8", "rate": "1"}, {"up_to": "5", "rate": "2"}, {"rate": "3"}],
            },
            (f"{F}.above[1].up_to", "上限 5 应大于上一档的上限 8"),
        ),
        (
            {**BASE, "above": [{"rate": "-1"}]},
            (f"{F}.above[0].rate", "每 1 % 扣分不能为负，实际为 -1"),
        ),
        (
            {**BASE, "deviation_rounding": {"places": 5}},
            (
                f"{F}.deviation_rounding.places",
                "应为 0 到 4 的整数（偏差率百分数的小数位），实际为 5",
            ),
        ),
        (
            {**BASE, "deviation_rounding": {"places": 2, "mode": "ceiling"}},
            (f"{F}.deviation_rounding.mode", "取值 'ceiling' 无效，可选：half_up、down、up"),
        ),
        (
            {**BASE, "deviation_step": {"size": "0"}},
            (f"{F}.deviation_step.size", "应大于 0，实际为 0"),
        ),
        (
            {**BASE, "deviation_step": "1"},
            (f"{F}.deviation_step", "应为键值对象"),
        ),
        (
            {**BASE, "drop_share_rounding": "half_up"},
            (f"{F}.drop_share_rounding", "只在设置 drop_share 时有效"),
        ),
        (
            {**BASE, "drop_share": "0.45", "drop_share_rounding": "half_up"},
            (
                f"{F}.drop_share",
                "4 家有效报价 × 0.45 按四舍五入取整为每端去掉 2 家，不剩报价：请减小 drop_share、"
                "改用其他取整方式或提高 drop_share_min_bids",
            ),
        ),
        (
            {**BASE, "drop_share": "0.3", "drop_share_rounding": "up"},
            (
                f"{F}.drop_share",
                "4 家有效报价 × 0.3 按进一取整为每端去掉 2 家，不剩报价：请减小 drop_share、"
                "改用其他取整方式或提高 drop_share_min_bids",
            ),
        ),
        (
            {
                **BASE,
                "drop_highest_lowest": True,
                "drop_table": [{"from": 7, "highest": 1, "lowest": 1}],
            },
            (f"{F}.drop_table", "drop_table 不能与 drop_highest_lowest 或 drop_share 同时使用"),
        ),
        (
            {**BASE, "drop_table": [{"from": 6, "highest": 3, "lowest": 3}]},
            (f"{F}.drop_table[0]", "6 家有效报价去掉最高 3 家、最低 3 家后不剩报价"),
        ),
        (
            {**BASE, "drop_table": [{"from": 7, "to": 6, "highest": 1, "lowest": 1}]},
            (f"{F}.drop_table[0].to", "上限 6 家小于下限 7 家"),
        ),
        (
            {**BASE, "drop_table": [{"from": "six", "highest": 1, "lowest": 0}]},
            (f"{F}.drop_table[0].from", "应为不小于 1 的整数，实际为 'six'"),
        ),
        (
            {
                **BASE,
                "drop_table": [
                    {"from": 6, "highest": 1, "lowest": 0},
                    {"from": 7, "highest": 1, "lowest": 1},
                ],
            },
            (
                f"{F}.drop_table",
                "6 家起（不设上限）的一行与从 7 家起的一行重叠：每个家数只能对应一行",
            ),
        ),
        (
            {**BASE, "benchmark": "lowest", "drop_table": [{"from": 7, "highest": 1, "lowest": 1}]},
            (f"{F}.benchmark", "最低价基准不能去掉最高最低价或乘以系数，请改用 mean"),
        ),
    ],
)
def test_inconsistent_price_rules_are_refused_at_import(
    price: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert ("package.yaml", *expected) in _problems(price)


# --- monotone in price, whatever the configuration -------------------------------------------

_decimal = st.decimals(min_value=D("0.1"), max_value=D(5), places=1)


@st.composite
def _bands(draw: st.DrawFn) -> tuple[RateBand, ...]:
    ends = sorted(draw(st.sets(st.integers(1, 40), max_size=3)))
    return (*(RateBand(D(e), draw(_decimal)) for e in ends), RateBand(None, draw(_decimal)))


@st.composite
def _grid(draw: st.DrawFn, quanta: tuple[str, ...]) -> GridRounding | None:
    if not draw(st.booleans()):
        return None
    return GridRounding(D(draw(st.sampled_from(quanta))), draw(st.sampled_from(list(RoundingMode))))


@st.composite
def _rules(draw: st.DrawFn) -> PriceRule:
    full = D(draw(st.integers(10, 60)))
    cap = st.one_of(st.none(), st.integers(1, int(full)).map(D))
    return PriceRule(
        full,
        draw(st.sampled_from(list(PriceFormula))),
        BenchmarkRule.MEAN,
        e_above=draw(_decimal),
        e_below=draw(_decimal),
        bands_above=draw(st.one_of(st.just(()), _bands())),
        bands_below=draw(st.one_of(st.just(()), _bands())),
        max_deduction_above=draw(cap),
        max_deduction_below=draw(cap),
        deviation_rounding=draw(_grid(("1", "0.1", "0.01", "0.001"))),
        deviation_step=draw(_grid(("0.5", "1", "2"))),
    )


_money = st.integers(1, 10**10).map(lambda fen: D(fen) / 100)


@settings(max_examples=300, deadline=None)
@given(rule=_rules(), benchmark=_money, a=_money, b=_money, places=st.sampled_from([2, 3]))
def test_the_score_is_monotone_in_price(
    rule: PriceRule, benchmark: Decimal, a: Decimal, b: Decimal, places: int
) -> None:
    low, high = sorted((a, b))
    s_low, s_high = (price_score(p, benchmark, rule, places) for p in (low, high))
    assert D(0) <= s_high <= rule.full_marks and D(0) <= s_low <= rule.full_marks
    if rule.formula is PriceFormula.RATIO or benchmark <= low:
        # the ratio formula everywhere, the deviation formula above the benchmark: a higher
        # price never scores more
        assert s_low >= s_high
    elif high <= benchmark:
        # below the benchmark: further below never scores more
        assert s_low <= s_high
    # the benchmark itself scores full marks
    assert price_score(benchmark, benchmark, rule, places) == rule.full_marks


def test_price_and_composite_places_of_their_own() -> None:
    docs = copy.deepcopy(minimal_documents())
    docs["package.yaml"]["evaluation_method"]["rounding"] = {"price": 3, "composite": 3}
    docs["prices.yaml"]["prices"][1]["amount"] = "130"
    package = parse_package(docs, minimal_chapters())
    # ratio, lowest benchmark 100: b2 scores 100 / 130 × 30 = 23.0769… → 23.077 (at 2: 23.08)
    prices = score_prices(package)
    assert prices.scores == {"b1": D("30.000"), "b2": D("23.077")}
    agg = Aggregation(
        AggregationRule.MEAN,
        2,
        ("E1",),
        ("E1",),
        None,
        {},
        {b: BidderScore(b, {}, {}, D("5.5"), D("4.25"), {}) for b in ("b1", "b2")},
    )
    # composite 5.5 + 4.25 + 23.077 = 32.827, kept at 3 places
    assert [r.composite for r in rank(package, agg, prices).rows] == [D("39.750"), D("32.827")]


# --- the rule in the report's words -----------------------------------------------------------
def test_each_formula_described_as_it_scores() -> None:
    ratio = PriceRule(D(30), PriceFormula.RATIO, BenchmarkRule.LOWEST)
    assert describe_formula(ratio) == "价格分 = 评标基准价 ÷ 投标报价 × 30（不超过满分）"
    assert describe_formula(DEVIATION) == (
        "价格分 = 30 − 扣分；每高于评标基准价 1 % 扣 1 分；每低于评标基准价 1 % 扣 0.5 分"
        "；扣分后不低于 0 分"
    )
    capped = replace(BANDED, max_deduction_above=D(10))
    assert describe_formula(capped) == (
        "价格分 = 30 − 扣分；每高于评标基准价 1 % 扣 1 分，最多扣 10 分"
        "；低于评标基准价的，偏差 0–8 % 的部分每 1 % 扣 1 分、8 % 以上的部分每 1 % 扣 4 分"
        "；扣分后不低于 0 分"
    )
    both = replace(ROUNDED, deviation_step=GridRounding(D(1), RoundingMode.UP))
    assert describe_formula(both).endswith(
        "；偏差率精确到 0.01 %（四舍五入）；偏差按每 1 % 一档计（不足一档进一）；扣分后不低于 0 分"
    )
