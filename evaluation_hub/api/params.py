"""Reading a request's path and query parameters, with the hub's 404 and 422 wording; every
handler parses its parameters here.

Ids are ASCII digits within the database's id range (``schema.MAX_ID``, well within 63 bits): a
path id outside it is an address that does not exist (404), a query parameter a 422. Times are
between the years :data:`FIRST_YEAR` and :data:`LAST_YEAR`, so local-day arithmetic (a day
later, a window's end) never leaves the calendar Python can count.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from aiohttp import web

from evaluation_hub.api.schema import FIRST_YEAR, LAST_YEAR, MAX_ID, in_supported_years
from evaluation_hub.booking import rules
from evaluation_hub.errors import InvalidInput, NotFound

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "date_param",
    "datetime_param",
    "in_supported_years",
    "int_param",
    "path_id",
    "query_window",
]

_AWARE = "必须是带时区的 ISO 8601 时间，例如 2026-12-01T09:00:00+08:00"
_YEARS = f"必须在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间"
_DIGITS = re.compile(r"-?[0-9]{1,19}")


def _as_id(raw: str) -> int | None:
    """``raw`` as an id-sized integer written in ASCII digits, or None."""
    if not _DIGITS.fullmatch(raw):
        return None
    number = int(raw)
    return number if -MAX_ID - 1 <= number <= MAX_ID else None


def path_id(request: web.Request, name: str) -> int:
    """A numeric id in the path; anything else is an address that does not exist."""
    number = _as_id(request.match_info[name])
    if number is None:
        raise NotFound("not-found", "请求的地址不存在")
    return number


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    number = _as_id(raw)
    if number is None:
        raise InvalidInput("bad-query", f"查询参数 {name} 必须是不超过 {MAX_ID} 的整数")
    return number


def datetime_param(request: web.Request, name: str) -> datetime | None:
    """An aware ISO 8601 time, or None when the parameter is absent or empty."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput("bad-query", f"查询参数 {name} {_AWARE}") from exc
    if value.tzinfo is None:
        raise InvalidInput("bad-query", f"查询参数 {name} {_AWARE}")
    if not in_supported_years(value):
        raise InvalidInput("bad-query", f"查询参数 {name} {_YEARS}")
    return value


def date_param(request: web.Request, name: str) -> date:
    """A calendar day (``YYYY-MM-DD``), required."""
    try:
        value = date.fromisoformat(request.query.get(name, ""))
    except ValueError as exc:
        raise InvalidInput("bad-query", f"查询参数 {name} 必须是日期，例如 2026-12-01") from exc
    if not in_supported_years(value):
        raise InvalidInput("bad-query", f"查询参数 {name} {_YEARS}")
    return value


def query_window(request: web.Request) -> rules.Window | None:
    """The window of ``free_from`` and ``free_to``, both or neither."""
    start, end = datetime_param(request, "free_from"), datetime_param(request, "free_to")
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InvalidInput("bad-query", "查询空闲工位时必须同时给出 free_from 和 free_to")
    if end <= start:
        raise InvalidInput("bad-query", "free_to 必须晚于 free_from")
    return rules.Window(start, end)
