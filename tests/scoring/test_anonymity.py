from __future__ import annotations

import pytest

from scoring.anonymity import (
    FindingKind,
    Override,
    blocked_chapters,
    check_release,
    scan_chapter,
    scan_package,
)
from scoring.errors import AnonymityBlocked
from scoring.model import Bidder, Contact
from tests.scoring.helpers import demo_package

BIDDERS = (
    Bidder(
        "b1",
        "云南甲路桥有限公司",
        "91530100MA6K7R2D1N",
        (Contact("周海燕", "13987012345", "a@example.cn"),),
        ("甲路桥",),
        ("李建国",),
    ),
    Bidder("b2", "乙建设集团", "91530800709813562W"),
)


def _kinds(text: str) -> list[tuple[FindingKind, str, str | None]]:
    return [(f.kind, f.match, f.owner_id) for f in scan_chapter(text, "b2", "ch1", BIDDERS)]


def test_the_demo_leak_is_found_and_nothing_else() -> None:
    findings = scan_package(demo_package())
    assert [(f.bidder_id, f.chapter_id, f.kind, f.match, f.line, f.column) for f in findings] == [
        ("b03", "ch2", FindingKind.NAME, "昆明金马公路工程集团有限公司", 5, 5),
        ("b03", "ch2", FindingKind.STAFF, "赵文斌", 5, 59),
        ("b03", "ch2", FindingKind.PHONE, "0871-65123456", 17, 18),
        ("b03", "ch2", FindingKind.EMAIL, "jmgl@jinma.example.cn", 17, 37),
    ]
    assert findings[1].snippet == "按体系文件运行。项目经理赵文斌对工程质量负总责，技术负"
    assert findings[1].describe() == (
        "投标人 b03 章节 ch2 第 5 行第 59 列（3 字）：人员姓名「赵文斌」（属于投标人 b03）"
        "…按体系文件运行。项目经理赵文斌对工程质量负总责，技术负…"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本项目由云南甲路桥有限公司承建", [(FindingKind.NAME, "云南甲路桥有限公司", "b1")]),
        ("甲路桥的经验", [(FindingKind.ALIAS, "甲路桥", "b1")]),
        ("代码91530100MA6K7R2D1N。", [(FindingKind.CREDIT_CODE, "91530100MA6K7R2D1N", "b1")]),
        ("另一代码91530100216534870A", [(FindingKind.CREDIT_CODE, "91530100216534870A", None)]),
        (
            "负责人李建国、联系人周海燕",
            [(FindingKind.STAFF, "李建国", "b1"), (FindingKind.STAFF, "周海燕", "b1")],
        ),
        ("电话13987012345", [(FindingKind.PHONE, "13987012345", "b1")]),
        ("手机 139-8701-0000 或", [(FindingKind.PHONE, "139-8701-0000", None)]),
        ("座机（0871）65123456", [(FindingKind.PHONE, "（0871）65123456", None)]),
        ("座机0879-2123456。", [(FindingKind.PHONE, "0879-2123456", None)]),
        ("邮箱 x.y@corp.example.com 联系", [(FindingKind.EMAIL, "x.y@corp.example.com", None)]),
        (
            "见 https://www.example.cn/about 网站",
            [(FindingKind.URL, "https://www.example.cn/about", None)],
        ),
        ("见www.example.cn。", [(FindingKind.URL, "www.example.cn", None)]),
        (
            "曾与红河丙建设有限责任公司合作",
            [(FindingKind.COMPANY, "曾与红河丙建设有限责任公司", None)],
        ),
        ("乙建设集团承建", [(FindingKind.NAME, "乙建设集团", "b2")]),
        # not marks: stations, dates, a mix design, a 10-digit number, a bare 集团 word
        ("K12+300 至 K13+050，2025年3月，C30 混凝土，编号 1234567890，集团化管理", []),
    ],
)
def test_marks(text: str, expected: list[tuple[FindingKind, str, str | None]]) -> None:
    assert _kinds(text) == expected


def test_positions_and_snippet_context() -> None:
    (f,) = scan_chapter("第一行\n第二行有甲路桥字样", "b2", "ch1", BIDDERS)
    assert (f.start, f.end, f.line, f.column) == (8, 11, 2, 5)
    assert f.snippet == "第一行 第二行有甲路桥字样"


def test_a_flagged_chapter_needs_an_override_with_a_reason() -> None:
    findings = scan_chapter("甲路桥；李建国", "b2", "ch1", BIDDERS)
    assert blocked_chapters(findings) == {("b2", "ch1"): 2}
    with pytest.raises(AnonymityBlocked) as info:
        check_release("b2", "ch1", findings, [Override("b2", "ch1", "  ", "admin")])
    assert str(info.value) == (
        "chapter ch1 of bidder b2 has 2 anonymity finding(s); have the bidder's chapter "
        "corrected, or record an override with a reason"
    )
    check_release("b2", "ch1", findings, [Override("b2", "ch1", "同名人员系设计单位人员", "admin")])
    check_release("b1", "ch1", findings)  # a clean chapter is released without an override
