"""A starved hub's seat: the publisher backs off between offers that get no answer, and the hub
answers only a seat's newest offer, dropping the older ones still waiting (built-in
forwarder; the Janus plane's twin is ``tests/janus/test_janus_offers.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from aiortc import RTCPeerConnection, RTCSessionDescription

from media.testpattern import TestPatternTrack
from seat_agent.publisher import SeatPublisher
from seat_protocol.events import Connected, MessageReceived
from seat_protocol.messages import AppMessage, MediaAnswer, MediaOffer
from tests.live.conftest import Rig, eventually
from tests.live.offer_seat import offering_seat, older_offers_are_dropped


async def test_a_seats_older_offers_waiting_for_a_busy_hub_are_dropped_for_the_newest(
    rig: Rig,
) -> None:
    seat_key = "DL.DL-01"
    seat = await offering_seat(rig, "DL-01", "DL")
    try:
        await older_offers_are_dropped(
            seat,
            seat_key,
            lambda: rig.live.status(seat_key),
            rig.live.offers,
            lambda: rig.live._publishers[seat_key].lock,
        )
    finally:
        await seat.close()


class _Hub:
    """A hub that never answers (starved), or answers the n-th offer with a real peer."""

    def __init__(self, answer_nth: int | None = None) -> None:
        self.offers: list[MediaOffer] = []
        self.answer_nth = answer_nth
        self.peers: list[RTCPeerConnection] = []
        self.publisher: SeatPublisher | None = None

    async def send(self, msg: AppMessage) -> None:
        assert isinstance(msg, MediaOffer)
        self.offers.append(msg)
        if len(self.offers) == self.answer_nth:
            asyncio.get_running_loop().create_task(self._answer(msg))

    async def _answer(self, offer: MediaOffer) -> None:
        pc = RTCPeerConnection()
        self.peers.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        assert pc.localDescription is not None and self.publisher is not None
        answer = MediaAnswer(offer_id=offer.offer_id, sdp=pc.localDescription.sdp)
        await self.publisher.on_event(MessageReceived("QJ.QJ-01", answer))


def _randomness(values: list[float]) -> Iterator[float]:
    yield from values
    while True:
        yield 0.5


async def test_a_seat_backs_off_between_unanswered_offers_with_jitter_and_starts_over_after_an_answer() -> (
    None
):
    waits: list[float] = []

    hub = _Hub(answer_nth=6)

    async def sleep(delay: float) -> None:
        # Fake time: each wait is over at once, except for an offer the hub answers.
        waits.append(delay)
        if hub.answer_nth is None or len(hub.offers) >= hub.answer_nth:
            await asyncio.Event().wait()
        await asyncio.sleep(0)

    draws = _randomness([0.5, 0.0, 0.999, 0.5, 0.5])
    video = TestPatternTrack(width=160, height=120, fps=5)
    publisher = SeatPublisher(
        hub.send, [video], random=lambda: next(draws), sleep=sleep, new_offer_id=_ids()
    )
    hub.publisher = publisher
    try:
        await publisher.on_event(Connected("QJ.QJ-01", False, False))
        await eventually(lambda: publisher.answered == 1, "the sixth offer is answered")
        # 10 s, then twice as long each time, ±20 % jitter from the injected randomness,
        # capped at 60 s; the sixth offer is answered and nothing more is sent.
        assert [round(w, 3) for w in waits[:6]] == [10.0, 16.0, 47.984, 60.0, 60.0, 60.0]
        assert len(hub.offers) == 6
        # After an answer the back-off starts over: a lost connection re-offers with 10 s.
        connection = publisher.connection
        assert connection is not None
        hub.answer_nth = None
        await connection.close()
        await eventually(lambda: len(hub.offers) == 7, "a new offer after the loss")
        assert round(waits[-1], 3) == 10.0
    finally:
        await publisher.close()
        for pc in hub.peers:
            await pc.close()
        video.stop()


def _ids() -> Callable[[], str]:
    counter = iter(range(1, 100))
    return lambda: f"mo-{next(counter)}"
