"""Media statistics: figures from aiortc's reports and frame counters."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable

import pytest
from aiortc import RTCPeerConnection
from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCRemoteOutboundRtpStreamStats,
    RTCStatsReport,
)

from media.forwarding import PublisherForwarder, accept_publisher, add_viewer
from media.stats import RtpCounters, between, collect, read_report
from media.testpattern import TestPatternTrack
from tests.media.peers import collect_tracks, connect

NOW = datetime.datetime(2025, 3, 3, 9, 0, tzinfo=datetime.UTC)


def report(sent: int, octets: int, lost: int, rtt: float | None) -> RTCStatsReport:
    stats = RTCStatsReport()
    stats.add(
        RTCOutboundRtpStreamStats(
            timestamp=NOW,
            type="outbound-rtp",
            id="out",
            ssrc=7,
            kind="video",
            transportId="t",
            packetsSent=sent,
            bytesSent=octets,
            trackId="x",
        )
    )
    if rtt is not None:
        stats.add(
            RTCRemoteInboundRtpStreamStats(
                timestamp=NOW,
                type="remote-inbound-rtp",
                id="rin",
                ssrc=99,
                kind="video",
                transportId="t",
                packetsReceived=sent - lost,
                packetsLost=lost,
                jitter=900,
                roundTripTime=rtt,
                fractionLost=0,
            )
        )
    stats.add(
        RTCInboundRtpStreamStats(
            timestamp=NOW,
            type="inbound-rtp",
            id="in",
            ssrc=8,
            kind="audio",
            transportId="t",
            packetsReceived=sent,
            packetsLost=lost,
            jitter=480,
        )
    )
    stats.add(
        RTCRemoteOutboundRtpStreamStats(
            timestamp=NOW,
            type="remote-outbound-rtp",
            id="rout",
            ssrc=8,
            kind="audio",
            transportId="t",
            packetsSent=sent + lost,
            bytesSent=octets // 10,
        )
    )
    return stats


def test_two_readings_give_rates_loss_jitter_and_rtt() -> None:
    first = read_report(report(1000, 100_000, 0, 0.020), at=10.0, frames={"video": 150})
    second = read_report(report(1100, 225_000, 10, 0.030), at=12.0, frames={"video": 180})
    video = next(between(a, b) for a, b in zip(first, second, strict=True) if b.kind == "video")
    assert video.direction == "outbound" and video.ssrc == 7
    assert video.fps == pytest.approx(15.0)
    assert video.bitrate_bps == pytest.approx(500_000.0)
    assert video.loss_fraction == pytest.approx(10 / 100)
    assert video.packets_lost == 10
    assert video.jitter_ms == pytest.approx(10.0)
    assert video.round_trip_time_ms == pytest.approx(30.0)

    audio = next(between(a, b) for a, b in zip(first, second, strict=True) if b.kind == "audio")
    assert audio.direction == "inbound" and audio.ssrc == 8
    assert audio.fps is None  # no frame counter for audio was given
    assert audio.bitrate_bps == pytest.approx(50_000.0)
    assert audio.loss_fraction == pytest.approx(10 / 110)
    assert audio.jitter_ms == pytest.approx(10.0)
    assert audio.round_trip_time_ms is None


def test_one_reading_has_no_rates() -> None:
    (video, _) = read_report(report(10, 1000, 0, None), at=1.0)
    figures = between(None, video)
    assert (figures.fps, figures.bitrate_bps, figures.loss_fraction) == (None, None, None)
    assert figures.round_trip_time_ms is None and figures.packets_lost is None


def test_readings_of_different_streams_are_not_compared() -> None:
    a = RtpCounters(1.0, "video", "outbound", 1, 10, 100, 0, None, None, 1)
    b = RtpCounters(2.0, "video", "outbound", 2, 20, 200, 0, None, None, 2)
    assert between(a, b).bitrate_bps is None


async def test_a_forwarded_viewer_stream_reports_fps_bitrate_and_rtt(
    peers: Callable[[], RTCPeerConnection],
) -> None:
    seat, hub_in, hub_out, viewer = peers(), peers(), peers(), peers()
    seat.addTransceiver(TestPatternTrack(fps=15), direction="sendonly")
    forwarder = PublisherForwarder()
    accept_publisher(hub_in, forwarder.by_kind())
    await connect(seat, hub_in)
    track = add_viewer(hub_out, forwarder.video)
    tracks = collect_tracks(viewer)
    await connect(hub_out, viewer)
    for _ in range(3):
        await tracks["video"].recv()

    loop = asyncio.get_running_loop()
    before = (await collect(hub_out, loop.time(), {"video": track.delivered}))[0]
    after = before
    deadline = loop.time() + 20  # only stops a broken test from hanging
    # The round-trip time needs a sender report answered by a receiver report.
    while after.round_trip_time_s is None:
        assert loop.time() < deadline, "no round-trip time was ever reported"
        await tracks["video"].recv()
        after = (await collect(hub_out, loop.time(), {"video": track.delivered}))[0]

    figures = between(before, after)
    assert (figures.kind, figures.direction) == ("video", "outbound")
    assert figures.fps is not None and figures.fps > 0
    assert figures.bitrate_bps is not None and figures.bitrate_bps > 0
    assert figures.round_trip_time_ms is not None and figures.round_trip_time_ms >= 0

    frames = forwarder.video.counters.frames_received
    inbound = await collect(hub_in, loop.time(), {"video": frames})
    assert [(c.kind, c.direction) for c in inbound] == [("video", "inbound")]
    assert inbound[0].packets > 0 and inbound[0].frames == frames
    await forwarder.close()
