"""A task cancelled while its statement runs in SQLite's thread leaves the database writable
(``db.sqlite_driver``). Before, SQLAlchemy closed the connection under the still-running
``BEGIN IMMEDIATE``; SQLite kept the closed connection as a zombie holding the write lock, and
every later writer failed with "database is locked" (the demo missed its exit that way)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from evaluation_hub.db.engine import Database

# An INSERT that keeps SQLite's thread busy for a few tenths of a second.
SLOW_INSERT = (
    "INSERT INTO t (v) SELECT 'cancelled' FROM (WITH RECURSIVE c(x) AS "
    "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT max(x) FROM c)"
)


def _table(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")


def _writable(path: Path) -> bool:
    """Whether another connection gets the write lock within half a second."""
    raw = sqlite3.connect(path, timeout=0.5, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert str(exc) == "database is locked"
        return False
    finally:
        raw.close()


@pytest.mark.parametrize("cancels", [1, 2])
async def test_a_write_cancelled_mid_statement_leaves_the_lock_free(
    tmp_path: Path, cancels: int
) -> None:
    path = tmp_path / "hub.db"
    _table(path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    started = asyncio.Event()

    async def write() -> None:
        async with db.write() as s:
            await s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is this task's
            started.set()
            await s.execute(text(SLOW_INSERT))

    task = asyncio.create_task(write())
    await started.wait()
    await asyncio.sleep(0.1)  # the INSERT now runs in SQLite's thread
    for _ in range(cancels):
        task.cancel()
        await asyncio.sleep(0.02)
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await asyncio.to_thread(_writable, path)
    async with asyncio.timeout(10), db.write() as s:  # and the hub's own next unit of work
        # Before: 'database is locked' after the busy timeout (30 s), with two cancellations.
        await s.execute(text("INSERT INTO t (v) VALUES ('after')"))
    async with db.read() as s:
        rows = (await s.execute(text("SELECT v FROM t"))).scalars().all()
    # Its statement had reached SQLite: the unit of work ended whole (committed, as if the
    # cancellation had come a moment later), and the task stopped after it.
    assert rows == ["cancelled", "after"]
    await db.dispose()
