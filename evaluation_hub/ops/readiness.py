"""Readiness (就绪检查): can this hub process serve an evaluation now?

Liveness (``/api/health``) only says the process answers. Readiness runs four checks, each
timed and each cut off after ``timeout_s`` so that the whole answer comes within a second
(they run concurrently):

* ``database``: reachable, and migrated to the head revision Alembic knows;
* ``redis``: the bus answers a PING (only when Redis is configured; the in-process bus has
  nothing to reach);
* ``media``: the built-in media forwarder runs (its stats and state loop, in this process);
* ``calendar``: the working-day calendar covers the next ``CALENDAR_HORIZON`` (60 days), so
  that no supervision deadline due in that time is uncountable.

Each failure has a fixed message (the cause goes to the log, not to an unauthenticated
caller). No principal: load balancers and orchestrators ask without signing in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from evaluation_hub import localtime
from evaluation_hub.errors import DatabaseNotMigrated
from evaluation_hub.services import Services
from evaluation_hub.supervision.workdays import covered_until

__all__ = [
    "CALENDAR_HORIZON",
    "CHECK_TIMEOUT_S",
    "Check",
    "MediaProbe",
    "Readiness",
    "calendar_days_left",
    "readiness",
]

log = structlog.get_logger(__name__)

#: Each check's own limit; they run side by side, so this bounds the answer too.
CHECK_TIMEOUT_S = 0.5
CALENDAR_HORIZON = timedelta(days=60)

#: Whether the media backend runs (``evaluation_hub.live.census.forwarder_running``).
MediaProbe = Callable[[], bool]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.checks if not check.ok)


def calendar_days_left(now: datetime) -> int:
    """Days from today (local) to the last day the calendar covers (0: today is the last)."""
    return (covered_until() - localtime.day_of(now)).days


async def _timed(
    name: str, work: Callable[[], Awaitable[str | None]], timeout_s: float, failed: str
) -> Check:
    """Run one check; ``work`` returns None when fine, or the failure message."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            problem = await work()
    except TimeoutError:
        problem = f"{failed}（{round(timeout_s * 1000)} 毫秒内无应答）"
        log.warning("ready.check_timed_out", check=name, timeout_s=timeout_s)
    except Exception as exc:
        problem = failed
        log.warning("ready.check_failed", check=name, error=f"{type(exc).__name__}: {exc}")
    ms = round((time.perf_counter() - started) * 1000, 1)
    return Check(name, problem is None, ms, problem or "正常")


async def readiness(
    hub: Services,
    media: MediaProbe | None,
    *,
    now: datetime,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> Readiness:
    async def database() -> str | None:
        try:
            await hub.db.check_migrated()
        except DatabaseNotMigrated as exc:
            current = exc.current or "空库"
            return f"数据库结构版本为 {current}，本程序需要 {exc.expected}，请先执行 db upgrade"
        return None

    async def redis() -> str | None:
        await hub.bus.ping()
        return None

    async def media_backend() -> str | None:
        return None if media is not None and media() else "媒体转发未运行"

    async def calendar() -> str | None:
        left = calendar_days_left(now)
        if left < CALENDAR_HORIZON.days:
            return (
                f"节假日日历只覆盖到 {covered_until().isoformat()}，不足 "
                f"{CALENDAR_HORIZON.days} 天，请更新 chinesecalendar 或补充节假日安排"
            )
        return None

    runs = [_timed("database", database, timeout_s, "数据库不可达")]
    if hub.config.redis_url:
        runs.append(_timed("redis", redis, timeout_s, "Redis 不可达"))
    runs.append(_timed("media", media_backend, timeout_s, "媒体转发状态不可读"))
    runs.append(_timed("calendar", calendar, timeout_s, "节假日日历不可读"))
    return Readiness(tuple(await asyncio.gather(*runs)))
