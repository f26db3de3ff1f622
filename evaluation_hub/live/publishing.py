"""Which session a seat publishes for (推流归属): the room its media goes to on a media plane
that keeps one room per session (``live.janus_plane``).

The seat publishes into the room of the session whose wall shows it (``live.seats``): a
session holding the seat for certain (confirmed or checked in) while its seats are in use
(check-in open until the session ends). Should two do so at once (a session running late into
the next one's), the one its media belongs to (``live.owners``) wins, then the later one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.live.owners import owns_media
from evaluation_hub.live.seats import HELD_FOR_CERTAIN
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import session_states
from evaluation_hub.sessions.states import LIVE_ENDED, SEATS_IN_USE

__all__ = ["ended_sessions", "publishing_session"]


async def publishing_session(hub: Services, seat_key: str, *, now: datetime) -> int | None:
    """The session whose room the seat's media goes to now, or None."""
    async with hub.db.read() as s:
        held = [
            x for x in await seatings(s, seat_key=seat_key) if x.booking_state in HELD_FOR_CERTAIN
        ]
        if not held:
            return None
        states = await session_states(s, (x.session_id for x in held))
    in_use = [x for x in held if states[x.session_id] in SEATS_IN_USE]
    if not in_use:
        return None
    best = max(in_use, key=lambda x: (owns_media(x, states[x.session_id], now), x.session_id))
    return best.session_id


async def ended_sessions(hub: Services, session_ids: Iterable[int]) -> list[int]:
    """Which of these sessions have ended (``LIVE_ENDED``); ids of no session are left out."""
    async with hub.db.read() as s:
        states = await session_states(s, session_ids)
    return sorted(sid for sid, state in states.items() if state in LIVE_ENDED)
