"""The engine's pure rules: parsing and judging score saves, review requests, signed documents."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from evaluation_hub.evaluation import rules
from scoring.model import COMMERCIAL_PART
from scoring.review import DeviationScope, FlagReason, review
from scoring.sheets import reintegrate
from scoring.shuffle import ShuffleManifest, derive
from scoring.signing import canonical, signature_document
from tests.evaluation.helpers import demo_package, part_save
from tests.scoring.helpers import NATIONAL

SEED = bytes(range(32))
EXPERTS = ("E01", "E02", "E03")


@pytest.fixture(scope="module")
def setup() -> Any:
    package = demo_package()
    manifest = ShuffleManifest("7", EXPERTS, package.chapter_ids, package.bidder_ids)
    return package, derive(SEED, manifest)


# a middle-band score per item: no comment needed for it
MID = {"1.1": "7", "1.2": "3.5", "2.1": "6", "2.2": "5", "3.1": "4", "3.2": "3"}


def _uniform(package: Any) -> dict[tuple[str, str], str]:
    points = {(b, i): v for b in package.bidder_ids for i, v in MID.items()}
    for b in package.bidder_ids:
        points[b, "c1"], points[b, "c2"] = "12", "5"
    return points


def _judge(setup: Any, raw: dict[str, Any], previous: Any = None, in_review: bool = False) -> Any:
    package, shuffle = setup
    parsed = rules.parse_save(raw)
    return rules.judge_save(
        parsed,
        expert="E01",
        session_id="7",
        package=package,
        view=shuffle.view("E01"),
        previous=previous,
        in_review=in_review,
    )


def test_parse_lists_every_structural_problem() -> None:
    with pytest.raises(rules.SaveRefused) as err:
        rules.parse_save(
            {
                "expert": "",
                "entries": [
                    "x",
                    {"subject": "AB"},
                    {"subject": "AB", "item": "1.1", "points": "八"},
                    {"subject": "AB", "item": "1.2", "points": "3", "comment": 5},
                ],
                "declared_totals": {"AB": "abc"},
            }
        )
    assert err.value.code == "invalid-sheet"
    assert err.value.problems == (
        "字段 expert 应为专家编号",
        "缺少字段 part（评分的章节编号或 commercial）",
        "第 1 条评分项应为对象",
        "第 2 条评分项缺少 subject 或 item",
        "第 3 条评分项（AB 1.1）的得分不是数字",
        "第 4 条评分项的评分理由应为不超过 2000 字的文字",
        "合计 AB 不是数字",
    )
    with pytest.raises(rules.SaveRefused) as err:
        rules.parse_save(["not", "an", "object"])
    assert err.value.problems == ("评分表应为一个对象",)


def test_a_complete_chapter_save_is_accepted(setup: Any) -> None:
    package, shuffle = setup
    raw = part_save(package, shuffle, "E01", "ch2", _uniform(package))
    entries = _judge(setup, raw)
    assert len(entries) == 5 * 2
    assert {e.part_id for e in entries} == {"ch2"}
    commercial = part_save(package, shuffle, "E01", COMMERCIAL_PART, _uniform(package))
    assert len(_judge(setup, commercial)) == 5 * 2


def test_unknown_chapter_and_rubric_problems_are_refused_with_reasons(setup: Any) -> None:
    package, shuffle = setup
    with pytest.raises(rules.SaveRefused) as err:
        _judge(setup, {"part": "ch9", "entries": [{"subject": "AB", "item": "x", "points": 1}]})
    assert (err.value.code, err.value.problems) == (
        "unknown-part",
        ("评分表所属章节「ch9」不在本评标会的标书包中",),
    )
    raw = part_save(package, shuffle, "E01", "ch1", _uniform(package))
    first, second = raw["entries"][0], raw["entries"][1]
    label = first["subject"]
    last = raw["entries"][-1]["subject"]
    first["points"] = "7.3"
    second["points"] = "4.5"
    second["comment"] = ""
    raw["entries"].append({"subject": "ZZ", "item": "1.1", "points": "5", "comment": "x"})
    raw["entries"] = raw["entries"][:-3] + raw["entries"][-1:]  # drop two items of the last label
    raw["declared_totals"] = {"QQ": "3"}
    with pytest.raises(rules.SaveRefused) as err:
        _judge(setup, raw)
    assert err.value.code == "sheet-invalid"
    assert err.value.problems == (
        "ch1 ZZ 1.1：不是本专家评审视图中的评分项",
        f"ch1 {label} 1.1：得分 7.3 不是步长 0.5 的整数倍",
        f"ch1 {label} 1.2：得分 4.5 在最高档（4.5–5），须填写评分理由",
        f"ch1 {last} 1.1：未评分",
        f"ch1 {last} 1.2：未评分",
        "合计 QQ：不是本部分的评分对象",
    )


def test_a_score_changed_in_review_needs_a_comment(setup: Any) -> None:
    package, shuffle = setup
    raw = part_save(package, shuffle, "E01", "ch3", _uniform(package), comment="")
    previous = {(e["subject"], e["item"]): Decimal(e["points"]) for e in raw["entries"]}
    raw["entries"][0]["points"] = "4.5"
    with pytest.raises(rules.SaveRefused) as err:
        _judge(setup, raw, previous=previous, in_review=True)
    label = raw["entries"][0]["subject"]
    assert err.value.problems == (f"ch3 {label} 3.1：复核中修改了得分，须填写修改理由",)
    raw["entries"][0]["comment"] = "复核后调整"
    entries = _judge(setup, raw, previous=previous, in_review=True)
    assert [e.changed_in_review for e in entries].count(True) == 1
    # Outside the review round nothing is marked, whatever changed.
    assert not any(e.changed_in_review for e in _judge(setup, raw, previous=previous))


def test_review_requests_carry_the_anonymised_spread(setup: Any) -> None:
    package, shuffle = setup
    from tests.scoring.helpers import sheets_through_shuffle

    points: dict[tuple[str, str, str, str], Decimal] = {}
    for e in EXPERTS:
        for c in package.chapters:
            for b in package.bidder_ids:
                for i in c.items:
                    points[e, c.id, b, i.id] = Decimal(3)
        for b in package.bidder_ids:
            points[e, COMMERCIAL_PART, b, "c1"] = Decimal(12)
            points[e, COMMERCIAL_PART, b, "c2"] = Decimal(5)
    # 3 3 5: mean 11/3 = 3.67, allowed 1.1: E03 is 1.33 away, E01 and E02 0.67. Chapter 2
    # totals 6 6 8: mean 6.67, allowed 2: nobody.
    points["E03", "ch2", "b02", "2.1"] = Decimal(5)
    points["E02", COMMERCIAL_PART, "b05", "c2"] = Decimal(6)  # objective disagreement
    scores = reintegrate(sheets_through_shuffle(package, shuffle, points), shuffle)
    # Checked per item (the option), so the item's own spread is what the request carries.
    flags = review(scores, package, dataclasses.replace(NATIONAL, scope=DeviationScope.ITEM))
    specs = rules.request_specs(flags, scores, package)
    label = shuffle.label_for("E03", "ch2", "b02")
    assert [
        (s.expert, s.reason, s.part, s.subject, s.item, s.spread, s.informational) for s in specs
    ] == [
        # the objective item concerns every expert, subject = the bidder id (commercial): E02,
        # who differs from the value most members gave (5), is asked; E01 and E03 are told
        ("E01", "objective_inconsistent", COMMERCIAL_PART, "b05", "c2",
         {"yours": "5", "others": ["5", "6"], "mean": "5.33"}, True),
        ("E02", "objective_inconsistent", COMMERCIAL_PART, "b05", "c2",
         {"yours": "6", "others": ["5", "5"], "mean": "5.33"}, False),
        ("E03", "objective_inconsistent", COMMERCIAL_PART, "b05", "c2",
         {"yours": "5", "others": ["5", "6"], "mean": "5.33"}, True),
        ("E03", "deviation", "ch2", label, "2.1",
         {"yours": "5", "others": ["3", "3"], "mean": "3.67"}, False),
    ]  # fmt: skip
    assert specs[0].message == (
        "客观评分项 commercial c2 各专家评分不一致；您的评分 5 与多数专家一致，无需答复。"
        "其他专家核对后，本通知将自动关闭"
    )
    assert flags[0].message.startswith("客观评分项 commercial c2 各专家评分不一致（专家 E01 ")
    assert specs[1].message == (
        "客观评分项 commercial c2 各专家评分不一致：您在 b05 给 6，多数专家给 5，须核对后统一评分"
    )
    # On part totals, the default, the deviation is not flagged (chapter 2 totals 6 6 8).
    assert [f.reason for f in review(scores, package, NATIONAL)] == [FlagReason.OBJECTIVE]
    assert all("b02" not in s.message for s in specs if s.part != COMMERCIAL_PART)
    assert frozenset({"deviation"}) == rules.EXPLAINABLE


def test_the_signature_document_binds_result_agreement_and_reasons() -> None:
    result = {"type": "evaluation-result/1", "candidates": ["b05"]}
    agree = signature_document("3", "E01", True, "", result)
    disagree = signature_document("3", "E01", False, "理由", result)
    assert canonical(agree) != canonical(disagree)
    assert rules.document_digest(agree) == rules.document_digest(dict(agree))
    assert agree["result"] == result


def test_the_review_share_is_the_package_s_own_else_the_configured_one() -> None:
    package = demo_package()  # its evaluation method sets 0.30
    assert rules.review_config(package, Decimal("0.10")).share == Decimal("0.30")
    silent = dataclasses.replace(
        package, method=dataclasses.replace(package.method, deviation_share=None)
    )
    assert rules.review_config(silent, Decimal("0.10")).share == Decimal("0.10")
