"""Reading bookings (查看预约): one booking, or the bookings a caller may see.

A booking is seen by the booked venue's admins, the host venue's operators and the system
administrator (``access.Action.SEE_BOOKING``); a drawn booking's venue stays hidden from the
host site until the session starts (``records.record_for``). A list holds exactly the bookings
the caller may see, and a venue filter never matches a booking whose venue is hidden from them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_

from evaluation_hub import access
from evaluation_hub.booking.ledger import booking_query, load_booking
from evaluation_hub.booking.records import BookingRecord, booking_target, record_for
from evaluation_hub.booking.rules import STATE_NAMES
from evaluation_hub.db.models import Booking, EvaluationSession
from evaluation_hub.errors import InvalidInput
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services

__all__ = ["get_booking", "list_bookings"]


async def get_booking(
    hub: Services, actor: Principal, booking_id: int, *, now: datetime
) -> BookingRecord:
    """A booking with its seats and history, as ``actor`` may see it."""
    async with hub.db.read() as s:
        booking = await load_booking(s, booking_id)
    access.require(actor, access.Action.SEE_BOOKING, booking_target(booking))
    return record_for(actor, booking, now)


async def list_bookings(
    hub: Services,
    actor: Principal,
    *,
    venue_id: int | None = None,
    session_id: int | None = None,
    state: str | None = None,
    now: datetime,
) -> list[BookingRecord]:
    """The bookings ``actor`` may see, by id, narrowed by venue, session and state."""
    if state is not None and state not in STATE_NAMES:
        raise InvalidInput(
            "bad-query", f"未知的预约状态：{state}（可选：{', '.join(STATE_NAMES)}）"
        )
    query = booking_query().order_by(Booking.id)
    # Whoever sees bookings wherever they are (an empty target matches no venue of theirs)
    # reads them all; anyone else only those of their venue or of sessions it hosts.
    if not access.allowed(actor, access.Action.SEE_BOOKING, access.Target()):
        if actor.venue_id is None:
            return []
        query = query.join(EvaluationSession).where(
            or_(
                Booking.venue_id == actor.venue_id,
                EvaluationSession.host_venue_id == actor.venue_id,
            )
        )
    if session_id is not None:
        query = query.where(Booking.session_id == session_id)
    if state is not None:
        query = query.where(Booking.state == state)
    async with hub.db.read() as s:
        found = list((await s.execute(query)).scalars())
    seen = [
        record_for(actor, b, now)
        for b in found
        if access.allowed(actor, access.Action.SEE_BOOKING, booking_target(b))
    ]
    if venue_id is not None:
        seen = [b for b in seen if b.venue_id == venue_id]
    return seen
