"""Who sits where now (在座情况): the one query for a session's live seatings.

A *seating* is a seat held by a live booking of a session (``BookingSeat.live`` and the booking
in ``LIVE_STATES``), with the expert seated there if one is. Every part of the hub that asks
"which expert sits at which seat" (the evaluation engine, chapter release, seat notices, live
supervision, the supervision record, recordings) reads it here, filtered by what it knows:
the session, the seat key, the expert, an instant inside the booked window, or check-in.

Reads only, inside the caller's unit of work (``AsyncSession``): the caller decides whether it
is a read or part of a write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.booking.rules import LIVE_STATES
from evaluation_hub.db.models import (
    Booking,
    BookingSeat,
    CheckinCredential,
    Expert,
    Seat,
    Venue,
)
from seat_protocol.seat_key import SeatKey

__all__ = ["Seating", "live_holds", "seatings"]


@dataclass(frozen=True, slots=True)
class Seating:
    session_id: int
    booking_id: int
    booking_seat_id: int
    seat_id: int
    seat_key: SeatKey
    seat_label: str
    room: str
    venue_id: int
    venue_code: str
    venue_name: str
    starts_at: datetime
    ends_at: datetime
    expert_id: int | None
    expert_code: str | None
    #: the expert checked in at this seat with their one-time PIN
    checked_in: bool
    #: the booking's state (one of ``LIVE_STATES``): a request only, or confirmed, checked in
    booking_state: str
    #: the booking came from the random draw (两随机): its venue is hidden from the host site
    #: until the start (``access.booking_venue_visible``)
    drawn: bool
    #: when they checked in (None: not checked in)
    checked_in_at: datetime | None = None


def live_holds() -> Select[tuple[BookingSeat, Booking]]:
    """Seats held now by live bookings: the condition every seating query starts from."""
    return (
        select(BookingSeat, Booking)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .where(BookingSeat.live.is_(True), Booking.state.in_(tuple(LIVE_STATES)))
    )


async def seatings(
    s: AsyncSession,
    *,
    session_id: int | None = None,
    session_ids: Sequence[int] | None = None,
    seat_key: str | None = None,
    expert_id: int | None = None,
    expert_code: str | None = None,
    at: datetime | None = None,
    with_expert: bool = False,
    checked_in: bool = False,
) -> list[Seating]:
    """The live seatings matching every filter given, by venue and seat label.

    ``at``: only seatings whose booked window contains that instant; ``with_expert``: only
    seats with an expert assigned; ``checked_in``: only experts who checked in there. A
    ``seat_key`` that is not one (no dot) matches nothing.
    """
    query = (
        select(BookingSeat, Booking, Seat, Venue, Expert.code, CheckinCredential.used_at)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .join(Seat, Seat.id == BookingSeat.seat_id)
        .join(Venue, Venue.id == Seat.venue_id)
        .outerjoin(Expert, Expert.id == BookingSeat.expert_id)
        .outerjoin(CheckinCredential, CheckinCredential.booking_seat_id == BookingSeat.id)
        .where(BookingSeat.live.is_(True), Booking.state.in_(tuple(LIVE_STATES)))
        .order_by(Venue.id, Seat.label, Booking.session_id)
    )
    if session_id is not None:
        query = query.where(Booking.session_id == session_id)
    if session_ids is not None:
        query = query.where(Booking.session_id.in_(list(session_ids)))
    if seat_key is not None:
        key = SeatKey.parse(seat_key)
        if key is None:
            return []
        query = query.where(Venue.code == key.venue_code, Seat.label == key.label)
    if expert_id is not None:
        query = query.where(BookingSeat.expert_id == expert_id)
    if expert_code is not None:
        query = query.where(Expert.code == expert_code)
    if at is not None:
        query = query.where(BookingSeat.starts_at <= at, BookingSeat.ends_at > at)
    if with_expert or expert_code is not None:
        query = query.where(BookingSeat.expert_id.is_not(None))
    if checked_in:
        query = query.where(CheckinCredential.used_at.is_not(None))
    rows = await s.execute(query)
    return [
        Seating(
            session_id=booking.session_id,
            booking_id=booking.id,
            booking_seat_id=hold.id,
            seat_id=seat.id,
            seat_key=SeatKey.of(venue.code, seat.label),
            seat_label=seat.label,
            room=seat.room,
            venue_id=venue.id,
            venue_code=venue.code,
            venue_name=venue.name,
            starts_at=hold.starts_at,
            ends_at=hold.ends_at,
            expert_id=hold.expert_id,
            expert_code=code,
            checked_in=used_at is not None,
            booking_state=booking.state,
            drawn=booking.drawn,
            checked_in_at=used_at,
        )
        for hold, booking, seat, venue, code, used_at in rows.all()
    ]
