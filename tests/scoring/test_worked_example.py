"""The worked example: the demo package scored by 7 experts, every figure checked by hand.

Method (configs/demo/bid_package/package.yaml): 综合评估法, rule ``trimmed`` (7 > 5 experts:
per item drop one highest and one lowest, mean of the other five), two decimals half up,
technical (40) + commercial (30) + price (30, deviation formula).

The experts fill in their sheets under their own shuffled labels (seed ``00 01 … 1f``); the
engine re-integrates them, so this test also exercises the shuffle end to end.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from scoring.aggregation import aggregate
from scoring.model import COMMERCIAL_PART
from scoring.price import rank, score_prices
from scoring.review import DeviationScope, Explanation, FlagReason, check_sealable, review
from scoring.sheets import reintegrate, validate_sheet
from scoring.shuffle import derive
from scoring.signing import result_document, sign, verify
from tests.scoring.helpers import (
    NATIONAL,
    SEED,
    demo_package,
    manifest_for,
    sheets_through_shuffle,
)

EXPERTS = ("E1", "E2", "E3", "E4", "E5", "E6", "E7")

# (bidder, item) → the seven experts' scores E1…E7. Beside each: sorted, the two dropped,
# the sum of the five kept, and that sum ÷ 5.
TECHNICAL: dict[tuple[str, str], tuple[str, ...]] = {
    # b01
    ("b01", "1.1"): (
        "8",
        "8.5",
        "8",
        "7.5",
        "8",
        "9",
        "8",
    ),  # drop 7.5, 9: 8+8+8+8+8.5 = 40.5 → 8.1
    ("b01", "1.2"): ("4", "4", "4.5", "4", "3.5", "4", "4"),  # drop 3.5, 4.5: 4×5 = 20 → 4.0
    ("b01", "2.1"): ("6.5", "7", "6.5", "6", "7", "6.5", "6.5"),  # drop 6, 7: 6.5×4+7 = 33 → 6.6
    ("b01", "2.2"): ("5.5", "5.5", "6", "5", "5.5", "6", "5.5"),  # drop 5, 6: 5.5×4+6 = 28 → 5.6
    ("b01", "3.1"): (
        "5",
        "4.5",
        "5",
        "5",
        "4.5",
        "5",
        "5.5",
    ),  # drop 4.5, 5.5: 4.5+5×4 = 24.5 → 4.9
    ("b01", "3.2"): ("3", "3", "3.5", "3", "3", "2.5", "3"),  # drop 2.5, 3.5: 3×5 = 15 → 3.0
    # b02
    ("b02", "1.1"): (
        "7",
        "7.5",
        "7",
        "7",
        "6.5",
        "7",
        "7.5",
    ),  # drop 6.5, 7.5: 7×4+7.5 = 35.5 → 7.1
    ("b02", "1.2"): ("3.5", "4", "3.5", "3.5", "3.5", "3", "4"),  # drop 3, 4: 3.5×4+4 = 18 → 3.6
    ("b02", "2.1"): ("6", "6", "6.5", "6", "5.5", "6", "6"),  # drop 5.5, 6.5: 6×5 = 30 → 6.0
    ("b02", "2.2"): ("5", "5", "5", "5.5", "5", "4.5", "5"),  # drop 4.5, 5.5: 5×5 = 25 → 5.0
    ("b02", "3.1"): ("4.5", "4.5", "4", "4.5", "5", "4.5", "4.5"),  # drop 4, 5: 4.5×5 = 22.5 → 4.5
    ("b02", "3.2"): ("3", "3", "3", "3", "3", "3", "3"),  # all 3 → 3.0
    # b03
    ("b03", "1.1"): (
        "8.5",
        "9",
        "9",
        "8.5",
        "9",
        "9.5",
        "9",
    ),  # drop 8.5, 9.5: 8.5+9×4 = 44.5 → 8.9
    ("b03", "1.2"): ("4.5", "4.5", "4.5", "5", "4.5", "4.5", "4"),  # drop 4, 5: 4.5×5 = 22.5 → 4.5
    ("b03", "2.1"): ("7", "7", "7.5", "7", "7", "6.5", "7"),  # drop 6.5, 7.5: 7×5 = 35 → 7.0
    ("b03", "2.2"): ("6", "6.5", "6", "6", "6", "6", "5.5"),  # drop 5.5, 6.5: 6×5 = 30 → 6.0
    ("b03", "3.1"): ("5", "5.5", "5", "5", "5.5", "5", "5"),  # drop 5, 5.5: 5×4+5.5 = 25.5 → 5.1
    ("b03", "3.2"): (
        "3.5",
        "3.5",
        "3.5",
        "3.5",
        "4",
        "3.5",
        "3.5",
    ),  # drop 3.5, 4: 3.5×5 = 17.5 → 3.5
    # b04 — E7 scores 1.1 far below the others (the 畸高畸低 case below)
    ("b04", "1.1"): (
        "7",
        "6.5",
        "7",
        "7.5",
        "7",
        "6.5",
        "3",
    ),  # drop 3, 7.5: 6.5+6.5+7+7+7 = 34 → 6.8
    ("b04", "1.2"): ("3.5", "3.5", "3", "3.5", "3.5", "4", "3.5"),  # drop 3, 4: 3.5×5 = 17.5 → 3.5
    ("b04", "2.1"): ("5.5", "6", "5.5", "5.5", "6", "5.5", "5"),  # drop 5, 6: 5.5×4+6 = 28 → 5.6
    ("b04", "2.2"): ("5", "4.5", "5", "5", "5", "5.5", "5"),  # drop 4.5, 5.5: 5×5 = 25 → 5.0
    ("b04", "3.1"): ("4", "4", "4.5", "4", "4", "3.5", "4"),  # drop 3.5, 4.5: 4×5 = 20 → 4.0
    ("b04", "3.2"): (
        "2.5",
        "3",
        "2.5",
        "2.5",
        "2.5",
        "2.5",
        "2.5",
    ),  # drop 2.5, 3: 2.5×5 = 12.5 → 2.5
    # b05
    ("b05", "1.1"): ("7.5", "7.5", "8", "7.5", "7", "7.5", "8"),  # drop 7, 8: 7.5×4+8 = 38 → 7.6
    ("b05", "1.2"): ("4", "4", "4", "3.5", "4", "4", "4.5"),  # drop 3.5, 4.5: 4×5 = 20 → 4.0
    ("b05", "2.1"): ("6.5", "6.5", "6", "6.5", "6.5", "7", "6.5"),  # drop 6, 7: 6.5×5 = 32.5 → 6.5
    ("b05", "2.2"): ("5.5", "5", "5.5", "5.5", "6", "5.5", "5.5"),  # drop 5, 6: 5.5×5 = 27.5 → 5.5
    ("b05", "3.1"): ("4.5", "4.5", "4.5", "4", "4.5", "5", "4.5"),  # drop 4, 5: 4.5×5 = 22.5 → 4.5
    ("b05", "3.2"): ("3", "3", "3", "3", "2.5", "3", "3"),  # drop 2.5, 3: 3×5 = 15 → 3.0
}

# Objective commercial items: every expert gives the same score, so the trimmed mean is it.
COMMERCIAL: dict[str, tuple[str, str]] = {
    "b01": ("16", "9"),  # 25
    "b02": ("20", "8"),  # 28
    "b03": ("12", "10"),  # 22
    "b04": ("8", "7"),  # 15
    "b05": ("20", "8"),  # 28
}

CHAPTER_OF = {"1.1": "ch1", "1.2": "ch1", "2.1": "ch2", "2.2": "ch2", "3.1": "ch3", "3.2": "ch3"}


def _points() -> dict[tuple[str, str, str, str], Decimal]:
    points: dict[tuple[str, str, str, str], Decimal] = {}
    for (bidder, item), scores in TECHNICAL.items():
        for expert, p in zip(EXPERTS, scores, strict=True):
            points[expert, CHAPTER_OF[item], bidder, item] = Decimal(p)
    for bidder, (c1, c2) in COMMERCIAL.items():
        for expert in EXPERTS:
            points[expert, COMMERCIAL_PART, bidder, "c1"] = Decimal(c1)
            points[expert, COMMERCIAL_PART, bidder, "c2"] = Decimal(c2)
    return points


def test_worked_example() -> None:
    package = demo_package()
    shuffle = derive(SEED, manifest_for(package, EXPERTS))
    sheets = sheets_through_shuffle(package, shuffle, _points())
    for sheet in sheets:
        validate_sheet(sheet, package, shuffle.view(sheet.expert_id))
    scores = reintegrate(sheets, shuffle)
    assert dict(scores.points) == _points()

    # --- deviation review -------------------------------------------------------------
    # By default each expert's total per bidder and part is checked against the members' mean:
    # b04 chapter 1 totals (1.1 + 1.2): E1 10.5, E2 10, E3 10, E4 11, E5 10.5, E6 10.5, E7 6.5
    # → sum 69, mean 9.857…; 30 % = 2.957…; E7: |6.5 − 9.857| = 3.357 > 2.957 → flagged.
    # (The other parts' totals stay within 30 % of their means.)
    flags = review(scores, package, NATIONAL)
    assert [(f.reason, f.expert_id, f.part_id, f.bidder_id, f.item_id) for f in flags] == [
        (FlagReason.DEVIATION, "E7", "ch1", "b04", None),
    ]
    label = shuffle.label_for("E7", "ch1", "b04")
    assert flags[0].message == (
        f"专家 E7 对 ch1 {label} 的合计 6.5，偏离各专家平均分 9.86 超过 30%，须复核或书面说明"
    )
    # Checked per item as well (the option), b04 item 1.1 is flagged too: scores 7, 6.5, 7,
    # 7.5, 7, 6.5, 3 → sum 44.5, mean 44.5/7 = 6.357…; 30 % of the mean = 1.907…;
    # E7: |3 − 6.357| = 3.357 > 1.907 → flagged. The widest other gap is E4: 7.5 − 6.357 =
    # 1.143 → fine.
    per_item = review(scores, package, replace(NATIONAL, scope=DeviationScope.ITEM))
    assert [(f.reason, f.expert_id, f.part_id, f.bidder_id, f.item_id) for f in per_item] == [
        (FlagReason.DEVIATION, "E7", "ch1", "b04", "1.1"),
        (FlagReason.DEVIATION, "E7", "ch1", "b04", None),
    ]
    assert per_item[0].message == (
        f"专家 E7 对 ch1 {label} 1.1 评分 3，偏离各专家平均分 6.36 超过 30%，须复核或书面说明"
    )
    explanations = [
        Explanation(f.key, "E7", "该投标人施工方案未涉及高边坡防护，故给低分") for f in flags
    ]
    check_sealable(flags, explanations)

    # --- aggregation -------------------------------------------------------------------
    # technical = ch1 + ch2 + ch3 (weights 1), from the per-item means above:
    #   b01: (8.1+4.0) + (6.6+5.6) + (4.9+3.0) = 12.1 + 12.2 + 7.9 = 32.2
    #   b02: (7.1+3.6) + (6.0+5.0) + (4.5+3.0) = 10.7 + 11.0 + 7.5 = 29.2
    #   b03: (8.9+4.5) + (7.0+6.0) + (5.1+3.5) = 13.4 + 13.0 + 8.6 = 35.0
    #   b04: (6.8+3.5) + (5.6+5.0) + (4.0+2.5) = 10.3 + 10.6 + 6.5 = 27.4
    #   b05: (7.6+4.0) + (6.5+5.5) + (4.5+3.0) = 11.6 + 12.0 + 7.5 = 31.1
    agg = aggregate(scores, package)
    assert {b: s.technical for b, s in agg.bidders.items()} == {
        "b01": Decimal("32.20"),
        "b02": Decimal("29.20"),
        "b03": Decimal("35.00"),
        "b04": Decimal("27.40"),
        "b05": Decimal("31.10"),
    }
    assert {b: s.commercial for b, s in agg.bidders.items()} == {
        "b01": Decimal("25.00"),
        "b02": Decimal("28.00"),
        "b03": Decimal("22.00"),
        "b04": Decimal("15.00"),
        "b05": Decimal("28.00"),
    }
    assert agg.bidders["b04"].items["ch1", "1.1"] == Decimal("6.8")

    # --- price ---------------------------------------------------------------------------
    # valid prices: b04 34 200 000 < b02 35 400 000 < b05 35 640 000 < b01 36 960 000
    #   < b03 37 800 000. Drop the lowest (b04) and highest (b03):
    #   mean = (35 400 000 + 35 640 000 + 36 960 000) / 3 = 108 000 000 / 3 = 36 000 000;
    #   × coefficient 0.96 → benchmark B = 34 560 000.00
    # deviation d = (P − B) / B; score = 30 − |d|×100×E, E = 1 above, 0.5 below:
    #   b01: 2 400 000 / 34 560 000 = 6.9444…% → 30 − 6.9444… = 23.0555… → 23.06
    #   b02:   840 000 / 34 560 000 = 2.4305…% → 30 − 2.4305… = 27.5694… → 27.57
    #   b03: 3 240 000 / 34 560 000 = 9.375%   → 30 − 9.375    = 20.625   → 20.63 (half up)
    #   b04:  −360 000 / 34 560 000 = −1.0416…% → 30 − 1.0416…×0.5 = 29.4791… → 29.48
    #   b05: 1 080 000 / 34 560 000 = 3.125%   → 30 − 3.125    = 26.875   → 26.88 (half up)
    prices = score_prices(package)
    assert prices.benchmark.value == Decimal("34560000.00")
    assert prices.benchmark.dropped == ("b04", "b03")
    assert prices.scores == {
        "b01": Decimal("23.06"),
        "b02": Decimal("27.57"),
        "b03": Decimal("20.63"),
        "b04": Decimal("29.48"),
        "b05": Decimal("26.88"),
    }

    # --- composite and ranking -----------------------------------------------------------
    #   b05: 31.10 + 28 + 26.88 = 85.98
    #   b02: 29.20 + 28 + 27.57 = 84.77
    #   b01: 32.20 + 25 + 23.06 = 80.26
    #   b03: 35.00 + 22 + 20.63 = 77.63
    #   b04: 27.40 + 15 + 29.48 = 71.88
    ranking = rank(package, agg, prices)
    assert [(r.bidder_id, r.rank, r.composite) for r in ranking.rows] == [
        ("b05", 1, Decimal("85.98")),
        ("b02", 2, Decimal("84.77")),
        ("b01", 3, Decimal("80.26")),
        ("b03", 4, Decimal("77.63")),
        ("b04", 5, Decimal("71.88")),
    ]
    assert ranking.candidates == ("b05", "b02", "b01")
    assert not ranking.unresolved_ties

    # --- the committee signs the result ---------------------------------------------------
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    document = result_document("S-1", package, agg, prices, ranking)
    verify(key.public_key(), document, sign(key, document))
