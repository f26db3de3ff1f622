"""Engines and tables for the audit store tests, importable by worker processes too.

The SQLite engine follows SQLAlchemy's aiosqlite recipe: the driver's own BEGIN is switched off
and every transaction starts with BEGIN IMMEDIATE (the database write lock) under a busy
timeout, which is what the hub's engine does and what ``append_event`` relies on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import evaluation_hub.audit.models  # noqa: F401 - registers the audit tables on Base.metadata
from evaluation_hub.db.base import Base

__all__ = ["create_tables", "make_engine"]


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")  # as the hub's engine does
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url)


async def create_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()
