"""The expert pool's export (专家库导出文件), judged row by row: every expert it holds, or a
report naming every bad row by line and column. Nothing is imported from a file with a bad row
(``pool.importing``); the report lets the person fix them all in one pass.

Columns (the header row names them; other columns are ignored; docs/expert-pool.md):

| column | required | content |
|---|---|---|
| 专家编号 | yes | letters, digits and . _ - (up to 32), unique in the file |
| 姓名 | yes | up to 100 characters |
| 工作单位 | yes | up to 200 characters |
| 原工作单位 | no | ``单位名称:离开年份`` entries separated by ``;`` (full-width ：； too) |
| 常住地行政区划代码 | yes | a 6-digit code in the hub's region table |
| 专业 | yes | specialties separated by ``;`` ``、`` or ``,`` |
| 手机号码 | yes | an 11-digit mobile number or a landline with its area code |

Pure: works on bytes, takes this year and the known regions as arguments.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from evaluation_hub.pool.recusal import FormerEmployer
from evaluation_hub.pool.table_file import FileProblem, RawRow, TableUnreadable, read_table

__all__ = [
    "COLUMNS",
    "EXPERT_CODE",
    "ExpertRow",
    "ParsedExperts",
    "RowReader",
    "parse_experts",
]

CODE, NAME, EMPLOYER, FORMER, REGION, SPECIALTIES, PHONE = (
    "专家编号",
    "姓名",
    "工作单位",
    "原工作单位",
    "常住地行政区划代码",
    "专业",
    "手机号码",
)
#: the columns of the export, in their documented order
COLUMNS = (CODE, NAME, EMPLOYER, FORMER, REGION, SPECIALTIES, PHONE)
_REQUIRED_COLUMNS = (CODE, NAME, EMPLOYER, REGION, SPECIALTIES, PHONE)

#: the expert code (what the seat, the PIN and the signatures name)
EXPERT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_REGION = re.compile(r"[1-9][0-9]{5}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}")
_YEAR = re.compile(r"[0-9]{4}")
_SEPARATORS = re.compile(r"[;、,]")
EARLIEST_YEAR = 1950


@dataclass(frozen=True)
class ExpertRow:
    line: int
    code: str
    name: str
    employer: str
    former_employers: tuple[FormerEmployer, ...]
    home_region: str
    specialties: tuple[str, ...]
    phone: str


@dataclass(frozen=True)
class ParsedExperts:
    """``rows`` when ``problems`` is empty; otherwise the problems, sorted by line."""

    format: str
    rows: tuple[ExpertRow, ...]
    problems: tuple[FileProblem, ...]


class RowReader:
    """Reads one row's cells, collecting the problems instead of stopping at the first."""

    def __init__(self, row: RawRow, problems: list[FileProblem]) -> None:
        self.row = row
        self.problems = problems
        self.ok = True
        if "" in row.cells:
            self.fail("", "本行的单元格多于表头的列数")

    def fail(self, column: str, message: str) -> None:
        self.ok = False
        self.problems.append(FileProblem(self.row.line, column, message))

    def text(self, column: str, limit: int, *, required: bool = True) -> str:
        value = unicodedata.normalize("NFKC", self.row.cells.get(column, "")).strip()
        if required and not value:
            self.fail(column, f"{column}不能为空")
        elif len(value) > limit:
            self.fail(column, f"{column}太长：最多 {limit} 个字符")
        return value


def _missing_columns(headers: Collection[str], required: Collection[str]) -> list[FileProblem]:
    return [FileProblem(1, c, f"缺少「{c}」列") for c in required if c not in headers]


def _former(reader: RowReader, this_year: int) -> tuple[FormerEmployer, ...]:
    text = reader.text(FORMER, 1000, required=False)
    found: list[FormerEmployer] = []
    for item in (x.strip() for x in text.split(";")):
        if not item:
            continue
        employer, colon, year = item.rpartition(":")
        employer, year = employer.strip(), year.strip()
        if not colon or not employer:
            reader.fail(
                FORMER,
                f"原工作单位「{item}」缺少离开年份：格式为 单位名称:离开年份，多个以分号分隔",
            )
        elif len(employer) > 200:
            reader.fail(FORMER, f"原工作单位「{employer[:20]}…」太长：最多 200 个字符")
        elif not _YEAR.fullmatch(year) or not EARLIEST_YEAR <= int(year) <= this_year:
            reader.fail(
                FORMER,
                f"离开年份「{year}」无效：须为 {EARLIEST_YEAR} 至 {this_year} 年之间的四位年份",
            )
        else:
            found.append(FormerEmployer(employer, int(year)))
    return tuple(found)


def _phone(reader: RowReader) -> str:
    raw = reader.text(PHONE, 32)
    if not raw:
        return raw
    compact = re.sub(r"[\s()]", "", raw)
    if not (_MOBILE.fullmatch(compact) or _LANDLINE.fullmatch(compact)):
        reader.fail(
            PHONE,
            f"手机号码「{raw}」无效：须为 11 位手机号码（如 13800000000）"
            "或带区号的固定电话（如 0871-12345678）",
        )
    return compact


def _region(reader: RowReader, known_regions: Collection[str]) -> str:
    code = reader.text(REGION, 12)
    if not code:
        return code
    if not _REGION.fullmatch(code):
        reader.fail(REGION, f"{REGION}「{code}」无效：须为 6 位行政区划代码，例如 530100（昆明市）")
    elif code not in known_regions:
        reader.fail(REGION, f"{REGION}「{code}」不在本中心的行政区划表中")
    return code


def _row(
    raw: RawRow,
    problems: list[FileProblem],
    seen: dict[str, int],
    *,
    known_regions: Collection[str],
    this_year: int,
) -> ExpertRow | None:
    reader = RowReader(raw, problems)
    code = reader.text(CODE, 32)
    if code and not EXPERT_CODE.fullmatch(code):
        reader.fail(
            CODE,
            f"专家编号「{code}」不可用：须以字母或数字开头，只含字母、数字和 . _ -，最长 32 个字符",
        )
    elif code in seen:
        reader.fail(CODE, f"专家编号「{code}」与第 {seen[code]} 行重复")
    elif code:
        seen[code] = raw.line
    name = reader.text(NAME, 100)
    employer = reader.text(EMPLOYER, 200)
    former = _former(reader, this_year)
    region = _region(reader, known_regions)
    specialties = tuple(
        s.strip() for s in _SEPARATORS.split(reader.text(SPECIALTIES, 500)) if s.strip()
    )
    phone = _phone(reader)
    if not reader.ok:
        return None
    return ExpertRow(raw.line, code, name, employer, former, region, specialties, phone)


def parse_experts(data: bytes, *, known_regions: Collection[str], this_year: int) -> ParsedExperts:
    """Every expert of the export, or every problem in it."""
    try:
        table = read_table(data, COLUMNS)
    except TableUnreadable as exc:
        return ParsedExperts("", (), (exc.problem,))
    problems = _missing_columns(table.headers, _REQUIRED_COLUMNS)
    if problems:
        return ParsedExperts(table.format, (), tuple(problems))
    if not table.rows:
        return ParsedExperts(table.format, (), (FileProblem(1, "", "文件中没有专家记录"),))
    seen: dict[str, int] = {}
    rows = [
        _row(raw, problems, seen, known_regions=known_regions, this_year=this_year)
        for raw in table.rows
    ]
    if problems:
        return ParsedExperts(table.format, (), tuple(sorted(problems, key=lambda p: p.line)))
    return ParsedExperts(table.format, tuple(r for r in rows if r is not None), ())
