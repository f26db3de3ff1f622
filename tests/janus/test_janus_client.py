"""The Janus client (media.janus) against a real Janus: only the holder of the API secret
drives it, only the holder of a room's pin joins it, and a seat's picture published through
VideoRoom reaches a subscriber."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from media.errors import JanusRefused
from media.janus import videoroom
from media.janus.client import JanusSession
from media.testpattern import TestPatternTrack
from tests.support.janus_server import JanusServer

pytestmark = pytest.mark.usefixtures("janus_candidates")


async def test_janus_refuses_a_caller_without_the_api_secret(janus: JanusServer) -> None:
    create = {"janus": "create", "transaction": "t"}
    async with aiohttp.ClientSession() as http, http.post(janus.url, json=create) as reply:
        body = await reply.json(content_type=None)
    assert body["error"] == {
        "code": 403,
        "reason": "Unauthorized request (wrong or missing secret/token)",
    }
    with pytest.raises(JanusRefused) as refused:
        await JanusSession.create(janus.url, api_secret="not-the-secret")
    assert (refused.value.code, refused.value.reason) == (
        403,
        "Unauthorized request (wrong or missing secret/token)",
    )


async def test_a_room_needs_the_admin_key_to_create_and_the_pin_to_join(
    janus: JanusServer,
) -> None:
    session = await JanusSession.create(janus.url, api_secret=janus.api_secret)
    try:
        handle = await session.attach()
        room = videoroom.Room(7001, "room-secret", "room-pin")
        with pytest.raises(JanusRefused) as refused:
            await videoroom.create_room(
                handle, room, admin_key="wrong", publishers=2, description="t"
            )
        assert (refused.value.code, refused.value.reason) == (
            433,
            "Unauthorized (wrong admin_key)",
        )
        created = await videoroom.create_room(
            handle, room, admin_key=janus.admin_key, publishers=2, description="t"
        )
        again = await videoroom.create_room(
            handle, room, admin_key=janus.admin_key, publishers=2, description="t"
        )
        assert (created, again) == (True, False)
        intruder = await session.attach()
        for pin, refusal in (
            (None, (429, "Missing mandatory element (pin)")),
            ("guess", (433, "Unauthorized (wrong pin)")),
        ):
            body = {"request": "join", "ptype": "publisher", "room": room.id, "display": "x"}
            if pin is not None:
                body["pin"] = pin
            with pytest.raises(JanusRefused) as refused:
                await intruder.message(body)
            assert (refused.value.code, refused.value.reason) == refusal
        await videoroom.destroy_room(handle, room)
    finally:
        await session.close()


async def test_a_published_picture_reaches_a_subscriber(janus: JanusServer) -> None:
    session = await JanusSession.create(janus.url, api_secret=janus.api_secret)
    publisher = RTCPeerConnection()
    viewer = RTCPeerConnection()
    video = TestPatternTrack()
    try:
        admin = await session.attach()
        room = videoroom.Room(7002, "s", "p")
        await videoroom.create_room(
            admin, room, admin_key=janus.admin_key, publishers=2, description="t"
        )
        publisher.addTrack(video)
        await publisher.setLocalDescription(await publisher.createOffer())
        assert publisher.localDescription is not None
        feed, answer = await videoroom.publish(
            await session.attach(), room, "A.01", publisher.localDescription.sdp
        )
        await publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        for _ in range(500):
            found = await videoroom.participants(admin, room)
            if found and found[0].publishing:
                break
            await asyncio.sleep(0.02)
        assert found == [videoroom.Participant(feed, "A.01", True)]
        subscriber = await session.attach()
        offer = await videoroom.subscribe(subscriber, room, feed)
        tracks: asyncio.Queue[object] = asyncio.Queue()
        viewer.on("track", tracks.put_nowait)
        await viewer.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await viewer.setLocalDescription(await viewer.createAnswer())
        assert viewer.localDescription is not None
        await videoroom.start(subscriber, room, viewer.localDescription.sdp)
        track = await asyncio.wait_for(tracks.get(), 10)
        frame = await asyncio.wait_for(track.recv(), 20)  # type: ignore[attr-defined]
        assert (frame.width, frame.height) == (640, 480)
    finally:
        video.stop()
        await publisher.close()
        await viewer.close()
        await session.close()
