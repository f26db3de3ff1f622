"""The hub's exception tree. Every error the hub raises on purpose derives from :class:`HubError`.

    HubError
    ├── ConfigError            bad or missing configuration, raised at start-up
    ├── DatabaseNotMigrated    the database schema is behind; says which command migrates it
    ├── ProblemError           an error with an HTTP status, rendered as RFC 9457 problem+json
    │   ├── InvalidInput       400/422: the request is malformed or breaks a rule
    │   │   └── AllocationError   no feasible seat allocation; names what is missing
    │   ├── Unauthenticated    401: missing, forged or expired credentials
    │   ├── Forbidden          403: the caller's role or venue does not allow it
    │   ├── NotFound           404
    │   ├── Conflict           409: the state of the world forbids it (double booking, wrong state)
    │   └── TooLarge           413: the request body is over the limit
    ├── BusError               the event bus or presence store failed
    ├── CalendarError          a working-day count outside the calendar's covered years
    └── AuditError             an audit chain does not verify

Messages are written for the person who has to act on them. HTTP-facing messages are
Simplified Chinese because the people reading them are; everything else is English.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AllocationError",
    "AuditError",
    "BusError",
    "CalendarError",
    "ConfigError",
    "Conflict",
    "DatabaseNotMigrated",
    "Forbidden",
    "HubError",
    "InvalidInput",
    "NotFound",
    "ProblemError",
    "TooLarge",
    "Unauthenticated",
]


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class ConfigError(HubError):
    """The configuration is missing or invalid."""


class DatabaseNotMigrated(HubError):
    """The database is not at the schema revision this code needs."""

    def __init__(self, url: str, current: str | None, expected: str) -> None:
        self.url = url
        self.current = current
        self.expected = expected
        super().__init__(
            f"database {url} is at revision {current or 'none (empty)'}, this hub needs {expected}; "
            f"run `evaluation-hub db upgrade` with the same --database-url to migrate it"
        )


class ProblemError(HubError):
    """An error that becomes an RFC 9457 problem response.

    ``code`` is a stable machine-readable slug (it ends the problem ``type`` URI);
    ``detail`` is the human message; ``extra`` adds members to the problem object.
    """

    status = 500
    title = "服务器内部错误"

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        self.code = code
        self.detail = detail
        self.extra = extra
        super().__init__(detail)


class InvalidInput(ProblemError):
    status = 422
    title = "请求内容不符合要求"


class Unauthenticated(ProblemError):
    status = 401
    title = "未登录或凭证无效"


class Forbidden(ProblemError):
    status = 403
    title = "无权执行此操作"


class NotFound(ProblemError):
    status = 404
    title = "对象不存在"


class Conflict(ProblemError):
    status = 409
    title = "与当前状态冲突"


class TooLarge(ProblemError):
    status = 413
    title = "请求体过大"


class AllocationError(InvalidInput):
    """No feasible seat allocation exists; ``reasons`` lists what is missing (the problem
    response carries them as ``reasons``). Raised by the pure allocator, answered as it is."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        self.reasons = reasons or []
        super().__init__("allocation-infeasible", message, reasons=self.reasons)


class BusError(HubError):
    """The bus or presence store failed (for example Redis is unreachable)."""


class CalendarError(HubError):
    """A working-day computation reached a year the holiday calendar does not cover."""


class AuditError(HubError):
    """An audit chain failed verification."""
