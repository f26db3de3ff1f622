"""A Janus server (Debian's package, generated configuration) shared by a module's tests, and
aiortc peers that gather where Janus can reach them (``tests.support.janus_server``)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from evaluation_hub.api.app import create_app
from evaluation_hub.api.live import MEDIA
from evaluation_hub.db.engine import Database
from evaluation_hub.live.janus_plane import JanusPlane
from evaluation_hub.live.janus_relay import JanusRelay
from evaluation_hub.live.janus_rooms import room_for
from media.janus import videoroom
from media.janus.client import JanusSession
from media.janus.videoroom import Room
from tests.archive.conftest import run_cli
from tests.browser.conftest import browser, chromium_path  # noqa: F401 (fixtures)
from tests.conftest import FakeClock
from tests.live.conftest import Rig, session_on
from tests.supervision_api.conftest import hub_config, seed_seated
from tests.support.janus_server import JanusServer, candidates_on, janus_available, janus_server


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusServer]:
    if not janus_available():
        pytest.fail("Debian's janus is not installed; run `scripts/install-system-deps.sh test`")
    with janus_server() as server:
        yield server


@pytest.fixture
def janus_candidates(janus: JanusServer) -> Iterator[None]:
    with candidates_on(janus.address):
        yield


@contextlib.asynccontextmanager
async def janus_rig(
    db: Database, tmp_path: Path, clock: FakeClock, janus: JanusServer
) -> AsyncIterator[Rig]:
    """The live tests' hub (``tests.live.conftest``: seated experts, the session in check-in)
    on ``db`` (a fresh database at head: SQLite or PostgreSQL, the ``database`` fixture) with
    ``media_backend = janus`` on ``janus``."""
    ids = await seed_seated(db, clock)
    await session_on(db, ids, clock())
    config = dataclasses.replace(
        hub_config(db, tmp_path),
        media_backend="janus",
        janus_urls=(janus.url,),
        janus_api_secret=janus.api_secret,
        janus_admin_key=janus.admin_key,
    )
    app = create_app(config, db=db, clock=clock, sweep=False)
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
        # The next test's hub makes the room anew (recording into its own folder).
        await forget_room(janus, room_for(ids["session"], config.token_secret.encode()))


async def forget_room(janus: JanusServer, room: Room) -> None:
    """Destroy ``room`` on ``janus`` if it is there."""
    session = await JanusSession.create(janus.url, api_secret=janus.api_secret)
    try:
        await videoroom.destroy_room(await session.attach(), room)
    finally:
        await session.close()


@pytest.fixture
async def rig(
    database: Database,
    tmp_path: Path,
    clock: FakeClock,
    janus: JanusServer,
    janus_candidates: None,
) -> AsyncIterator[Rig]:
    async with janus_rig(database, tmp_path, clock, janus) as under_test:
        yield under_test


def plane(rig: Rig) -> JanusPlane:
    media = rig.app[MEDIA]
    assert isinstance(media, JanusRelay)
    return media.plane


class JanusViewer:
    """A supervisor's viewer on the Janus backend: asks to subscribe, answers Janus's offer."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.viewer_id: int | None = None
        self.token: str | None = None
        self.answer_body: dict[str, str] | None = None

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tracks[track.kind] = track

    async def subscribe(
        self, rig: Rig, session: int, seat_id: int, headers: dict[str, str]
    ) -> dict[str, Any]:
        url = f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers"
        async with rig.http.post(url, json={"type": "subscribe"}, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            body: dict[str, Any] = await resp.json()
        self.viewer_id, self.token = body["viewer_id"], body["token"]
        await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        assert self.pc.localDescription is not None
        self.answer_body = {"type": "answer", "sdp": self.pc.localDescription.sdp}
        return body

    async def answer(self, rig: Rig, headers: dict[str, str], token: str | None = None) -> Any:
        assert self.answer_body is not None
        return await rig.http.post(
            f"{rig.base}/api/live/viewers/{self.viewer_id}/answer",
            json={**self.answer_body, "token": token or self.token},
            headers=headers,
        )

    async def watch(self, rig: Rig, session: int, seat_id: int, headers: dict[str, str]) -> None:
        await self.subscribe(rig, session, seat_id, headers)
        async with await self.answer(rig, headers) as resp:
            assert resp.status == 204, await resp.text()

    async def close(self) -> None:
        for track in self.tracks.values():
            track.stop()
        await self.pc.close()


@pytest.fixture
async def janus_viewers() -> AsyncIterator[Callable[[], JanusViewer]]:
    made: list[JanusViewer] = []

    def make() -> JanusViewer:
        viewer = JanusViewer()
        made.append(viewer)
        return viewer

    yield make
    for viewer in made:
        await viewer.close()


def verify_audit(rig: Rig, tmp_path: Path) -> None:
    """``evaluation-hub audit verify`` on the rig's database with its hub key; asserts exit 0."""
    checked = run_cli(
        "audit", "verify", "--database-url", rig.db.url,
        "--public-key", str(tmp_path / "hub-key.pub"),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
