"""A unit of work cancelled as it ends (Ctrl-C, the hub shutting down) still ends cleanly: its
transaction is finished and its connection returned to the pool before the cancellation goes
on, so the pool logs no error and nothing stays checked out; ``dispose`` cancelled half-way
still closes every pooled connection, without an error in the log.

The cancellation is delivered at a chosen moment: from the pool's ``reset`` event, which fires
just before the connection going back to the pool is rolled back (the await a shutdown used to
interrupt, logging "Exception during reset or similar" with a traceback)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import event, func, select

from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Venue


def _cancel_on_reset(db: Database, task: asyncio.Task[None]) -> None:
    def cancel(*_args: object) -> None:
        task.cancel()

    event.listen(db.engine.sync_engine.pool, "reset", cancel, once=True)


def _pool_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("sqlalchemy") and r.levelno >= logging.ERROR
    ]


async def test_a_read_cancelled_as_it_returns_its_connection_ends_cleanly(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sqlalchemy")
    started = asyncio.Event()

    async def read() -> None:
        await started.wait()
        async with database.read() as s:
            await s.execute(select(func.count(Venue.id)))

    task = asyncio.create_task(read())
    _cancel_on_reset(database, task)
    started.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _pool_errors(caplog) == []
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with database.read() as s:  # the pool still serves
        assert (await s.execute(select(func.count(Venue.id)))).scalar_one() == 0


async def test_a_write_cancelled_as_it_returns_its_connection_stays_committed(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sqlalchemy")
    started = asyncio.Event()

    async def write() -> None:
        await started.wait()
        async with database.write() as s:
            s.add(
                Venue(
                    code="KM",
                    name="昆明",
                    region_code="530100",
                    supervising_department="云南省发展和改革委员会",
                    contact_name="李明",
                    contact_phone="0871-0000001",
                )
            )

    task = asyncio.create_task(write())
    _cancel_on_reset(database, task)
    started.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _pool_errors(caplog) == []
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    # The commit came before the cancellation: it stands, and the next writer gets in.
    async with database.write() as s:
        assert (await s.execute(select(Venue.code))).scalars().all() == ["KM"]


async def test_dispose_cancelled_half_way_still_closes_the_pool(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sqlalchemy")
    async with database.read() as s:
        await s.execute(select(func.count(Venue.id)))
    pool = database.engine.pool
    assert pool.checkedin() == 1  # type: ignore[attr-defined]
    closed: list[object] = []
    closing = asyncio.create_task(database.dispose())

    def cancel(dbapi_connection: object, _record: object) -> None:
        # Fired as the pool starts closing the connection: cancel the one disposing.
        closing.cancel()

    event.listen(pool, "close", cancel, once=True)
    event.listen(pool, "close", lambda c, _r: closed.append(c))
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert _pool_errors(caplog) == []  # was "Exception closing connection", with a traceback
    assert pool.checkedin() == 0  # type: ignore[attr-defined]
    assert len(closed) == 1
