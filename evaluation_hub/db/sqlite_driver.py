"""The aiosqlite connections the SQLite engine uses: an operation handed to SQLite is never
abandoned half-way by a cancelled task.

aiosqlite runs each connection's statements in a thread of its own. A task cancelled while it
waits for one (the hub stopping cancels its pending audit writes; an operator's Ctrl-C) cannot
stop the statement: it goes on in the thread. SQLAlchemy, which sees the ``CancelledError``
come out of the driver, takes the connection for broken and closes it. SQLite cannot close a
connection whose statements are still referenced (here by the abandoned cursor): the closed
connection lives on as a "zombie" that still holds the open transaction and, after a
``BEGIN IMMEDIATE``, the database's write lock, until the last statement is finalised. Every
other writer then waits its whole busy timeout and fails with "database is locked": the demo
once missed its exit that way (its closing lease release and checkpoint each waited 30 s).

So :class:`SteadyConnection` lets each operation finish in its thread and hands the
cancellation back to the task at its next await that is not a statement: the unit of work then
ends on a connection SQLAlchemy still trusts (rolled back, or committed if the body had nothing
left to do), and the connection goes back to the pool whole.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from threading import Thread
from typing import Any

import aiosqlite

__all__ = ["SteadyConnection", "connector_for"]

#: how long a statement waits for another connection's write lock (``sqlite3.connect``'s timeout)
BUSY_TIMEOUT_S = 30.0


class SteadyConnection(aiosqlite.Connection):
    """An aiosqlite connection whose operations finish even if the awaiting task is cancelled;
    the cancellation is delivered once the operation has returned."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # aiosqlite 0.22's own queueing (hence its pin), awaited through a shield.
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._tx.put_nowait((done, functools.partial(fn, *args, **kwargs)))
        task = asyncio.current_task()
        deferred = False
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                if task is None or task.cancelling() == 0:
                    raise  # not this task's cancellation
                # The statement runs on in SQLite's thread whatever we do: wait for it.
                task.uncancel()
                deferred = True
        if deferred and task is not None:
            # Re-armed: raised at the task's next await (a statement's waits for its result
            # first, again), so the caller still stops, between two statements.
            task.cancel()
        return done.result()


def connector_for(path: Path) -> Callable[[], Any]:
    """SQLAlchemy's ``async_creator`` for the database file at ``path``: a
    :class:`SteadyConnection`, its worker thread a daemon (as SQLAlchemy makes aiosqlite's)."""

    async def connect() -> SteadyConnection:
        def open_file() -> sqlite3.Connection:
            return sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)

        connection = SteadyConnection(open_file, 64)
        thread = connection if isinstance(connection, Thread) else connection._thread
        thread.daemon = True
        await connection
        return connection

    return connect
