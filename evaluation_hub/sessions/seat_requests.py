"""The host site's side of booking (主场申请预约): requesting seats at a venue for a session's
window, several venues at once (an allocation being booked), seats at the host venue for the
host's own members (主场专家也在工位评标), and changing a confirmed booking.

Only the host venue's operators book seats for a session (``access.Action.BOOK_SEATS``); the
system administrator does not act for a host. A request that names who sits where seats only
members of the session, each on their own side (``booking.rules.check_placement``: an away
member never at the host venue, a host member only there) and each once. Each use case is one
unit of work through the ledger (``evaluation_hub.booking.ledger``), audited and told to the
pages; the booked venue's admin confirms as for any request (the host venue's admin for host
seats).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.booking import rules
from evaluation_hub.booking.ledger import (
    add_holds,
    bookable_seats,
    load_booking,
    load_venue,
    record,
    release_holds,
    write_bookings,
)
from evaluation_hub.booking.records import BookingRecord, booking_target, record_for
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import Booking, EvaluationSession, Venue
from evaluation_hub.errors import Conflict, InvalidInput
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.formation import member_rows
from evaluation_hub.sessions.lookup import load_session

__all__ = [
    "BeforeCommit",
    "SeatRequest",
    "book_host_seats",
    "change_booking",
    "request_booking",
    "request_bookings",
]

#: more work in the same unit of work as the requests, given the bookings made (a draw's record)
BeforeCommit = Callable[[AsyncSession, list[Booking]], Awaitable[None]]


@dataclass(frozen=True)
class SeatRequest:
    """One venue's part of a host's request: how many seats, optionally which ones, for whom."""

    venue_id: int
    seat_count: int
    seat_ids: Sequence[int] | None = None
    expert_ids: Sequence[int | None] | None = None  # parallel to seat_ids
    #: name who sits where in the request's audit event (the host's own seats)
    audit_experts: bool = False


async def _check_members(
    s: AsyncSession, session: EvaluationSession, venue: Venue, experts: Sequence[int]
) -> None:
    """Each expert to be seated at ``venue`` is a member of the session, on that side
    (host members at the host venue, away members elsewhere), named once and not seated yet."""
    twice = sorted({e for e in experts if list(experts).count(e) > 1})
    if twice:
        raise InvalidInput(
            "expert-duplicate",
            f"每位专家只能安排一个工位：专家 {'、'.join(f'#{e}' for e in twice)} 出现了多次",
        )
    members = {e.id: (m, e) for m, e in await member_rows(s, session.id)}
    for expert_id in experts:
        found = members.get(expert_id)
        if found is None:
            raise InvalidInput(
                "expert-not-in-session",
                f"专家 #{expert_id} 不是评标会 #{session.id} 的评标委员会成员",
            )
        member, expert = found
        rules.check_placement(
            expert.code,
            member.placement,
            at_host=venue.id == session.host_venue_id,
            venue_name=venue.name,
            host_venue_name=session.host_venue.name,
        )
        elsewhere = await seatings(s, session_id=session.id, expert_id=expert_id)
        if elsewhere:
            raise Conflict(
                "expert-already-seated",
                f"专家 #{expert_id} 已安排在工位 #{elsewhere[0].seat_id}",
            )


async def _request_in(
    s: AsyncSession,
    actor: Principal,
    session_id: int,
    want: SeatRequest,
    now: datetime,
    ttl: timedelta,
    drawn: bool,
) -> Booking:
    loaded = await load_session(s, session_id)
    access.require(actor, access.Action.BOOK_SEATS, loaded.target)
    session = loaded.session
    if want.seat_count < 1:
        raise InvalidInput("seat-count", "申请的工位数量必须至少为 1")
    venue = await load_venue(s, want.venue_id)
    if not venue.enabled:
        raise Conflict("venue-disabled", f"场地「{venue.name}」已停用，不接受新的预约")
    if session.ends_at <= now:
        raise Conflict("session-over", f"评标会 #{session.id} 的评标时段已结束，不能再预约工位")
    booking = Booking(
        session=session,
        venue_id=venue.id,
        seat_count=want.seat_count,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        requested_by=actor.username,
        requested_at=now,
        expires_at=rules.expires_at(now, ttl, session.starts_at),
        drawn=drawn,
        state="requested",
        updated_at=now,
    )
    s.add(booking)
    seated: dict[str, Any] = {}
    if want.audit_experts:
        seated["experts"] = [
            {"seat_id": seat_id, "expert_id": expert_id}
            for seat_id, expert_id in zip(want.seat_ids or [], want.expert_ids or [], strict=False)
        ]
    record(s, booking, "requested", actor, now, seat_count=want.seat_count, **seated)
    if want.seat_ids:
        chosen = rules.check_confirmation_seats(
            0, want.seat_count, want.seat_ids, want.seat_ids, venue.name
        )
        seats = await bookable_seats(s, venue, chosen)
        experts = dict(zip(want.seat_ids, want.expert_ids or [], strict=False))
        named = [e for e in experts.values() if e is not None]
        if named:  # seats asked for nobody in particular need no member read
            await _check_members(s, session, venue, named)
        add_holds(s, booking, chosen, experts, seats)
    await s.flush()
    return booking


async def request_booking(
    hub: Services,
    actor: Principal,
    *,
    session_id: int,
    venue_id: int,
    seat_count: int,
    seat_ids: Sequence[int] | None,
    now: datetime,
) -> BookingRecord:
    """A host site asks a venue for ``seat_count`` seats for a session's window (申请预约).

    With ``seat_ids`` (for example from an allocation proposal) the seats are held at once.
    """
    want = SeatRequest(venue_id, seat_count, seat_ids)
    ttl = hub.regulation.booking_request_ttl

    async def work(s: AsyncSession) -> list[int]:
        return [(await _request_in(s, actor, session_id, want, now, ttl, drawn=False)).id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)


async def request_bookings(
    hub: Services,
    actor: Principal,
    *,
    session_id: int,
    requests: Sequence[SeatRequest],
    now: datetime,
    drawn: bool,
    before_commit: BeforeCommit | None = None,
) -> list[BookingRecord]:
    """Several venues' requests for one session, all or none (an allocation being booked)."""
    ttl = hub.regulation.booking_request_ttl

    async def work(s: AsyncSession) -> list[int]:
        made = [await _request_in(s, actor, session_id, r, now, ttl, drawn) for r in requests]
        if before_commit is not None:
            await before_commit(s, made)
        return [b.id for b in made]

    return [record_for(actor, b, now) for b in await write_bookings(hub, work, now=now)]


async def book_host_seats(
    hub: Services,
    actor: Principal,
    session_id: int,
    seats: Sequence[tuple[int, int]],
    *,
    now: datetime,
) -> BookingRecord:
    """The host books seats at its own venue for its own members (主场工位), each seat with
    the host member who will sit there: ``seats`` are (seat id, expert id) pairs. The seats are
    held at once; the host venue's admin confirms the request like any other, then the members
    receive PINs and check in at their seats as away members do."""
    ttl = hub.regulation.booking_request_ttl
    if not seats:
        raise InvalidInput("seat-count", "申请的工位数量必须至少为 1")

    async def work(s: AsyncSession) -> list[int]:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.BOOK_SEATS, loaded.target)
        access.require(actor, access.Action.SEAT_EXPERTS, loaded.target)
        want = SeatRequest(
            loaded.session.host_venue_id,
            len(seats),
            [seat_id for seat_id, _ in seats],
            [expert_id for _, expert_id in seats],
            audit_experts=True,
        )
        return [(await _request_in(s, actor, session_id, want, now, ttl, drawn=False)).id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)


async def change_booking(
    hub: Services,
    actor: Principal,
    booking_id: int,
    *,
    seat_count: int | None,
    seat_ids: Sequence[int] | None,
    reason: str | None,
    now: datetime,
) -> BookingRecord:
    """The host changes a confirmed booking: the old one ends as 已变更 and a new request,
    linked to it, takes its place in the same transaction."""
    ttl = hub.regulation.booking_request_ttl

    async def work(s: AsyncSession) -> list[int]:
        old = await load_booking(s, booking_id)
        session = old.session
        access.require(
            actor,
            access.Action.BOOK_SEATS,
            booking_target(old, host_venue_name=session.host_venue.name),
        )
        transition = rules.next_state(old.id, old.state, "change")
        text = rules.check_cancel_reason(reason)
        await release_holds(s, old.id)
        old.reason = text
        record(s, old, transition.to_state, actor, now, text)
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
            expires_at=rules.expires_at(now, ttl, session.starts_at),
            replaces_id=old.id,
            drawn=old.drawn,
            state="requested",
            updated_at=now,
        )
        s.add(new)
        record(s, new, "requested", actor, now, text, replaces=old.id, seat_count=count)
        if seat_ids:
            venue = await load_venue(s, old.venue_id)
            chosen = rules.check_confirmation_seats(0, count, seat_ids, seat_ids, venue.name)
            await bookable_seats(s, venue, chosen)
            add_holds(s, new, chosen)
        await s.flush()
        return [new.id]

    [booking] = await write_bookings(hub, work, now=now)
    return record_for(actor, booking, now)
