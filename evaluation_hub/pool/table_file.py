"""Reading a table the pool exports (CSV or XLSX) into header-keyed rows with their line
numbers, before any field is judged (``pool.expert_file``, ``pool.blacklist_file``).

CSV: UTF-8 with or without a byte-order mark; a file that is not valid UTF-8 is read as
GB18030 (what Excel on a Chinese Windows saves as "CSV") only if its header row then names the
expected columns, so a file in some third encoding is refused rather than read as mojibake.
XLSX: the first worksheet, through openpyxl in read-only mode; numbers are read as the digits
a person typed (``13800000000``, ``2024``), not as floats.

The first row is the header. Lines count as a spreadsheet shows them: the header is line 1.
Blank rows are skipped. Works on bytes in memory: no file system access.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

__all__ = ["FileProblem", "RawRow", "RawTable", "TableUnreadable", "read_table"]

_ZIP_MAGIC = b"PK\x03\x04"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, order=True)
class FileProblem:
    """One problem with the file: at ``line`` (1 is the header), in ``column`` (the header's
    name; '' for the whole row or file), with the message the person fixing it reads."""

    line: int
    column: str
    message: str

    def describe(self) -> str:
        where = f"第 {self.line} 行" + (f"「{self.column}」列" if self.column else "")
        return f"{where}：{self.message}"


@dataclass(frozen=True)
class RawRow:
    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class RawTable:
    #: "CSV (UTF-8)", "CSV (GB18030)" or "XLSX"
    format: str
    headers: tuple[str, ...]
    rows: tuple[RawRow, ...]


class TableUnreadable(Exception):
    """The file cannot be read as a table at all; ``problem`` says why."""

    def __init__(self, problem: FileProblem) -> None:
        self.problem = problem
        super().__init__(problem.describe())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _table(fmt: str, grid: list[list[str]]) -> RawTable:
    if not grid or not any(c.strip() for c in grid[0]):
        raise TableUnreadable(FileProblem(1, "", "文件为空或缺少表头行"))
    headers = tuple(c.strip() for c in grid[0])
    rows = []
    for number, values in enumerate(grid[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        cells = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(headers)}
        if len(values) > len(headers) and any(v.strip() for v in values[len(headers) :]):
            cells[""] = "extra"
        rows.append(RawRow(number, cells))
    return RawTable(fmt, headers, tuple(rows))


def _csv_grid(text: str) -> list[list[str]]:
    try:
        return [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise TableUnreadable(FileProblem(1, "", f"CSV 格式错误：{exc}")) from None


def _read_xlsx(data: bytes) -> RawTable:
    from openpyxl import load_workbook  # imported only for XLSX: it is slow to import

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableUnreadable(
            FileProblem(1, "", f"无法读取 XLSX 文件（{type(exc).__name__}），请从专家库重新导出")
        ) from None
    try:
        sheet = book.worksheets[0]
        grid = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    return _table("XLSX", grid)


def read_table(data: bytes, expected: Collection[str]) -> RawTable:
    """The table in ``data`` (CSV or XLSX, told apart by content); ``expected``: the header
    names a GB18030 reading must show to be believed."""
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(data)
    if data.startswith(_BOM):
        try:
            return _table("CSV (UTF-8)", _csv_grid(data[len(_BOM) :].decode("utf-8")))
        except UnicodeDecodeError:
            pass
    else:
        try:
            return _table("CSV (UTF-8)", _csv_grid(data.decode("utf-8")))
        except UnicodeDecodeError:
            pass
    try:
        table = _table("CSV (GB18030)", _csv_grid(data.decode("gb18030")))
    except UnicodeDecodeError:
        table = None
    if table is not None and set(expected) & set(table.headers):
        return table
    raise TableUnreadable(
        FileProblem(1, "", "无法识别文件编码：请保存为 UTF-8 编码的 CSV（或 GB18030 编码、XLSX）")
    )
