from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.aggregation import aggregate, highway_drop, trimmed_mean
from scoring.decimals import mean
from scoring.errors import AggregationError
from scoring.model import COMMERCIAL_PART, AggregationRule
from scoring.sheets import Reintegrated
from tests.scoring.helpers import demo_package

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
    data=st.data(),
)
def test_aggregation_properties(n: int, rule: AggregationRule, data: st.DataObject) -> None:
    experts = tuple(f"E{i}" for i in range(n))
    points = {
        (e, p, b, i): Decimal(data.draw(st.integers(0, int(m * 2)))) / 2
        for e in experts
        for p, b, i, m in KEYS
    }
    scores = _reintegrated(experts, points)
    try:
        agg = aggregate(scores, PACKAGE, rule=rule)
    except AggregationError as exc:  # a 9-member tie on every spread is the one refusal
        assert rule is AggregationRule.HIGHWAY9 and n == 9 and "tie on every spread" in str(exc)
        return
    reversed_agg = aggregate(_reintegrated(tuple(reversed(experts)), points), PACKAGE, rule=rule)
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
