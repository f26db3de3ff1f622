"""A starved hub on ``media_backend = janus``: a seat's older offers still waiting for the hub
are dropped for its newest, so Janus gets one publication per seat, not one per retry (real
hub, real Janus, aiortc seat)."""

from __future__ import annotations

import asyncio

from evaluation_hub.live.offers import SUPERSEDED
from seat_protocol.messages import ErrorNotice
from tests.janus.conftest import plane
from tests.live.conftest import Rig, eventually
from tests.live.offer_seat import offering_seat
from tests.live.test_offer_backoff import SUPERSEDED_MESSAGE


async def test_a_seats_older_offers_waiting_for_a_busy_hub_are_dropped_for_the_newest_on_janus(
    rig: Rig,
) -> None:
    seat_key = "DL.DL-01"
    janus = plane(rig)
    seat = await offering_seat(rig, "DL-01", "DL")
    try:
        await seat.offer("mo-first")
        await eventually(lambda: "mo-first" in seat.replies, "the first offer is answered")
        await seat.connect("mo-first")
        await eventually(lambda: janus.status(seat_key).state == "live", "DL-01 is live")
        async with janus._locks[seat_key]:  # the hub is busy with this seat
            for offer_id in ("mo-2", "mo-3", "mo-4"):
                await seat.offer(offer_id)
            await eventually(lambda: janus.offers.latest(seat_key) == "mo-4", "all arrived")
            await asyncio.sleep(0.1)  # the older ones are queued behind the lock
        await eventually(lambda: len(seat.replies) == 4, "every offer has its reply")
        for offer_id in ("mo-2", "mo-3"):
            refused = seat.replies[offer_id]
            assert isinstance(refused, ErrorNotice)
            assert (refused.code, refused.message) == (SUPERSEDED[0], SUPERSEDED_MESSAGE)
        assert janus.offers.superseded == 2
        # Janus published the newest offer only (publication 2), and the wall says live.
        await seat.connect("mo-4")
        assert janus.status(seat_key).publications == 2
        await eventually(lambda: janus.status(seat_key).state == "live", "mo-4 is live")
    finally:
        await seat.close()
