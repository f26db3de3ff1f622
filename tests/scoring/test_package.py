from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from scoring.errors import PackageInvalid, PackageProblem
from scoring.model import AggregationRule, BenchmarkRule, PriceFormula
from scoring.package import credit_code_problem, html_to_text, parse_package
from tests.scoring.helpers import CODE_A, CODE_B, demo_package
from tests.scoring.helpers import minimal_chapters as _chapters
from tests.scoring.helpers import minimal_documents as _documents


def _problems(
    documents: dict[str, Any], chapters: dict[str, bytes] | None = None
) -> list[PackageProblem]:
    with pytest.raises(PackageInvalid) as info:
        parse_package(documents, _chapters() if chapters is None else chapters)
    return list(info.value.problems)


def test_a_minimal_package_imports() -> None:
    package = parse_package(_documents(), _chapters())
    assert package.bidder_ids == ("b1", "b2")
    assert package.chapter_ids == ("ch1",)
    assert package.method.aggregation is AggregationRule.TRIMMED
    assert package.method.price.formula is PriceFormula.RATIO
    assert package.method.price.benchmark is BenchmarkRule.LOWEST
    assert package.prices == {"b1": Decimal("100.00"), "b2": Decimal(120)}
    assert package.texts["b2", "ch1"] == "正文"
    assert package.commercial_items[0].objective
    assert package.chapters[0].items[0].top_band.description == "好"


def test_the_demo_package_imports() -> None:
    package = demo_package()
    assert package.bidder_ids == ("b01", "b02", "b03", "b04", "b05")
    assert [c.title for c in package.chapters] == [
        "施工组织设计与主要技术方案",
        "质量与安全保证措施",
        "施工进度计划与工期保证措施",
    ]
    assert sum((c.max_points for c in package.chapters), Decimal(0)) == 40
    assert package.method.price.coefficient == Decimal("0.96")
    assert package.texts["b04", "ch3"].startswith("第三章 施工进度计划与工期保证措施")


def test_the_deviation_share_is_the_package_s_own_or_left_to_the_hub() -> None:
    # Not set: None, so the hub applies its configured share (Regulation.review).
    assert parse_package(_documents(), _chapters()).method.deviation_share is None
    docs = _documents()
    docs["package.yaml"]["evaluation_method"]["deviation_share"] = "0.25"
    assert parse_package(docs, _chapters()).method.deviation_share == Decimal("0.25")
    assert demo_package().method.deviation_share == Decimal("0.30")


def test_every_problem_is_reported_with_file_and_field() -> None:
    docs = _documents()
    docs["package.yaml"]["format"] = "bid-package/0"
    del docs["package.yaml"]["project"]["tenderer"]
    docs["package.yaml"]["evaluation_method"]["rounding_places"] = 4
    docs["package.yaml"]["evaluation_method"]["aggregation"] = "median"
    docs["bidders.yaml"]["bidders"][1]["credit_code"] = CODE_B[:-1] + "X"
    docs["bidders.yaml"]["bidders"].append({"id": "b1", "name": "丙公司", "credit_code": "123"})
    docs["rubric.yaml"]["technical"]["ch1"][0]["step"] = "3"
    docs["rubric.yaml"]["technical"]["ch9"] = []
    docs["prices.yaml"]["prices"][0]["amount"] = "100.001"
    docs["prices.yaml"]["prices"].append({"bidder": "b7", "amount": "1"})
    chapters = _chapters()
    del chapters["chapters/b2/ch1.html"]
    chapters["chapters/b1/ch2.md"] = b"x"
    chapters["chapters/b1/ch1.pdf"] = b"%PDF"
    chapters["notes.txt"] = b"x"
    assert [(p.file, p.field, p.message) for p in _problems(docs, chapters)] == [
        ("package.yaml", "format", "应为 'bid-package/1'，实际为 'bid-package/0'"),
        ("package.yaml", "project.tenderer", "缺少必填字段"),
        ("package.yaml", "evaluation_method.rounding_places", "应为 2 或 3，实际为 4"),
        (
            "package.yaml",
            "evaluation_method.aggregation",
            "取值 'median' 无效，可选：mean、trimmed、highway9",
        ),
        ("rubric.yaml", "technical.ch1[0].step", "满分 10 不是步长 3 的整数倍"),
        ("rubric.yaml", "technical.ch9", "章节 ch9 不在 package.yaml 的章节模板中"),
        ("bidders.yaml", "bidders[1].credit_code", "统一社会信用代码校验位错误：应为 W，实际 X"),
        ("bidders.yaml", "bidders[2].credit_code", "统一社会信用代码应为 18 位，实际 3 位"),
        ("bidders.yaml", "bidders[2].id", "投标人编号 b1 重复"),
        ("prices.yaml", "prices[0].amount", "报价 100.001 的小数位超过 2 位（元，精确到分）"),
        ("prices.yaml", "prices[2].bidder", "投标人 b7 不在 bidders.yaml 中"),
        ("prices.yaml", "prices", "缺少投标人 b1 的报价"),
        ("chapters/b1/ch1.pdf", "-", "不支持的章节格式 .pdf，可用：.md、.html、.htm、.txt"),
        ("chapters/b1/ch2.md", "-", "章节 ch2 不在 package.yaml 的章节模板中"),
        ("notes.txt", "-", "不是 chapters/<投标人编号>/<章节编号>.<扩展名> 形式的章节文件"),
        ("chapters/b2/ch1.md", "-", "缺少投标人 b2 的章节 ch1"),
    ]


def test_the_exception_message_lists_the_problems() -> None:
    docs = _documents()
    del docs["prices.yaml"]
    with pytest.raises(PackageInvalid) as info:
        parse_package(docs, _chapters())
    assert str(info.value) == (
        "bid package has 1 problem(s); fix them and import again:\n  prices.yaml -: 文件缺失"
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["rubric.yaml"]["technical"]["ch1"][0]["bands"].pop(0),
            ("rubric.yaml", "technical.ch1[0].bands", "分档应无缝覆盖 0–10：6–10 之前应从 0 开始"),
        ),
        (
            lambda d: d["rubric.yaml"]["technical"]["ch1"][0]["bands"][1].update(low="5.5"),
            (
                "rubric.yaml",
                "technical.ch1[0].bands",
                "分档应无缝覆盖 0–10：5.5–10 之前应从 6.0 开始",
            ),
        ),
        (
            lambda d: d["rubric.yaml"]["technical"]["ch1"][0]["bands"][1].update(high="9.5"),
            ("rubric.yaml", "technical.ch1[0].bands", "最高分档上限为 9.5，应等于满分 10"),
        ),
        (
            lambda d: d["rubric.yaml"]["technical"]["ch1"][0]["bands"][1].update(high="6.2"),
            ("rubric.yaml", "technical.ch1[0].bands", "分档 6–6.2 的端点不在步长 0.5 上"),
        ),
        (
            lambda d: d["rubric.yaml"]["technical"]["ch1"][0]["bands"][1].update(low="11"),
            ("rubric.yaml", "technical.ch1[0].bands[1]", "下限 11 大于上限 10"),
        ),
        (
            lambda d: d["rubric.yaml"]["technical"]["ch1"][0].update(max_points="abc"),
            ("rubric.yaml", "technical.ch1[0].max_points", "应为数值，实际为 'abc'"),
        ),
        (
            lambda d: d["rubric.yaml"]["technical"]["ch1"].append(
                d["rubric.yaml"]["technical"]["ch1"][0]
            ),
            ("rubric.yaml", "technical.ch1[1].id", "评分项编号 1.1 重复"),
        ),
        (
            lambda d: d["rubric.yaml"]["technical"].pop("ch1"),
            ("rubric.yaml", "technical.ch1", "缺少章节 ch1（施工组织设计）的评分细则"),
        ),
        (
            lambda d: d["package.yaml"]["chapters"].append({"id": "commercial", "title": "x"}),
            ("package.yaml", "chapters[1].id", "章节编号不能为保留字 'commercial'"),
        ),
        (
            lambda d: d["package.yaml"]["chapters"].append({"id": "ch 2", "title": "x"}),
            (
                "package.yaml",
                "chapters[1].id",
                "编号 'ch 2' 只能由字母、数字、下划线、点和连字符组成，且以字母或数字开头",
            ),
        ),
        (
            lambda d: d["bidders.yaml"]["bidders"][1].update(credit_code=CODE_A),
            ("bidders.yaml", "bidders[1].credit_code", "与投标人 b1 的统一社会信用代码相同"),
        ),
        (
            lambda d: d["bidders.yaml"]["bidders"][1].update(aliases="乙"),
            ("bidders.yaml", "bidders[1].aliases", "应为非空字符串的列表"),
        ),
        (
            lambda d: d["prices.yaml"]["prices"][1].update(valid=False),
            ("prices.yaml", "prices[1].invalid_reason", "缺少必填字段"),
        ),
        (
            lambda d: d["prices.yaml"]["prices"].append({"bidder": "b1", "amount": "1"}),
            ("prices.yaml", "prices[2].bidder", "投标人 b1 的报价重复"),
        ),
        (
            lambda d: d["prices.yaml"]["prices"][0].update(amount="-5"),
            ("prices.yaml", "prices[0].amount", "应大于 0，实际为 -5"),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"]["price"].update(
                drop_highest_lowest=True
            ),
            (
                "package.yaml",
                "evaluation_method.price.benchmark",
                "最低价基准不能去掉最高最低价或乘以系数，请改用 mean",
            ),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"]["price"].update(
                benchmark="mean", coefficient_range=["0.95", "0.99"], coefficient="0.935"
            ),
            (
                "package.yaml",
                "evaluation_method.price.coefficient",
                "系数 0.935 不在抽取范围 0.95–0.99（步长 0.01）内",
            ),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"]["price"].update(
                benchmark="mean", coefficient_range=["0.99", "0.95"]
            ),
            (
                "package.yaml",
                "evaluation_method.price.coefficient_range",
                "应为两个数 [下限, 上限]，且 0 < 下限 ≤ 上限",
            ),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"]["price"].update(
                benchmark="mean", drop_highest_lowest=True, drop_share="0.2"
            ),
            (
                "package.yaml",
                "evaluation_method.price.drop_share",
                "drop_highest_lowest 与 drop_share 只能选一种",
            ),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"].update(deviation_share="1.5"),
            ("package.yaml", "evaluation_method.deviation_share", "应在 0 到 1 之间，实际为 1.5"),
        ),
        (
            lambda d: d.update({"bidders.yaml": None}),
            ("bidders.yaml", "-", "文件为空"),
        ),
        (
            lambda d: d.update({"rubric.yaml": ["x"]}),
            ("rubric.yaml", "-", "应为键值对象"),
        ),
    ],
)
def test_validation_messages(mutate: Any, expected: tuple[str, str, str]) -> None:
    docs = copy.deepcopy(_documents())
    mutate(docs)
    problems = [(p.file, p.field, p.message) for p in _problems(docs)]
    assert expected in problems


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"chapters/b2/ch1.md": b"\xff\xfe"},
            ("chapters/b2/ch1.md", "-", "不是 UTF-8 编码（第 0 字节）"),
        ),
        ({"chapters/b2/ch1.md": b"  \n"}, ("chapters/b2/ch1.md", "-", "章节内容为空")),
        (
            {"chapters/b2/ch1.md": b"x", "chapters/b2/ch1.txt": b"y"},
            ("chapters/b2/ch1.txt", "-", "与 chapters/b2/ch1.md 重复：同一章节只能有一个文件"),
        ),
        (
            {"chapters/b9/ch1.md": b"x"},
            ("chapters/b9/ch1.md", "-", "投标人 b9 不在 bidders.yaml 中"),
        ),
    ],
)
def test_chapter_file_messages(files: dict[str, bytes], expected: tuple[str, str, str]) -> None:
    chapters = {"chapters/b1/ch1.md": "正文".encode()} | files
    problems = [(p.file, p.field, p.message) for p in _problems(_documents(), chapters)]
    assert expected in problems


def test_read_problems_are_reported_and_not_doubled() -> None:
    docs = _documents()
    del docs["rubric.yaml"]
    read = [PackageProblem("rubric.yaml", "第 3 行第 1 列", "YAML 语法错误：x")]
    with pytest.raises(PackageInvalid) as info:
        parse_package(docs, _chapters(), read_problems=read)
    assert [p for p in info.value.problems if p.file == "rubric.yaml"] == read


def test_floats_are_read_through_their_shortest_repr() -> None:
    docs = _documents()
    docs["rubric.yaml"]["technical"]["ch1"][0]["step"] = 0.1
    docs["rubric.yaml"]["commercial"][0]["step"] = 0.1
    # the bands list is shared with the commercial item
    docs["rubric.yaml"]["technical"]["ch1"][0]["bands"][0]["high"] = 5.9
    package = parse_package(docs, _chapters())
    assert package.chapters[0].items[0].step == Decimal("0.1")


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (CODE_A, None),
        ("91530100MA6K7R2D1", "统一社会信用代码应为 18 位，实际 17 位"),
        ("91530100MA6K7R2DIN", "统一社会信用代码含非法字符：I"),
        ("91530100MA6K7R2D1P", "统一社会信用代码校验位错误：应为 N，实际 P"),
    ],
)
def test_credit_code(code: str, problem: str | None) -> None:
    assert credit_code_problem(code) == problem


def test_html_to_text_keeps_blocks_and_drops_scripts() -> None:
    html = "<h1>标题</h1><script>var x=1;</script><p>第一段&amp;</p><table><tr><td>甲</td><td>乙</td></tr></table>"
    assert html_to_text(html) == "标题\n\n第一段&\n\n 甲 乙"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["bidders.yaml"].update(bidders=[]),
            ("bidders.yaml", "bidders", "应为非空列表"),
        ),
        (
            lambda d: d["package.yaml"]["project"].update(name="  "),
            ("package.yaml", "project.name", "应为非空字符串"),
        ),
        (
            lambda d: d["bidders.yaml"]["bidders"][0].update(
                contacts=[{"name": "甲", "phone": ["1"]}]
            ),
            ("bidders.yaml", "bidders[0].contacts[0]", "phone 和 email 应为字符串"),
        ),
        (
            lambda d: d["bidders.yaml"]["bidders"][0].update(contacts="甲"),
            ("bidders.yaml", "bidders[0].contacts", "应为列表"),
        ),
        (
            lambda d: d["rubric.yaml"]["commercial"][0].update(objective="yes"),
            ("rubric.yaml", "commercial[0].objective", "应为 true 或 false"),
        ),
        (
            lambda d: d["prices.yaml"]["prices"][0].update(valid="no"),
            ("prices.yaml", "prices[0].valid", "应为 true 或 false"),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"]["price"].update(
                benchmark="mean", drop_share_min_bids=-1
            ),
            ("package.yaml", "evaluation_method.price.drop_share_min_bids", "应为非负整数"),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"]["price"].update(
                benchmark="mean", drop_share="0.5"
            ),
            (
                "package.yaml",
                "evaluation_method.price.drop_share",
                "应大于 0 且小于 0.5，实际为 0.5",
            ),
        ),
        (
            lambda d: d["package.yaml"]["evaluation_method"].update(price=None),
            ("package.yaml", "evaluation_method.price", "缺少必填字段"),
        ),
        (
            lambda d: d["package.yaml"]["chapters"].append({"id": "ch1", "title": "重复"}),
            ("package.yaml", "chapters[1].id", "章节编号 ch1 重复"),
        ),
    ],
)
def test_more_validation_messages(mutate: Any, expected: tuple[str, str, str]) -> None:
    docs = copy.deepcopy(_documents())
    mutate(docs)
    assert expected in [(p.file, p.field, p.message) for p in _problems(docs)]
