from __future__ import annotations

from dataclasses import replace

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
from scoring.model import Bidder, BidPackage, ChapterFormat, ChapterSource, Contact
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


# --- evasions: the marks are found after folding, the span is the original's ----------------

DEMO = demo_package()


def _one(text: str) -> tuple[FindingKind, str, str | None, int, int, int, str | None]:
    (f,) = scan_chapter(text, "b01", "ch1", DEMO.bidders)
    return (f.kind, f.match, f.owner_id, f.line, f.column, f.length, f.matched_as)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # spaced: the region and trade name of 昆明金马公路工程集团有限公司
        ("我方曾与昆明 金马合作", (FindingKind.NAME, "昆明 金马", "b03", 1, 5, 5, "昆明金马")),
        # split by tags (a Markdown chapter with inline HTML, or an HTML chapter)
        (
            "我方曾与<b>昆明</b>金马合作",
            (FindingKind.NAME, "昆明</b>金马", "b03", 1, 8, 8, "昆明金马"),
        ),
        # full-width digits and dash
        (
            "电话：０８７１－６５１２３４５６",
            (FindingKind.PHONE, "０８７１－６５１２３４５６", "b03", 1, 4, 13, "0871-65123456"),
        ),
        # a spaced name
        ("项目经理赵 文 斌负责", (FindingKind.STAFF, "赵 文 斌", "b03", 1, 5, 5, "赵文斌")),
        # traditional characters
        ("項目經理趙文斌負責", (FindingKind.STAFF, "趙文斌", "b03", 1, 5, 3, "赵文斌")),
        # a character entity, zero-width spaces, a full-width name
        ("昆&#26126;金马", (FindingKind.NAME, "昆&#26126;金马", "b03", 1, 1, 11, "昆明金马")),
        # a spaced mobile number that is nobody's
        (
            "手机 1 3 9 0 0 0 0 1 1 1 1 。",
            (FindingKind.PHONE, "1 3 9 0 0 0 0 1 1 1 1", None, 1, 4, 21, None),
        ),
        # across a line break
        ("经理赵\n文斌", (FindingKind.STAFF, "赵\n文斌", "b03", 1, 3, 4, "赵文斌")),
    ],
)
def test_evasions_are_found(
    text: str, expected: tuple[FindingKind, str, str | None, int, int, int, str | None]
) -> None:
    assert _one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "张，丽江段的路基",  # a two-character name across a comma is two unrelated characters
        "李；红色警示",
        "编号 0871651234567 的构件",  # the contact's number inside a longer number
        "数据 15.2 16.3 17.1 18.2",
        "普洱至澜沧江方向",  # 普洱澜沧江 only with 至 dropped, and 至 is a letter: no match
    ],
)
def test_folding_does_not_invent_marks(text: str) -> None:
    assert scan_chapter(text, "b01", "ch1", DEMO.bidders) == []


def test_a_describe_names_the_evasion() -> None:
    (f,) = scan_chapter("项目经理赵 文 斌负责", "b01", "ch1", DEMO.bidders)
    assert f.describe() == (
        "投标人 b01 章节 ch1 第 1 行第 5 列（5 字）：人员姓名「赵 文 斌」（归一化后即「赵文斌」）"
        "（属于投标人 b03）…项目经理赵 文 斌负责…"
    )


def test_positions_are_in_the_html_as_submitted() -> None:
    html = (
        '<html><head><title>第一章</title></head>\n<body>\n<p>我方由<span class="x">'
        "赵文斌</span>负责。</p>\n</body></html>"
    )
    (f,) = scan_chapter(html, "b01", "ch1", DEMO.bidders)
    # line 3, after `<p>我方由<span class="x">` (22 characters): column 23
    assert (f.kind, f.line, f.column, f.length, f.match) == (FindingKind.STAFF, 3, 23, 3, "赵文斌")
    assert html[f.start : f.end] == "赵文斌"
    assert f.snippet == "第一章 我方由赵文斌负责。"


def test_zero_width_spaces_hide_nothing_and_are_marks_themselves() -> None:
    found = scan_chapter("赵\u200b文\u200b斌", "b01", "ch1", DEMO.bidders)
    assert [(f.kind, f.match, f.column, f.matched_as) for f in found] == [
        (FindingKind.STAFF, "赵\u200b文\u200b斌", 1, "赵文斌"),
        (FindingKind.INVISIBLE, "\u200b", 2, None),
        (FindingKind.INVISIBLE, "\u200b", 4, None),
    ]


def test_text_a_reader_does_not_see_is_searched_piece_by_piece() -> None:
    html = '<p>正文</p><img alt="金马集团 logo" src="a.png"><!-- 联系人：张丽 -->'
    kinds = [(f.kind, f.match) for f in scan_chapter(html, "b01", "ch1", DEMO.bidders)]
    assert kinds == [
        (FindingKind.IMAGE, '<img alt="金马集团 logo" src="a.png">'),
        (FindingKind.ALIAS, "金马集团"),
        (FindingKind.HIDDEN, "<!-- 联系人：张丽 -->"),
        (FindingKind.STAFF, "张丽"),
    ]


# --- deliberate marks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<span style="color:#c00000">第一章</span>', [(FindingKind.COLOUR, "color:#c00000")]),
        (
            '<p style="background-color: yellow">文</p>',
            [(FindingKind.COLOUR, "background-color: yellow")],
        ),
        ('<font color="red">文</font>', [(FindingKind.COLOUR, "red")]),
        ('<td bgcolor="#eee">文</td>', [(FindingKind.COLOUR, "#eee")]),
        ("<mark>文</mark>", [(FindingKind.COLOUR, "<mark>")]),
        ("<style>h2 { color: navy; }</style>文", [(FindingKind.COLOUR, "color: navy")]),
        (r"文 $\color{red}{甲}$", [(FindingKind.COLOUR, r"\color{red}")]),
        ('<font face="楷体">文</font>', [(FindingKind.FONT, "楷体")]),
        ('<p style="font-family:KaiTi">文</p>', [(FindingKind.FONT, "font-family:KaiTi")]),
        ("<font>文</font>", [(FindingKind.FONT, "<font>")]),
        ("<style>@font-face { src: local(x) }</style>", [(FindingKind.FONT, "@font-face")]),
        ('<p style="font-size:13.5pt">文</p>', [(FindingKind.SIZE, "font-size:13.5pt")]),
        ('<font size="5">文</font>', [(FindingKind.SIZE, "5")]),
        (
            "<big>文</big><small>字</small>",
            [(FindingKind.SIZE, "<big>"), (FindingKind.SIZE, "<small>")],
        ),
        ('<img src="logo.png">', [(FindingKind.IMAGE, '<img src="logo.png">')]),
        ("正文 ![标志](logo.png) 正文", [(FindingKind.IMAGE, "![标志](logo.png)")]),
        (
            '<div style="background:url(a.png)">文</div>',
            [(FindingKind.IMAGE, "background:url(a.png)")],
        ),
        ("<svg><circle r='1'/></svg>", [(FindingKind.IMAGE, "<svg>")]),
        ("<header>第一章</header>", [(FindingKind.HEADER, "<header>")]),
        ("<style>@page { @top-center { content: 'x' } }</style>", [(FindingKind.HEADER, "@page")]),
        ("<!-- x -->文", [(FindingKind.HIDDEN, "<!-- x -->")]),
        ('<p style="display:none">文</p>', [(FindingKind.HIDDEN, "display:none")]),
        ('<p style="font-size:0">文</p>', [(FindingKind.HIDDEN, "font-size:0")]),
        ("<p hidden>文</p>", [(FindingKind.HIDDEN, "<p hidden>")]),
        ("正\u200b文", [(FindingKind.INVISIBLE, "\u200b")]),
        ("正\u202e文", [(FindingKind.INVISIBLE, "\u202e")]),
        ("正文\ufe0f", [(FindingKind.INVISIBLE, "\ufe0f")]),
        ("施工 🚧 安全", [(FindingKind.SYMBOL, "🚧")]),
        ("正文\ue000", [(FindingKind.SYMBOL, "\ue000")]),
        ("㊣ 品质", [(FindingKind.SYMBOL, "㊣")]),
        ("Ⓙ Ⓜ", [(FindingKind.SYMBOL, "Ⓙ"), (FindingKind.SYMBOL, "Ⓜ")]),
        ("𝐉𝐌 方案", [(FindingKind.SYMBOL, "𝐉𝐌")]),
        # not marks: the bullets, numbers and units documents use, neutral colours, spacing
        ("■ 施工准备 ★ 重点 ① 第一 ㈠ 甲 ℃ ㎡ √ → ※ ◆ ●", []),
        ('<p style="color: inherit; line-height: 1.6">文</p>', []),
        ('<table><tr><td style="text-align:center">文</td></tr></table>', []),
    ],
)
def test_deliberate_marks(text: str, expected: list[tuple[FindingKind, str]]) -> None:
    assert [(f.kind, f.match) for f in scan_chapter(text, "b01", "ch1", DEMO.bidders)] == expected


def _with_chapters(chapters: dict[tuple[str, str], str]) -> BidPackage:
    sources = dict(DEMO.sources)
    for (b, c), text in chapters.items():
        sources[b, c] = ChapterSource(f"chapters/{b}/{c}.md", ChapterFormat.MARKDOWN, text)
    return replace(DEMO, sources=sources)


def test_odd_strings_repeated_by_one_bidder_only() -> None:
    package = _with_chapters(
        {
            ("b01", "ch1"): "# 第一章\n本方案编号 JM-07A，工期紧。",
            ("b01", "ch3"): "# 第三章\n进度计划 JM-07A 附后；K3+200 处设便道。",
            ("b02", "ch1"): "# 第一章\n采用 XCMG-260 压路机，K3+200 处设便道。",
            ("b02", "ch2"): "# 第二章\n每台 XCMG-260 配专人。",
            ("b05", "ch1"): "# 第一章\n同样采用 XCMG-260 压路机。",
            ("b04", "ch1"): "# 第一章\n编码 QX9-2 只出现一次。",
        }
    )
    found = [
        (f.bidder_id, f.chapter_id, f.kind, f.match, f.line, f.column)
        for f in scan_package(package)
    ]
    repeated = [f for f in found if f[2] is FindingKind.REPEATED]
    # JM-07A: in two of b01's chapters and nobody else's; XCMG-260 is b02's and b05's; the
    # stake K3+200 is ordinary; QX9-2 stands once
    assert repeated == [
        ("b01", "ch1", FindingKind.REPEATED, "JM-07A", 2, 7),
        ("b01", "ch3", FindingKind.REPEATED, "JM-07A", 2, 6),
    ]


def test_no_false_positive_on_the_demo_s_clean_bids() -> None:
    findings = scan_package(DEMO)
    # every chapter but the one with the planted leak is clean, and that one holds only it
    assert {(f.bidder_id, f.chapter_id) for f in findings} == {("b03", "ch2")}
    assert not any(f.kind.is_mark or f.matched_as for f in findings)
    # the HTML chapters (b04) are scanned as submitted, markup and all
    assert DEMO.sources["b04", "ch1"].format is ChapterFormat.HTML
    assert DEMO.sources["b04", "ch1"].text.startswith("<!DOCTYPE html>")


def test_what_looks_like_a_tag_in_prose_is_still_searched() -> None:
    # In a Markdown or text chapter the seat shows the source as it is: `<C30 …>` is prose.
    found = scan_chapter("强度<C30 时由赵文斌>复核", "b01", "ch1", DEMO.bidders)
    assert [(f.kind, f.match, f.column) for f in found] == [(FindingKind.STAFF, "赵文斌", 10)]
    # a Markdown autolink is an address a reader sees, not a tag
    found = scan_chapter("见 <https://www.jinma.example.cn/>", "b01", "ch1", DEMO.bidders)
    assert [(f.kind, f.match) for f in found] == [
        (FindingKind.URL, "https://www.jinma.example.cn/")
    ]


def test_the_hub_stores_where_and_how_long_never_what() -> None:
    from evaluation_hub.evaluation.package import _finding_json

    (f,) = scan_chapter("项目经理赵 文 斌负责", "b01", "ch1", DEMO.bidders)
    stored = _finding_json(f)
    assert stored == {
        "bidder_id": "b01",
        "chapter_id": "ch1",
        "kind": "staff",
        "kind_name": "人员姓名",
        "line": 1,
        "column": 5,
        "owner_id": "b03",
        "length": 5,
        "evasion": True,
        "mark": False,
    }
    assert "赵" not in repr(stored)
