"""Whose record a seat's media belongs to (音视频归属): the sessions a recorded segment or a
conduct alert at a seat is filed under.

A seat's media belongs to a session while an expert of it is checked in there — from the
check-in until the session is over for its experts (``sessions.states.MEDIA_RELEASED``) or the
expert is released (the booking released or cancelled, the seat freed by a recusal: no live
seating any more) — whatever the booked window says: an evaluation that runs late, or a demo
run outside its window, keeps its recordings and alerts. Inside the booked window an expert
seated there counts before checking in too, as before.

:func:`owns_media` is the rule (pure); :func:`media_owners` reads the seatings and session
states it needs in the caller's unit of work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.booking.seatings import Seating, seatings
from evaluation_hub.sessions.lookup import session_states
from evaluation_hub.sessions.states import MEDIA_RELEASED

__all__ = ["media_owners", "owns_media"]


def owns_media(seating: Seating, state: str, at: datetime) -> bool:
    """Whether media of ``seating``'s seat at ``at`` belongs to its session (in ``state``)."""
    if seating.expert_id is None:
        return False
    if seating.checked_in_at is not None and seating.checked_in_at <= at:
        return state not in MEDIA_RELEASED
    return seating.starts_at <= at < seating.ends_at


async def media_owners(s: AsyncSession, seat_key: str, at: datetime) -> list[Seating]:
    """The seatings at ``seat_key`` whose session the seat's media at ``at`` belongs to."""
    held = await seatings(s, seat_key=seat_key, with_expert=True)
    if not held:
        return []
    states = await session_states(s, (x.session_id for x in held))
    return [x for x in held if owns_media(x, states[x.session_id], at)]
