"""Encoded forwarding over real aiortc peers on 127.0.0.1: publisher → hub → viewers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver
from av import AudioFrame, VideoFrame

from media import _aiortc_internals as internals
from media.errors import PublisherNotReady, ReceiverAlreadyStarted
from media.forwarding import PublisherForwarder, accept_publisher, add_viewer
from media.testpattern import TestPatternTrack, ToneTrack, read_timestamp, wall_clock_us
from tests.media.peers import collect_tracks, connect, eventually

Peers = Callable[[], RTCPeerConnection]


async def publish(peers: Peers, forwarder: PublisherForwarder, audio: bool = False) -> None:
    """A seat publishing the test pattern (and a tone) to the hub, which forwards it."""
    seat, hub = peers(), peers()
    seat.addTransceiver(TestPatternTrack(fps=15), direction="sendonly")
    if audio:
        seat.addTransceiver(ToneTrack(), direction="sendonly")
    accept_publisher(hub, forwarder.by_kind())
    await connect(seat, hub)


@dataclass
class Viewer:
    pc: RTCPeerConnection
    tracks: dict[str, MediaStreamTrack]

    def __getitem__(self, kind: str) -> MediaStreamTrack:
        return self.tracks[kind]

    def video_receiver(self) -> RTCRtpReceiver:
        return next(r for r in self.pc.getReceivers() if r.track is self.tracks["video"])


async def watch(peers: Peers, forwarder: PublisherForwarder, audio: bool = False) -> Viewer:
    """A viewer connection from the hub (the offerer) to a supervisor."""
    hub, viewer = peers(), peers()
    add_viewer(hub, forwarder.video)
    if audio:
        add_viewer(hub, forwarder.audio)
    tracks = collect_tracks(viewer)
    await connect(hub, viewer)
    return Viewer(viewer, tracks)


async def timestamps(track: MediaStreamTrack, count: int) -> list[int]:
    """Drawn capture times of the next ``count`` decoded frames."""
    found = []
    for _ in range(count):
        frame = await asyncio.wait_for(track.recv(), 10)
        assert isinstance(frame, VideoFrame)
        assert frame.format.name == "yuv420p"
        assert (frame.width, frame.height) == (640, 480)
        stamp = read_timestamp(frame)
        assert stamp is not None, "a forwarded frame lost its drawn timestamp"
        found.append(stamp)
    return found


async def test_three_viewers_receive_decodable_frames_in_order(
    peers: Peers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiortc")
    forwarder = PublisherForwarder()
    await publish(peers, forwarder, audio=True)
    viewers = [await watch(peers, forwarder, audio=True) for _ in range(3)]

    for tracks in viewers:
        stamps = await timestamps(tracks["video"], 10)
        assert stamps == sorted(stamps) and len(set(stamps)) == 10
        sound = await asyncio.wait_for(tracks["audio"].recv(), 10)
        assert isinstance(sound, AudioFrame) and sound.samples > 0

    counters = forwarder.video.counters
    assert counters.viewers == 3
    assert counters.codec_mismatches == 0
    assert forwarder.audio.counters.frames_received > 0
    # Every viewer started at a keyframe: no decoder ever failed and asked for a picture.
    assert counters.keyframe_requests_from_viewers == 0
    assert not [r for r in caplog.records if "failed to decode" in r.getMessage()]
    await forwarder.close()


async def test_a_late_viewer_gets_a_fresh_keyframe(peers: Peers) -> None:
    forwarder = PublisherForwarder()
    await publish(peers, forwarder)
    first = await watch(peers, forwarder)
    await timestamps(first["video"], 5)
    before = forwarder.video.counters

    joined_us = wall_clock_us()
    late = await watch(peers, forwarder)
    stamps = await timestamps(late["video"], 5)

    after = forwarder.video.counters
    # The join asked the publisher for a keyframe, and one came: the late viewer's first
    # picture was captured after it joined, not replayed from a backlog.
    assert after.keyframe_requests_sent > before.keyframe_requests_sent
    assert after.keyframes_received > before.keyframes_received
    assert stamps[0] >= joined_us
    # The first viewer went on undisturbed.
    more = await timestamps(first["video"], 3)
    assert more == sorted(more)
    await forwarder.close()


async def test_viewer_keyframe_requests_are_relayed_within_the_pacing(peers: Peers) -> None:
    # An interval no test run reaches: everything after the join's request is suppressed.
    forwarder = PublisherForwarder(keyframe_interval=3600)
    await publish(peers, forwarder)
    seen = await watch(peers, forwarder)
    await timestamps(seen["video"], 3)
    assert forwarder.video.counters.keyframe_requests_sent == 1

    viewer_receiver = seen.video_receiver()
    for _ in range(5):
        await internals.send_picture_loss(viewer_receiver)
    await eventually(
        lambda: forwarder.video.counters.keyframe_requests_from_viewers == 5,
        "the hub received the viewer's five PLIs",
    )
    counters = forwarder.video.counters
    assert counters.keyframe_requests_sent == 1
    assert counters.keyframe_requests_suppressed == 5
    await forwarder.close()


async def test_a_relayed_viewer_request_makes_the_publisher_send_a_keyframe(
    peers: Peers,
) -> None:
    forwarder = PublisherForwarder(keyframe_interval=0)
    await publish(peers, forwarder)
    seen = await watch(peers, forwarder)
    await timestamps(seen["video"], 3)
    keyframes = forwarder.video.counters.keyframes_received
    sent = forwarder.video.counters.keyframe_requests_sent

    viewer_receiver = seen.video_receiver()
    await internals.send_picture_loss(viewer_receiver)
    await eventually(
        lambda: forwarder.video.counters.keyframes_received > keyframes,
        "the publisher answered the relayed PLI with a keyframe",
    )
    assert forwarder.video.counters.keyframe_requests_from_viewers == 1
    assert forwarder.video.counters.keyframe_requests_sent == sent + 1
    await forwarder.close()


async def test_a_stalled_viewer_stays_bounded_and_blocks_nobody(peers: Peers) -> None:
    forwarder = PublisherForwarder(viewer_capacity=4)
    await publish(peers, forwarder)
    healthy = await watch(peers, forwarder)
    await timestamps(healthy["video"], 2)

    # A viewer whose sender pulled once and then stopped pulling.
    stalled = forwarder.video.subscribe()
    await asyncio.wait_for(stalled.recv(), 10)
    largest = 0

    def overflowed_twice() -> bool:
        nonlocal largest
        largest = max(largest, len(stalled.buffer))
        return stalled.buffer.overflows >= 2

    stamps: list[int] = []
    while not overflowed_twice():
        stamps += await timestamps(healthy["video"], 1)
    assert largest <= 4
    assert stalled.buffer.dropped > 0
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    await forwarder.close()


async def test_viewers_wait_for_the_publisher(peers: Peers) -> None:
    forwarder = PublisherForwarder()
    with pytest.raises(PublisherNotReady) as caught:
        add_viewer(peers(), forwarder.video)
    assert str(caught.value) == (
        "the publisher's video codec is not negotiated yet; add viewers after the "
        "publisher's offer has been accepted"
    )


async def test_a_receiver_already_receiving_cannot_be_tapped(peers: Peers) -> None:
    forwarder = PublisherForwarder()
    await publish(peers, forwarder)
    seen = await watch(peers, forwarder)
    await timestamps(seen["video"], 1)
    receiver = seen.video_receiver()
    with pytest.raises(ReceiverAlreadyStarted) as caught:
        internals.tap_receiver(receiver, lambda mime, data, ts: None)
    assert str(caught.value) == (
        "the RTCRtpReceiver is already receiving; tap it from the peer connection's "
        "'track' event, before the connection is established"
    )
    await forwarder.close()
