"""A starved hub on ``media_backend = janus``: a seat's older offers still waiting for the hub
are dropped for its newest, so Janus gets one publication per seat, not one per retry (real
hub, real Janus, aiortc seat)."""

from __future__ import annotations

from tests.janus.conftest import plane
from tests.live.conftest import Rig
from tests.live.offer_seat import offering_seat, older_offers_are_dropped


async def test_a_seats_older_offers_waiting_for_a_busy_hub_are_dropped_for_the_newest_on_janus(
    rig: Rig,
) -> None:
    seat_key = "DL.DL-01"
    janus = plane(rig)
    seat = await offering_seat(rig, "DL-01", "DL")
    try:
        # Janus publishes the newest offer only: one new publication, not one per retry.
        await older_offers_are_dropped(
            seat,
            seat_key,
            lambda: janus.status(seat_key),
            janus.offers,
            lambda: janus._locks[seat_key],
        )
    finally:
        await seat.close()
