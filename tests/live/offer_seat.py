"""A seat link that sends media offers by hand (no publisher retrying on its own), each from
its own aiortc connection publishing the test pattern, and records the hub's replies."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription

from media.testpattern import Scene, TestPatternTrack, ToneTrack
from seat_agent.connection import SeatLink
from seat_protocol.events import Connected, Event, MessageReceived
from seat_protocol.messages import ErrorNotice, MediaAnswer, MediaOffer
from tests.live.conftest import Rig, eventually


@dataclass
class OfferingSeat:
    link: SeatLink
    task: asyncio.Task[None]
    connected: asyncio.Event
    replies: dict[str, MediaAnswer | ErrorNotice] = field(default_factory=dict)
    pcs: dict[str, RTCPeerConnection] = field(default_factory=dict)
    tracks: list[TestPatternTrack | ToneTrack] = field(default_factory=list)

    async def offer(self, offer_id: str) -> None:
        """Offer to publish from a new connection (as the publisher does after a timeout)."""
        pc = RTCPeerConnection()
        video, tone = (
            TestPatternTrack(width=320, height=240, fps=15, scene=Scene.PRESENT),
            ToneTrack(),
        )
        self.tracks += [video, tone]
        pc.addTrack(video)
        pc.addTrack(tone)
        await pc.setLocalDescription(await pc.createOffer())
        assert pc.localDescription is not None
        self.pcs[offer_id] = pc
        await self.link.send(MediaOffer(offer_id=offer_id, sdp=pc.localDescription.sdp))

    async def connect(self, offer_id: str) -> None:
        """Take the hub's answer to ``offer_id``."""
        reply = self.replies[offer_id]
        assert isinstance(reply, MediaAnswer), reply
        await self.pcs[offer_id].setRemoteDescription(RTCSessionDescription(reply.sdp, "answer"))

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        for pc in self.pcs.values():
            await pc.close()
        for track in self.tracks:
            track.stop()


async def offering_seat(rig: Rig, label: str, venue: str) -> OfferingSeat:
    identity = await rig.enrol(label, venue)
    connected = asyncio.Event()
    seat: OfferingSeat | None = None

    async def on_event(event: Event) -> None:
        assert seat is not None
        if isinstance(event, Connected):
            connected.set()
        elif isinstance(event, MessageReceived):
            msg = event.message
            if isinstance(msg, MediaAnswer):
                seat.replies[msg.offer_id] = msg
            elif isinstance(msg, ErrorNotice) and msg.ref is not None:
                seat.replies[msg.ref] = msg

    link = SeatLink(identity, on_event=on_event, random=lambda: 0.0)
    seat = OfferingSeat(link, asyncio.create_task(link.run()), connected)
    await eventually(connected.is_set, f"{venue}.{label} is connected")
    return seat
