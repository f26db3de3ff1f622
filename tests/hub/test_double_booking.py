"""No double booking under concurrency: 4 real hub processes, 200 simultaneous requests for
one seat, one database (PostgreSQL and SQLite). Exactly one wins; all others get a 409 that
names the winner, and the database holds exactly one live hold."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import BookingSeat
from tests.support.postgres_server import free_port
from tests.support.seed import seed

pytestmark = pytest.mark.slow

HUBS = 4
REQUESTS = 200
SECRET = "s" * 40


def _start_hubs(url: str, log_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    env = {**os.environ, "EVALHUB_TOKEN_SECRET": SECRET, "EVALHUB_LOG_FORMAT": "json"}
    for n in range(HUBS):
        port = free_port()
        with (log_dir / f"hub{n}.log").open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "evaluation_hub.cli",
                    "serve",
                    "--database-url",
                    url,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        yield proc, port


async def _wait_ready(
    http: aiohttp.ClientSession, port: int, proc: subprocess.Popen[bytes]
) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"hub on port {port} exited with {proc.returncode}")
        try:
            async with http.get(f"http://127.0.0.1:{port}/api/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"hub on port {port} did not start")


async def test_one_seat_two_hundred_requests_four_hubs(database: Database, tmp_path: Path) -> None:
    ids = await seed(database, datetime.now(UTC))
    seat = ids["seats"]["DL-01"]
    hubs = list(_start_hubs(database.url, tmp_path))
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            for proc, port in hubs:
                await _wait_ready(http, port, proc)
            async with http.post(
                f"http://127.0.0.1:{hubs[0][1]}/api/auth/token",
                json={"username": "km_operator", "password": ids["password"]},
            ) as resp:
                token = (await resp.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            body = {
                "session_id": ids["session"],
                "venue_id": ids["venues"]["DL"],
                "seat_count": 1,
                "seat_ids": [seat],
            }
            start = asyncio.Event()

            async def one(n: int) -> tuple[int, dict[str, Any]]:
                await start.wait()
                port = hubs[n % HUBS][1]
                async with http.post(
                    f"http://127.0.0.1:{port}/api/bookings", json=body, headers=headers
                ) as resp:
                    return resp.status, await resp.json(content_type=None)

            tasks = [asyncio.create_task(one(n)) for n in range(REQUESTS)]
            await asyncio.sleep(0)
            start.set()
            results = await asyncio.gather(*tasks)
    finally:
        for proc, _ in hubs:
            proc.terminate()
        for proc, _ in hubs:
            proc.wait(timeout=30)

    winners = [b for status, b in results if status == 201]
    assert len(winners) == 1, [s for s, _ in results]
    winner = winners[0]["id"]
    losers = [b for status, b in results if status != 201]
    assert len(losers) == REQUESTS - 1
    for problem in losers:
        assert problem["status"] == 409, problem
        assert (
            problem["detail"]
            == f"工位 DL-01（#{seat}）在 {_window(winners[0])} 已被预约 #{winner} 占用"
        )
        assert problem["conflicting_booking_id"] == winner
    async with database.read() as s:
        live = (
            await s.execute(
                select(func.count())
                .select_from(BookingSeat)
                .where(BookingSeat.seat_id == seat, BookingSeat.live.is_(True))
            )
        ).scalar_one()
    assert live == 1


def _window(booking: dict[str, Any]) -> str:
    from evaluation_hub.booking.rules import Window

    return Window(
        datetime.fromisoformat(booking["starts_at"]), datetime.fromisoformat(booking["ends_at"])
    ).describe()
