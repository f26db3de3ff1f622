"""Building pool export files for tests: CSV in a chosen encoding and XLSX through openpyxl."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook

HEADER = ("专家编号", "姓名", "工作单位", "原工作单位", "常住地行政区划代码", "专业", "手机号码")
GOOD = (
    (
        "E101",
        "赵建国",
        "昆明理工大学",
        "云南建工集团有限公司:2024",
        "530100",
        "土木工程;造价",
        "13800000001",
    ),
    ("E102", "钱文华", "云南省建筑设计院", "", "530300", "建筑设计", "0871-12345678"),
)


def csv_bytes(
    rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER, encoding: str = "utf-8"
) -> bytes:
    lines = [",".join(header), *(",".join(r) for r in rows)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for r in rows:
        sheet.append(list(r))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
