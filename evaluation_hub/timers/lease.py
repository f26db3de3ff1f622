"""Leases for the periodic jobs (定时任务租约): each job runs in one hub process at a time.

Several hub processes share the database; each runs the same timers, and each timer asks for
its job's lease before every turn (:func:`hold`). The lease is a row per job naming the holding
process and when the lease ends unless renewed: the holder renews it at every turn, another
process takes it only once it has run out. So a job runs in one process at a time, and when the
holder dies (or stops: :func:`let_go` hands the lease back at once) another process takes over
within one lease term and one turn. Works the same on SQLite (one process) and PostgreSQL (the
row is locked while it is decided on; two processes inserting the first row at once: the
primary key lets one win).

Times are the hosts' wall clocks (UTC), never the hub's business clock: a lease is about
processes being alive, not about the evaluation's time. The hosts' clocks must agree to well
within a lease term (NTP does).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from evaluation_hub.db.engine import Database
from evaluation_hub.timers.models import TimerLeaseRow

__all__ = ["hold", "let_go"]


async def hold(db: Database, name: str, holder: str, *, now: datetime, term: timedelta) -> bool:
    """Take or renew the lease of job ``name`` for ``holder`` until ``now + term``; whether
    ``holder`` holds it now."""
    try:
        async with db.write() as s:
            row = await s.get(TimerLeaseRow, name, with_for_update=True)
            if row is None:
                s.add(TimerLeaseRow(name=name, holder=holder, expires_at=now + term))
                return True
            if row.holder != holder and row.expires_at > now:
                return False
            row.holder, row.expires_at = holder, now + term
            return True
    except IntegrityError:
        return False  # another process inserted the first row a moment earlier: it holds it


async def let_go(db: Database, holder: str) -> None:
    """Hand back every lease ``holder`` has (it is stopping): others take over at their next
    turn."""
    async with db.write() as s:
        await s.execute(delete(TimerLeaseRow).where(TimerLeaseRow.holder == holder))
