"""Session moves reach every hub process through a real Redis: two hub apps on one database, a
move made through one makes the other drop the chapters it held for the session; a refused move
is heard by nobody."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from aiohttp.test_utils import TestClient, TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.api.seat_link import CHAPTERS
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.seats.session_notices import CHANNEL, listen
from seat_protocol.messages import ChapterManifest, ManifestChapter
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem
from tests.support.services import services_for

Clients = tuple[TestClient[Any, Any], TestClient[Any, Any]]


@pytest.fixture
async def two_hubs(
    database: Database, clock: FakeClock, tmp_path: Path, redis_url: str
) -> AsyncIterator[Clients]:
    clients = []
    for name in ("one", "two"):
        config = HubConfig(
            database_url=database.url,
            redis_url=redis_url,
            token_secret="t" * 40,
            sealing_key_file=tmp_path / "sealing.key",
            hub_key_file=tmp_path / f"hub-key-{name}.pem",
            recordings_dir=tmp_path / f"recordings-{name}",
        )
        app = create_app(config, db=database, clock=clock, sweep=False)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()


def _hold(chunks: ChapterChunks, seat_key: str, session_id: str) -> None:
    data = f"sealed chapter of {seat_key}".encode()
    digest = hashlib.sha256(data).hexdigest()
    chapter = ManifestChapter(
        label="ch1-A",
        position=0,
        sha256=digest,
        size=len(data),
        wrapped_key="a2V5",
        chunks=(digest,),
    )
    manifest = ChapterManifest(session_id=session_id, chapters=(chapter,))
    chunks.put(seat_key, manifest, {digest: data})


async def _eventually(check: Any, what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_move_through_one_hub_process_reaches_the_other(
    two_hubs: Clients, seeded: dict[str, Any]
) -> None:
    one, two = two_hubs
    sid = str(seeded["session"])
    held = two.app[CHAPTERS]
    _hold(held, "QJ.QJ-01", sid)
    _hold(held, "DL.DL-01", "999")  # another session's release stays
    host = await login(one, "km_operator")
    url = f"/api/sessions/{sid}/actions"

    # Refused (a cancellation needs a reason): nothing was committed, so nothing is heard.
    resp = await one.post(url, json={"action": "cancel"}, headers=host)
    assert (await problem(resp, 422))["status"] == 422
    await asyncio.sleep(0.3)
    assert held.manifest("QJ.QJ-01") is not None

    # A move that does not end the reading leaves the chapters where they are.
    resp = await one.post(url, json={"action": "confirm_seats"}, headers=host)
    assert resp.status == 200, await resp.text()
    await asyncio.sleep(0.3)
    assert held.manifest("QJ.QJ-01") is not None

    resp = await one.post(
        url, json={"action": "cancel", "reason": "招标人决定终止本次评标"}, headers=host
    )
    assert resp.status == 200, await resp.text()
    await _eventually(lambda: held.manifest("QJ.QJ-01") is None, "the other process's drop")
    assert held.manifest("DL.DL-01") is not None
    assert held.held_bytes == len(b"sealed chapter of DL.DL-01")


async def test_the_listener_outlives_a_move_it_could_not_deliver(
    database: Database, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move whose delivery fails (the database had no connection for it) is logged, and the
    next move is still delivered: the listener's own error report once raised (a keyword its
    logger reserves) and ended the listener, so no seat heard of a session move again until
    the process restarted."""
    hub = services_for(database)
    chunks = ChapterChunks()
    sid = str(seeded["session"])
    _hold(chunks, "QJ.QJ-01", sid)
    plain_read = database.read
    failures = [sqlalchemy.exc.TimeoutError("QueuePool limit reached (injected)")]

    def read() -> Any:
        if failures:
            raise failures.pop()
        return plain_read()

    monkeypatch.setattr(database, "read", read)
    async with hub.bus.subscribe(CHANNEL) as subscription:
        listener = asyncio.create_task(listen(hub, chunks, subscription))
        try:
            for state in ("evaluating", "report_signed"):
                await hub.bus.publish(CHANNEL, {"session_id": sid, "state": state, "at": 0.0})
            # The second move is report_signed (reading over): this process drops the chapters.
            await _eventually(lambda: chunks.manifest("QJ.QJ-01") is None, "the second move")
            assert not failures and not listener.done()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
