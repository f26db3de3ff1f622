from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from scoring.errors import SealBlocked
from scoring.model import COMMERCIAL_PART
from scoring.review import (
    DeviationBasis,
    DeviationScope,
    Explanation,
    FlagReason,
    ReviewConfig,
    check_sealable,
    open_flags,
    review,
    signals,
)
from scoring.sheets import Reintegrated
from tests.scoring.helpers import NATIONAL, demo_package

PACKAGE = demo_package()
EXPERTS = ("E1", "E2", "E3", "E4", "E5")
MID = {
    "1.1": "7",
    "1.2": "3.5",
    "2.1": "6",
    "2.2": "5",
    "3.1": "4",
    "3.2": "3",
    "c1": "12",
    "c2": "5",
}


def _parts() -> list[tuple[str, list[str]]]:
    parts = [(c.id, [i.id for i in c.items]) for c in PACKAGE.chapters]
    return [*parts, (COMMERCIAL_PART, [i.id for i in PACKAGE.commercial_items])]


def _scores(
    changes: dict[tuple[str, str, str, str], str] | None = None,
    declared: dict[tuple[str, str, str], str] | None = None,
    experts: tuple[str, ...] = EXPERTS,
) -> Reintegrated:
    points = {
        (e, part, b, item): Decimal(MID[item])
        for e in experts
        for part, items in _parts()
        for b in PACKAGE.bidder_ids
        for item in items
    }
    for key, value in (changes or {}).items():
        points[key] = Decimal(value)
    labels = {
        (e, part, b): f"L{b}" for e in experts for part, _ in _parts() for b in PACKAGE.bidder_ids
    }
    return Reintegrated(
        experts, points, labels, {k: Decimal(v) for k, v in (declared or {}).items()}, {}
    )


def test_unanimous_scores_raise_no_flag() -> None:
    assert review(_scores(), PACKAGE, NATIONAL) == []
    check_sealable([])


def test_summation_error() -> None:
    (flag,) = review(
        _scores(declared={("E2", "ch1", "b01"): "11", ("E2", "ch2", "b01"): "11"}),
        PACKAGE,
        NATIONAL,
    )
    assert (flag.reason, flag.expert_id, flag.part_id, flag.bidder_id) == (
        FlagReason.SUMMATION,
        "E2",
        "ch1",
        "b01",
    )
    assert flag.message == "专家 E2 的 ch1 Lb01 合计填写为 11，各项得分之和为 10.5，须更正"


def test_out_of_range() -> None:
    flags = review(_scores({("E3", "ch3", "b02", "3.2"): "5"}), PACKAGE, NATIONAL)
    assert flags[0].reason is FlagReason.OUT_OF_RANGE
    assert flags[0].message == "专家 E3 对 ch3 Lb02 3.2 评分 5，超出分值范围 0–4，须重新评分"


def test_objective_disagreement_is_flagged_once_for_the_committee() -> None:
    (flag,) = review(_scores({("E4", COMMERCIAL_PART, "b03", "c1"): "16"}), PACKAGE, NATIONAL)
    assert (flag.reason, flag.expert_id, flag.item_id) == (FlagReason.OBJECTIVE, None, "c1")
    assert flag.message == (
        "客观评分项 commercial c1 各专家评分不一致（专家 E1 在 Lb03 给 12、专家 E2 在 Lb03 给 12、"
        "专家 E3 在 Lb03 给 12、专家 E4 在 Lb03 给 16、专家 E5 在 Lb03 给 12），须核对后统一评分"
    )
    # an objective flag cannot be explained away
    with pytest.raises(SealBlocked):
        check_sealable([flag], [Explanation(flag.key, "E4", "理由")])


ITEM = replace(NATIONAL, scope=DeviationScope.ITEM)


def test_deviation_is_judged_on_part_totals_by_default() -> None:
    # ch1 for b01: E5 gives 1.1 = 3 and 1.2 = 1.5 → total 4.5; the others 7 + 3.5 = 10.5.
    # Totals 10.5 ×4 and 4.5 → mean 46.5/5 = 9.3; 30 % = 2.79; E5: |4.5 − 9.3| = 4.8 → flagged;
    # the others: |10.5 − 9.3| = 1.2 → not.
    flags = review(
        _scores({("E5", "ch1", "b01", "1.1"): "3", ("E5", "ch1", "b01", "1.2"): "1.5"}),
        PACKAGE,
        NATIONAL,
    )
    assert [(f.reason, f.expert_id, f.part_id, f.item_id) for f in flags] == [
        (FlagReason.DEVIATION, "E5", "ch1", None)
    ]
    assert flags[0].message == (
        "专家 E5 对 ch1 Lb01 的合计 4.5，偏离各专家平均分 9.30 超过 30%，须复核或书面说明"
    )


def test_a_half_point_on_a_small_item_flags_only_when_items_are_checked() -> None:
    # 3.2 for b02: 0.5, 0.5, 1, 1, 1.5 → mean 4.5/5 = 0.9; 30 % = 0.27: per item E1 and E2
    # (|0.5 − 0.9| = 0.4) and E5 (|1.5 − 0.9| = 0.6) are flagged, E3 and E4 (0.1) not. The ch3
    # totals (3.1 = 4 each): 4.5, 4.5, 5, 5, 5.5 → mean 24.5/5 = 4.9; 30 % = 1.47; the widest
    # gap is 0.6 → no flag on part totals, the default.
    scores = _scores(
        {
            ("E1", "ch3", "b02", "3.2"): "0.5",
            ("E2", "ch3", "b02", "3.2"): "0.5",
            ("E3", "ch3", "b02", "3.2"): "1",
            ("E4", "ch3", "b02", "3.2"): "1",
            ("E5", "ch3", "b02", "3.2"): "1.5",
        }
    )
    assert review(scores, PACKAGE, NATIONAL) == []
    assert [(f.expert_id, f.item_id) for f in review(scores, PACKAGE, ITEM)] == [
        ("E1", "3.2"),
        ("E2", "3.2"),
        ("E5", "3.2"),
    ]


def test_deviation_from_the_mean() -> None:
    # Per item (the option): 1.1 for b01: 7, 7, 7, 7, 10 → mean 7.6; 30 % = 2.28;
    # E5: |10 − 7.6| = 2.4 → flagged, the others: 0.6 → not. Chapter 1 totals 10.5 ×4 and 13.5
    # → mean 11.1, 30 % = 3.33 → none (so on part totals alone, nothing is flagged).
    flags = review(_scores({("E5", "ch1", "b01", "1.1"): "10"}), PACKAGE, ITEM)
    assert [(f.reason, f.expert_id, f.item_id) for f in flags] == [
        (FlagReason.DEVIATION, "E5", "1.1")
    ]
    assert (
        flags[0].message
        == "专家 E5 对 ch1 Lb01 1.1 评分 10，偏离各专家平均分 7.60 超过 30%，须复核或书面说明"
    )
    assert review(_scores({("E5", "ch1", "b01", "1.1"): "10"}), PACKAGE, NATIONAL) == []
    # 9.5 is 1.9 from the mean 7.5 (30 % = 2.25) → fine
    assert review(_scores({("E5", "ch1", "b01", "1.1"): "9.5"}), PACKAGE, ITEM) == []


def test_deviation_as_a_share_of_the_maximum() -> None:
    config = ReviewConfig(
        share=Decimal("0.20"), basis=DeviationBasis.MAX_POINTS, scope=DeviationScope.ITEM
    )
    # 1.1: 7 ×4 and 9.5 → mean 7.5; 20 % of max 10 = 2 → |9.5 − 7.5| = 2 is not more → none
    assert review(_scores({("E5", "ch1", "b01", "1.1"): "9.5"}), PACKAGE, config) == []
    flags = review(_scores({("E5", "ch1", "b01", "1.1"): "10"}), PACKAGE, config)
    assert flags[0].message.endswith("超过 20%（按满分计），须复核或书面说明")


def test_sealing_waits_for_every_flag() -> None:
    flags = review(
        _scores({("E5", "ch1", "b01", "1.1"): "10", ("E1", "ch2", "b02", "2.1"): "2"}),
        PACKAGE,
        ITEM,
    )
    assert len(flags) == 3  # two items, and the chapter 2 total of E1 for b02
    with pytest.raises(SealBlocked) as info:
        check_sealable(flags, [Explanation(flags[0].key, "E5", "  ")])
    assert str(info.value).startswith(
        "cannot seal: 3 review flag(s) are neither re-scored nor explained;"
    )
    explanations = [Explanation(f.key, f.expert_id or "", "书面说明") for f in flags]
    # an explanation by another expert does not count
    assert open_flags(flags, [Explanation(flags[0].key, "E1", "x")]) == flags
    check_sealable(flags, explanations)
    # re-scoring: the corrected sheets raise no flag at all
    assert review(_scores(), PACKAGE, ITEM) == []


def test_signals_consistent_outlier_and_identical_sheets() -> None:
    # E5 scores every chapter of b04 2 points per item higher than the others
    changes = {
        ("E5", c.id, "b04", i.id): str(Decimal(MID[i.id]) + 2)
        for c in PACKAGE.chapters
        for i in c.items
    }
    s = signals(_scores(changes), PACKAGE)
    assert [(o.expert_id, o.bidder_id) for o in s.outliers] == [("E5", "b04")]
    assert s.outliers[0].message == "专家 E5 对投标人 b04 的各章节评分均明显偏高"
    assert s.outliers[0].gaps == (Decimal(4), Decimal(4), Decimal(4))
    # E1–E4 are identical to each other: 6 pairs; E5 differs on 6 of 40 items → 85 %
    assert [(n.expert_a, n.expert_b) for n in s.near_identical] == [
        ("E1", "E2"),
        ("E1", "E3"),
        ("E1", "E4"),
        ("E2", "E3"),
        ("E2", "E4"),
        ("E3", "E4"),
    ]
    assert s.near_identical[0].message == "专家 E1 与专家 E2 的评分完全相同"
    # disagreement E1–E5: b04 differs by 4 in each of 3 chapters over 15 cells
    # → (4/15 + 4/15 + 4/10) / 15
    expected = (Decimal(4) / 15 + Decimal(4) / 15 + Decimal(4) / 10) / 15
    assert abs(s.disagreement[0][4] - expected) < Decimal("1e-20")
    assert s.disagreement[0][1] == 0
