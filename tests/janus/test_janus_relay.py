"""Janus subscriptions on any hub process: two hub apps on one database, one Redis bus and one
Janus; a seat publishes through the first, the supervisor's subscription is opened on the
second, and its answer, its second use and its closing land on the first: the second, which
holds it, decides each, once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from evaluation_hub.db.engine import Database
from evaluation_hub.live.janus_rooms import room_for
from media.janus import videoroom
from media.janus.client import JanusSession
from media.testpattern import TestPatternTrack
from seat_agent.connection import SeatLink
from seat_agent.publisher import SeatPublisher
from tests.conftest import FakeClock
from tests.janus.conftest import JanusViewer, forget_room, plane
from tests.janus.test_janus_live import SPENT, problem
from tests.live.conftest import Rig, eventually, two_running_rigs
from tests.supervision_api.conftest import hub_config
from tests.support.janus_server import JanusServer


@pytest.fixture
async def two_rigs(
    database: Database,
    tmp_path: Path,
    clock: FakeClock,
    janus: JanusServer,
    janus_candidates: None,
    redis_url: str,
) -> AsyncIterator[tuple[Rig, Rig]]:
    changes = {
        "recordings_enabled": False,
        "media_backend": "janus",
        "janus_urls": (janus.url,),
        "janus_api_secret": janus.api_secret,
        "janus_admin_key": janus.admin_key,
    }
    async with two_running_rigs(database, tmp_path, clock, redis_url, **changes) as rigs:
        try:
            yield rigs
        finally:
            secret = hub_config(database, tmp_path).token_secret.encode()
            await forget_room(janus, room_for(rigs[0].ids["session"], secret))


async def test_a_subscription_is_answered_and_spent_by_the_process_holding_it(
    two_rigs: tuple[Rig, Rig], janus_viewers: Callable[[], JanusViewer]
) -> None:
    one, two = two_rigs
    session, seat_id = one.ids["session"], one.ids["seats"]["DL-01"]
    await one.publish("DL-01", "DL")
    await eventually(lambda: plane(one).status("DL.DL-01").state == "live", "DL-01 is live")
    headers = await two.login("km_supervisor")
    # The second process sees the seat live in the session's room.
    assert (await two.seat_row(session, headers, "DL-01"))["state"] == "live"

    viewer = janus_viewers()
    await viewer.subscribe(two, session, seat_id, headers)
    assert viewer.viewer_id is not None
    assert plane(two).holds(viewer.viewer_id) and not plane(one).holds(viewer.viewer_id)
    async with await viewer.answer(one, headers) as resp:
        assert resp.status == 204, await resp.text()
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    async with await viewer.answer(one, headers) as resp:
        body = await problem(resp, 409)
    assert body["detail"] == SPENT
    # Not the caller's: refused there as here.
    other = await one.login("dl_supervisor")
    url = f"{one.base}/api/live/viewers/{viewer.viewer_id}"
    async with one.http.delete(url, headers=other) as resp:
        body = await problem(resp, 403)
    assert body["detail"] == f"观看连接 #{viewer.viewer_id} 不是当前用户打开的"
    async with one.http.delete(url, headers=headers) as resp:
        assert resp.status == 204, await resp.text()
    assert not plane(two).holds(viewer.viewer_id)
    async with one.http.delete(url, headers=headers) as resp:
        body = await problem(resp, 404)
    assert body["detail"] == f"观看连接 #{viewer.viewer_id} 不存在或已关闭"


async def test_a_seat_whose_link_moved_to_another_process_is_watched_from_the_first(
    two_rigs: tuple[Rig, Rig], janus_viewers: Callable[[], JanusViewer]
) -> None:
    one, two = two_rigs
    session, seat_id = one.ids["session"], one.ids["seats"]["DL-01"]
    seat = await one.publish("DL-01", "DL", retry_delay=60.0)
    await eventually(lambda: plane(one).status("DL.DL-01").state == "live", "DL-01 is live")
    # The seat's link drops and comes back through the other process (round-robin): it
    # publishes anew there, and its first publication, through the first process, ends.
    seat.link.identity = dataclasses.replace(
        seat.link.identity, hub_url=f"ws://127.0.0.1:{two.server.port}/ws/seat"
    )
    socket = seat.link.socket
    assert socket is not None
    socket.transport.abort()
    await eventually(lambda: plane(two).status("DL.DL-01").state == "live", "live via two")
    await eventually(lambda: plane(one).status("DL.DL-01").state == "lost", "ended at one")

    # The first process, whose own publisher of the seat is gone, sees it live in the room and
    # subscribes to its new feed.
    headers = await one.login("km_supervisor")
    assert (await one.seat_row(session, headers, "DL-01"))["state"] == "live"
    viewer = janus_viewers()
    await viewer.watch(one, session, seat_id, headers)
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    await asyncio.wait_for(viewer.tracks["video"].recv(), 20)  # type: ignore[attr-defined]


async def test_a_seat_back_after_a_crash_has_one_feed_in_the_room(
    two_rigs: tuple[Rig, Rig], janus: JanusServer
) -> None:
    one, two = two_rigs
    session = one.ids["session"]
    first = await one.publish("DL-01", "DL", retry_delay=60.0)
    await eventually(lambda: plane(one).status("DL.DL-01").state == "live", "DL-01 is live")
    # The seat agent dies: its link and its media go silent at once (no DTLS close: Janus
    # keeps its publisher, and the first process its handle).
    pc = first.publisher.connection
    assert pc is not None
    ice = pc.getTransceivers()[0].sender.transport.transport
    for protocol in ice._connection._protocols:
        protocol.transport.close()
    first.task.cancel()
    # Restarted, it comes back through the other process and publishes there.
    identity = dataclasses.replace(
        first.link.identity, hub_url=f"ws://127.0.0.1:{two.server.port}/ws/seat"
    )
    link = SeatLink(identity, random=lambda: 0.0)
    publisher = SeatPublisher(link.send, [TestPatternTrack(width=320, height=240, fps=15)])
    link.on_event = publisher.on_event
    task = asyncio.create_task(link.run())
    try:
        await eventually(lambda: plane(two).status("DL.DL-01").state == "live", "live via two")
        # The room holds the seat's new feed only: the old one is put out, not left for
        # whoever subscribes to pick.
        watcher = await JanusSession.create(janus.url, api_secret=janus.api_secret)
        try:
            room = room_for(session, plane(one).settings.room_key)
            handle = await watcher.attach()

            async def feeds() -> list[int]:
                present = await videoroom.participants(handle, room)
                return [p.feed for p in present if p.display == "DL.DL-01"]

            new = plane(two)._publishers["DL.DL-01"].feed
            for _ in range(100):
                if await feeds() == [new]:
                    break
                await asyncio.sleep(0.1)
            assert await feeds() == [new]
        finally:
            await watcher.close()
        await eventually(lambda: plane(one)._publishers["DL.DL-01"].ended, "ended at one")
        headers = await one.login("km_supervisor")
        assert (await one.seat_row(session, headers, "DL-01"))["state"] == "live"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await publisher.close()
