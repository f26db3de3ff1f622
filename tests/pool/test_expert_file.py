"""The pool export parser: every bad-row class named by line and column with its exact
message, in CSV (UTF-8 with and without BOM, GB18030) and XLSX; good files give their rows."""

from __future__ import annotations

import pytest

from evaluation_hub.pool.expert_file import ExpertRow, parse_experts
from evaluation_hub.pool.recusal import FormerEmployer
from evaluation_hub.pool.table_file import FileProblem
from tests.pool.files import GOOD, HEADER, csv_bytes, xlsx_bytes

REGIONS = frozenset({"530100", "530300"})


def parse(data: bytes) -> tuple[str, tuple[ExpertRow, ...], list[tuple[int, str, str]]]:
    parsed = parse_experts(data, known_regions=REGIONS, this_year=2026)
    return parsed.format, parsed.rows, [(p.line, p.column, p.message) for p in parsed.problems]


EXPECTED = (
    ExpertRow(
        2,
        "E101",
        "赵建国",
        "昆明理工大学",
        (FormerEmployer("云南建工集团有限公司", 2024),),
        "530100",
        ("土木工程", "造价"),
        "13800000001",
    ),
    ExpertRow(
        3, "E102", "钱文华", "云南省建筑设计院", (), "530300", ("建筑设计",), "0871-12345678"
    ),
)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (csv_bytes(GOOD), "CSV (UTF-8)"),
        (b"\xef\xbb\xbf" + csv_bytes(GOOD), "CSV (UTF-8)"),
        (csv_bytes(GOOD, encoding="gb18030"), "CSV (GB18030)"),
        (xlsx_bytes(GOOD), "XLSX"),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "xlsx"],
)
def test_a_good_export_gives_every_expert(data: bytes, fmt: str) -> None:
    assert parse(data) == (fmt, EXPECTED, [])


def test_xlsx_numbers_read_as_typed_and_full_width_separators() -> None:
    rows = [
        (
            "E103",
            "孙丽萍",
            "大理大学",
            "甲公司：2023；乙公司:2020",
            530100,
            "水利、造价",
            13800000003,
        )
    ]
    _, found, problems = parse(xlsx_bytes(rows))
    assert problems == []
    assert found[0].home_region == "530100"
    assert found[0].phone == "13800000003"
    assert found[0].former_employers == (
        FormerEmployer("甲公司", 2023),
        FormerEmployer("乙公司", 2020),
    )
    assert found[0].specialties == ("水利", "造价")


BAD_ROWS = [
    (
        ("", "赵建国", "昆明理工大学", "", "530100", "土木", "13800000001"),
        [(2, "专家编号", "专家编号不能为空")],
    ),
    (
        ("E 1", "赵建国", "昆明理工大学", "", "530100", "土木", "13800000001"),
        [
            (
                2,
                "专家编号",
                "专家编号「E 1」不可用：须以字母或数字开头，只含字母、数字和 . _ -，最长 32 个字符",
            )
        ],
    ),
    (
        ("E101", "", "", "", "530100", "", "13800000001"),
        [
            (2, "姓名", "姓名不能为空"),
            (2, "工作单位", "工作单位不能为空"),
            (2, "专业", "专业不能为空"),
        ],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "", "530100", "土木", "1380000"),
        [
            (
                2,
                "手机号码",
                "手机号码「1380000」无效：须为 11 位手机号码（如 13800000000）或带区号的固定电话（如 0871-12345678）",
            )
        ],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "", "", "土木", ""),
        [
            (2, "常住地行政区划代码", "常住地行政区划代码不能为空"),
            (2, "手机号码", "手机号码不能为空"),
        ],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "甲公司:2027", "530100", "土木", "13800000001"),
        [(2, "原工作单位", "离开年份「2027」无效：须为 1950 至 2026 年之间的四位年份")],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "甲公司:二〇二三", "530100", "土木", "13800000001"),
        [(2, "原工作单位", "离开年份「二〇二三」无效：须为 1950 至 2026 年之间的四位年份")],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "甲公司", "530100", "土木", "13800000001"),
        [
            (
                2,
                "原工作单位",
                "原工作单位「甲公司」缺少离开年份：格式为 单位名称:离开年份，多个以分号分隔",
            )
        ],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "", "539999", "土木", "13800000001"),
        [(2, "常住地行政区划代码", "常住地行政区划代码「539999」不在本中心的行政区划表中")],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "", "5301", "土木", "13800000001"),
        [
            (
                2,
                "常住地行政区划代码",
                "常住地行政区划代码「5301」无效：须为 6 位行政区划代码，例如 530100（昆明市）",
            )
        ],
    ),
    (
        ("E101", "赵" * 101, "昆明理工大学", "", "530100", "土木", "13800000001"),
        [(2, "姓名", "姓名太长：最多 100 个字符")],
    ),
    (
        ("E101", "赵建国", "昆明理工大学", "", "530100", "土木", "13800000001", "多余"),
        [(2, "", "本行的单元格多于表头的列数")],
    ),
]


@pytest.mark.parametrize("make", [csv_bytes, xlsx_bytes], ids=["csv", "xlsx"])
@pytest.mark.parametrize(("row", "expected"), BAD_ROWS)
def test_every_bad_row_class_is_named_by_line_and_column(
    make: object, row: tuple[str, ...], expected: list[tuple[int, str, str]]
) -> None:
    assert callable(make)
    _, rows, problems = parse(make([row]))
    assert (rows, problems) == ((), expected)


@pytest.mark.parametrize("make", [csv_bytes, xlsx_bytes], ids=["csv", "xlsx"])
def test_a_duplicate_code_names_the_first_line_and_good_rows_are_not_returned(make: object) -> None:
    assert callable(make)
    rows = [GOOD[0], GOOD[1], ("E101", "孙丽萍", "大理大学", "", "530100", "水利", "13800000003")]
    assert parse(make(rows))[1:] == ((), [(4, "专家编号", "专家编号「E101」与第 2 行重复")])


def test_problems_of_several_rows_all_reported_in_line_order() -> None:
    rows = [
        ("E101", "赵建国", "昆明理工大学", "", "530100", "土木", "bad"),
        GOOD[1],
        ("", "孙丽萍", "大理大学", "", "000000", "水利", "13800000003"),
    ]
    assert parse(csv_bytes(rows))[2] == [
        (
            2,
            "手机号码",
            "手机号码「bad」无效：须为 11 位手机号码（如 13800000000）或带区号的固定电话（如 0871-12345678）",
        ),
        (4, "专家编号", "专家编号不能为空"),
        (
            4,
            "常住地行政区划代码",
            "常住地行政区划代码「000000」无效：须为 6 位行政区划代码，例如 530100（昆明市）",
        ),
    ]


def test_a_missing_column_is_named_on_the_header_line() -> None:
    header = [h for h in HEADER if h != "手机号码"]
    assert parse(csv_bytes([r[:-1] for r in GOOD], header=header))[2] == [
        (1, "手机号码", "缺少「手机号码」列")
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", (1, "", "文件为空或缺少表头行")),
        (csv_bytes([]), (1, "", "文件中没有专家记录")),
        (
            "专家编号,姓名\r\n".encode("utf-16"),
            (1, "", "无法识别文件编码：请保存为 UTF-8 编码的 CSV（或 GB18030 编码、XLSX）"),
        ),
        (b"PK\x03\x04broken", (1, "", "无法读取 XLSX 文件（BadZipFile），请从专家库重新导出")),
    ],
    ids=["empty", "header-only", "utf16", "broken-xlsx"],
)
def test_an_unreadable_file_says_why(data: bytes, problem: tuple[int, str, str]) -> None:
    assert parse(data)[2] == [problem]


def test_a_problem_describes_itself_in_chinese() -> None:
    assert FileProblem(3, "手机号码", "x").describe() == "第 3 行「手机号码」列：x"
    assert FileProblem(1, "", "y").describe() == "第 1 行：y"
