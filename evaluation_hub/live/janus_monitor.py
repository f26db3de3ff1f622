"""The conduct monitor with the Janus media plane (行为监测，Janus): it subscribes to a seat's
feed like a viewer (not counted as one) and samples keyframes only, as with the built-in
forwarder.

For each seat live in a room of this hub process, :class:`JanusMonitors` opens one subscriber
of the seat's feed: an aiortc peer connection whose received packets go to a
:class:`~media.forwarding.PublisherForwarder` (no decoding), watched by the same
:class:`~media.monitor.SeatMonitor` as the built-in hub's: it asks for a keyframe every
``interval`` seconds (Janus passes the request on to the seat) and analyses only keyframes, on
its own thread. Alerts raised and cleared go where the built-in hub's go: the seat's bus
channel (``live.alert``), the audit chain (``live.alert_raised`` / ``live.alert_cleared``)
and the alert sink (the supervision record's incidents). :meth:`JanusMonitors.latest` is the
monitor's latest look at the seat, which check-in reads to confirm presence.
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

from evaluation_hub.bus.base import Bus
from evaluation_hub.live.status import alert_fields, audited_alert, seat_channel
from media.conduct import ConductAlert, ConductRules, Observation
from media.errors import JanusError
from media.forwarding import PublisherForwarder, accept_publisher
from media.janus import videoroom
from media.janus.client import JanusHandle, JanusSession
from media.janus.videoroom import Room
from media.monitor import SeatMonitor

__all__ = ["JanusMonitors"]

logger = logging.getLogger(__name__)

AuditSink = Callable[[str, str, str, Mapping[str, Any]], Awaitable[None]]
AlertSink = Callable[[str, ConductAlert], Awaitable[None]]


@dataclass
class _Watch:
    handle: JanusHandle
    pc: RTCPeerConnection
    forwarder: PublisherForwarder
    monitor: SeatMonitor | None = None
    alerts: dict[str, ConductAlert] = field(default_factory=dict)


class JanusMonitors:
    """This process's conduct monitors of the seats it publishes to Janus."""

    def __init__(
        self,
        bus: Bus,
        *,
        audit: AuditSink | None = None,
        alerts: AlertSink | None = None,
        rules: ConductRules | None = None,
        interval: float = 1.0,
        picture_max_age: float = 3.0,
        rtc_configuration: RTCConfiguration | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bus = bus
        self._audit = audit
        self._alert_sink = alerts
        self.rules = rules
        self.interval = interval
        self.picture_max_age = picture_max_age
        self._rtc = rtc_configuration
        self._clock = clock
        self._watching: dict[str, _Watch] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def watch(self, seat_key: str, session: JanusSession, room: Room, feed: int) -> None:
        """Subscribe the seat's monitor to ``feed`` (replacing a previous one)."""
        # One setup or teardown per seat at a time: a peer connection closed while it is still
        # gathering its candidates would leave their sockets open.
        async with self._locks.setdefault(seat_key, asyncio.Lock()):
            await self._stop(seat_key)
            if not self._closed:
                await self._watch(seat_key, session, room, feed)

    async def _watch(self, seat_key: str, session: JanusSession, room: Room, feed: int) -> None:
        forwarder = PublisherForwarder(clock=self._clock)
        pc = RTCPeerConnection(self._rtc)
        accept_publisher(pc, forwarder.by_kind())
        try:
            handle = await session.attach()
        except BaseException:  # Janus away, or the hub stopping meanwhile
            await asyncio.shield(pc.close())
            await asyncio.shield(forwarder.close())
            raise
        watch = _Watch(handle, pc, forwarder)
        self._watching[seat_key] = watch
        try:
            offer = await videoroom.subscribe(handle, room, feed)
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            assert pc.localDescription is not None
            await videoroom.start(handle, room, pc.localDescription.sdp)
        except BaseException:
            await asyncio.shield(self._stop(seat_key))
            raise
        watch.monitor = SeatMonitor(
            seat_key,
            forwarder.video,
            lambda alert: self._on_alert(seat_key, alert),
            rules=self.rules,
            sample_interval=self.interval,
        )
        watch.monitor.start()

    async def stop(self, seat_key: str) -> None:
        async with self._locks.setdefault(seat_key, asyncio.Lock()):
            await self._stop(seat_key)

    async def _stop(self, seat_key: str) -> None:
        watch = self._watching.pop(seat_key, None)
        if watch is None:
            return
        if watch.monitor is not None:
            await watch.monitor.close()
        await watch.pc.close()
        await watch.forwarder.close()
        with contextlib.suppress(JanusError):
            await watch.handle.detach()

    async def close(self) -> None:
        self._closed = True
        for seat_key in list(self._locks):
            await self.stop(seat_key)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def alerts(self, seat_key: str) -> tuple[ConductAlert, ...]:
        watch = self._watching.get(seat_key)
        return () if watch is None else tuple(watch.alerts.values())

    def latest(self, seat_key: str) -> Observation | None:
        """The monitor's latest sample of the seat, if recent enough to show who sits there."""
        watch = self._watching.get(seat_key)
        if watch is None or watch.monitor is None or not watch.monitor.observations:
            return None
        seen = watch.monitor.observations[-1]
        return seen if self._clock() - seen.at <= self.picture_max_age else None

    def _on_alert(self, seat_key: str, alert: ConductAlert) -> None:
        watch = self._watching.get(seat_key)
        if watch is None:
            return
        if alert.cleared_at is None:
            watch.alerts[alert.kind.value] = alert
        else:
            watch.alerts.pop(alert.kind.value, None)
        event = {"type": "live.alert", **alert_fields(alert)}
        self._spawn(self._bus.publish(seat_channel(seat_key), event))
        kind = "live.alert_raised" if alert.cleared_at is None else "live.alert_cleared"
        if self._audit is not None:
            self._spawn(
                self._audit(kind, f"seat:{seat_key}", "conduct-monitor", audited_alert(alert))
            )
        if self._alert_sink is not None:
            self._spawn(self._alert_sink(seat_key, alert))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                logger.exception("conduct alert delivery failed")

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
