"""Answering and ending bookings (处理预约): the booked venue confirms, rejects or checks in a
request; either side cancels or releases it, always with a reason to cancel; the hub lapses
requests nobody confirmed in time.

Who may: the booked venue's admin (or the system administrator, as any venue's admin) answers
a request (``access.Action.ANSWER_BOOKING``); the host venue's operators or the booked venue's
admin end one (``access.Action.CANCEL_BOOKING``). Each use case is one unit of work through the
ledger (``evaluation_hub.booking.ledger``), audited and told to the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.booking import rules
from evaluation_hub.booking.ledger import (
    SYSTEM,
    add_holds,
    bookable_seats,
    booking_query,
    load_booking,
    load_venue,
    record,
    release_holds,
    write_bookings,
)
from evaluation_hub.booking.records import BookingRecord, booking_target, record_for
from evaluation_hub.db.models import Booking, BookingSeat, Venue
from evaluation_hub.errors import Conflict, InvalidInput
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services

__all__ = [
    "cancel_booking",
    "check_in_booking",
    "confirm_booking",
    "expire_due",
    "reject_booking",
    "release_booking",
]


async def _require(
    s: AsyncSession, actor: Principal, action: access.Action, booking: Booking
) -> Venue:
    """Check ``action`` on the booking before anything else is read; returns its venue."""
    venue = await load_venue(s, booking.venue_id)
    target = booking_target(
        booking, host_venue_name=booking.session.host_venue.name, venue_name=venue.name
    )
    access.require(actor, action, target)
    return venue


def _check_not_lapsed(booking: Booking, now: datetime) -> None:
    if rules.is_expired(booking.state, booking.expires_at, now):
        raise Conflict(
            "booking-expired",
            f"预约 #{booking.id} 已于 {rules.format_local(booking.expires_at)} 超时失效，"
            "请主场重新提交预约申请",
            booking_id=booking.id,
        )


async def confirm_booking(
    hub: Services,
    actor: Principal,
    booking_id: int,
    *,
    seat_ids: Sequence[int] | None,
    now: datetime,
) -> BookingRecord:
    """The venue's admin confirms a request, assigning exactly the requested number of seats."""

    async def work(s: AsyncSession) -> list[int]:
        booking = await load_booking(s, booking_id)
        venue = await _require(s, actor, access.Action.ANSWER_BOOKING, booking)
        _check_not_lapsed(booking, now)
        transition = rules.next_state(booking.id, booking.state, "confirm")
        held = [h.seat_id for h in booking.seats if h.live]
        if seat_ids is None:
            if not held:
                raise InvalidInput(
                    "seat-count",
                    f"预约 #{booking.id} 申请了 {booking.seat_count} 个工位，确认时必须指定恰好 "
                    f"{booking.seat_count} 个不同的工位，实际指定了 0 个",
                )
            chosen = sorted(held)
        else:
            chosen = rules.check_confirmation_seats(
                booking.id, booking.seat_count, seat_ids, seat_ids, venue.name
            )
        await bookable_seats(s, venue, chosen)
        rules.check_confirmation_seats(booking.id, booking.seat_count, chosen, chosen, venue.name)
        new = [seat_id for seat_id in chosen if seat_id not in held]
        dropped = [seat_id for seat_id in held if seat_id not in chosen]
        if dropped:
            await s.execute(
                update(BookingSeat)
                .where(BookingSeat.booking_id == booking.id, BookingSeat.seat_id.in_(dropped))
                .values(live=False)
            )
        add_holds(s, booking, new)
        record(s, booking, transition.to_state, actor, now, seat_ids=chosen)
        return [booking.id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)


async def reject_booking(
    hub: Services, actor: Principal, booking_id: int, *, reason: str | None, now: datetime
) -> BookingRecord:
    """The venue's admin turns a request down (a reason is welcome, not required)."""

    async def work(s: AsyncSession) -> list[int]:
        booking = await load_booking(s, booking_id)
        await _require(s, actor, access.Action.ANSWER_BOOKING, booking)
        transition = rules.next_state(booking.id, booking.state, "reject")
        await release_holds(s, booking.id)
        booking.reason = (reason or "").strip()
        record(s, booking, transition.to_state, actor, now, booking.reason)
        return [booking.id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)


async def cancel_booking(
    hub: Services, actor: Principal, booking_id: int, *, reason: str | None, now: datetime
) -> BookingRecord:
    """Either side may cancel a confirmed booking, always with a reason."""

    async def work(s: AsyncSession) -> list[int]:
        booking = await load_booking(s, booking_id)
        await _require(s, actor, access.Action.CANCEL_BOOKING, booking)
        transition = rules.next_state(booking.id, booking.state, "cancel")
        text = rules.check_cancel_reason(reason)
        await release_holds(s, booking.id)
        booking.reason = text
        record(s, booking, transition.to_state, actor, now, text)
        return [booking.id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)


async def check_in_booking(
    hub: Services, actor: Principal, booking_id: int, *, now: datetime
) -> BookingRecord:
    """The venue's admin records that the booked experts arrived (已签到)."""

    async def work(s: AsyncSession) -> list[int]:
        booking = await load_booking(s, booking_id)
        await _require(s, actor, access.Action.ANSWER_BOOKING, booking)
        transition = rules.next_state(booking.id, booking.state, "check_in")
        record(s, booking, transition.to_state, actor, now)
        return [booking.id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)


async def release_booking(
    hub: Services, actor: Principal, booking_id: int, *, now: datetime
) -> BookingRecord:
    """Either side frees the seats of a checked-in booking once it is over (已释放)."""

    async def work(s: AsyncSession) -> list[int]:
        booking = await load_booking(s, booking_id)
        await _require(s, actor, access.Action.CANCEL_BOOKING, booking)
        transition = rules.next_state(booking.id, booking.state, "release")
        await release_holds(s, booking.id)
        record(s, booking, transition.to_state, actor, now)
        return [booking.id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)


async def expire_due(hub: Services, *, now: datetime) -> list[int]:
    """Lapse every unconfirmed request whose time is up, freeing its seats; returns their ids.
    The hub itself acts (``ledger.SYSTEM``), on the shell's timer; the lapse is audited and, as
    before, not published to the pages."""

    async def work(s: AsyncSession) -> list[int]:
        due = list(
            (
                await s.execute(
                    booking_query()
                    .where(Booking.state == "requested", Booking.expires_at <= now)
                    .order_by(Booking.id)
                )
            ).scalars()
        )
        for booking in due:
            transition = rules.next_state(booking.id, booking.state, "expire")
            await release_holds(s, booking.id)
            record(s, booking, transition.to_state, SYSTEM, now, "预约申请超时未确认")
        return [b.id for b in due]

    return [b.id for b in await write_bookings(hub, work, now=now, publish=False)]
