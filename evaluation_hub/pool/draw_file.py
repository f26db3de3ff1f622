"""The pool's draw record for one session (抽取记录): the drawn experts' codes and where each
sits (``host`` or ``away``, default ``away``), judged like the pool's export (every bad row by
line and column). Columns: 专家编号, 场地 (optional). Pure."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from evaluation_hub.pool.expert_file import EXPERT_CODE, RowReader
from evaluation_hub.pool.table_file import FileProblem, TableUnreadable, read_table

__all__ = ["DrawRow", "ParsedDraw", "parse_draw"]

CODE, PLACE = "专家编号", "场地"
_PLACES = {"host": "host", "away": "away", "主场": "host", "客场": "away", "": "away"}


@dataclass(frozen=True)
class DrawRow:
    line: int
    code: str
    placement: str


@dataclass(frozen=True)
class ParsedDraw:
    rows: tuple[DrawRow, ...]
    problems: tuple[FileProblem, ...]


def parse_draw(data: bytes, *, pool_codes: Collection[str]) -> ParsedDraw:
    """The drawn experts in file order, or every problem (a code not in the pool is one)."""
    try:
        table = read_table(data, (CODE, PLACE))
    except TableUnreadable as exc:
        return ParsedDraw((), (exc.problem,))
    if CODE not in table.headers:
        return ParsedDraw((), (FileProblem(1, CODE, f"缺少「{CODE}」列"),))
    if not table.rows:
        return ParsedDraw((), (FileProblem(1, "", "文件中没有抽取的专家"),))
    problems: list[FileProblem] = []
    rows: list[DrawRow] = []
    seen: dict[str, int] = {}
    for raw in table.rows:
        reader = RowReader(raw, problems)
        code = reader.text(CODE, 32)
        place = reader.text(PLACE, 10, required=False)
        if code and not EXPERT_CODE.fullmatch(code):
            reader.fail(
                CODE,
                f"专家编号「{code}」不可用：须以字母或数字开头，只含字母、数字和 . _ -，最长 32 个字符",
            )
        elif code in seen:
            reader.fail(CODE, f"专家编号「{code}」与第 {seen[code]} 行重复")
        elif code and code not in pool_codes:
            reader.fail(CODE, f"专家编号「{code}」不在专家库中")
        elif code:
            seen[code] = raw.line
        if place not in _PLACES:
            reader.fail(PLACE, f"场地「{place}」无效：只能是 host（主场）或 away（客场）")
        if reader.ok:
            rows.append(DrawRow(raw.line, code, _PLACES[place]))
    if problems:
        return ParsedDraw((), tuple(sorted(problems, key=lambda p: p.line)))
    return ParsedDraw(tuple(rows), ())
