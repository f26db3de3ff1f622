"""The hub's live media: one publisher per seat, any number of viewers, stats and alerts.

A seat publishes over one aiortc peer connection (its SDP offer arrives over the seat
websocket, see :meth:`LiveHub.publish`); its encoded frames go to a per-seat
:class:`~media.forwarding.PublisherForwarder`, which outlives the seat's peer connections:
after a network drop the seat makes a new connection and a new offer (aiortc has no ICE
restart), the hub closes the old connection and taps the new one into the same forwarder, and
viewers already watching simply see the picture come back. A supervisor's viewer
(:meth:`LiveHub.watch`) gets its own connection whose senders only packetise forwarded
packets: no decode or encode per viewer. With :attr:`LiveHub.recordings` set
(``evaluation_hub.live.recording``), each publication of a seat is also recorded, as one more
subscriber of the forwarder (not counted as a viewer), until its connection ends.

Every ``stats_interval`` the hub reads each connection's RTP counters (``media.stats``) and
recomputes each seat's state (``live``: connected and frames arriving; ``lost``: it had
published but frames stopped or the connection failed; ``connecting``; ``offline``;
``control_lost``: media flows but :attr:`LiveHub.link_up` says its control link is down).
State changes and conduct alerts (``media.monitor``) are published on the bus, channel
``live-seat:<seat key>``, and handed to the audit sink; raised alerts also go to the alert
sink, which records them in the supervision record. :meth:`LiveHub.latest` is the conduct
monitor's latest look at a seat's live picture, which check-in reads to confirm presence
(``evaluation_hub.checkin.picture.PictureSource``).

Never decodes or encodes media on the event loop, never holds unbounded buffers (bounded
viewer queues, a bus that drops for slow subscribers, capped viewers per seat and per
supervisor: ``live.viewer_places``), and closes a viewer not connected
``viewer_connect_timeout`` seconds after its answer (a page that offered and went away).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError

from evaluation_hub.bus.base import Bus
from evaluation_hub.live.background import Background
from evaluation_hub.live.offers import LatestOffers
from evaluation_hub.live.recording import SeatRecordings
from evaluation_hub.live.status import (
    MediaRefused,
    SeatStatus,
    alert_fields,
    audited_alert,
    seat_channel,
    seat_state,
)
from evaluation_hub.live.viewer_places import first_viewer_id, viewer_refusal
from media.conduct import ConductAlert, ConductRules, Observation
from media.forwarding import (
    ForwardedTrack,
    PublisherForwarder,
    accept_publisher,
    add_viewer,
    offered_kinds,
)
from media.monitor import SeatMonitor
from media.stats import RtpCounters, StreamStats, between, collect

__all__ = ["AlertSink", "AuditSink", "LiveHub", "ViewerSession"]

logger = logging.getLogger(__name__)

AuditSink = Callable[[str, str, str, Mapping[str, Any]], Awaitable[None]]
"""Called with (kind, subject, actor, payload) for every live state change worth auditing."""

AlertSink = Callable[[str, ConductAlert], Awaitable[None]]
"""Called with (seat key, alert) for every alert raised or cleared, for the supervision record."""

_SDP_ERRORS = (ValueError, InvalidAccessError, InvalidStateError, OperationError, InternalError)


@dataclass
class ViewerSession:
    """One supervisor's viewer connection to one seat."""

    id: int
    seat_key: str
    username: str
    pc: RTCPeerConnection
    tracks: list[ForwardedTrack]
    counters: dict[tuple[str, str, int], RtpCounters] = field(default_factory=dict)


@dataclass
class _Publisher:
    seat_key: str
    forwarder: PublisherForwarder
    monitor: SeatMonitor | None = None
    pc: RTCPeerConnection | None = None
    offer_id: str | None = None
    state: str = "offline"
    publications: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    counters: dict[tuple[str, str, int], RtpCounters] = field(default_factory=dict)
    stats: tuple[StreamStats, ...] = ()
    alerts: dict[str, ConductAlert] = field(default_factory=dict)


class LiveHub:
    """Per-process registry of seats' live media, their viewers, stats and alerts."""

    def __init__(
        self,
        bus: Bus,
        *,
        audit: AuditSink | None = None,
        alerts: AlertSink | None = None,
        rtc_configuration: RTCConfiguration | None = None,
        stats_interval: float = 1.0,
        lost_after: float = 3.0,
        max_viewers_per_seat: int = 16,
        max_viewers_per_user_per_seat: int = 2,
        max_viewers_per_user: int = 32,
        viewer_connect_timeout: float = 10.0,
        monitor: bool = True,
        conduct_rules: ConductRules | None = None,
        monitor_interval: float = 1.0,
        recordings: SeatRecordings | None = None,
        clock: Callable[[], float] = time.time,
        picture_max_age: float = 3.0,
    ) -> None:
        self._bus = bus
        self._audit = audit
        self._alerts = alerts
        self._rtc = rtc_configuration
        self._stats_interval = stats_interval
        self._lost_after = lost_after
        # Read at each viewer request: configuration may change them while the hub runs.
        self.max_viewers_per_seat = max_viewers_per_seat
        self.max_viewers_per_user_per_seat = max_viewers_per_user_per_seat
        self.max_viewers_per_user = max_viewers_per_user
        self.viewer_connect_timeout = viewer_connect_timeout
        self._monitor = monitor
        # Read when a seat first publishes; configuration may change them before that.
        self.conduct_rules = conduct_rules
        self.monitor_interval = monitor_interval
        # Read when the hub starts: one recorder per publication of each seat, or none.
        self.recordings = recordings
        # A sampled picture older than this (seconds) no longer shows who sits there now.
        self.picture_max_age = picture_max_age
        self._clock = clock
        self.link_up: Callable[[str], bool] = lambda seat_key: True  # the seat websocket's word
        self._publishers: dict[str, _Publisher] = {}
        self.offers = LatestOffers()  # one publication attempt per seat at a time
        self._viewers: dict[int, ViewerSession] = {}
        self._viewer_ids = first_viewer_id()
        self._background = Background()
        self._loop_task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the stats and state loop (call on the app's event loop)."""
        if self._loop_task is None:
            self._loop_task = asyncio.ensure_future(self._stats_loop())
            if self.recordings is not None:
                self.recordings.start()

    async def close(self) -> None:
        self._closed = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for viewer in list(self._viewers.values()):
            await self._close_viewer(viewer)
        if self.recordings is not None:
            # Before the forwarders close: every open segment is written and reported.
            await self.recordings.close()
        for pub in list(self._publishers.values()):
            if pub.monitor is not None:
                await pub.monitor.close()
            if pub.pc is not None:
                await pub.pc.close()
            await pub.forwarder.close()
        self._publishers.clear()
        await self._background.close()

    # --- publishers ----------------------------------------------------------------------

    async def publish(self, seat_key: str, offer_id: str, sdp: str) -> str:
        """Answer a seat's offer to publish; replaces the seat's previous connection."""
        if self._closed:
            raise MediaRefused("hub-closing", "主场枢纽正在关闭，请稍后重新推送音视频", 409)
        if not offered_kinds(sdp) & {"audio", "video"}:
            # Checked before anything is replaced: a broken offer must not end a live stream.
            raise MediaRefused(
                "media-offer-invalid", "工位的音视频推送请求无法处理（SDP 无效或不含可用编码）"
            )
        pub = self._publishers.get(seat_key)
        if pub is None:
            pub = self._publishers[seat_key] = _Publisher(
                seat_key, PublisherForwarder(clock=self._clock)
            )
            if self._monitor:
                pub.monitor = SeatMonitor(
                    seat_key,
                    pub.forwarder.video,
                    lambda alert: self._on_alert(seat_key, alert),
                    rules=self.conduct_rules,
                    sample_interval=self.monitor_interval,
                )
                pub.monitor.start()
        async with self.offers.turn(seat_key, offer_id, pub.lock):  # the newest only
            old, pub.pc = pub.pc, None
            if old is not None:
                # The seat gave up on it (a network drop); a connection is never restarted.
                await old.close()
            pc = RTCPeerConnection(self._rtc)
            accept_publisher(pc, pub.forwarder.by_kind())
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
            except _SDP_ERRORS as exc:
                await pc.close()
                logger.warning("seat %s sent an unusable media offer: %s", seat_key, exc)
                raise MediaRefused(
                    "media-offer-invalid", "工位的音视频推送请求无法处理（SDP 无效或不含可用编码）"
                ) from exc
            pub.pc = pc
            pub.offer_id = offer_id
            pub.publications += 1
            pub.counters.clear()
            if self.recordings is not None:
                # A new connection restarts its RTP timestamps: a new recorder, new segments.
                await self.recordings.restart(seat_key, pub.forwarder)

            recorder = None if self.recordings is None else self.recordings.recorder(seat_key)

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pub.pc is pc:
                    self._refresh(pub)
                    if recorder is not None and pc.connectionState in ("failed", "closed"):
                        # Close the open segment now, not when the seat comes back.
                        assert self.recordings is not None
                        self.recordings.stop_soon(seat_key, recorder)

            self._refresh(pub)
            self._spawn(
                self._record(
                    "live.publisher_connected",
                    seat_key,
                    "seat",
                    {"offer_id": offer_id, "publication": pub.publications},
                ),
                write=True,
            )
            description = pc.localDescription
            assert description is not None
            return description.sdp

    async def drop_publisher(self, seat_key: str) -> None:
        """Close the seat's current connection (the hub side of a network drop)."""
        pub = self._publishers.get(seat_key)
        if pub is not None and pub.pc is not None:
            await pub.pc.close()
            self._refresh(pub)

    # --- viewers -------------------------------------------------------------------------

    async def watch(self, seat_key: str, username: str, sdp: str) -> tuple[ViewerSession, str]:
        """Answer a supervisor's offer to watch ``seat_key`` (access already checked)."""
        pub = self._publishers.get(seat_key)
        if pub is None or pub.forwarder.video.codec is None:
            raise MediaRefused("seat-not-publishing", "该工位尚未推送音视频，请稍后再试", 409)
        refusal = viewer_refusal(
            ((v.seat_key, v.username) for v in self._viewers.values()),
            seat_key,
            username,
            viewers_of_seat=self._viewers_of(pub),
            per_seat=self.max_viewers_per_seat,
            per_user_per_seat=self.max_viewers_per_user_per_seat,
            per_user=self.max_viewers_per_user,
        )
        if refusal is not None:
            raise refusal
        pc = RTCPeerConnection(self._rtc)
        tracks = [add_viewer(pc, pub.forwarder.video)]
        if pub.forwarder.audio.codec is not None:
            tracks.append(add_viewer(pc, pub.forwarder.audio))
        viewer = ViewerSession(next(self._viewer_ids), seat_key, username, pc, tracks)
        # Counted from now on, not from the answer: concurrent offers are held to the caps too.
        self._viewers[viewer.id] = viewer
        try:
            # The transceivers exist before the offer is applied, so aiortc matches the
            # offer's m-lines to them and keeps their codec preference (the publisher's).
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except _SDP_ERRORS as exc:
            await self._close_viewer(viewer)
            raise MediaRefused(
                "viewer-offer-invalid",
                "观看请求的 SDP 无效，或浏览器不支持该工位视频的编码，无法建立观看连接",
            ) from exc
        except BaseException:
            # Cancelled (the supervisor's request went away) or failed otherwise: the viewer's
            # subscription must not keep holding a place under the cap.
            await asyncio.shield(self._close_viewer(viewer))
            raise

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._spawn(self._close_viewer(viewer))

        self._spawn(self._close_unless_connected(viewer))

        self._spawn(
            self._record("live.viewer_opened", seat_key, username, {"viewer_id": viewer.id}),
            write=True,
        )
        description = pc.localDescription
        assert description is not None
        return viewer, description.sdp

    async def viewer_stats(self, viewer: ViewerSession) -> tuple[StreamStats, ...]:
        """What the hub sent this viewer since the previous call: frames per second (frames
        handed to its senders), bitrate, and the loss and round-trip time its receiver reports."""
        if viewer.pc.connectionState != "connected":
            return ()
        frames = {track.kind: track.delivered for track in viewer.tracks}
        found = []
        for reading in await collect(viewer.pc, self._clock(), frames):
            key = (reading.kind, reading.direction, reading.ssrc)
            found.append(between(viewer.counters.get(key), reading))
            viewer.counters[key] = reading
        return tuple(found)

    def viewer(self, viewer_id: int) -> ViewerSession | None:
        return self._viewers.get(viewer_id)

    async def stop_viewer(self, viewer_id: int) -> None:
        viewer = self._viewers.get(viewer_id)
        if viewer is not None:
            await self._close_viewer(viewer)

    async def _close_unless_connected(self, viewer: ViewerSession) -> None:
        """Give the viewer's place back if its connection is not up in time."""
        await asyncio.sleep(self.viewer_connect_timeout)
        if viewer.id in self._viewers and viewer.pc.connectionState != "connected":
            logger.info(
                "viewer %s of seat %s (%s) did not connect within %g s: closed",
                viewer.id,
                viewer.seat_key,
                viewer.username,
                self.viewer_connect_timeout,
            )
            await self._close_viewer(viewer, reason="not-connected")

    async def _close_viewer(self, viewer: ViewerSession, *, reason: str | None = None) -> None:
        if self._viewers.pop(viewer.id, None) is not None:
            payload: dict[str, Any] = {"viewer_id": viewer.id}
            if reason is not None:
                payload["reason"] = reason
            self._spawn(
                self._record("live.viewer_closed", viewer.seat_key, viewer.username, payload),
                write=True,
            )
        for track in viewer.tracks:
            track.stop()
        await viewer.pc.close()

    # --- what the API reads ----------------------------------------------------------------

    def status(self, seat_key: str) -> SeatStatus:
        pub = self._publishers.get(seat_key)
        if pub is None:
            return SeatStatus("offline", (), (), 0, 0)
        return SeatStatus(
            state=pub.state,
            alerts=tuple(pub.alerts.values()),
            stats=pub.stats,
            viewers=self._viewers_of(pub),
            publications=pub.publications,
        )

    def latest(self, seat_key: str) -> Observation | None:
        """What the seat's conduct monitor saw in its latest sample of the live picture, or
        None when there is no live picture now: not publishing, not live (connecting, lost),
        or nothing sampled within ``picture_max_age`` seconds."""
        pub = self._publishers.get(seat_key)
        if pub is None or pub.monitor is None or self._state_of(pub) != "live":
            return None
        seen = pub.monitor.observations
        if not seen or self._clock() - seen[-1].at > self.picture_max_age:
            return None
        return seen[-1]

    def _viewers_of(self, pub: _Publisher) -> int:
        """Supervisors watching the seat: its forwarder's subscribers except the recorder."""
        count = pub.forwarder.video.counters.viewers
        if self.recordings is not None and self.recordings.recorder(pub.seat_key) is not None:
            count -= 1
        return count

    # --- state, stats and alerts ---------------------------------------------------------

    def _state_of(self, pub: _Publisher) -> str:
        last = pub.forwarder.video.counters.last_frame_at
        if last is None:
            last = pub.forwarder.audio.counters.last_frame_at
        return seat_state(
            None if pub.pc is None else pub.pc.connectionState,
            last,
            publications=pub.publications,
            now=self._clock(),
            lost_after=self._lost_after,
            link_up=self.link_up(pub.seat_key),
        )

    def _refresh(self, pub: _Publisher) -> None:
        state = self._state_of(pub)
        if state == pub.state:
            return
        pub.state = state
        event = {
            "type": "live.seat",
            "seat_key": pub.seat_key,
            "state": state,
            "at": self._clock(),
        }
        self._spawn(self._bus.publish(seat_channel(pub.seat_key), event))
        if state in ("live", "lost"):
            self._spawn(
                self._record(f"live.seat_{state}", pub.seat_key, "hub", {"offer_id": pub.offer_id}),
                write=True,
            )

    def _on_alert(self, seat_key: str, alert: ConductAlert) -> None:
        pub = self._publishers.get(seat_key)
        if pub is None:
            return
        if alert.cleared_at is None:
            pub.alerts[alert.kind.value] = alert
        else:
            pub.alerts.pop(alert.kind.value, None)
        event = alert_fields(alert)
        self._spawn(self._bus.publish(seat_channel(seat_key), {"type": "live.alert", **event}))
        kind = "live.alert_raised" if alert.cleared_at is None else "live.alert_cleared"
        self._spawn(
            self._record(kind, seat_key, "conduct-monitor", audited_alert(alert)), write=True
        )
        if self._alerts is not None:
            # Raised and cleared alike: a clearing closes the occurrence on its incident.
            self._spawn(self._report_alert(seat_key, alert), write=True)

    async def _stats_loop(self) -> None:
        while True:
            for pub in list(self._publishers.values()):
                try:
                    await self._read_stats(pub)
                except Exception:
                    logger.exception("live stats failed for seat %s", pub.seat_key)
                self._refresh(pub)
            await asyncio.sleep(self._stats_interval)

    async def _read_stats(self, pub: _Publisher) -> None:
        pc = pub.pc
        if pc is None or pc.connectionState != "connected":
            pub.stats = ()
            return
        frames = {
            "video": pub.forwarder.video.counters.frames_received,
            "audio": pub.forwarder.audio.counters.frames_received,
        }
        readings = await collect(pc, self._clock(), frames)
        found = []
        for reading in readings:
            key = (reading.kind, reading.direction, reading.ssrc)
            found.append(between(pub.counters.get(key), reading))
            pub.counters[key] = reading
        pub.stats = tuple(found)

    async def _record(
        self, kind: str, seat_key: str, actor: str, payload: Mapping[str, Any]
    ) -> None:
        if self._audit is None:
            return
        try:
            await self._audit(kind, f"seat:{seat_key}", actor, payload)
        except Exception:
            logger.exception("live audit event %s for seat %s failed", kind, seat_key)

    async def _report_alert(self, seat_key: str, alert: ConductAlert) -> None:
        assert self._alerts is not None
        try:
            await self._alerts(seat_key, alert)
        except Exception:
            logger.exception("conduct alert %s of seat %s not recorded", alert.kind, seat_key)

    def _spawn(self, coro: Awaitable[Any], *, write: bool = False) -> None:
        self._background.spawn(coro, write=write)
