from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.aggregation import aggregate, highway_drop, trimmed_mean
from scoring.decimals import mean
from scoring.errors import AggregationError, PackageInvalid
from scoring.model import COMMERCIAL_PART, AggregationRule, TrimBasis
from scoring.package import parse_package
from scoring.sheets import Reintegrated
from tests.scoring.helpers import demo_package, minimal_chapters, minimal_documents

PACKAGE = demo_package()
KEYS = [
    (part, b, i.id, i.max_points)
    for part, items in [(c.id, c.items) for c in PACKAGE.chapters]
    + [(COMMERCIAL_PART, PACKAGE.commercial_items)]
    for b in PACKAGE.bidder_ids
    for i in items
]


def _reintegrated(
    experts: tuple[str, ...], value: dict[tuple[str, str, str, str], Decimal]
) -> Reintegrated:
    return Reintegrated(experts, value, {}, {}, {})


def _uniform(experts: tuple[str, ...], per_expert: dict[str, Decimal]) -> Reintegrated:
    """Every item of expert e scored as per_expert[e] × the item maximum / 10."""
    return _reintegrated(
        experts,
        {(e, p, b, i): per_expert[e] * m / 10 for e in experts for p, b, i, m in KEYS},
    )


def test_trimmed_mean() -> None:
    assert trimmed_mean([Decimal(x) for x in ("1", "5", "5", "9")]) == 5
    # only one of several equal lowest scores is dropped
    assert trimmed_mean([Decimal(x) for x in ("3", "3", "3", "4")]) == 3
    assert trimmed_mean([Decimal(x) for x in ("3", "3", "4", "4")]) == Decimal("3.5")
    with pytest.raises(AggregationError) as info:
        trimmed_mean([Decimal(1), Decimal(2)])
    assert str(info.value) == "dropping the highest and lowest of 2 scores leaves none"


def test_five_experts_are_averaged_even_under_trimmed() -> None:
    experts = tuple(f"E{i}" for i in range(5))
    scores = _uniform(experts, {e: Decimal(k + 5) for k, e in enumerate(experts)})  # 5..9 → mean 7
    agg = aggregate(scores, PACKAGE)
    assert agg.rule is AggregationRule.TRIMMED
    assert agg.bidders["b01"].technical == Decimal("28.00")  # 7/10 of 40
    assert agg.bidders["b01"].commercial == Decimal("21.00")  # 7/10 of 30


def test_seven_experts_drop_one_highest_and_lowest() -> None:
    experts = tuple(f"E{i}" for i in range(7))
    levels = dict(
        zip(experts, (Decimal(x) for x in ("2", "6", "6", "7", "7", "8", "10")), strict=True)
    )
    scores = _uniform(experts, levels)
    # kept 6, 6, 7, 7, 8 → 6.8 → technical 27.2 of 40; mean would be 46/7 = 6.571…
    assert aggregate(scores, PACKAGE).bidders["b02"].technical == Decimal("27.20")
    assert aggregate(scores, PACKAGE, rule=AggregationRule.MEAN).bidders[
        "b02"
    ].technical == Decimal("26.29")
    assert aggregate(scores, PACKAGE, rule=AggregationRule.MEAN, places=3).bidders[
        "b02"
    ].technical == Decimal("26.286")


def test_highway_rule_drops_the_widest_spread_expert_first() -> None:
    experts = tuple(f"E{i}" for i in range(1, 10))
    points: dict[tuple[str, str, str, str], Decimal] = {}
    for e in experts:
        for p, b, i, m in KEYS:
            level = Decimal(7)
            if e == "E9":  # E9 spreads its scores: b01 full marks, b05 half
                level = {"b01": Decimal(10), "b05": Decimal(5)}.get(b, level)
            if e == "E8":  # E8 spreads a little less
                level = {"b01": Decimal(9), "b05": Decimal(5)}.get(b, level)
            points[e, p, b, i] = level * m / 10
    agg = aggregate(_reintegrated(experts, points), PACKAGE, rule=AggregationRule.HIGHWAY9)
    assert agg.dropped_expert == "E9"
    assert agg.kept_experts == experts[:8]
    # E9 totals: b01 70, b02–b04 49, b05 35 → spreads (70−35, 49−49) = (35, 0)
    assert agg.spreads["E9"] == (Decimal(35), Decimal(0))
    # b01 after dropping E9: 7×7, 9 → drop one 7 and the 9 → all 7 → 28.00 technical
    assert agg.bidders["b01"].technical == Decimal("28.00")


def test_highway_tie_is_broken_by_the_next_spread() -> None:
    totals = {
        "A": [Decimal(x) for x in (90, 80, 70, 60)],  # spreads (30, 10)
        "B": [Decimal(x) for x in (90, 85, 65, 60)],  # spreads (30, 20) → dropped
        "C": [Decimal(x) for x in (70, 70, 70, 70)],
    }
    assert highway_drop(totals)[0] == "B"
    assert highway_drop(totals, drop_expert="C")[0] == "C"


def test_highway_tie_on_every_spread_asks_the_committee() -> None:
    totals = {
        "A": [Decimal(1), Decimal(5)],
        "B": [Decimal(2), Decimal(6)],
        "C": [Decimal(3), Decimal(3)],
    }
    with pytest.raises(AggregationError) as info:
        highway_drop(totals)
    assert str(info.value) == (
        "experts A, B tie on every spread of their totals; the 9-member rule cannot choose whom "
        "to drop, so the committee must decide and pass drop_expert"
    )
    with pytest.raises(AggregationError) as info:
        highway_drop(totals, drop_expert="Z")
    assert str(info.value) == "drop_expert Z is not on the committee"


def test_highway_rule_with_seven_experts_is_the_trimmed_rule() -> None:
    experts = tuple(f"E{i}" for i in range(7))
    scores = _uniform(experts, dict(zip(experts, (Decimal(x) for x in "2667780"), strict=True)))
    highway = aggregate(scores, PACKAGE, rule=AggregationRule.HIGHWAY9)
    assert highway.dropped_expert is None
    assert highway.bidders == aggregate(scores, PACKAGE).bidders


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 9),
    rule=st.sampled_from(list(AggregationRule)),
    basis=st.sampled_from(list(TrimBasis)),
    data=st.data(),
)
def test_aggregation_properties(
    n: int, rule: AggregationRule, basis: TrimBasis, data: st.DataObject
) -> None:
    experts = tuple(f"E{i}" for i in range(n))
    points = {
        (e, p, b, i): Decimal(data.draw(st.integers(0, int(m * 2)))) / 2
        for e in experts
        for p, b, i, m in KEYS
    }
    scores = _reintegrated(experts, points)
    try:
        agg = aggregate(scores, PACKAGE, rule=rule, trim_basis=basis)
    except AggregationError as exc:  # a 9-member tie on every spread is the one refusal
        assert rule is AggregationRule.HIGHWAY9 and n == 9 and "tie on every spread" in str(exc)
        return
    reversed_agg = aggregate(
        _reintegrated(tuple(reversed(experts)), points), PACKAGE, rule=rule, trim_basis=basis
    )
    for b, s in agg.bidders.items():
        for (part, item), value in s.items.items():
            given_scores = [points[e, part, b, item] for e in experts]
            # every aggregate lies within the experts' range
            assert min(given_scores) <= value <= max(given_scores)
        # the order of the committee does not matter
        assert reversed_agg.bidders[b].technical == s.technical
        assert s.technical == s.technical.quantize(Decimal("0.01"))
        assert Decimal(0) <= s.technical <= 40


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=3, max_size=9))
def test_trimmed_mean_ignores_one_extreme_each(values: list[int]) -> None:
    ds = [Decimal(v) for v in values]
    assert trimmed_mean([Decimal(1000), *ds, Decimal(-1000)]) == mean(ds)


# --- trimming the experts' totals, the threshold, places per part ---------------------------

SEVEN = tuple(f"E{i}" for i in range(1, 8))
# Every expert gives every bidder 1.1 = 8, 1.2 = 4, 2.1 = 6, 2.2 = 5, 3.1 = 4, 3.2 = 3
# (technical 30) and c1 = 16, c2 = 8 (commercial 24), except for b01:
#   E1: 1.1 = 10            → technical 32
#   E2: 1.1 = 6,  2.1 = 7   → 29
#   E3: 2.1 = 7.5           → 31.5
#   E4: 3.1 = 2.5           → 28.5
#   E5, E6, E7: as everyone → 30
BASE_ITEMS = {"1.1": "8", "1.2": "4", "2.1": "6", "2.2": "5", "3.1": "4", "3.2": "3"}
B01 = {
    "E1": {"1.1": "10"},
    "E2": {"1.1": "6", "2.1": "7"},
    "E3": {"2.1": "7.5"},
    "E4": {"3.1": "2.5"},
}


def _committee() -> Reintegrated:
    points: dict[tuple[str, str, str, str], Decimal] = {}
    for e in SEVEN:
        for b in PACKAGE.bidder_ids:
            for c in PACKAGE.chapters:
                for i in c.items:
                    value = B01.get(e, {}).get(i.id) if b == "b01" else None
                    points[e, c.id, b, i.id] = Decimal(value or BASE_ITEMS[i.id])
            points[e, COMMERCIAL_PART, b, "c1"] = Decimal(16)
            points[e, COMMERCIAL_PART, b, "c2"] = Decimal(8)
    return _reintegrated(SEVEN, points)


def test_trimming_the_experts_totals() -> None:
    scores = _committee()
    # totals: drop E1 (32, the highest) and E4 (28.5, the lowest);
    # kept 29 + 31.5 + 30 + 30 + 30 = 150.5 → 150.5 / 5 = 30.1
    totals = aggregate(scores, PACKAGE, trim_basis=TrimBasis.TOTALS)
    b01 = totals.bidders["b01"]
    assert b01.technical == Decimal("30.10")
    assert b01.trimmed["technical"] == ("E4", "E1")
    # every item is the mean of the kept experts: 2.1 = (7 + 7.5 + 6 + 6 + 6) / 5 = 6.5,
    # 1.1 = (6 + 8 + 8 + 8 + 8) / 5 = 7.6; the chapters add up to the technical score
    assert b01.items["ch2", "2.1"] == Decimal("6.5")
    assert b01.items["ch1", "1.1"] == Decimal("7.6")
    assert sum(b01.chapters.values(), Decimal(0)) == Decimal("30.1")
    # per item instead: 1.1 drops 10 and 6 → 8; 2.1 drops 7.5 and one 6 → (6×4 + 7) / 5 = 6.2;
    # 3.1 drops 2.5 and one 4 → 4; the others are unanimous → 8 + 4 + 6.2 + 5 + 4 + 3 = 30.2
    assert aggregate(scores, PACKAGE).bidders["b01"].technical == Decimal("30.20")
    # the plain mean: (32 + 29 + 31.5 + 28.5 + 30 × 3) / 7 = 211 / 7 = 30.142857… → 30.14
    plain = aggregate(scores, PACKAGE, rule=AggregationRule.MEAN)
    assert plain.bidders["b01"].technical == Decimal("30.14")
    # equal commercial totals (24 each): the first and the last in committee order are left
    # out, and the score is 24 whichever they are
    assert b01.trimmed["commercial"] == ("E1", "E7")
    assert b01.commercial == Decimal("24.00")
    assert totals.describe() == (
        "对每个投标人的技术部分和商务部分，分别去掉总分最高和最低的各一名专家后的算术平均"
    )


def test_the_trimming_threshold_is_configurable() -> None:
    scores = _committee()
    # 7 experts, trimming only with more than 7: the plain mean, 30.14
    agg = aggregate(scores, PACKAGE, trim_above=7)
    assert not agg.trimmed
    assert agg.bidders["b01"].technical == Decimal("30.14")
    assert agg.describe() == "各专家评分的算术平均（评标委员会 7 人及以下，不去掉最高分和最低分）"
    # the package's own threshold
    method = replace(PACKAGE.method, trim_above=6)
    assert aggregate(scores, replace(PACKAGE, method=method)).trimmed
    method = replace(PACKAGE.method, trim_above=7)
    assert not aggregate(scores, replace(PACKAGE, method=method)).trimmed
    with pytest.raises(AggregationError) as info:
        aggregate(scores, PACKAGE, trim_above=1)
    assert str(info.value) == (
        "trimming from more than 1 experts could leave no score; the threshold must be at least 2"
    )


def test_places_per_part() -> None:
    scores = _committee()
    method = replace(PACKAGE.method, aggregation=AggregationRule.MEAN, technical_places=3)
    agg = aggregate(scores, replace(PACKAGE, method=method))
    # technical at 3: 211 / 7 = 30.142857… → 30.143; commercial at the method's 2: 24.00
    assert agg.bidders["b01"].technical == Decimal("30.143")
    assert agg.bidders["b01"].commercial == Decimal("24.00")
    assert (agg.technical_places, agg.commercial_places) == (3, 2)


def _method_problems(**fields: object) -> list[tuple[str, str, str]]:
    docs = copy.deepcopy(minimal_documents())
    docs["package.yaml"]["evaluation_method"].update(fields)
    with pytest.raises(PackageInvalid) as info:
        parse_package(docs, minimal_chapters())
    return [(p.file, p.field, p.message) for p in info.value.problems]


def test_the_aggregation_options_import() -> None:
    docs = copy.deepcopy(minimal_documents())
    docs["package.yaml"]["evaluation_method"].update(
        trim_basis="totals", trim_above=6, rounding={"technical": 3, "commercial": 2}
    )
    method = parse_package(docs, minimal_chapters()).method
    assert (method.trim_basis, method.trim_above) == (TrimBasis.TOTALS, 6)
    assert (method.technical_rounding, method.commercial_rounding) == (3, 2)
    assert (method.price_rounding, method.composite_rounding) == (2, 2)
    # nothing said: per item, more than 5, every figure at rounding_places
    default = parse_package(minimal_documents(), minimal_chapters()).method
    assert (default.trim_basis, default.trim_above, default.technical_rounding) == (
        TrimBasis.ITEMS,
        5,
        2,
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"trim_basis": "experts"},
            ("evaluation_method.trim_basis", "取值 'experts' 无效，可选：items、totals"),
        ),
        (
            {"trim_above": 1},
            ("evaluation_method.trim_above", "应为不小于 2 的整数，实际为 1"),
        ),
        (
            {"aggregation": "mean", "trim_basis": "totals"},
            ("evaluation_method.trim_basis", "aggregation 为 mean 时不去掉最高最低分，此项无效"),
        ),
        (
            {"rounding": {"technical": 4}},
            ("evaluation_method.rounding.technical", "应为 2 或 3，实际为 4"),
        ),
        (
            {"rounding": {"total": 2}},
            (
                "evaluation_method.rounding.total",
                "未知的得分项，可选：technical、commercial、price、composite",
            ),
        ),
    ],
)
def test_aggregation_option_messages(fields: dict[str, object], expected: tuple[str, str]) -> None:
    assert ("package.yaml", *expected) in _method_problems(**fields)
