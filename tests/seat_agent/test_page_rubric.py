"""The page's form check agrees with the hub's rules (``scoring.sheets`` via the evaluation
engine's ``judge_save``) on what it accepts and refuses, item by item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from evaluation_hub.evaluation import rules
from scoring.model import BidPackage
from scoring.shuffle import ExpertView, ShuffleManifest, derive
from seat_agent.page.rubric import check_part
from tests.evaluation.helpers import demo_package

PART = {
    "part": "ch1",
    "title": "施工方案",
    "subjects": ["AB", "CD"],
    "items": [
        {
            "id": "1.1",
            "title": "工艺",
            "max": "10",
            "step": "0.5",
            "top_low": "9",
            "bottom_high": "2",
        },
        {"id": "1.2", "title": "工期", "max": "5", "step": "1", "top_low": "5", "bottom_high": "1"},
    ],
}


def _form(**cells: tuple[str, str]) -> dict[str, dict[str, str]]:
    form = {
        f"{s}|{i}": {"points": p, "comment": ""}
        for s in ("AB", "CD")
        for i, p in (("1.1", "6"), ("1.2", "3"))
    }
    for key, (points, comment) in cells.items():
        subject, item = key.split("_")
        form[f"{subject}|{item.replace('x', '.')}"] = {"points": points, "comment": comment}
    return form


def test_a_complete_form_becomes_the_save_the_hub_expects() -> None:
    checked = check_part(PART, _form(AB_1x1=("6.50", " 思路清晰 ")))
    assert checked.problems == {}
    assert checked.sheet == {
        "part": "ch1",
        "entries": [
            {"subject": "AB", "item": "1.1", "points": "6.5", "comment": "思路清晰"},
            {"subject": "AB", "item": "1.2", "points": "3", "comment": ""},
            {"subject": "CD", "item": "1.1", "points": "6", "comment": ""},
            {"subject": "CD", "item": "1.2", "points": "3", "comment": ""},
        ],
    }


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        (("", ""), "未评分"),
        (("七", ""), "得分「七」不是数字"),
        (("NaN", ""), "得分「NaN」不是数字"),
        (("1e1", ""), "得分「1e1」不是数字"),
        (("6_0", ""), "得分「6_0」不是数字"),
        (("٦", ""), "得分「٦」不是数字"),
        (("１１", "x"), "得分 11 超出分值范围 0–10"),
        (("10.5", "x"), "得分 10.5 超出分值范围 0–10"),
        (("-1", "x"), "得分 -1 超出分值范围 0–10"),
        (("6.2", ""), "得分 6.2 不是步长 0.5 的整数倍"),
        (("9.5", ""), "得分 9.5 在最高档，须填写评分理由"),
        (("2", ""), "得分 2 在最低档，须填写评分理由"),
        (("9.5", "亮点突出"), None),
        (("6", "x" * 2001), "评分理由不能超过 2000 字"),
    ],
)
def test_each_cell_is_checked_like_the_hub_checks_it(
    cell: tuple[str, str], problem: str | None
) -> None:
    checked = check_part(PART, _form(CD_1x1=cell))
    expected = {} if problem is None else {"CD|1.1": problem}
    assert checked.problems == expected
    assert (checked.sheet is None) == (problem is not None)


def test_a_change_during_review_needs_a_reason() -> None:
    previous = {"AB|1.1": "6", "AB|1.2": "3", "CD|1.1": "6", "CD|1.2": "3"}
    changed = _form(AB_1x1=("7", ""))
    assert check_part(PART, changed, previous=previous, in_review=True).problems == {
        "AB|1.1": "复核中修改了得分，须填写修改理由"
    }
    assert check_part(PART, changed, previous=previous, in_review=False).problems == {}
    same = _form(AB_1x1=("6.0", ""))
    assert check_part(PART, same, previous=previous, in_review=True).problems == {}
    reasoned = _form(AB_1x1=("7", "复核后调整"))
    assert check_part(PART, reasoned, previous=previous, in_review=True).problems == {}


def _demo_part(package: BidPackage, view: ExpertView) -> dict[str, Any]:
    chapter = package.chapter("ch1")
    return {
        "part": "ch1",
        "title": chapter.title,
        "subjects": list(view.chapters[0].labels),
        "items": [
            {
                "id": i.id,
                "title": i.title,
                "max": rules.decimal_text(i.max_points),
                "step": rules.decimal_text(i.step),
                "top_low": rules.decimal_text(i.top_band.low),
                "bottom_high": rules.decimal_text(i.bottom_band.high),
            }
            for i in chapter.items
        ],
    }


@pytest.mark.parametrize("points", ["0", "0.5", "2", "3.5", "7", "7.3", "8", "9.5", "10", "11"])
@pytest.mark.parametrize("comment", ["", "理由"])
def test_the_page_and_the_hub_agree_on_the_demo_rubric(points: str, comment: str) -> None:
    package = demo_package()
    manifest = ShuffleManifest("1", ("E01",), tuple(package.chapter_ids), tuple(package.bidder_ids))
    view = derive(bytes(32), manifest).view("E01")
    part = _demo_part(package, view)
    form = {
        f"{s}|{i['id']}": {"points": i["max"], "comment": "满分理由"}
        for s in part["subjects"]
        for i in part["items"]
    }
    first = f"{part['subjects'][0]}|{part['items'][0]['id']}"
    form[first] = {"points": points, "comment": comment}
    checked = check_part(part, form)
    entries = [{"subject": k.split("|")[0], "item": k.split("|")[1], **v} for k, v in form.items()]
    try:
        rules.judge_save(
            rules.parse_save({"part": "ch1", "entries": entries}),
            expert="E01",
            session_id="1",
            package=package,
            view=view,
            previous=None,
            in_review=False,
        )
        hub_accepts = True
    except rules.SaveRefused:
        hub_accepts = False
    assert (checked.sheet is not None) == hub_accepts, (points, comment, checked.problems)
    assert Decimal(part["items"][0]["max"]) > 0


def test_full_width_digits_from_an_input_method_are_the_same_score() -> None:
    checked = check_part(PART, _form(CD_1x1=("６．５", "")))
    assert checked.problems == {}
    assert checked.sheet is not None
    assert checked.sheet["entries"][2] == {
        "subject": "CD",
        "item": "1.1",
        "points": "6.5",
        "comment": "",
    }
