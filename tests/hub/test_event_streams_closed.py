"""A page that goes away closes its event stream: the hub's handler ends quietly (no
``request.failed``, no traceback in the log) and lets go of its bus subscription, for the
booking events (``/api/events``) and the video wall's live events alike.

The hub runs as ``evaluation-hub serve`` runs it (``web.AppRunner``: a handler is not cancelled
when its client goes away, unlike aiohttp's test server), so the handler finds out by writing.
The keep-alive comes every few hundredths of a second here instead of every 15 s (time is the
one thing a test may fake), so the write that finds the browser gone comes at once."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from evaluation_hub.api import events, live
from evaluation_hub.api.app import create_app
from evaluation_hub.api.events import LIVE_STREAMS
from evaluation_hub.bus.base import Subscription
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.security.story import bearer
from tests.supervision_api.conftest import seed_seated
from tests.support.postgres_server import free_port


@pytest.fixture(autouse=True)
def quick_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.02)
    monkeypatch.setattr(live, "KEEPALIVE_S", 0.02)


@dataclass
class Served:
    app: web.Application
    base: str
    ids: dict[str, Any]


@pytest.fixture
async def served(database: Database, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Served]:
    ids = await seed_seated(database, clock)
    config = HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
    )
    app = create_app(config, db=database, clock=clock, sweep=False)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Served(app, f"http://127.0.0.1:{port}", ids)
    finally:
        await runner.cleanup()


async def _leave_stream(
    served: Served, path: str, user: str, caplog: pytest.LogCaptureFixture
) -> list[MutableMapping[str, Any]]:
    """Open the stream as ``user``, read a few keep-alives, go away, and wait until the hub's
    handler has ended; the structlog events logged meanwhile."""
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{served.base}/api/auth/token", json={"username": user, "password": "demo-2026"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        with structlog.testing.capture_logs() as logs:
            resp = await http.get(f"{served.base}{path}", headers=headers)
            assert resp.status == 200, await resp.text()
            assert await resp.content.readline() == b": connected\n"
            streams: weakref.WeakSet[Subscription] = served.app[LIVE_STREAMS]
            (subscription,) = list(streams)
            for _ in range(3):  # a few keep-alives reach the page before it goes away
                while (await resp.content.readline()).strip() != b": keep-alive":
                    pass
            resp.close()  # the browser tab is closed
            for _ in range(1000):  # the bound only turns a hang into a failure
                if subscription.closed:
                    break
                await asyncio.sleep(0.01)
            assert subscription.closed, "the stream's handler never ended"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    return logs


async def test_a_closed_booking_event_stream_is_not_an_error(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    logs = await _leave_stream(served, "/api/events", "km_operator", caplog)
    assert [e for e in logs if e["log_level"] in ("error", "critical") or "exc_info" in e] == []
    assert not [e for e in logs if e["event"] == "request.failed"]


async def test_a_closed_video_wall_event_stream_is_not_an_error(
    served: Served, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The wall follows a session's seats only while the session is on, from the opening of
    # check-in (tests/security/test_live_access.py): the host opens it first.
    host = bearer(served.ids, "km_operator", clock())
    async with aiohttp.ClientSession() as http:
        for action in ("confirm_seats", "open_check_in"):
            async with http.post(
                f"{served.base}/api/sessions/{served.ids['session']}/actions",
                json={"action": action},
                headers=host,
            ) as resp:
                assert resp.status == 200, await resp.text()
    path = f"/api/sessions/{served.ids['session']}/live/events"
    logs = await _leave_stream(served, path, "km_supervisor", caplog)
    assert [e for e in logs if e["log_level"] in ("error", "critical") or "exc_info" in e] == []
    assert not [e for e in logs if e["event"] == "request.failed"]
