"""Seats publish through the hub and supervisors watch: real hub, real seat websocket, real
aiortc peers on 127.0.0.1. Frames a viewer decodes carry the test pattern's drawn timestamp,
so they are the seat's pictures, forwarded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aioice.ice
import pytest
from aiortc import MediaStreamTrack

from evaluation_hub.audit.store import load_chain
from media.testpattern import read_timestamp
from tests.live.conftest import Rig, Viewer, eventually


async def decoded_frames(track: MediaStreamTrack, count: int) -> list[int]:
    """Decode ``count`` video frames and return their drawn capture timestamps."""
    stamps = []
    while len(stamps) < count:
        # The limit only turns a hang into a failure.
        frame = await asyncio.wait_for(track.recv(), 20)
        stamp = read_timestamp(frame)  # type: ignore[arg-type]
        if stamp is not None:
            stamps.append(stamp)
    return stamps


async def test_seat_publishes_and_a_host_supervisor_watches(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    seat = await rig.publish("DL-01", "DL")
    session = rig.ids["session"]
    headers = await rig.login("km_supervisor")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "the seat is live")
    row = await rig.seat_row(session, headers, "DL-01")
    assert row["state"] == "live"
    assert row["seat_key"] == "DL.DL-01"
    assert row["expert_code"] == "E03"
    assert row["venue_name"] == "大理州公共资源交易中心"

    viewer = viewers()
    await viewer.watch(rig, session, row["seat_id"], headers)
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    stamps = await decoded_frames(viewer.tracks["video"], 10)
    assert stamps == sorted(stamps)
    assert "audio" in viewer.tracks
    audio = await viewer.tracks["audio"].recv()
    assert audio is not None
    assert seat.publisher.offers == 1
    assert rig.live.status("DL.DL-01").viewers == 1

    # The seat's connection and the supervisor's viewing are in the audit chain.
    async def audited() -> list[tuple[str, str, str]]:
        async with rig.db.read() as s:
            events = await load_chain(s)
        return [(e.kind, e.subject, e.actor) for e in events if e.kind.startswith("live.")]

    for _ in range(200):
        if ("live.viewer_opened", "seat:DL.DL-01", "km_supervisor") in await audited():
            break
        await asyncio.sleep(0.02)
    kinds = await audited()
    assert ("live.publisher_connected", "seat:DL.DL-01", "seat") in kinds
    assert ("live.seat_live", "seat:DL.DL-01", "hub") in kinds
    assert ("live.viewer_opened", "seat:DL.DL-01", "km_supervisor") in kinds

    # The API's figures for the seat's incoming video, computed by the hub between two of its
    # readings; bytes come with the seat's sender reports, so they may lag the frame count.
    async def video_stats() -> dict[str, Any]:
        row = await rig.seat_row(session, headers, "DL-01")
        found = [s for s in row["stats"] if s["kind"] == "video"]
        return found[0] if found else {}

    video: dict[str, Any] = {}
    for _ in range(500):
        video = await video_stats()
        if video.get("fps") and video.get("bitrate_bps"):
            break
        await decoded_frames(viewer.tracks["video"], 1)
    assert video["direction"] == "inbound"
    assert video["fps"] > 0
    assert video["bitrate_bps"] > 0
    assert video["packets_lost"] is not None


async def test_two_viewers_of_one_seat_each_decode_its_frames(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    await rig.publish("QJ-01", "QJ")
    session = rig.ids["session"]
    await eventually(lambda: rig.live.status("QJ.QJ-01").state == "live", "the seat is live")
    host = await rig.login("km_supervisor")
    away = await rig.login("qj_supervisor")
    seat_id = rig.ids["seats"]["QJ-01"]
    first, second = viewers(), viewers()
    await first.watch(rig, session, seat_id, host)
    await second.watch(rig, session, seat_id, away)
    await eventually(lambda: "video" in first.tracks and "video" in second.tracks, "tracks")
    assert len(await decoded_frames(first.tracks["video"], 5)) == 5
    assert len(await decoded_frames(second.tracks["video"], 5)) == 5
    assert rig.live.status("QJ.QJ-01").viewers == 2

    # A viewer's own figures, as the hub sends them: frames, bytes, and the round-trip time
    # and loss its receiver reports back.
    url = f"{rig.base}/api/live/viewers/{first.viewer_id}"
    video: dict[str, Any] = {}
    for _ in range(500):
        async with rig.http.get(f"{url}/stats", headers=host) as resp:
            assert resp.status == 200, await resp.text()
            streams = (await resp.json())["streams"]
        video = next((s for s in streams if s["kind"] == "video"), {})
        # Loss needs two readings that both carry the viewer's receiver report.
        reported = video.get("round_trip_time_ms") is not None
        if video.get("fps") and reported and video.get("loss_fraction") is not None:
            break
        await decoded_frames(first.tracks["video"], 1)
    assert video["direction"] == "outbound"
    assert video["fps"] > 0
    assert video["bitrate_bps"] > 0
    assert video["round_trip_time_ms"] >= 0
    assert video["loss_fraction"] is not None

    # Only one's own viewer can be read or closed.
    for method in ("GET", "DELETE"):
        path = f"{url}/stats" if method == "GET" else url
        async with rig.http.request(method, path, headers=away) as resp:
            assert resp.status == 403
            body = await resp.json(content_type=None)
            assert body["detail"] == f"观看连接 #{first.viewer_id} 不是当前用户打开的"
    async with rig.http.delete(url, headers=host) as resp:
        assert resp.status == 204
    assert rig.live.status("QJ.QJ-01").viewers == 1
    async with rig.http.delete(url, headers=host) as resp:
        assert resp.status == 404


async def test_after_the_hub_drops_the_connection_the_seat_reconnects_and_viewers_see_it_again(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    seat = await rig.publish("DL-02", "DL", retry_delay=0.2)
    session = rig.ids["session"]
    await eventually(lambda: rig.live.status("DL.DL-02").state == "live", "the seat is live")
    headers = await rig.login("dl_supervisor")
    viewer = viewers()
    await viewer.watch(rig, session, rig.ids["seats"]["DL-02"], headers)
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    before = await decoded_frames(viewer.tracks["video"], 3)
    first_connection = seat.publisher.connection

    await rig.live.drop_publisher("DL.DL-02")
    await eventually(lambda: seat.publisher.offers == 2, "the seat offers a new connection")
    assert seat.publisher.connection is not first_connection
    await eventually(lambda: seat.publisher.answered == 2, "the hub answers it")
    await eventually(lambda: rig.live.status("DL.DL-02").state == "live", "live again")
    assert rig.live.status("DL.DL-02").publications == 2
    # The same viewer connection decodes pictures captured after the new connection was made.
    after = await decoded_frames(viewer.tracks["video"], 20)
    assert after[-1] > before[-1]


async def test_after_the_network_fails_the_seat_builds_a_new_connection(
    rig: Rig, viewers: Callable[[], Viewer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Consent freshness (RFC 7675) is how a silent network failure is noticed; its timer is
    # shortened here, as a fake of time, so the failure shows in about a second.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 2)
    seat = await rig.publish("QJ-02", "QJ", retry_delay=0.2)
    session = rig.ids["session"]
    await eventually(lambda: rig.live.status("QJ.QJ-02").state == "live", "the seat is live")
    viewer = viewers()
    await viewer.watch(rig, session, rig.ids["seats"]["QJ-02"], await rig.login("qj_supervisor"))
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    before = await decoded_frames(viewer.tracks["video"], 3)

    # The hub's end of the seat's connection goes silent: its UDP sockets close without a
    # word (no DTLS close), as when a cable is pulled. The seat's consent checks then fail.
    first = seat.publisher.connection
    hub_pc = rig.live._publishers["QJ.QJ-02"].pc
    assert hub_pc is not None
    ice = hub_pc.getTransceivers()[0].receiver.transport.transport
    for protocol in ice._connection._protocols:
        protocol.transport.close()
    states: list[str] = []
    assert first is not None
    first.on("connectionstatechange", lambda: states.append(first.connectionState))
    await eventually(lambda: seat.publisher.offers == 2, "the seat offers a new connection")
    # aiortc reports expired consent by closing the connection (browsers say "failed").
    assert states and states[-1] in ("failed", "closed")
    await eventually(lambda: seat.publisher.answered == 2, "the hub answers it")
    after = await decoded_frames(viewer.tracks["video"], 10)
    assert after[-1] > before[-1]
    assert rig.live.status("QJ.QJ-02").publications == 2
