"""Fixtures of the fault tests: a private Redis, the scripted evaluation of
``tests.faults.harness``, and those shared with the live-media and browser tests (one
definition each)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import browser, chromium_path
from tests.faults.harness import Evaluation, running_evaluation
from tests.live.conftest import loopback, rig, viewers
from tests.support.postgres_server import PostgresServer, postgres_server
from tests.support.redis_server import RedisServer, redis_server

__all__ = [
    "browser",
    "chromium_path",
    "evaluation",
    "loopback",
    "private_pg",
    "private_redis",
    "rig",
    "viewers",
]


@pytest.fixture
def private_pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone: stopping it disturbs no other test."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone (restarting it disturbs no other test)."""
    with redis_server() as server:
        yield server


@pytest.fixture
async def evaluation(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[Evaluation]:
    """The scripted evaluation on a fresh database of the tests' PostgreSQL, with its own
    Redis; the hub is started, the seats prepared and their agents running."""
    url = pg_server.create_database(f"faults_{os.getpid()}_{tmp_path.name}"[:60])
    async with running_evaluation(url, tmp_path, redis_url=private_redis.url) as run:
        yield run
