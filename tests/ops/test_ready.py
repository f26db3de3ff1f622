"""``/api/ready``: each check named and timed, 503 naming the failing ones; a check that never
answers fails at its own timeout; and, with a private PostgreSQL and Redis that the test stops
and starts, 503 once one is stopped and 200 once it is back."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.api.views.calendar import health_warnings
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.migrate import head_revision
from evaluation_hub.ops.readiness import CHECK_TIMEOUT_S, _timed
from evaluation_hub.supervision.workdays import coverage_warning, covered_until
from tests.conftest import FakeClock
from tests.support.postgres_server import PostgresServer, postgres_server
from tests.support.redis_server import RedisServer, redis_server

Client = TestClient[Any, Any]


def covered_clock(days_left: int = 60) -> FakeClock:
    """09:00 Beijing ``days_left`` days before the calendar's last covered day."""
    day = covered_until() - timedelta(days=days_left)
    return FakeClock(datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC))


def timed(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each check's time checked (a number of milliseconds) and taken out, so
    that the rest can be compared exactly. (How long a check may take is bounded by its own
    timeout, tested below without a clock: no test here passes or fails on wall-clock time.)"""
    for check in body["checks"]:
        ms = check.pop("ms")
        assert isinstance(ms, int | float) and ms >= 0, check
    return body


def expected(names: list[str], failing: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "ok": name not in failing, "detail": failing.get(name, "正常")}
        for name in names
    ]


def not_ready(names: list[str], failing: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "https://evaluation-hub.invalid/problems/not-ready",
        "title": "服务未就绪",
        "status": 503,
        "detail": "未通过的就绪检查：" + "、".join(n for n in names if n in failing),
        "instance": "/api/ready",
        "checks": expected(names, failing),
    }


def ready(names: list[str]) -> dict[str, Any]:
    return {"status": "ready", "checks": expected(names, {})}


async def app_client(
    database_url: str, tmp_path: Path, clock: FakeClock, redis_url: str | None = None
) -> Client:
    config = HubConfig(
        database_url=database_url,
        redis_url=redis_url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
    )
    app = create_app(config, clock=clock, sweep=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def get_ready(client: Client) -> tuple[int, dict[str, Any]]:
    response = await client.get("/api/ready")
    body = await response.json(content_type=None)
    return response.status, timed(body)


async def back_to_ready(client: Client, restarted: set[str]) -> None:
    """Ready again, all checks passing. Until then (the first connections to a restarted
    server may take longer than a check's own timeout on a loaded machine: the database check
    timed out once so in CI) every answer is a 503 naming only the ``restarted`` checks; no
    bound on how long it takes, but the hang guard's."""
    for _ in range(600):
        status, body = await get_ready(client)
        if status == 200:
            assert body == ready(PG_CHECKS)
            return
        failing = {check["name"] for check in body["checks"] if not check["ok"]}
        assert status == 503 and failing and failing <= restarted, (status, body)
        await asyncio.sleep(0.05)
    raise AssertionError(f"never ready again after restarting {sorted(restarted)}")


async def test_a_check_that_never_answers_fails_at_its_own_timeout() -> None:
    """The promise behind "an answer within a second, whatever is down": a dependency that
    hangs (a black-holed connection, not a refused one) fails its check when the check's own
    timeout ends, named, instead of holding the answer. The outer bound only turns a hang into
    a failure."""

    async def never() -> str | None:
        await asyncio.Event().wait()
        return None

    check = await asyncio.wait_for(_timed("redis", never, 0.05, "Redis 不可达"), 10.0)
    assert (check.name, check.ok, check.detail) == (
        "redis",
        False,
        "Redis 不可达（50 毫秒内无应答）",
    )
    assert CHECK_TIMEOUT_S == 0.5  # every check has half a second; they run side by side


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.upgrade()
    await db.dispose()
    yield db.url


SQLITE_CHECKS = ["database", "media", "calendar"]


async def test_ready_with_every_check_passing_and_health_stays_liveness(
    sqlite_url: str, tmp_path: Path
) -> None:
    client = await app_client(sqlite_url, tmp_path, covered_clock(60))
    try:
        assert await get_ready(client) == (200, ready(SQLITE_CHECKS))
        health = await client.get("/api/health")
        # Liveness asks nothing: the process answers (with the calendar's early warning, which
        # the rules area adds, not a readiness verdict).
        day = covered_until() - timedelta(days=60)
        warnings = health_warnings(coverage_warning(day))
        assert (health.status, await health.json()) == (200, {"status": "ok", "warnings": warnings})
        assert health.headers["Content-Type"] == "application/json; charset=utf-8"
    finally:
        await client.close()


async def test_ready_refuses_when_the_calendar_ends_within_60_days(
    sqlite_url: str, tmp_path: Path
) -> None:
    client = await app_client(sqlite_url, tmp_path, covered_clock(59))
    try:
        last = covered_until().isoformat()
        message = f"节假日日历只覆盖到 {last}，不足 60 天，请更新 chinesecalendar 或补充节假日安排"
        assert await get_ready(client) == (
            503,
            not_ready(SQLITE_CHECKS, {"calendar": message}),
        )
    finally:
        await client.close()


async def test_ready_refuses_a_database_behind_the_code(sqlite_url: str, tmp_path: Path) -> None:
    client = await app_client(sqlite_url, tmp_path, covered_clock(60))
    try:
        db = Database(sqlite_url)
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
        await db.dispose()
        message = f"数据库结构版本为 0001，本程序需要 {head_revision()}，请先执行 db upgrade"
        assert await get_ready(client) == (503, not_ready(SQLITE_CHECKS, {"database": message}))
    finally:
        await client.close()


async def test_ready_refuses_when_the_media_forwarder_stopped(
    sqlite_url: str, tmp_path: Path
) -> None:
    from evaluation_hub.api.live import LIVE

    client = await app_client(sqlite_url, tmp_path, covered_clock(60))
    try:
        await client.app[LIVE].close()
        assert await get_ready(client) == (
            503,
            not_ready(SQLITE_CHECKS, {"media": "媒体转发未运行"}),
        )
    finally:
        await client.close()


# --- real processes: a private PostgreSQL and Redis, stopped and started by the test -----------


def stop(server: PostgresServer) -> None:
    """A clean stop (``fast``): the shared helper's ``immediate`` one is a crash, and with the
    test cluster's ``synchronous_commit=off`` it may lose the last commits."""
    subprocess.run(
        server._cmd(
            str(server.bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "fast", "-w", "stop"
        ),
        check=True,
        capture_output=True,
    )


def start_again(server: PostgresServer) -> None:
    """Start the stopped server on its port again, as ``postgres_server`` first started it."""
    root = server.datadir.parent
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={server.port} "
        f"-c unix_socket_directories={root / 'sock'} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    subprocess.run(
        server._cmd(
            str(server.bindir / "pg_ctl"),
            "-D",
            str(server.datadir),
            "-o",
            opts,
            "-l",
            str(root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        ),
        check=True,
        capture_output=True,
    )


@pytest.fixture
def private_pg() -> Iterator[PostgresServer]:
    """Not the shared server: this one is stopped mid-test."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


PG_CHECKS = ["database", "redis", "media", "calendar"]


@pytest.mark.postgres
@pytest.mark.redis
async def test_ready_follows_postgresql_and_redis_going_and_coming_back(
    private_pg: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> None:
    url = private_pg.create_database("ready")
    db = Database(url)
    await db.upgrade()
    await db.dispose()
    client = await app_client(url, tmp_path, covered_clock(60), redis_url=private_redis.url)
    try:
        assert await get_ready(client) == (200, ready(PG_CHECKS))

        stop(private_pg)
        assert await get_ready(client) == (
            503,
            not_ready(PG_CHECKS, {"database": "数据库不可达"}),
        )
        start_again(private_pg)
        await back_to_ready(client, {"database"})

        private_redis.stop()
        assert await get_ready(client) == (
            503,
            not_ready(PG_CHECKS, {"redis": "Redis 不可达"}),
        )
        private_redis.start()
        await back_to_ready(client, {"redis"})

        # Both at once: both named.
        stop(private_pg)
        private_redis.stop()
        assert await get_ready(client) == (
            503,
            not_ready(PG_CHECKS, {"database": "数据库不可达", "redis": "Redis 不可达"}),
        )
        start_again(private_pg)
        private_redis.start()
        await back_to_ready(client, {"database", "redis"})
    finally:
        await client.close()
