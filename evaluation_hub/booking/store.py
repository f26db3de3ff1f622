"""Applies the booking rules to the database, one unit of work per call.

Each public function opens its own write transaction, checks the rules (``rules``) and access
(``Principal``), writes the state change together with its ``BookingEvent`` and commits. The
no-double-booking promise is kept by the database (see the migration), not by a look-before-
insert here: when the database refuses a hold, the transaction is rolled back and the
conflicting booking is looked up afterwards so the 409 can name it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules
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

__all__ = [
    "SYSTEM",
    "BookingPolicy",
    "SeatRequest",
    "cancel_booking",
    "change_booking",
    "check_in_booking",
    "confirm_booking",
    "expire_due",
    "get_booking",
    "list_bookings",
    "reject_booking",
    "release_booking",
    "request_booking",
    "request_bookings",
]

log = structlog.get_logger(__name__)

SYSTEM = Principal("system", "system_admin", None)

# Per-unit-of-work notes kept in ``AsyncSession.info``: the holds attempted (to explain a
# refusal) and the state changes made (to log once committed).
_HOLDS_KEY = "evaluation_hub.attempted_holds"
_EVENTS_KEY = "evaluation_hub.booking_events"


@dataclass(frozen=True)
class BookingPolicy:
    """Configurable numbers of the booking flow."""

    request_ttl: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class _Holds:
    """The seats a unit of work tries to hold, kept to explain a refusal."""

    seat_ids: tuple[int, ...]
    window: rules.Window


def _booking_query() -> Select[tuple[Booking]]:
    return select(Booking).options(
        selectinload(Booking.seats).selectinload(BookingSeat.seat),
        selectinload(Booking.events),
        selectinload(Booking.session),
    )


async def _load_booking(s: AsyncSession, booking_id: int) -> Booking:
    booking = (
        await s.execute(_booking_query().where(Booking.id == booking_id))
    ).scalar_one_or_none()
    if booking is None:
        raise NotFound("booking-not-found", f"预约 #{booking_id} 不存在")
    return booking


async def _venue(s: AsyncSession, venue_id: int) -> Venue:
    venue = await s.get(Venue, venue_id)
    if venue is None:
        raise NotFound("venue-not-found", f"场地 #{venue_id} 不存在")
    return venue


async def _session(s: AsyncSession, session_id: int) -> EvaluationSession:
    session = await s.get(EvaluationSession, session_id)
    if session is None:
        raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
    return session


def _record(
    s: AsyncSession,
    booking: Booking,
    to_state: str,
    actor: Principal,
    now: datetime,
    reason: str = "",
    **details: Any,
) -> None:
    # A booking not yet flushed is being created: it has no state to come from.
    from_state = None if booking.id is None else booking.state
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


async def _bookable_seats(s: AsyncSession, venue: Venue, seat_ids: Sequence[int]) -> list[Seat]:
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


def _add_holds(
    s: AsyncSession,
    booking: Booking,
    seat_ids: Sequence[int],
    experts: dict[int, int | None] | None = None,
) -> None:
    if seat_ids:
        window = rules.Window(booking.starts_at, booking.ends_at)
        s.info.setdefault(_HOLDS_KEY, []).append(_Holds(tuple(seat_ids), window))
    for seat_id in seat_ids:
        s.add(
            BookingSeat(
                booking=booking,
                seat_id=seat_id,
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
                live=True,
                expert_id=(experts or {}).get(seat_id),
            )
        )


async def _release_holds(s: AsyncSession, booking_id: int) -> None:
    await s.execute(
        update(BookingSeat).where(BookingSeat.booking_id == booking_id).values(live=False)
    )


def _is_overlap_refusal(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "booking_seats_overlap" in text or "ex_booking_seats_no_overlap" in text


async def _explain_overlap(db: Database, attempted: list[_Holds]) -> Conflict:
    """Name the live booking that holds one of the seats we tried to hold."""
    holds = attempted[-1]
    async with db.read() as s:
        query = (
            select(BookingSeat, Seat)
            .join(Seat, Seat.id == BookingSeat.seat_id)
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
    hold, seat = row
    window = rules.Window(hold.starts_at, hold.ends_at)
    return Conflict(
        "seat-booked",
        f"工位 {seat.label}（#{seat.id}）在 {window.describe()} 已被预约 #{hold.booking_id} 占用",
        conflicting_booking_id=hold.booking_id,
        seat_id=seat.id,
    )


async def _write(
    db: Database, work: Callable[[AsyncSession], Awaitable[int | list[int]]]
) -> list[Booking]:
    """Run ``work`` in one write transaction and return the bookings it names, reloaded.

    A refusal by the database's overlap guard becomes a 409 naming the booking that holds the
    seat; ``_add_holds`` leaves the attempted holds on the session so they can be explained.
    """
    s: AsyncSession | None = None
    try:
        async with db.write() as s:
            done = await work(s)
            await s.flush()
            await _audit_events(s)
            ids = done if isinstance(done, list) else [done]
            # Reload inside the transaction: collections changed by this unit of work are
            # refreshed, and no second transaction is needed to answer.
            found = {
                b.id: b
                for b in (
                    await s.execute(
                        _booking_query()
                        .where(Booking.id.in_(ids))
                        .execution_options(populate_existing=True)
                    )
                ).scalars()
            }
    except IntegrityError as exc:
        attempted: list[_Holds] = s.info.get(_HOLDS_KEY, []) if s is not None else []
        if not attempted or not _is_overlap_refusal(exc):
            raise
        raise await _explain_overlap(db, attempted) from exc
    _log_events(s)
    return [found[booking_id] for booking_id in ids]


@dataclass(frozen=True)
class SeatRequest:
    """One venue's part of a host's request: how many seats, optionally which ones, for whom."""

    venue_id: int
    seat_count: int
    seat_ids: Sequence[int] | None = None
    expert_ids: Sequence[int | None] | None = None  # parallel to seat_ids


async def _request_in(
    s: AsyncSession,
    actor: Principal,
    session_id: int,
    want: SeatRequest,
    now: datetime,
    policy: BookingPolicy,
    drawn: bool,
) -> Booking:
    if want.seat_count < 1:
        raise InvalidInput("seat-count", "申请的工位数量必须至少为 1")
    session = await _session(s, session_id)
    host = await _venue(s, session.host_venue_id)
    actor.require_host(host.id, host.name)
    venue = await _venue(s, want.venue_id)
    if session.ends_at <= now:
        raise Conflict("session-over", f"评标会 #{session.id} 的评标时段已结束，不能再预约工位")
    booking = Booking(
        session_id=session.id,
        venue_id=venue.id,
        seat_count=want.seat_count,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        requested_by=actor.username,
        requested_at=now,
        expires_at=rules.expires_at(now, policy.request_ttl, session.starts_at),
        drawn=drawn,
        state="requested",
        updated_at=now,
    )
    s.add(booking)
    _record(s, booking, "requested", actor, now, seat_count=want.seat_count)
    if want.seat_ids:
        chosen = rules.check_confirmation_seats(
            0, want.seat_count, want.seat_ids, want.seat_ids, venue.name
        )
        await _bookable_seats(s, venue, chosen)
        experts = dict(zip(want.seat_ids, want.expert_ids or [], strict=False))
        _add_holds(s, booking, chosen, experts)
    await s.flush()
    return booking


async def request_booking(
    db: Database,
    actor: Principal,
    *,
    session_id: int,
    venue_id: int,
    seat_count: int,
    seat_ids: Sequence[int] | None,
    now: datetime,
    policy: BookingPolicy,
) -> Booking:
    """A host site asks a venue for ``seat_count`` seats for a session's window (申请预约).

    With ``seat_ids`` (for example from an allocation proposal) the seats are held at once.
    """
    want = SeatRequest(venue_id, seat_count, seat_ids)

    async def work(s: AsyncSession) -> list[int]:
        return [(await _request_in(s, actor, session_id, want, now, policy, drawn=False)).id]

    return (await _write(db, work))[0]


async def request_bookings(
    db: Database,
    actor: Principal,
    *,
    session_id: int,
    requests: Sequence[SeatRequest],
    now: datetime,
    policy: BookingPolicy,
    drawn: bool,
    before_commit: Callable[[AsyncSession, list[Booking]], Awaitable[None]] | None = None,
) -> list[Booking]:
    """Several venues' requests for one session, all or none (an allocation being booked)."""

    async def work(s: AsyncSession) -> list[int]:
        made = [await _request_in(s, actor, session_id, r, now, policy, drawn) for r in requests]
        if before_commit is not None:
            await before_commit(s, made)
        return [b.id for b in made]

    return await _write(db, work)


async def confirm_booking(
    db: Database,
    actor: Principal,
    booking_id: int,
    *,
    seat_ids: Sequence[int] | None,
    now: datetime,
) -> Booking:
    """The venue's admin confirms a request, assigning exactly the requested number of seats."""

    async def work(s: AsyncSession) -> int:
        booking = await _load_booking(s, booking_id)
        venue = await _venue(s, booking.venue_id)
        actor.require_venue_admin(venue.id, venue.name)
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
        await _bookable_seats(s, venue, chosen)
        rules.check_confirmation_seats(booking.id, booking.seat_count, chosen, chosen, venue.name)
        new = [seat_id for seat_id in chosen if seat_id not in held]
        dropped = [seat_id for seat_id in held if seat_id not in chosen]
        if dropped:
            await s.execute(
                update(BookingSeat)
                .where(BookingSeat.booking_id == booking.id, BookingSeat.seat_id.in_(dropped))
                .values(live=False)
            )
        _add_holds(s, booking, new)
        _record(s, booking, transition.to_state, actor, now, seat_ids=chosen)
        return booking.id

    return (await _write(db, work))[0]


def _check_not_lapsed(booking: Booking, now: datetime) -> None:
    if rules.is_expired(booking.state, booking.expires_at, now):
        raise Conflict(
            "booking-expired",
            f"预约 #{booking.id} 已于 {rules.format_local(booking.expires_at)} 超时失效，"
            "请主场重新提交预约申请",
            booking_id=booking.id,
        )


async def reject_booking(
    db: Database, actor: Principal, booking_id: int, *, reason: str | None, now: datetime
) -> Booking:
    async def work(s: AsyncSession) -> int:
        booking = await _load_booking(s, booking_id)
        venue = await _venue(s, booking.venue_id)
        actor.require_venue_admin(venue.id, venue.name)
        transition = rules.next_state(booking.id, booking.state, "reject")
        await _release_holds(s, booking.id)
        booking.reason = (reason or "").strip()
        _record(s, booking, transition.to_state, actor, now, booking.reason)
        return booking.id

    return (await _write(db, work))[0]


async def _host_or_venue_admin(s: AsyncSession, actor: Principal, booking: Booking) -> None:
    venue = await _venue(s, booking.venue_id)
    session = await _session(s, booking.session_id)
    host = await _venue(s, session.host_venue_id)
    if actor.role == "venue_admin":
        actor.require_venue_admin(venue.id, venue.name)
    else:
        actor.require_host(host.id, host.name)


async def cancel_booking(
    db: Database, actor: Principal, booking_id: int, *, reason: str | None, now: datetime
) -> Booking:
    """Either side may cancel a confirmed booking, always with a reason."""

    async def work(s: AsyncSession) -> int:
        booking = await _load_booking(s, booking_id)
        await _host_or_venue_admin(s, actor, booking)
        transition = rules.next_state(booking.id, booking.state, "cancel")
        text = rules.check_cancel_reason(reason)
        await _release_holds(s, booking.id)
        booking.reason = text
        _record(s, booking, transition.to_state, actor, now, text)
        return booking.id

    return (await _write(db, work))[0]


async def change_booking(
    db: Database,
    actor: Principal,
    booking_id: int,
    *,
    seat_count: int | None,
    seat_ids: Sequence[int] | None,
    reason: str | None,
    now: datetime,
    policy: BookingPolicy,
) -> Booking:
    """The host changes a confirmed booking: the old one ends as 已变更 and a new request,
    linked to it, takes its place in the same transaction."""

    async def work(s: AsyncSession) -> int:
        old = await _load_booking(s, booking_id)
        session = await _session(s, old.session_id)
        host = await _venue(s, session.host_venue_id)
        actor.require_host(host.id, host.name)
        transition = rules.next_state(old.id, old.state, "change")
        text = rules.check_cancel_reason(reason)
        await _release_holds(s, old.id)
        old.reason = text
        _record(s, old, transition.to_state, actor, now, text)
        count = seat_count if seat_count is not None else old.seat_count
        if count < 1:
            raise InvalidInput("seat-count", "申请的工位数量必须至少为 1")
        new = Booking(
            session_id=old.session_id,
            venue_id=old.venue_id,
            seat_count=count,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            requested_by=actor.username,
            requested_at=now,
            expires_at=rules.expires_at(now, policy.request_ttl, session.starts_at),
            replaces_id=old.id,
            drawn=old.drawn,
            state="requested",
            updated_at=now,
        )
        s.add(new)
        _record(s, new, "requested", actor, now, text, replaces=old.id, seat_count=count)
        if seat_ids:
            venue = await _venue(s, old.venue_id)
            chosen = rules.check_confirmation_seats(0, count, seat_ids, seat_ids, venue.name)
            await _bookable_seats(s, venue, chosen)
            _add_holds(s, new, chosen)
        await s.flush()
        return new.id

    return (await _write(db, work))[0]


async def check_in_booking(
    db: Database, actor: Principal, booking_id: int, *, now: datetime
) -> Booking:
    async def work(s: AsyncSession) -> int:
        booking = await _load_booking(s, booking_id)
        venue = await _venue(s, booking.venue_id)
        actor.require_venue_admin(venue.id, venue.name)
        transition = rules.next_state(booking.id, booking.state, "check_in")
        _record(s, booking, transition.to_state, actor, now)
        return booking.id

    return (await _write(db, work))[0]


async def release_booking(
    db: Database, actor: Principal, booking_id: int, *, now: datetime
) -> Booking:
    async def work(s: AsyncSession) -> int:
        booking = await _load_booking(s, booking_id)
        await _host_or_venue_admin(s, actor, booking)
        transition = rules.next_state(booking.id, booking.state, "release")
        await _release_holds(s, booking.id)
        _record(s, booking, transition.to_state, actor, now)
        return booking.id

    return (await _write(db, work))[0]


async def expire_due(db: Database, now: datetime) -> list[int]:
    """Lapse every unconfirmed request whose time is up, freeing its seats; returns their ids."""
    async with db.write() as s:
        due = list(
            (
                await s.execute(
                    _booking_query()
                    .where(Booking.state == "requested", Booking.expires_at <= now)
                    .order_by(Booking.id)
                )
            ).scalars()
        )
        for booking in due:
            transition = rules.next_state(booking.id, booking.state, "expire")
            await _release_holds(s, booking.id)
            _record(s, booking, transition.to_state, SYSTEM, now, "预约申请超时未确认")
        await s.flush()
        await _audit_events(s)
    _log_events(s)
    return [b.id for b in due]


async def get_booking(db: Database, booking_id: int) -> Booking:
    async with db.read() as s:
        return await _load_booking(s, booking_id)


async def list_bookings(
    db: Database,
    *,
    venue_id: int | None = None,
    session_id: int | None = None,
    host_venue_id: int | None = None,
    states: Sequence[str] | None = None,
) -> list[Booking]:
    query = _booking_query().order_by(Booking.id)
    if venue_id is not None:
        query = query.where(Booking.venue_id == venue_id)
    if session_id is not None:
        query = query.where(Booking.session_id == session_id)
    if host_venue_id is not None:
        query = query.join(EvaluationSession).where(
            EvaluationSession.host_venue_id == host_venue_id
        )
    if states:
        query = query.where(Booking.state.in_(states))
    async with db.read() as s:
        return list((await s.execute(query)).scalars())
