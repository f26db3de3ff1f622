"""Whether an error means "the database cannot be reached right now" (数据库暂时不可用).

Such a failure is no fault of the request and no bug: the same request succeeds once the
database is back (a PostgreSQL restart, a failover, a full connection pool). The problem
middleware answers it with 503 and ``Retry-After`` instead of a 500, and the seat link treats it
as a transient refusal the seat retries.

What counts, as the drivers raise it:

* a connection refused or reset while connecting or talking (``OSError``: asyncpg lets
  ``ConnectionRefusedError`` out of ``connect`` unwrapped) — only when raised from inside the
  database drivers or SQLAlchemy, so a refused connection elsewhere is not mistaken for one;
* SQLAlchemy's ``DBAPIError`` whose connection was invalidated (its dialect saw a disconnect),
  and its pool's ``TimeoutError`` (no connection free in time);
* asyncpg's connection errors (SQLSTATE class 08), the server shutting down or starting up
  (57P01, 57P02, 57P03), too many connections (53300), and a closed connection.

Anything else (a constraint, a bad query, a missing table) is not "unavailable": retrying would
fail the same way, so it stays a 500 with the full traceback in the log.
"""

from __future__ import annotations

from types import TracebackType

import sqlalchemy.exc

__all__ = ["RETRY_AFTER_S", "is_unavailable"]

#: What ``Retry-After`` tells a client (seconds): a PostgreSQL restart takes a few.
RETRY_AFTER_S = 5

_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_DRIVERS = ("asyncpg", "aiosqlite", "sqlite3", "sqlalchemy")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, the driver error SQLAlchemy wraps, and their causes (each once)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        orig = getattr(item, "orig", None)
        # Causes only, not ``__context__``: an error raised while handling a disconnect is
        # its own failure, not the disconnect.
        todo.extend([orig if isinstance(orig, BaseException) else None, item.__cause__])
    return seen


def _from_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DRIVERS:
            return True
        tb = tb.tb_next
    return False


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")


def _one(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # the pool had no connection in time
        return True
    state = _sqlstate(exc)
    if state.startswith("08") or state in _SQLSTATES:
        return True
    kind = type(exc)
    if kind.__module__.startswith("asyncpg") and kind.__name__ in {
        "InterfaceError",
        "ConnectionDoesNotExistError",
    }:
        return "closed" in str(exc) or kind.__name__ == "ConnectionDoesNotExistError"
    return isinstance(exc, OSError | ConnectionError) and _from_driver(exc.__traceback__)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the database cannot be reached for now."""
    return any(_one(item) for item in _chain(exc))
