"""The credit blacklist's export (信用黑名单), judged row by row like the pool's
(``pool.expert_file``): every entry, or every bad row by line and column.

Columns (docs/expert-pool.md): 专家编号 (or, without one, 姓名 and 工作单位), 事由 (the
reason), 截止日期 (YYYY-MM-DD, the last day the entry is in force). Pure.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from evaluation_hub.pool.expert_file import EXPERT_CODE, RowReader
from evaluation_hub.pool.names import fold_name, fold_person
from evaluation_hub.pool.table_file import FileProblem, RawRow, TableUnreadable, read_table

__all__ = ["BLACKLIST_COLUMNS", "BlacklistRow", "ParsedBlacklist", "parse_blacklist"]

CODE, NAME, EMPLOYER, REASON, UNTIL = "专家编号", "姓名", "工作单位", "事由", "截止日期"
BLACKLIST_COLUMNS = (CODE, NAME, EMPLOYER, REASON, UNTIL)
_REQUIRED_COLUMNS = (CODE, NAME, EMPLOYER, REASON, UNTIL)


@dataclass(frozen=True)
class BlacklistRow:
    line: int
    expert_code: str
    name: str
    employer: str
    reason: str
    until: date

    @property
    def key(self) -> str:
        """What an import upserts on: the code, else the folded name and employer."""
        if self.expert_code:
            return f"code:{self.expert_code}"
        return f"name:{fold_person(self.name)}|{fold_name(self.employer)}"


@dataclass(frozen=True)
class ParsedBlacklist:
    format: str
    rows: tuple[BlacklistRow, ...]
    problems: tuple[FileProblem, ...]


def _row(raw: RawRow, problems: list[FileProblem], seen: dict[str, int]) -> BlacklistRow | None:
    reader = RowReader(raw, problems)
    code = reader.text(CODE, 32, required=False)
    if code and not EXPERT_CODE.fullmatch(code):
        reader.fail(
            CODE,
            f"专家编号「{code}」不可用：须以字母或数字开头，只含字母、数字和 . _ -，最长 32 个字符",
        )
    name = reader.text(NAME, 100, required=not code)
    employer = reader.text(EMPLOYER, 200, required=not code)
    reason = reader.text(REASON, 500)
    text = reader.text(UNTIL, 10)
    until = date.min
    if text:
        try:
            until = date.fromisoformat(text)
        except ValueError:
            reader.fail(UNTIL, f"截止日期「{text}」无效：须为 YYYY-MM-DD 格式的日期，如 2027-06-30")
    if not reader.ok:
        return None
    row = BlacklistRow(raw.line, code, name, employer, reason, until)
    if row.key in seen:
        reader.fail(CODE if code else NAME, f"与第 {seen[row.key]} 行为同一名单项")
        return None
    seen[row.key] = raw.line
    return row


def _missing(headers: Collection[str]) -> list[FileProblem]:
    return [FileProblem(1, c, f"缺少「{c}」列") for c in _REQUIRED_COLUMNS if c not in headers]


def parse_blacklist(data: bytes) -> ParsedBlacklist:
    """Every entry of the blacklist file, or every problem in it."""
    try:
        table = read_table(data, BLACKLIST_COLUMNS)
    except TableUnreadable as exc:
        return ParsedBlacklist("", (), (exc.problem,))
    problems = _missing(table.headers)
    if problems:
        return ParsedBlacklist(table.format, (), tuple(problems))
    if not table.rows:
        return ParsedBlacklist(table.format, (), (FileProblem(1, "", "文件中没有黑名单记录"),))
    seen: dict[str, int] = {}
    rows = [_row(raw, problems, seen) for raw in table.rows]
    if problems:
        return ParsedBlacklist(table.format, (), tuple(sorted(problems, key=lambda p: p.line)))
    return ParsedBlacklist(table.format, tuple(r for r in rows if r is not None), ())
