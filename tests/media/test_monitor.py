"""The seat monitor on a real forwarded stream: keyframe sampling, alerts, stream loss."""

from __future__ import annotations

from collections.abc import Callable

from aiortc import RTCPeerConnection

from media.conduct import AlertKind, ConductAlert, ConductRules
from media.forwarding import PublisherForwarder, accept_publisher
from media.monitor import SeatMonitor
from media.testpattern import Scene, TestPatternTrack
from tests.media.peers import connect, eventually

Peers = Callable[[], RTCPeerConnection]

FAST = ConductRules(
    empty_after=0.5,
    multiple_faces_after=0.5,
    covered_after=0.5,
    frozen_after=60,
    lost_after=1.0,
    clear_after=0.0,
)


async def test_alerts_follow_the_scene_and_the_stream(peers: Peers) -> None:
    camera = TestPatternTrack(fps=15)
    seat, hub = peers(), peers()
    seat.addTransceiver(camera, direction="sendonly")
    forwarder = PublisherForwarder(keyframe_interval=0.1)
    accept_publisher(hub, forwarder.by_kind())
    await connect(seat, hub)

    alerts: list[ConductAlert] = []
    monitor = SeatMonitor("C-03", forwarder.video, alerts.append, rules=FAST, sample_interval=0.2)
    monitor.start()
    try:
        await eventually(lambda: len(monitor.observations) >= 2, "two sampled pictures")
        assert all(o.faces == 1 for o in monitor.observations), monitor.observations

        camera.scene = Scene.TWO_FACES
        await eventually(
            lambda: any(a.kind is AlertKind.MULTIPLE_FACES for a in alerts), "two faces seen"
        )
        camera.scene = Scene.COVERED
        await eventually(
            lambda: any(a.kind is AlertKind.CAMERA_COVERED for a in alerts), "camera covered"
        )
        camera.scene = Scene.PRESENT
        await eventually(
            lambda: (
                {a.kind for a in alerts if a.cleared_at is not None}
                >= {AlertKind.MULTIPLE_FACES, AlertKind.CAMERA_COVERED}
            ),
            "both alerts cleared",
        )
        assert monitor.active() == []

        await seat.close()
        await eventually(
            lambda: any(a.kind is AlertKind.STREAM_LOST for a in alerts), "stream lost"
        )
        lost = next(a for a in alerts if a.kind is AlertKind.STREAM_LOST)
        assert lost.started_at == forwarder.video.counters.last_frame_at
    finally:
        await monitor.close()
        await forwarder.close()
    # Raised and cleared once each, in order.
    faces = [a for a in alerts if a.kind is AlertKind.MULTIPLE_FACES]
    assert [a.cleared_at is None for a in faces] == [True, False]
