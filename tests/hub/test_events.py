"""Booking changes reach pages live, across hub processes through Redis, and only the pages
that may see them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.bus.redis import RedisBus
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.hub.helpers import login

pytestmark = pytest.mark.redis


@pytest.fixture
async def two_hubs(
    database: Database, clock: FakeClock, tmp_path: Path, redis_url: str
) -> AsyncIterator[tuple[TestClient[Any, Any], TestClient[Any, Any]]]:
    """Two hub applications sharing one database and one Redis, like two hub processes."""
    config = HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
    )
    clients = []
    for _ in range(2):
        bus = RedisBus(redis_url, namespace=f"evt-{tmp_path.name}")
        app = create_app(config, db=database, bus=bus, clock=clock, sweep=False)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()


async def _next_event(stream: aiohttp.StreamReader) -> dict[str, Any]:
    while True:
        line = (await asyncio.wait_for(stream.readline(), 10)).decode()
        if line.startswith("data: "):
            event: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return event


async def test_a_change_on_one_hub_reaches_pages_on_another(
    two_hubs: tuple[TestClient[Any, Any], TestClient[Any, Any]], seeded: dict[str, Any]
) -> None:
    hub_a, hub_b = two_hubs
    host = await login(hub_a, "km_operator")
    dali = await login(hub_b, "dl_admin")
    honghe = await login(hub_b, "hh_admin")
    dali_stream = await hub_b.get("/api/events", headers=dali)
    honghe_stream = await hub_b.get("/api/events", headers=honghe)
    assert dali_stream.headers["Content-Type"] == "text/event-stream"
    assert (await dali_stream.content.readline()) == b": connected\n"
    await honghe_stream.content.readline()
    await asyncio.sleep(0.2)  # let both subscriptions reach Redis before publishing

    seats = seeded["seats"]
    resp = await hub_a.post(
        "/api/bookings",
        json={
            "session_id": seeded["session"],
            "venue_id": seeded["venues"]["DL"],
            "seat_count": 1,
            "seat_ids": [seats["DL-01"]],
        },
        headers=host,
    )
    booking = await resp.json()
    event = await _next_event(dali_stream.content)
    assert event == {
        "type": "booking.changed",
        "booking_id": booking["id"],
        "session_id": seeded["session"],
        "state": "requested",
        "venue_id": seeded["venues"]["DL"],
    }
    # 红河 is told nothing about 大理's booking.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_next_event(honghe_stream.content), 0.5)
    dali_stream.close()
    honghe_stream.close()


async def test_event_stream_needs_credentials(
    two_hubs: tuple[TestClient[Any, Any], TestClient[Any, Any]], seeded: dict[str, Any]
) -> None:
    resp = await two_hubs[0].get("/api/events")
    assert resp.status == 401
