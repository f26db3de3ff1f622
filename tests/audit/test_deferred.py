"""An audited write that finds the chain taken does not wait for it (``audit.store``,
*Deferred*): its change and its events commit at once, the events into ``audit_deferred``,
and ``Database.write`` returns once they are chained, by one transaction for every writer of
the process that deferred meanwhile. The chain still verifies and keeps each writer's order.

The chain is held here by a plain PostgreSQL transaction holding the advisory lock, as a
checkpoint or another writer's commit holds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.checkpoint import CheckpointPolicy
from evaluation_hub.audit.models import AuditDeferredRow, AuditEventRow
from evaluation_hub.audit.store import (
    AUDIT_CHAIN_LOCK,
    append_event,
    load_chain,
    load_checkpoints,
    maybe_checkpoint,
)
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Venue

pytestmark = pytest.mark.parametrize("backend", ["postgres"])

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


@asynccontextmanager
async def _chain_held(db: Database) -> AsyncIterator[None]:
    """Hold the chain's lock in a transaction of its own until the block ends."""
    async with db.engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_CHAIN_LOCK})
        yield


async def _count(db: Database, what: object) -> int:
    async with db.lookup() as conn:
        return int(await conn.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]


async def _subjects(db: Database) -> list[str]:
    async with db.read() as s:
        return list(await s.scalars(select(AuditEventRow.subject).order_by(AuditEventRow.seq)))


async def _verified(db: Database, key: Ed25519PrivateKey) -> None:
    async with db.read() as s:
        report = verify(await load_chain(s), await load_checkpoints(s), key.public_key())
    assert report.ok, report


async def _orphan(db: Database, subject: str) -> None:
    """A deferred event as a process leaves it that died between its commit and chaining."""
    async with db.write() as s:
        row = {"at": T0, "actor": "a", "kind": "seat.listed", "subject": subject, "payload": {}}
        await s.execute(insert(AuditDeferredRow), [row])


async def _write(db: Database, subject: str, events: int = 1, venue: str | None = None) -> None:
    async with db.write() as s:
        if venue is not None:
            s.add(
                Venue(
                    code=venue,
                    name=f"场地{venue}",
                    region_code="530100",
                    supervising_department="昆明市公共资源交易监督管理局",
                )
            )
        for n in range(events):
            await append_event(
                s, kind="seat.listed", subject=subject, actor="a", payload={"n": n}, at=T0
            )


async def test_a_writer_that_finds_the_chain_taken_commits_at_once_and_is_chained_after(
    database: Database, hub_key: Ed25519PrivateKey
) -> None:
    async with _chain_held(database):
        writer = asyncio.create_task(_write(database, "venue:ZZ", 2, venue="ZZ"))
        # Committed without the chain: the change is visible, its events wait deferred...
        for _ in range(500):
            if await _count(database, AuditDeferredRow) == 2:
                break
            await asyncio.sleep(0.01)
        assert await _count(database, AuditDeferredRow) == 2
        async with database.read() as s:
            assert await s.scalar(select(Venue.name).where(Venue.code == "ZZ")) == "场地ZZ"
        assert await _subjects(database) == []
        # ...and the writer's ``write`` has not returned: its events are not in the chain yet.
        await asyncio.sleep(0.1)
        assert not writer.done()
    await writer
    assert await _count(database, AuditDeferredRow) == 0
    async with database.read() as s:
        payloads = [e.payload for e in await load_chain(s)]
    assert payloads == [{"n": 0}, {"n": 1}]
    await _verified(database, hub_key)


async def test_writers_that_deferred_together_are_chained_together_each_in_its_order(
    database: Database, hub_key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evaluation_hub.audit.store import chain_deferred
    from evaluation_hub.db import engine

    runs: list[int] = []

    async def counted(db: AsyncSession) -> int:
        chained = await chain_deferred(db)
        runs.append(chained)
        return chained

    monkeypatch.setattr(engine, "_deferred_chainer", [counted])
    async with _chain_held(database):
        writers = [asyncio.create_task(_write(database, f"seat:{n}", 3)) for n in range(1, 21)]
        for _ in range(500):
            if await _count(database, AuditDeferredRow) == 60:
                break
            await asyncio.sleep(0.01)
        assert await _count(database, AuditDeferredRow) == 60
    await asyncio.gather(*writers)
    # One transaction chained all twenty writers' events (the first run may have found some).
    assert sum(runs) == 60 and len([r for r in runs if r]) <= 2, runs
    async with database.read() as s:
        chain = await load_chain(s)
    for n in range(1, 21):
        assert [e.payload["n"] for e in chain if e.subject == f"seat:{n}"] == [0, 1, 2]
    await _verified(database, hub_key)


async def test_deferred_events_a_stopped_process_left_are_chained_by_the_next_chaining(
    database: Database, hub_key: Ed25519PrivateKey
) -> None:
    await _orphan(database, "seat:9")
    await _write(database, "seat:1")  # the chain is free: chained at its commit, inline
    assert await _subjects(database) == ["seat:1"]
    await database.chain_deferred()  # as the hub's start and ``audit verify`` do
    assert await _subjects(database) == ["seat:1", "seat:9"]
    await _verified(database, hub_key)


async def test_a_checkpoint_covers_what_was_deferred_before_it(
    database: Database, hub_key: Ed25519PrivateKey
) -> None:
    await _orphan(database, "seat:9")
    async with database.write() as s:
        await append_event(
            s, kind="archive.made", subject="session:1", actor="a", payload={}, at=T0
        )
        checkpoint = await maybe_checkpoint(s, hub_key, T0, CheckpointPolicy(every_events=1))
    assert checkpoint is not None and checkpoint.seq == 2
    assert await _subjects(database) == ["seat:9", "session:1"]
    await _verified(database, hub_key)
