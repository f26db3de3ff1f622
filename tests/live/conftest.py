"""A real hub for live-media tests: the app on aiohttp's test server (SQLite, the demo
directory with experts seated away), its seat websocket answering media offers, and seats
publishing the test pattern over real aiortc peers confined to 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from evaluation_hub.api.app import create_app
from evaluation_hub.api.keys import CLOCK
from evaluation_hub.api.live import LIVE, RELAY
from evaluation_hub.booking import answers
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.package import start_evaluation_in
from evaluation_hub.live.hub import LiveHub
from evaluation_hub.principal import Principal
from evaluation_hub.seats import enrolment
from evaluation_hub.sessions import store
from media.loopback import loopback_candidates
from media.testpattern import Scene, TestPatternTrack, ToneTrack
from seat_agent.connection import SeatLink
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_agent.publisher import SeatPublisher
from seat_protocol.events import Event
from tests.conftest import FakeClock
from tests.supervision_api.conftest import hub_config, seed_seated
from tests.support.services import services_for

HUB_ID = "evaluation-hub"  # HubConfig's default
SYSADMIN = Principal("sysadmin", "system_admin", None)


async def eventually(condition: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """Wait for ``condition``; the limit only turns a hang into a failure message."""
    for _ in range(int(limit / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


@dataclass
class PublishingSeat:
    """One seat agent: its link to the hub and its publisher of the test pattern."""

    seat_key: str
    link: SeatLink
    publisher: SeatPublisher
    video: TestPatternTrack
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.publisher.close()
        self.video.stop()


@dataclass
class Rig:
    """The hub under test and what a test needs to drive it."""

    app: web.Application
    server: TestServer
    ids: dict[str, Any]
    tmp: Path
    db: Database
    http: aiohttp.ClientSession
    seats: list[PublishingSeat] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def live(self) -> LiveHub:
        return self.app[LIVE]

    async def login(self, username: str) -> dict[str, str]:
        async with self.http.post(
            f"{self.base}/api/auth/token", json={"username": username, "password": "demo-2026"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["token"]
        self.http.cookie_jar.clear()
        return {"Authorization": f"Bearer {token}"}

    async def enrol(self, label: str, venue: str) -> SeatIdentity:
        """A terminal for seat ``label``, enrolled and approved."""
        seat_key = f"{venue}.{label}"
        identity = init_state_dir(
            self.tmp / seat_key,
            seat_id=seat_key,
            hub_url=f"ws://127.0.0.1:{self.server.port}/ws/seat",
            hub_id=HUB_ID,
        )
        now = self.app[CLOCK]()
        await enrolment.record_enrolment(
            self.db,
            seat_key,
            identity.ed25519_public,
            identity.x25519_public,
            identity.enrolment_code,
            now,
        )
        await enrolment.approve_enrolment(
            self.db, SYSADMIN, seat_key, now, enrolment_code=identity.enrolment_code
        )
        return identity

    async def publish(
        self, label: str, venue: str, scene: Scene = Scene.PRESENT, **options: Any
    ) -> PublishingSeat:
        """Enrol the seat ``label`` and start publishing the test pattern from it."""
        identity = await self.enrol(label, venue)
        seat_key = identity.seat_id
        video = TestPatternTrack(width=320, height=240, fps=15, scene=scene)
        tracks: list[MediaStreamTrack] = [video, ToneTrack()]
        publisher: SeatPublisher | None = None

        async def on_event(event: Event) -> None:
            assert publisher is not None
            await publisher.on_event(event)

        link = SeatLink(identity, on_event=on_event, random=lambda: 0.0)
        publisher = SeatPublisher(link.send, tracks, **options)
        seat = PublishingSeat(seat_key, link, publisher, video, asyncio.create_task(link.run()))
        self.seats.append(seat)
        return seat

    async def seat_row(self, session: int, headers: dict[str, str], label: str) -> dict[str, Any]:
        async with self.http.get(
            f"{self.base}/api/sessions/{session}/live/seats", headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        (row,) = [s for s in body["seats"] if s["label"] == label]
        return row


@pytest.fixture
def loopback() -> Any:
    with loopback_candidates():
        yield


async def session_on(db: Database, ids: dict[str, Any], now: datetime) -> None:
    """Make the seeded session's seats watchable: 大理 confirms its request (DL-01, DL-02, like
    曲靖 already did) and the host opens check-in. A seat's picture belongs to a session only
    for a confirmed booking and while the session is on (``live.seats``)."""
    hub = services_for(db)
    dali = Principal("dl_admin", "venue_admin", ids["venues"]["DL"])
    await answers.confirm_booking(hub, dali, ids["bookings"]["dali"], seat_ids=None, now=now)
    host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
    for action in ("confirm_seats", "open_check_in"):
        await store.act(
            hub, host, ids["session"], action, reason=None, now=now, start=start_evaluation_in
        )


@contextlib.asynccontextmanager
async def running_rig(tmp_path: Path, clock: FakeClock, *, on: bool = True) -> AsyncIterator[Rig]:
    """The hub app (SQLite, demo directory with seated experts) on a loopback port; ``on``: the
    session is in check-in with 大理's and 曲靖's seats confirmed (:func:`session_on`)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.upgrade()
    ids = await seed_seated(db, clock)
    if on:
        await session_on(db, ids, clock())
    app = create_app(hub_config(db, tmp_path), db=db, clock=clock, sweep=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            under_test = Rig(app, server, ids, tmp_path, db, http)
            try:
                yield under_test
            finally:
                for seat in under_test.seats:
                    await seat.stop()
    finally:
        await server.close()
        await db.dispose()


@contextlib.asynccontextmanager
async def two_running_rigs(
    db: Database, tmp_path: Path, clock: FakeClock, redis_url: str, **changes: Any
) -> AsyncIterator[tuple[Rig, Rig]]:
    """Two hub apps (two hub processes' worth) on ``db``, seeded with seated experts and the
    session on (:func:`session_on`), sharing a real Redis bus; each records to its own folder.
    ``changes``: further configuration, the same for both (e.g. the Janus backend's)."""
    ids = await seed_seated(db, clock)
    await session_on(db, ids, clock())
    servers: list[TestServer] = []
    rigs: list[Rig] = []
    async with aiohttp.ClientSession() as http:
        try:
            for name in ("one", "two"):
                config = dataclasses.replace(
                    hub_config(db, tmp_path),
                    redis_url=redis_url,
                    recordings_dir=tmp_path / f"recordings-{name}",
                    **changes,
                )
                app = create_app(config, db=db, clock=clock, sweep=False)
                app[RELAY].ask_timeout = 2.0
                server = TestServer(app, host="127.0.0.1")
                await server.start_server()
                servers.append(server)
                rigs.append(Rig(app, server, ids, tmp_path, db, http))
            yield rigs[0], rigs[1]
        finally:
            for rig in rigs:
                for seat in rig.seats:
                    await seat.stop()
            for server in servers:
                await server.close()


@pytest.fixture
async def rig(tmp_path: Path, clock: FakeClock, loopback: None) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path, clock) as under_test:
        yield under_test


class Viewer:
    """A supervisor's viewer: an aiortc peer that offers to receive, as a browser would."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.viewer_id: int | None = None

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tracks[track.kind] = track

    async def offer(self) -> dict[str, str]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        description = self.pc.localDescription
        assert description is not None
        return {"type": "offer", "sdp": description.sdp}

    async def watch(self, rig: Rig, session: int, seat_id: int, headers: dict[str, str]) -> None:
        url = f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers"
        async with rig.http.post(url, json=await self.offer(), headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            body = await resp.json()
        self.viewer_id = body["viewer_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))

    async def close(self) -> None:
        for track in self.tracks.values():
            track.stop()
        await self.pc.close()


@pytest.fixture
async def viewers() -> AsyncIterator[Callable[[], Viewer]]:
    made: list[Viewer] = []

    def make() -> Viewer:
        viewer = Viewer()
        made.append(viewer)
        return viewer

    yield make
    for viewer in made:
        await viewer.close()
