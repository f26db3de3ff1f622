"""Bookings as the booking use cases return them (预约记录): typed, and cut to what the caller
may see.

A random draw's venues stay hidden from the host site until the session starts (两随机、四不知,
``access.booking_venue_visible``): a record made for such a caller carries neither the venue
nor the seats. Every other view that names where a session's experts sit (the directory's
busy seats, a conflict's message, the committee, the PINs, the supervision record, the live
wall) asks :func:`seating_visible` or :func:`hold_visible`, with :func:`session_started`. Every booking change is also told to the pages (``booking.changed`` on the bus)
on the channels of those who may see it (``access.event_channels``), each with only what that
channel may see; pages re-read the details through the API, where access is checked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evaluation_hub import access
from evaluation_hub.access import Role, Target
from evaluation_hub.booking.seatings import Seating
from evaluation_hub.bus.base import Bus
from evaluation_hub.db.models import Booking
from evaluation_hub.principal import Principal

__all__ = [
    "BookingChange",
    "BookingRecord",
    "HeldSeat",
    "booking_target",
    "hold_visible",
    "publish_changes",
    "record_for",
    "seating_visible",
    "session_started",
    "venue_visible",
]


@dataclass(frozen=True)
class HeldSeat:
    seat_id: int
    label: str
    #: the booking holds the seat now (False once released, rejected, cancelled, changed)
    live: bool


@dataclass(frozen=True)
class BookingChange:
    """One entry of a booking's history (状态变更记录)."""

    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class BookingRecord:
    id: int
    session_id: int
    #: None when the caller may not learn where a drawn booking is
    venue_id: int | None
    seat_count: int
    starts_at: datetime
    ends_at: datetime
    state: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    replaces_id: int | None
    reason: str
    drawn: bool
    #: empty when the venue is hidden
    seats: tuple[HeldSeat, ...]
    events: tuple[BookingChange, ...]


def booking_target(booking: Booking, *, host_venue_name: str = "", venue_name: str = "") -> Target:
    """The access facts of a booking (its session's host and its own venue); the names are
    only needed where a refusal names them."""
    return Target(
        session_id=booking.session_id,
        host_venue_id=booking.session.host_venue_id,
        host_venue_name=host_venue_name,
        venue_id=booking.venue_id,
        venue_name=venue_name,
    )


def session_started(starts_at: datetime, now: datetime) -> bool:
    """Whether a session has started, as 四不知 counts it: its drawn venues are told then."""
    return now >= starts_at


def venue_visible(principal: Principal, booking: Booking, now: datetime) -> bool:
    return access.booking_venue_visible(
        principal,
        booking_target(booking),
        drawn=booking.drawn,
        started=session_started(booking.session.starts_at, now),
    )


def hold_visible(
    principal: Principal,
    *,
    session_id: int,
    host_venue_id: int,
    venue_id: int,
    drawn: bool,
    started: bool,
) -> bool:
    """Whether ``principal`` may learn of a seat held at ``venue_id`` for the session (that it
    is busy, which seat, who sits there)."""
    return access.booking_venue_visible(
        principal,
        Target(session_id=session_id, host_venue_id=host_venue_id, venue_id=venue_id),
        drawn=drawn,
        started=started,
    )


def seating_visible(
    principal: Principal, seating: Seating, host_venue_id: int, *, started: bool
) -> bool:
    """Whether ``principal`` may learn where this seating is (venue, seat, its picture)."""
    return hold_visible(
        principal,
        session_id=seating.session_id,
        host_venue_id=host_venue_id,
        venue_id=seating.venue_id,
        drawn=seating.drawn,
        started=started,
    )


def record_for(principal: Principal, booking: Booking, now: datetime) -> BookingRecord:
    """The booking as ``principal`` may see it (the caller has checked ``SEE_BOOKING`` or made
    the change); ``booking`` is loaded with its session, seats and events."""
    visible = venue_visible(principal, booking, now)
    return BookingRecord(
        id=booking.id,
        session_id=booking.session_id,
        venue_id=booking.venue_id if visible else None,
        seat_count=booking.seat_count,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        state=booking.state,
        requested_by=booking.requested_by,
        requested_at=booking.requested_at,
        expires_at=booking.expires_at,
        replaces_id=booking.replaces_id,
        reason=booking.reason,
        drawn=booking.drawn,
        seats=tuple(HeldSeat(h.seat_id, h.seat.label, h.live) for h in booking.seats)
        if visible
        else (),
        events=tuple(
            BookingChange(e.from_state, e.to_state, e.actor, e.at, e.reason) for e in booking.events
        ),
    )


def _channel_readers(booking: Booking) -> dict[str, Principal]:
    """Who reads each channel a booking change goes to: the booked venue's admins, the host
    venue's operators and the system administrators (``access.event_channels``)."""
    readers = (
        Principal("channel", Role.VENUE_ADMIN, booking.venue_id),
        Principal("channel", Role.HOST_OPERATOR, booking.session.host_venue_id),
        Principal("channel", Role.SYSTEM_ADMIN, None),
    )
    return {channel: reader for reader in readers for channel in access.event_channels(reader)}


async def publish_changes(bus: Bus, bookings: list[Booking], now: datetime) -> None:
    """Tell the pages that these bookings changed: each channel learns the venue only if its
    readers may (a drawn booking reaches the host's channel without it before the start)."""
    for booking in bookings:
        event = {
            "type": "booking.changed",
            "booking_id": booking.id,
            "session_id": booking.session_id,
            "state": booking.state,
        }
        for channel, reader in _channel_readers(booking).items():
            seen = venue_visible(reader, booking, now)
            await bus.publish(channel, {**event, "venue_id": booking.venue_id if seen else None})
