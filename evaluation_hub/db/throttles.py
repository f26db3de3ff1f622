"""Attempt counters in the database (``Throttle`` rows), shared by every hub process: the store
behind ``evaluation_hub.throttling``'s pure rule.

Counting runs inside the caller's unit of work: on PostgreSQL the row is created if missing
(``ON CONFLICT DO NOTHING``) and then locked (``FOR UPDATE``), so concurrent attempts from
several processes all count; on SQLite the unit of work already holds the write lock. Rows
whose window and lock are both over are deleted whenever a new row is made, so a flood of
made-up usernames or addresses leaves at most one window's worth of rows behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.db.models import Throttle
from evaluation_hub.throttling import Counter, Limit, count

__all__ = ["clear", "counters", "record_attempt"]

#: the longest key kept (usernames and addresses are far shorter; a longer one is cut)
MAX_KEY = 200


def _postgres(s: AsyncSession) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def _counter(row: Throttle) -> Counter:
    return Counter(row.attempts, row.window_started_at, row.locked_until)


async def counters(
    s: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Counter]:
    """The counters of those ``keys`` (scope, key) that have one (one query)."""
    wanted = {(scope, key[:MAX_KEY]): (scope, key) for scope, key in keys}
    rows = await s.execute(
        select(Throttle).where(
            or_(*(and_(Throttle.scope == scope, Throttle.key == key) for scope, key in wanted))
        )
    )
    return {wanted[(row.scope, row.key)]: _counter(row) for row in rows.scalars()}


async def _row_for_update(s: AsyncSession, scope: str, key: str) -> Throttle | None:
    query = select(Throttle).where(Throttle.scope == scope, Throttle.key == key)
    if _postgres(s):
        query = query.with_for_update()
    row: Throttle | None = (await s.execute(query)).scalar_one_or_none()
    return row


async def record_attempt(
    s: AsyncSession, scope: str, key: str, limit: Limit, now: datetime
) -> tuple[Counter, bool]:
    """Count one attempt against (``scope``, ``key``); the counter after it, and whether this
    attempt locked it."""
    key = key[:MAX_KEY]
    row = await _row_for_update(s, scope, key)
    if row is None:
        # A new key: first forget the keys nothing depends on any more.
        await s.execute(delete(Throttle).where(Throttle.expires_at < now))
        if _postgres(s):
            await s.execute(
                pg_insert(Throttle)
                .values(scope=scope, key=key, attempts=0, window_started_at=now, expires_at=now)
                .on_conflict_do_nothing(index_elements=["scope", "key"])
            )
            row = await _row_for_update(s, scope, key)
    after, locked = count(None if row is None else _counter(row), limit, now)
    if row is None:
        row = Throttle(scope=scope, key=key)
        s.add(row)
    row.attempts = after.attempts
    row.window_started_at = after.window_started_at
    row.locked_until = after.locked_until
    row.expires_at = after.expires_at(limit)
    await s.flush()
    return after, locked


async def clear(s: AsyncSession, scope: str, key: str) -> None:
    """Forget (``scope``, ``key``)'s attempts (a successful sign-in clears its own pair)."""
    await s.execute(delete(Throttle).where(Throttle.scope == scope, Throttle.key == key[:MAX_KEY]))
