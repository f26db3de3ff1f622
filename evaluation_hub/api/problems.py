"""RFC 9457 problem responses, produced in one place for every error that reaches HTTP.

Known errors (``ProblemError``) carry their status and a message a person can act on; anything
else is logged in full and answered with a bare 500 that reveals no internals, except a database
that cannot be reached for now (``evaluation_hub.db.unavailable``): a 503 with ``Retry-After``,
logged as a warning without the traceback (nothing is wrong with the request or the code). aiohttp's own
refusals keep their headers (a 405 says what is ``Allow``-ed). A path or query holding a NUL
character (which no database column can store) is refused here, before any handler reads it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from evaluation_hub.api.keys import CONFIG, METRICS
from evaluation_hub.db.unavailable import RETRY_AFTER_S, is_unavailable
from evaluation_hub.errors import InvalidInput, NotFound, ProblemError

__all__ = ["PROBLEM_BASE", "problem_middleware", "problem_response"]

PROBLEM_BASE = "https://evaluation-hub.invalid/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

log = structlog.get_logger(__name__)

# Where a problem response keeps its code for the refusal count.
_REASON = web.ResponseKey("problem_code", str)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_HTTP_CODES = {
    400: ("bad-request", "请求格式错误", "请求格式错误"),
    404: ("not-found", "对象不存在", "请求的地址不存在"),
    405: ("method-not-allowed", "不支持的请求方法", "该地址不支持此请求方法"),
    413: ("too-large", "请求体过大", "请求体过大"),
}


def problem_response(
    status: int, code: str, title: str, detail: str, instance: str, **extra: Any
) -> web.Response:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    response = web.json_response(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    response[_REASON] = code  # for the refusal count (``_count_refusal``)
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Headers of aiohttp's own refusals that the problem response keeps.
_KEPT_HEADERS = ("Allow",)


def _refuse_nul(request: web.Request) -> None:
    if "\x00" in request.path:
        raise NotFound("not-found", "请求的地址不存在")
    for name, value in request.query.items():
        if "\x00" in name or "\x00" in value:
            raise InvalidInput("bad-query", "查询参数不能包含 NUL 字符")


def _unexpected(request: web.Request, exc: Exception, request_id: str) -> web.Response:
    """A 503 if the database cannot be reached for now, else a 500 revealing nothing."""
    if is_unavailable(exc):
        log.warning(
            "request.database_unavailable",
            path=request.path,
            method=request.method,
            error=f"{type(exc).__name__}: {exc}",
        )
        response = problem_response(
            503,
            "database-unavailable",
            "数据库暂时不可用",
            f"数据库暂时无法访问，请在 {RETRY_AFTER_S} 秒后重试（请求编号 {request_id}）",
            request.path,
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    log.exception("request.failed", path=request.path, method=request.method)
    return problem_response(
        500,
        "internal",
        "服务器内部错误",
        f"服务器内部错误，请联系系统管理员并提供请求编号 {request_id}",
        request.path,
    )


def _count_refusal(request: web.Request, response: web.StreamResponse) -> None:
    """Every problem answer passes here: counted by status and reason (the problem type)."""
    metrics = request.app.get(METRICS)
    if metrics is None or not isinstance(response, web.Response):
        return
    reason = response.get(_REASON, "unknown")
    metrics.count_refusal(response.status, reason)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # A client's request id is echoed only when it is a short plain token (it goes into logs).
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        _refuse_nul(request)
        response = await handler(request)
    except ProblemError as exc:
        log.info("request.refused", status=exc.status, code=exc.code, path=request.path)
        response = problem_response(
            exc.status, exc.code, exc.title, exc.detail, request.path, **exc.extra
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, title, detail = _HTTP_CODES.get(
            exc.status, ("http-error", exc.reason, exc.text or exc.reason)
        )
        if exc.status == 413:
            detail = f"请求体超过 {request.app[CONFIG].max_body_bytes} 字节上限"
        response = problem_response(exc.status, code, title, detail, request.path)
        for name in _KEPT_HEADERS:
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
    except Exception as exc:
        response = _unexpected(request, exc, request_id)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    if response.status >= 400 and response.content_type == PROBLEM_CONTENT_TYPE:
        _count_refusal(request, response)
    response.headers["X-Request-Id"] = request_id
    return response
