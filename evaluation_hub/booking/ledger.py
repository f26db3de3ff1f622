"""The booking ledger (预约台账): how every booking use case writes, in one unit of work.

A use case hands :func:`write_bookings` its work; the work loads what it needs, checks access
and the rules, changes bookings with :func:`record` (the state, a ``BookingEvent``) and holds
or frees seats with :func:`add_holds` / :func:`release_holds`. Then, in the same commit, each
change is appended to the audit chain; once committed, it is logged and told to the pages.

The no-double-booking promise is kept by the database (see the migration), not by a
look-before-insert here: when the database refuses a hold, the transaction is rolled back and
the conflicting booking is looked up afterwards so the 409 can name it — unless it is a random
draw's hold whose venue the actor may not learn yet (两随机、四不知, ``records.hold_visible``):
then the 409 names neither the seat nor the booking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from evaluation_hub.access import Role
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules
from evaluation_hub.booking.records import hold_visible, publish_changes, session_started
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import (
    Booking,
    BookingEvent,
    BookingSeat,
    EvaluationSession,
    Seat,
    Venue,
)
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services

__all__ = [
    "SYSTEM",
    "add_holds",
    "bookable_seats",
    "booking_query",
    "load_booking",
    "load_venue",
    "record",
    "release_holds",
    "write_bookings",
]

log = structlog.get_logger(__name__)

#: the hub itself, when it lapses requests nobody confirmed in time
SYSTEM = Principal("system", Role.SYSTEM, None)

# Per-unit-of-work notes kept in ``AsyncSession.info``: the holds attempted (to explain a
# refusal) and the state changes made (to log once committed).
_HOLDS_KEY = "evaluation_hub.attempted_holds"
_EVENTS_KEY = "evaluation_hub.booking_events"
# Who changes bookings in this unit of work (whom a refusal is worded for).
_ACTOR_KEY = "evaluation_hub.booking_actor"
# The bookings this unit of work creates: built here, they need no reload to be answered.
_MADE_KEY = "evaluation_hub.bookings_made"


@dataclass(frozen=True)
class _Holds:
    """The seats a unit of work tries to hold, kept to explain a refusal."""

    seat_ids: tuple[int, ...]
    window: rules.Window


def booking_query() -> Select[tuple[Booking]]:
    """Bookings with what their records and access facts need."""
    # Many-to-one relations joined into the statement that needs them, collections loaded
    # each by one more statement: three statements, whatever the number of bookings.
    return select(Booking).options(
        selectinload(Booking.seats).joinedload(BookingSeat.seat, innerjoin=True),
        selectinload(Booking.events),
        joinedload(Booking.session, innerjoin=True).joinedload(
            EvaluationSession.host_venue, innerjoin=True
        ),
    )


# What write_bookings reloads: as booking_query, with the seats joined too (one row per seat,
# two statements); a booking's events stay a statement of their own, so rows never multiply.
_RELOAD = (
    joinedload(Booking.seats).joinedload(BookingSeat.seat, innerjoin=True),
    selectinload(Booking.events),
    joinedload(Booking.session, innerjoin=True).joinedload(
        EvaluationSession.host_venue, innerjoin=True
    ),
)


async def load_booking(s: AsyncSession, booking_id: int) -> Booking:
    booking = (
        await s.execute(booking_query().where(Booking.id == booking_id))
    ).scalar_one_or_none()
    if booking is None:
        raise NotFound("booking-not-found", f"预约 #{booking_id} 不存在")
    return booking


async def load_venue(s: AsyncSession, venue_id: int) -> Venue:
    venue = await s.get(Venue, venue_id)
    if venue is None:
        raise NotFound("venue-not-found", f"场地 #{venue_id} 不存在")
    return venue


def record(
    s: AsyncSession,
    booking: Booking,
    to_state: str,
    actor: Principal,
    now: datetime,
    reason: str = "",
    **details: Any,
) -> None:
    """Move ``booking`` to ``to_state`` and note the change (its history and the audit chain)."""
    # A booking not yet flushed is being created: it has no state to come from.
    from_state = None if booking.id is None else booking.state
    if booking.id is None:
        s.info.setdefault(_MADE_KEY, []).append(booking)
    booking.state = to_state
    booking.updated_at = now
    event = BookingEvent(
        booking=booking,
        from_state=from_state,
        to_state=to_state,
        actor=actor.username,
        at=now,
        reason=reason,
        details=details,
    )
    s.add(event)
    s.info.setdefault(_EVENTS_KEY, []).append(event)
    s.info[_ACTOR_KEY] = actor


async def _audit_events(s: AsyncSession) -> None:
    """Append each state change of this unit of work to the audit chain, in the same commit."""
    for event in s.info.get(_EVENTS_KEY, []):
        await append_event(
            s,
            kind=f"booking.{event.to_state}",
            subject=f"booking:{event.booking_id}",
            actor=event.actor,
            payload={
                "from_state": event.from_state,
                "to_state": event.to_state,
                "reason": event.reason,
                **event.details,
            },
            at=event.at,
        )


def _log_events(s: AsyncSession) -> None:
    """Log state changes once they are committed, when every booking has its id."""
    for event in s.info.pop(_EVENTS_KEY, []):
        log.info(
            "booking.state",
            booking_id=event.booking_id,
            from_state=event.from_state,
            to_state=event.to_state,
            actor=event.actor,
        )


async def bookable_seats(s: AsyncSession, venue: Venue, seat_ids: Sequence[int]) -> list[Seat]:
    """The seats, each of ``venue``, shared and available; otherwise the refusal naming them."""
    # No autoflush: the booking and its event being made need not reach the database before
    # this read (it does not see them), so the unit of work inserts everything in one flush.
    with s.no_autoflush:
        seats = list(
            (await s.execute(select(Seat).where(Seat.id.in_(seat_ids)).order_by(Seat.id))).scalars()
        )
    found = {seat.id for seat in seats}
    missing = [seat_id for seat_id in seat_ids if seat_id not in found]
    if missing:
        raise NotFound(
            "seat-not-found", f"工位 {', '.join(f'#{seat_id}' for seat_id in missing)} 不存在"
        )
    foreign = [seat for seat in seats if seat.venue_id != venue.id]
    if foreign:
        raise InvalidInput(
            "seat-not-at-venue",
            f"工位 {', '.join(f'#{seat.id}' for seat in foreign)} 不属于场地「{venue.name}」",
        )
    unusable = [seat for seat in seats if seat.status != "available" or not seat.shared]
    if unusable:
        names = "、".join(f"{seat.label}（#{seat.id}）" for seat in unusable)
        raise Conflict("seat-unavailable", f"工位 {names}未开放共享或不在可用状态，不能预约")
    return seats


def add_holds(
    s: AsyncSession,
    booking: Booking,
    seat_ids: Sequence[int],
    experts: dict[int, int | None] | None = None,
    seats: Sequence[Seat] = (),
) -> None:
    """Hold ``seat_ids`` for the booking's window (the database refuses an overlap).

    ``seats``: those of the seats already loaded, attached to their holds so the booking can
    be answered without reading them again."""
    if seat_ids:
        window = rules.Window(booking.starts_at, booking.ends_at)
        s.info.setdefault(_HOLDS_KEY, []).append(_Holds(tuple(seat_ids), window))
    loaded = {seat.id: seat for seat in seats}
    # In seat order, the order in which a booking's seats are read back (``Booking.seats``).
    for seat_id in sorted(seat_ids):
        hold = BookingSeat(
            booking=booking,
            seat_id=seat_id,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            live=True,
            expert_id=(experts or {}).get(seat_id),
        )
        if seat_id in loaded:
            hold.seat = loaded[seat_id]
        s.add(hold)


async def release_holds(s: AsyncSession, booking_id: int) -> None:
    await s.execute(
        update(BookingSeat).where(BookingSeat.booking_id == booking_id).values(live=False)
    )


def _is_overlap_refusal(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "booking_seats_overlap" in text or "ex_booking_seats_no_overlap" in text


async def _explain_overlap(
    db: Database, attempted: list[_Holds], actor: Principal, now: datetime
) -> Conflict:
    """Name the live booking that holds one of the seats we tried to hold, if ``actor`` may
    learn where it is."""
    holds = attempted[-1]
    async with db.read() as s:
        query = (
            select(BookingSeat, Seat, Booking.drawn, EvaluationSession)
            .join(Seat, Seat.id == BookingSeat.seat_id)
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .join(EvaluationSession, EvaluationSession.id == Booking.session_id)
            .where(
                BookingSeat.seat_id.in_(holds.seat_ids),
                BookingSeat.live.is_(True),
                BookingSeat.starts_at < holds.window.ends_at,
                BookingSeat.ends_at > holds.window.starts_at,
            )
            .order_by(BookingSeat.booking_id, Seat.id)
            .limit(1)
        )
        row = (await s.execute(query)).first()
    if row is None:  # the holder let go between the refusal and this look-up
        return Conflict("seat-booked", "所选工位在该时段刚被其他预约占用，请刷新后重试")
    hold, seat, drawn, session = row
    if not hold_visible(
        actor,
        session_id=session.id,
        host_venue_id=session.host_venue_id,
        venue_id=seat.venue_id,
        drawn=drawn,
        started=session_started(session.starts_at, now),
    ):
        return Conflict("seat-booked", "所选工位在该时段已被其他预约占用，请选择其他工位")
    window = rules.Window(hold.starts_at, hold.ends_at)
    return Conflict(
        "seat-booked",
        f"工位 {seat.label}（#{seat.id}）在 {window.describe()} 已被预约 #{hold.booking_id} 占用",
        conflicting_booking_id=hold.booking_id,
        seat_id=seat.id,
    )


def _complete(booking: Booking) -> bool:
    """Whether everything a booking's answer reads (``records.record_for``: its session and
    host venue, its seats, each seat's row, its events) is in memory, none of it expired."""
    state = inspect(booking)
    if state.expired_attributes or {"session", "seats", "events"} & state.unloaded:
        return False
    if "host_venue" in inspect(booking.session).unloaded:
        return False
    return all(
        not inspect(hold).expired_attributes and "seat" not in inspect(hold).unloaded
        for hold in booking.seats
    )


Work = Callable[[AsyncSession], Awaitable[list[int]]]


async def write_bookings(
    hub: Services, work: Work, *, now: datetime, publish: bool = True
) -> list[Booking]:
    """Run ``work`` in one write transaction and return the bookings it names, reloaded.

    Each change is audited in the same commit; once committed it is logged and, with
    ``publish``, told to the pages. A refusal by the database's overlap guard becomes a 409
    naming the booking that holds the seat (``add_holds`` leaves the attempted holds on the
    unit of work so they can be explained).
    """
    s: AsyncSession | None = None
    try:
        async with hub.db.write() as s:
            ids = await work(s)
            await s.flush()
            await _audit_events(s)
            # A booking created here, with everything its answer reads attached, is answered
            # as built. The others are reloaded inside the transaction: collections changed by
            # this unit of work are refreshed, and no second transaction is needed to answer.
            found = {b.id: b for b in s.info.get(_MADE_KEY, []) if b.id in ids and _complete(b)}
            stale = [booking_id for booking_id in ids if booking_id not in found]
            if stale:
                found |= {
                    b.id: b
                    for b in (
                        await s.execute(
                            select(Booking)
                            .options(*_RELOAD)
                            .where(Booking.id.in_(stale))
                            .execution_options(populate_existing=True)
                        )
                    )
                    .unique()
                    .scalars()
                }
    except IntegrityError as exc:
        attempted: list[_Holds] = s.info.get(_HOLDS_KEY, []) if s is not None else []
        if not attempted or not _is_overlap_refusal(exc):
            raise
        assert s is not None
        # Nobody recorded (never expected: a hold comes with its change): word it for the hub.
        actor: Principal = s.info.get(_ACTOR_KEY, SYSTEM)
        raise await _explain_overlap(hub.db, attempted, actor, now) from exc
    _log_events(s)
    changed = [found[booking_id] for booking_id in ids]
    if publish:
        await publish_changes(hub.bus, changed, now)
    return changed
