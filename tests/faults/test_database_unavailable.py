"""A database that cannot be reached is a 503 with ``Retry-After``, never a 500: tested against a
private PostgreSQL server stopped and started again (never the shared one), and the classifier
on its own for what it must not take for an outage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from evaluation_hub.api.app import create_app
from evaluation_hub.db.engine import Database
from evaluation_hub.db.unavailable import is_unavailable
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem
from tests.supervision_api.conftest import hub_config
from tests.support.postgres_server import PostgresServer
from tests.support.seed import seed

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_client(
    private_pg: PostgresServer, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, Any]]]:
    db = Database(private_pg.create_database("hub"))
    try:
        await db.upgrade()
        ids = await seed(db, clock())
        app = create_app(hub_config(db, tmp_path), db=db, clock=clock, sweep=False)
        async with TestClient(TestServer(app)) as client:
            yield client, ids
    finally:
        await db.dispose()


async def test_a_stopped_database_is_a_503_with_retry_after_and_back_when_it_returns(
    pg_client: tuple[TestClient[Any, Any], dict[str, Any]], private_pg: PostgresServer
) -> None:
    client, ids = pg_client
    host = await login(client, "km_supervisor")
    url = f"/api/sessions/{ids['session']}/live/seats"
    assert (await client.get(url, headers=host)).status == 200
    private_pg.stop("fast")
    for path in (url, f"/api/sessions/{ids['session']}", "/api/sessions"):
        resp = await client.get(path, headers=host)
        body = await problem(resp, 503)
        assert resp.headers["Retry-After"] == "5"
        request_id = resp.headers["X-Request-Id"]
        assert (body["type"], body["title"], body["detail"], body["instance"]) == (
            "https://evaluation-hub.invalid/problems/database-unavailable",
            "数据库暂时不可用",
            f"数据库暂时无法访问，请在 5 秒后重试（请求编号 {request_id}）",
            path,
        )
    # A write too (signing in records the attempt), and nothing of it is half done.
    resp = await client.post(
        "/api/auth/token", json={"username": "km_operator", "password": "demo-2026"}
    )
    await problem(resp, 503)
    private_pg.start()
    resp = await client.get(url, headers=host)
    assert resp.status == 200, await resp.text()


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_only_an_unreachable_database_counts_as_unavailable() -> None:
    # A refused connection outside the database drivers is not the database's outage.
    assert not is_unavailable(_raised(ConnectionRefusedError(111, "refused")))
    assert not is_unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_unavailable(OperationalError("SELECT", {}, Exception("no such table: x")))
    assert is_unavailable(
        OperationalError("SELECT", {}, Exception("closed"), connection_invalidated=True)
    )


async def test_a_refused_connection_from_the_driver_counts(private_pg: PostgresServer) -> None:
    db = Database(private_pg.url)
    try:
        private_pg.stop("fast")
        with pytest.raises(Exception) as caught:
            async with db.read() as s:
                await s.execute(text("SELECT 1"))
        assert is_unavailable(caught.value)
    finally:
        await db.dispose()


async def test_the_pre_ping_is_one_statement_without_a_transaction(
    pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLAlchemy's asyncpg ping wraps its ";" in BEGIN and ROLLBACK (for PgBouncer): three
    # round trips on every checkout. The hub's is the ";" alone (``db.pg_dialect``); that it
    # still finds a dead connection is the restart test above.
    import asyncpg

    db = Database(pg_server.create_database("ping"))
    sent: list[str] = []
    real_fetchrow, real_transaction = asyncpg.Connection.fetchrow, asyncpg.Connection.transaction

    def fetchrow(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        sent.append(query)
        return real_fetchrow(self, query, *args, **kw)

    def transaction(self: asyncpg.Connection, **kw: Any) -> Any:
        sent.append("BEGIN")
        return real_transaction(self, **kw)

    try:
        async with db.lookup() as conn:  # the first checkout connects: no ping
            await conn.execute(text("SELECT 1"))
        monkeypatch.setattr(asyncpg.Connection, "fetchrow", fetchrow)
        monkeypatch.setattr(asyncpg.Connection, "transaction", transaction)
        async with db.lookup() as conn:
            pass
        assert sent == [";"]
    finally:
        await db.dispose()
