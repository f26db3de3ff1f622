"""Reading a request's path and query parameters, with the hub's 404 and 422 wording; every
handler parses its parameters here."""

from __future__ import annotations

from datetime import date, datetime

from aiohttp import web

from evaluation_hub.booking import rules
from evaluation_hub.errors import InvalidInput, NotFound

__all__ = ["date_param", "datetime_param", "int_param", "path_id", "query_window"]

_AWARE = "必须是带时区的 ISO 8601 时间，例如 2026-12-01T09:00:00+08:00"


def path_id(request: web.Request, name: str) -> int:
    """A numeric id in the path; anything else is an address that does not exist."""
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise NotFound("not-found", "请求的地址不存在") from exc


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput("bad-query", f"查询参数 {name} 必须是整数") from exc


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
    return value


def date_param(request: web.Request, name: str) -> date:
    """A calendar day (``YYYY-MM-DD``), required."""
    try:
        return date.fromisoformat(request.query.get(name, ""))
    except ValueError as exc:
        raise InvalidInput("bad-query", f"查询参数 {name} 必须是日期，例如 2026-12-01") from exc


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
