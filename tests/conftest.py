"""Shared fixtures: real PostgreSQL (started here, on loopback), SQLite files, a movable clock,
and the hub application on aiohttp's test server."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import settings

from evaluation_hub.api.app import create_app
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from tests.support.postgres_server import PostgresServer, postgres_server

_db_names = itertools.count()

# Every test process gets a state directory of its own, whatever the environment says: code
# under test that falls back to the configured or default one (``var`` in the working
# directory: the hub's key, the token secret, the sealing key, the SQLite file) must never write
# into the checkout, nor into a developer's real state directory.
_STATE_DIR = tempfile.mkdtemp(prefix="evalhub-test-state-")
os.environ["EVALHUB_STATE_DIR"] = _STATE_DIR
atexit.register(shutil.rmtree, _STATE_DIR, True)

# No test passes or fails on wall-clock time: Hypothesis' default 200 ms deadline per example
# failed a property test (tests/supervision/test_workdays.py) in a loaded CI run.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server from Debian's package on a free loopback port."""
    from tests.support.redis_server import redis_server

    with redis_server() as server:
        yield server.url


@dataclass
class FakeClock:
    """The hub's clock in tests: time moves only when a test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    # 2026-11-30 09:00 Beijing is a Monday; the demo session is placed on the next day.
    return FakeClock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))


def fresh_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(f"t{os.getpid()}_{next(_db_names)}")


# Per worker process: one database migrated to head per back end (and PostgreSQL server), copied
# for each test; migrating every test's database from nothing costs ~0.5 s each, thousands of times.
_migrated: dict[tuple[str, int], str] = {}


async def migrated_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> str:
    """A new database already at the migrations' head (a copy of one migrated per worker)."""
    if backend == "sqlite":
        key = ("sqlite", 0)
        if key not in _migrated:
            factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
            template = factory.mktemp("migrated") / "hub.db"
            db = Database(f"sqlite+aiosqlite:///{template}")
            await db.upgrade()
            await db.dispose()
            _migrated[key] = str(template)
        target = tmp_path / "hub.db"
        shutil.copyfile(_migrated[key], target)
        return f"sqlite+aiosqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    key = ("postgres", server.port)
    if key not in _migrated:
        name = f"migrated{os.getpid()}"
        db = Database(server.create_database(name))
        await db.upgrade()
        await db.dispose()
        _migrated[key] = name
    return server.create_database(f"t{os.getpid()}_{next(_db_names)}", template=_migrated[key])


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    db = Database(await migrated_database_url(backend, tmp_path, request))
    await db.upgrade()  # at head already: checks it, and keeps the SQLite file private
    yield db
    await db.dispose()
    if backend == "postgres":
        # Thousands of tests: their databases would fill the server's (memory) disk.
        server: PostgresServer = request.getfixturevalue("pg_server")
        await server.drop_database(db.engine.url.database or "")


@pytest.fixture
async def seeded(database: Database, clock: FakeClock) -> dict[str, Any]:
    from tests.support.seed import seed

    return await seed(database, clock())


@pytest.fixture
async def client(
    database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[TestClient[Any, Any]]:
    config = HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
        state_dir=tmp_path / "state",
        checkpoint_every_events=2,
    )
    app = create_app(config, db=database, clock=clock, sweep=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
