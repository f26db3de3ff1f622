"""The audit chain's lock is held for the append and the commit only (``audit.store``).

Every audited write of every hub process serialises on the chain. ``bench/day.py`` found a hub
transaction that had inserted its audit event and then sat "idle in transaction" for minutes
with the chain's advisory lock, ten audited writers queued behind it holding pool connections,
the pool (10 + 10) gone, and the seat links after it. Whatever a unit of work waits on after
``append_event`` (here a real network call: a Redis ``BLPOP`` that returns only when the test
pushes, standing in for a slow bus publish, websocket send or Janus request), no other audited
writer may wait on it.
"""

from __future__ import annotations

import asyncio
from asyncio import Task
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis
from sqlalchemy import select, text

from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import (
    AUDIT_CHAIN_LOCK,
    append_event,
    load_chain,
    load_checkpoints,
    pending_events,
)
from evaluation_hub.db.engine import Database

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _chain_lock_holders(db: Database) -> int:
    """Transactions of this database holding the chain's advisory lock (PostgreSQL)."""
    async with db.lookup() as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = :high AND objid = :low"
            ),
            {"high": AUDIT_CHAIN_LOCK >> 32, "low": AUDIT_CHAIN_LOCK & 0xFFFF_FFFF},
        )
    return int(found or 0)


async def _subjects(db: Database) -> list[str]:
    async with db.read() as s:
        return list(await s.scalars(select(AuditEventRow.subject).order_by(AuditEventRow.seq)))


async def _waiting_writer(database: Database, redis: Redis, key: str, subject: str) -> Task[None]:
    """A unit of work that appends an event on ``subject``, then waits inside the unit on a
    real network call (Redis ``BLPOP`` until ``key`` is pushed); returned once it waits."""
    appended = asyncio.Event()

    async def write() -> None:
        async with database.write() as s:
            await append_event(s, kind="score.saved", subject=subject, actor="a", payload={}, at=T0)
            assert pending_events(s) == 1  # queued, not yet written
            appended.set()
            await redis.blpop([key], timeout=0)

    task = asyncio.create_task(write())
    await appended.wait()
    await asyncio.sleep(0)  # now inside its BLPOP
    return task


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_unit_of_work_waiting_on_the_network_after_its_append_holds_up_no_other_writer(
    database: Database, redis: Redis, hub_key: Ed25519PrivateKey
) -> None:
    """A appends, then waits on Redis inside its unit of work; B, another audited writer,
    commits meanwhile; A's event is chained when A commits, after B's, and the chain verifies.
    (Before the change A held the lock from its append: B waited for as long as A's call.)"""
    key = f"slow-call-{id(database)}"
    a = await _waiting_writer(database, redis, key, "sheet:1")
    assert await _chain_lock_holders(database) == 0
    async with database.write() as s:  # B: would wait on A's lock for as long as A waits
        await append_event(s, kind="score.saved", subject="sheet:2", actor="b", payload={}, at=T0)
    assert await _subjects(database) == ["sheet:2"]
    assert not a.done()
    await redis.lpush(key, "go")
    await a
    assert await _subjects(database) == ["sheet:2", "sheet:1"]
    assert await _chain_lock_holders(database) == 0
    async with database.read() as s:
        report = verify(
            await load_chain(s),
            await load_checkpoints(s),
            hub_key.public_key(),
        )
    assert report.ok, report


async def test_a_unit_of_work_cancelled_after_its_append_writes_nothing_and_blocks_nobody(
    database: Database, redis: Redis
) -> None:
    """Cancelled while it waits (its seat link closed, the hub shutting down): its event is
    never written, and the next writer commits at once."""
    key = f"never-{id(database)}"
    task = await _waiting_writer(database, redis, key, "sheet:1")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with database.write() as s:
        await append_event(
            s, kind="score.saved", subject="sheet:2", actor="seat", payload={}, at=T0
        )
    assert await _subjects(database) == ["sheet:2"]


async def test_a_rolled_back_transaction_leaves_no_event_queued_for_the_next_one(
    database: Database,
) -> None:
    """The queue lives in the session: a session that rolls back and begins again must not
    write the rolled-back unit's events with its next commit."""
    async with database.sessions() as s:
        async with s.begin():
            await append_event(
                s, kind="seat.listed", subject="seat:1", actor="admin", payload={}, at=T0
            )
            assert pending_events(s) == 1
            await s.rollback()
        async with s.begin():
            assert pending_events(s) == 0
            await append_event(
                s,
                kind="seat.listed",
                subject="seat:2",
                actor="admin",
                payload={},
                at=T0 + timedelta(seconds=1),
            )
    assert await _subjects(database) == ["seat:2"]
