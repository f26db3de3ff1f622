"""Engine set-up for the two supported back ends, the schema-revision guard, and commit
listeners.

SQLite (the embedded default) gets every write transaction as ``BEGIN IMMEDIATE`` so writers are
serialised by the database file lock — that, plus the overlap trigger from the migration, is what
makes double booking impossible there. PostgreSQL relies on its exclusion constraint.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from evaluation_hub.db import migrate, pg_dialect
from evaluation_hub.db.sqlite_driver import connector_for
from evaluation_hub.errors import ConfigError, DatabaseNotMigrated
from evaluation_hub.secretfile import PRIVATE_DIR, private_file

__all__ = [
    "DEFERRED_EVENTS",
    "ChainDeferred",
    "CommitListener",
    "Database",
    "is_sqlite",
    "make_engine",
    "set_deferred_chainer",
    "sqlite_path",
    "to_completion",
]

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Called with the unit of work's ``info`` after it committed: a store notes there what others
# must hear of (``info[...]``), and listeners tell them only once it is durable.
CommitListener = Callable[[Mapping[str, Any]], Awaitable[None]]

# Key in a unit of work's ``info``: how many audit events its commit deferred because another
# writer held the audit chain (``audit.store``, *Deferred*); ``Database.write`` waits, after the
# commit, until they are chained.
DEFERRED_EVENTS = "audit_deferred_events"
# How deferred audit events are chained, in an open unit of work (returns how many): set by
# ``audit.store`` when it is imported. The audit layer, which defers them, sits above this one.
ChainDeferred = Callable[[AsyncSession], Awaitable[int]]
_deferred_chainer: list[ChainDeferred] = []


def set_deferred_chainer(chain: ChainDeferred) -> None:
    """Name the function that chains deferred audit events (``audit.store.chain_deferred``)."""
    _deferred_chainer[:] = [chain]


# A read-only unit of work on SQLite may use a deferred BEGIN so readers do not queue behind
# writers (WAL lets them read a consistent snapshot).
READ_ONLY = "evaluation_hub_read_only"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        if not url.startswith("sqlite+aiosqlite://"):
            raise ConfigError(
                f"SQLite URLs must use the aiosqlite driver: sqlite+aiosqlite:///PATH, got {url}"
            )
        # Operations a cancelled task started still finish (``sqlite_driver``): SQLite's write
        # lock is never left to a connection SQLAlchemy abandoned.
        engine = create_async_engine(url, async_creator=connector_for(sqlite_path(url)))

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take BEGIN away from the driver so we can emit BEGIN IMMEDIATE ourselves. (The busy
            # timeout is the driver's connect timeout, ``sqlite_driver.BUSY_TIMEOUT_S``.)
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql+asyncpg://"):
        return create_async_engine(
            make_url(url).set(drivername=f"postgresql+{pg_dialect.DRIVER}"),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,  # one round trip per checkout (``pg_dialect``)
        )
    raise ConfigError(
        f"unsupported database URL {url!r}: use sqlite+aiosqlite:///PATH or "
        "postgresql+asyncpg://USER@HOST:PORT/DB"
    )


class Database:
    """The engine plus session factories for writes and for reads."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self.read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)
        # One statement reads one snapshot by itself: on PostgreSQL a lookup skips the BEGIN and
        # ROLLBACK round trips a transaction would add (SQLite: a deferred BEGIN costs nothing).
        self._lookup_engine = (
            self._read_engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # SQLite admits one writer at a time and its busy handler waits by sleeping, so writers
        # of one process queue here instead (fair, no sleeping); the file lock still orders
        # writers of different processes.
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None
        self.commit_listeners: list[CommitListener] = []
        # Chaining deferred audit events: the run under way and the one asked for next.
        self._chaining: asyncio.Task[None] | None = None
        self._chain_next: asyncio.Future[None] | None = None

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that commits on success and rolls back on error."""
        async with contextlib.AsyncExitStack() as stack:
            if self._sqlite_writer is not None:
                await stack.enter_async_context(self._sqlite_writer)
            # ``sessions.begin()`` ends the transaction and returns the connection to the pool
            # to completion even if the task is cancelled meanwhile (Ctrl-C, shutdown), then
            # re-raises the cancellation; a bare ``session.begin()`` would abandon the
            # rollback half-way and the pool would log the connection's reset as an error.
            async with self.sessions.begin() as session:
                yield session
            info = dict(session.info)
        if info.get(DEFERRED_EVENTS):
            # Committed, holding nothing: its audit events join the chain before we return.
            await self.chain_deferred()
        # Committed, and the SQLite writer lock released: listeners never hold up other writers.
        if info:
            for listener in list(self.commit_listeners):
                try:
                    await listener(info)
                except Exception:
                    # The write is done; a listener's failure must not make it look failed.
                    log.exception("db.commit_listener_failed", listener=repr(listener))

    async def chain_deferred(self) -> None:
        """Return once every audit event deferred before this call is chained (``audit.store``,
        *Deferred*). One run at a time in this process, and every caller that arrives while a
        run is under way is served by the next one together: one transaction chains what
        every writer of every process deferred meanwhile. A failed run (the database went
        away) raises for its callers; their events stay deferred, committed, for the next.
        SQLite: nothing is ever deferred (``BEGIN IMMEDIATE`` serialises writers), so nothing
        to do."""
        if self.is_sqlite:
            return
        if self._chain_next is None:
            self._chain_next = asyncio.get_running_loop().create_future()
        waiting = self._chain_next
        if self._chaining is None or self._chaining.done():
            self._chaining = asyncio.create_task(self._chain_runs())
        await asyncio.shield(waiting)

    async def _chain_runs(self) -> None:
        while self._chain_next is not None:
            waiting, self._chain_next = self._chain_next, None
            try:
                if not _deferred_chainer:  # nothing defers without ``audit.store`` imported
                    raise RuntimeError("no chainer of deferred audit events is set")
                async with self.sessions.begin() as session:
                    await _deferred_chainer[0](session)
            except BaseException as exc:  # Exception, or this task cancelled at shutdown
                waiting.set_exception(exc)
                waiting.exception()  # retrieved: a caller that went away must not log it
                if not isinstance(exc, Exception):
                    raise
            else:
                waiting.set_result(None)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        # Ended to completion even when cancelled, as in ``write``.
        async with self.read_sessions.begin() as session:
            yield session

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a read of ONE Core statement (every request's token check): no ORM
        session and, on PostgreSQL, no transaction around it. Two statements here could see two
        different moments: use ``read``."""
        async with self._lookup_engine.connect() as conn:
            yield conn

    async def check_migrated(self) -> None:
        """Refuse to run on a schema that is not at the head revision."""
        head = migrate.head_revision()
        if self.is_sqlite and not sqlite_path(self.url).exists():
            # Connecting would create an empty file; say what to run instead.
            raise DatabaseNotMigrated(self.url, None, head)
        async with self.engine.connect() as conn:
            current = await conn.run_sync(migrate.current_revision)
        if current != head:
            raise DatabaseNotMigrated(self.url, current, head)

    async def upgrade(self) -> None:
        if self.is_sqlite:
            # The database holds scores and seeds: readable by the hub's user only. SQLite gives
            # its -wal and -shm files the database file's mode.
            path = sqlite_path(self.url)
            path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            private_file(path)
        async with self.engine.begin() as conn:
            await conn.run_sync(migrate.upgrade_on_connection)

    async def dispose(self) -> None:
        """Close every pooled connection; a cancellation meanwhile (a second Ctrl-C) waits for
        the closing to finish and is re-raised then, so no connection is left to the garbage
        collector."""
        await to_completion(self.engine.dispose())


async def to_completion(work: Awaitable[T]) -> T:
    """Run ``work`` in a task of its own and wait for it even if the caller is cancelled
    meanwhile; the caller's cancellation is re-raised once ``work`` is done, else its result
    is returned. For work that must not be cut off mid-transaction or mid-close."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc
        else:
            break
    if cancelled is not None:
        raise cancelled
    return task.result()
