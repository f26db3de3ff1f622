from __future__ import annotations

from decimal import Decimal

import pytest

from scoring.errors import ScoreSheetInvalid
from scoring.model import COMMERCIAL_PART
from scoring.sheets import ScoreEntry, ScoreSheet, validate_sheet
from scoring.shuffle import derive
from tests.scoring.helpers import SEED, demo_package, manifest_for, sheets_through_shuffle

PACKAGE = demo_package()
EXPERTS = ("E1",)
SHUFFLE = derive(SEED, manifest_for(PACKAGE, EXPERTS))
VIEW = SHUFFLE.view("E1")


def _valid_sheet(comment: str = "") -> ScoreSheet:
    # mid-band scores everywhere, so no comment is required
    mid = {
        "1.1": "7",
        "1.2": "3.5",
        "2.1": "6",
        "2.2": "5",
        "3.1": "4",
        "3.2": "3",
        "c1": "12",
        "c2": "5",
    }
    points = {
        ("E1", part, b, item): Decimal(mid[item])
        for part, items in [(c.id, c.items) for c in PACKAGE.chapters]
        + [(COMMERCIAL_PART, PACKAGE.commercial_items)]
        for b in PACKAGE.bidder_ids
        for item in [i.id for i in items]
    }
    return sheets_through_shuffle(PACKAGE, SHUFFLE, points, comment)[0]


def _replace(
    sheet: ScoreSheet, part: str, subject: str, item: str, entry: ScoreEntry | None
) -> ScoreSheet:
    entries = [
        e for e in sheet.entries if (e.part_id, e.subject, e.item_id) != (part, subject, item)
    ]
    if entry is not None:
        entries.append(entry)
    return ScoreSheet(sheet.session_id, sheet.expert_id, tuple(entries))


LABEL = VIEW.chapters[0].labels[0]


def _problems(sheet: ScoreSheet) -> list[tuple[str, str]]:
    with pytest.raises(ScoreSheetInvalid) as info:
        validate_sheet(sheet, PACKAGE, VIEW)
    return [(p.item, p.reason) for p in info.value.problems]


def test_a_complete_mid_band_sheet_is_valid() -> None:
    validate_sheet(_valid_sheet(), PACKAGE, VIEW)


@pytest.mark.parametrize(
    ("points", "comment", "changed", "reasons"),
    [
        ("10.5", "理由", False, ["得分 10.5 超出分值范围 0–10"]),
        ("-1", "理由", False, ["得分 -1 超出分值范围 0–10"]),
        ("7.3", "理由", False, ["得分 7.3 不是步长 0.5 的整数倍"]),
        ("9", "", False, ["得分 9 在最高档（8.5–10），须填写评分理由"]),
        ("5.5", "", False, ["得分 5.5 在最低档（0–5.5），须填写评分理由"]),
        ("9", "方案完整", False, []),
        ("7", "", True, ["复核中修改了得分，须填写修改理由"]),
        (
            "9",
            "",
            True,
            ["得分 9 在最高档（8.5–10），须填写评分理由", "复核中修改了得分，须填写修改理由"],
        ),
        ("7", "复核后调整", True, []),
    ],
)
def test_item_rules(points: str, comment: str, changed: bool, reasons: list[str]) -> None:
    entry = ScoreEntry("ch1", LABEL, "1.1", Decimal(points), comment, changed)
    sheet = _replace(_valid_sheet(), "ch1", LABEL, "1.1", entry)
    if not reasons:
        validate_sheet(sheet, PACKAGE, VIEW)
    else:
        assert _problems(sheet) == [(f"ch1 {LABEL} 1.1", r) for r in reasons]


def test_every_problem_is_listed_in_rubric_order() -> None:
    sheet = _valid_sheet()
    sheet = _replace(sheet, "ch1", LABEL, "1.2", None)
    sheet = _replace(
        sheet,
        COMMERCIAL_PART,
        "b02",
        "c2",
        ScoreEntry(COMMERCIAL_PART, "b02", "c2", Decimal("11"), "x"),
    )
    sheet = ScoreSheet(
        sheet.session_id,
        sheet.expert_id,
        (
            *sheet.entries,
            ScoreEntry("ch1", "ZZZ", "1.1", Decimal(5)),
            ScoreEntry("ch9", LABEL, "1.1", Decimal(5)),
            ScoreEntry("ch1", LABEL, "1.1", Decimal(7)),
        ),
    )
    assert _problems(sheet) == [
        ("ch1 ZZZ 1.1", "不是本专家评审视图中的评分项"),
        ("ch9 " + LABEL + " 1.1", "不是本专家评审视图中的评分项"),
        (f"ch1 {LABEL} 1.1", "重复评分"),
        (f"ch1 {LABEL} 1.2", "未评分"),
        ("commercial b02 c2", "得分 11 超出分值范围 0–10"),
    ]
    with pytest.raises(ScoreSheetInvalid) as info:
        validate_sheet(sheet, PACKAGE, VIEW)
    assert str(info.value).startswith(
        "score sheet of expert E1 has 5 problem(s); the expert must correct them and submit again:\n"
        "  ch1 ZZZ 1.1: 不是本专家评审视图中的评分项\n"
    )


def test_a_label_from_another_experts_view_is_refused() -> None:
    other = derive(SEED, manifest_for(PACKAGE, ("E1", "E2"))).view("E2")
    with pytest.raises(ValueError, match="view of E2 used for the sheet of E1"):
        validate_sheet(_valid_sheet(), PACKAGE, other)
