"""A seat link that sends media offers by hand (no publisher retrying on its own), each from
its own aiortc connection publishing the test pattern, and records the hub's replies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription

from evaluation_hub.live.offers import SUPERSEDED, LatestOffers
from evaluation_hub.live.status import SeatStatus
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


SUPERSEDED_MESSAGE = "该工位已发出更新的音视频推送请求，本次请求不再处理"


async def older_offers_are_dropped(
    seat: OfferingSeat,
    seat_key: str,
    status: Callable[[], SeatStatus],
    offers: LatestOffers,
    turn: Callable[[], asyncio.Lock],
) -> None:
    """The seat publishes; then, while the hub is busy with it (its ``turn()`` lock taken), it
    offers three times: the two older offers are refused as superseded, the newest is answered
    and is the seat's only new publication, and the wall says live."""
    await seat.offer("mo-first")
    await eventually(lambda: "mo-first" in seat.replies, "the first offer is answered")
    await seat.connect("mo-first")
    await eventually(lambda: status().state == "live", f"{seat_key} is live")
    async with turn():
        for offer_id in ("mo-2", "mo-3", "mo-4"):
            await seat.offer(offer_id)
        await eventually(lambda: offers.latest(seat_key) == "mo-4", "all arrived")
        await asyncio.sleep(0.1)  # the older ones are queued behind the lock
    await eventually(lambda: len(seat.replies) == 4, "every offer has its reply")
    for offer_id in ("mo-2", "mo-3"):
        refused = seat.replies[offer_id]
        assert isinstance(refused, ErrorNotice)
        assert (refused.code, refused.message) == (SUPERSEDED[0], SUPERSEDED_MESSAGE)
    assert offers.superseded == 2
    await seat.connect("mo-4")
    assert status().publications == 2
    await eventually(lambda: status().state == "live", "the newest offer is live")
