"""Real processes for the end-to-end tests: an ``evaluation-hub serve`` on a free loopback port
and ``seat-agent`` terminals, each started by a fixture that always kills what it started."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.postgres_server import free_port

SEALING_KEY = bytes(range(32))
TOKEN_SECRET = "e2e-token-secret-" + "x" * 24


async def until(condition: Callable[[], Awaitable[bool]], what: str, tries: int = 6000) -> None:
    """Wait for ``condition``; the bound only turns a hang into a failure message."""
    for _ in range(tries):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _env(**extra: str) -> dict[str, str]:
    # On the wall clock: the evening cut-off (开评分离) must not pause a run that happens to fall
    # after 22:00 Beijing; the timers are tested on a fake clock (tests/hub/test_session_timers).
    return {**os.environ, "PYTHONUNBUFFERED": "1", "EVALHUB_SESSION_TIMERS": "off", **extra}


@dataclass
class HubProcess:
    """``evaluation-hub serve`` as a child process; ``start`` again after ``kill`` restarts it."""

    database_url: str
    state: Path
    ids: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def seat_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/seat"

    @property
    def log(self) -> Path:
        return self.state / "hub.log"

    async def start(self) -> None:
        assert self.proc is None or self.proc.returncode is not None
        self.starts += 1
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "evaluation_hub.cli", "serve",
                "--database-url", self.database_url, "--host", "127.0.0.1",
                "--port", str(self.port),
                stdout=out, stderr=subprocess.STDOUT,
                env=_env(
                    EVALHUB_TOKEN_SECRET=TOKEN_SECRET,
                    EVALHUB_SEALING_KEY=base64.urlsafe_b64encode(SEALING_KEY).decode(),
                    EVALHUB_HUB_KEY_FILE=str(self.state / "hub-key.pem"),
                    EVALHUB_RECORDINGS_DIR=str(self.state / "recordings"),
                    EVALHUB_STATE_DIR=str(self.state / "state"),
                ),
            )  # fmt: skip

        async def up() -> bool:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"the hub exited: {self.log.read_text()[-3000:]}")
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"{self.base}/api/openapi.json") as resp,
                ):
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await until(up, "the hub process to answer")

    async def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash or power cut."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


@dataclass
class SeatProcess:
    seat_id: str
    state_dir: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def log(self) -> Path:
        return self.state_dir.parent / f"{self.state_dir.name}.log"


class Processes:
    """Starts ``seat-agent`` commands and remembers them so teardown can kill each one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[asyncio.subprocess.Process] = []

    async def seat_agent(self, seat: SeatProcess, *argv: str) -> asyncio.subprocess.Process:
        with seat.log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "seat_agent.cli", *argv,
                stdout=out, stderr=subprocess.STDOUT, env=_env(),
            )  # fmt: skip
        self.started.append(proc)
        return proc

    async def init(self, hub: HubProcess, seat_id: str) -> SeatProcess:
        seat = SeatProcess(seat_id, self.root / seat_id)
        proc = await self.seat_agent(
            seat, "init", "--state-dir", str(seat.state_dir), "--seat-id", seat_id,
            "--hub", hub.seat_url,
        )  # fmt: skip
        assert await asyncio.wait_for(proc.wait(), 120) == 0, seat.log.read_text()
        return seat

    async def run(self, seat: SeatProcess, *extra: str) -> None:
        seat.proc = await self.seat_agent(seat, "run", "--state-dir", str(seat.state_dir), *extra)

    async def kill_all(self) -> None:
        for proc in self.started:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()


@pytest.fixture(params=["sqlite", "postgres"])
async def hub_process(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[HubProcess]:
    """A migrated hub database (an SQLite file, or a fresh database on the test PostgreSQL
    server) seeded with the demo directory and its three booking requests (``ids`` holds the
    seeded ids); the test starts the process."""
    from datetime import UTC, datetime

    from evaluation_hub.db.engine import Database
    from tests.conftest import fresh_database_url
    from tests.support.seed import seed, seed_bookings

    url = fresh_database_url(request.param, tmp_path, request)
    db = Database(url)
    try:
        await db.upgrade()
        now = datetime.now(UTC)
        ids = await seed(db, now)
        ids["bookings"] = await seed_bookings(db, ids, now)
    finally:
        await db.dispose()
    hub = HubProcess(url, tmp_path, ids=ids)
    try:
        yield hub
    finally:
        await hub.kill()


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[Processes]:
    root = tmp_path / "seats"
    root.mkdir()
    procs = Processes(root)
    try:
        yield procs
    finally:
        await procs.kill_all()


async def api(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    status: int = 200,
) -> Any:
    async with http.request(method, url, json=body, headers=headers) as resp:
        text = await resp.text()
        assert resp.status == status, f"{method} {url}: {resp.status} {text}"
        return await resp.json(content_type=None) if text else None
