"""Who may speak to which seats of a session (喊话对象), the rule ``access.Action.TALK_TO_SEATS``:
the host operator and the host venue's supervisors to any seat of the session or to all of them,
a supervisor of a seat's own venue (the away supervisor) to that venue's seats one at a time;
nobody else, and nobody to a seat the session does not hold now.

The access check comes first and uses only the facts the rule needs: the session with its host,
and the venue of the seat addressed (a seat id that names no seat is treated as a seat of no
venue, so it tells an outsider nothing). Only then are the session's seats read: the seats it
holds for certain while its seats are in use (``live.seats.session_seats``: from the opening of
check-in until the session ends), a drawn seat hidden like on the wall before the start.
Everything runs in the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.errors import Conflict, NotFound
from evaluation_hub.live.seats import LiveSeat, SessionSeats, seat_visible, session_seats
from evaluation_hub.principal import Principal
from evaluation_hub.sessions.lookup import LoadedSession, load_session
from evaluation_hub.sessions.states import state_name

__all__ = [
    "ROLE_NAMES",
    "Addressed",
    "Audience",
    "address",
    "audience",
    "sender_role",
]

#: how the expert's page names who spoke (``seat_protocol.messages.Announcement.role``)
ROLE_NAMES = {
    "host_operator": "主场业务人员",
    "host_supervisor": "主场监督人员",
    "venue_supervisor": "客场监督人员",
}


@dataclass(frozen=True)
class Addressed:
    """The seats one announcement or voice turn goes to."""

    session_id: int
    #: the one seat addressed, or None: every seat of the session
    seat: LiveSeat | None
    seats: tuple[LiveSeat, ...]
    role: str  # a key of ROLE_NAMES


@dataclass(frozen=True)
class Audience:
    """The seats a caller may address in a session (the talk-back panel)."""

    session_id: int
    #: every seat at once (the host site only)
    everyone: bool
    seats: tuple[LiveSeat, ...]
    #: the venue whose seats an away supervisor addresses (None: the host site, all venues)
    venue_code: str | None
    state: str
    on: bool


def sender_role(who: Principal, loaded: LoadedSession) -> str:
    """How ``who`` stands to the session when speaking (after ``TALK_TO_SEATS`` allowed it)."""
    if who.role == access.Role.HOST_OPERATOR:
        return "host_operator"
    if who.venue_id == loaded.session.host_venue_id:
        return "host_supervisor"
    return "venue_supervisor"


def _target(loaded: LoadedSession, venue: Venue | None) -> access.Target:
    return access.Target(
        session_id=loaded.session.id,
        host_venue_id=loaded.session.host_venue_id,
        host_venue_name=loaded.session.host_venue.name,
        venue_id=None if venue is None else venue.id,
        venue_name="" if venue is None else venue.name,
    )


def _in_use(seats: SessionSeats) -> None:
    if not seats.seats:
        raise Conflict(
            "talkback-seats-not-in-use",
            f"评标会 #{seats.session_id} 当前状态为「{state_name(seats.state)}」，"
            "工位只在签到开始至评审结束期间接收通知和喊话",
        )


async def address(
    s: AsyncSession, who: Principal, session_id: int, seat_id: int | None, *, now: datetime
) -> Addressed:
    """The seats ``who`` speaks to: seat ``seat_id`` of the session, or all of its seats (None).
    ``Forbidden`` first if ``who`` may not; then 409 if the session's seats are not in use, 404
    if the session holds no such seat (or one ``who`` may not learn of)."""
    loaded = await load_session(s, session_id)
    venue = None
    if seat_id is not None:
        venue = (
            await s.execute(
                select(Venue).join(Seat, Seat.venue_id == Venue.id).where(Seat.id == seat_id)
            )
        ).scalar_one_or_none()
    access.require(who, access.Action.TALK_TO_SEATS, _target(loaded, venue))
    seats = await session_seats(s, loaded, now=now)
    _in_use(seats)
    role = sender_role(who, loaded)
    if seat_id is None:
        return Addressed(session_id, None, seats.seats, role)
    for seat in seats.seats:
        if seat.seat_id == seat_id and seat_visible(who, seats, seat):
            return Addressed(session_id, seat, (seat,), role)
    raise NotFound("talkback-seat-not-found", f"评标会 #{session_id} 当前没有工位 #{seat_id}")


async def audience(s: AsyncSession, who: Principal, session_id: int, *, now: datetime) -> Audience:
    """The seats ``who`` may address in the session (``Forbidden`` if none ever)."""
    loaded = await load_session(s, session_id, seated_venues=True)
    seats = await session_seats(s, loaded, now=now)
    held = seats.held_venue_ids | loaded.target.seated_venue_ids
    own = None
    if who.venue_id is not None and who.venue_id in held:
        own = await s.get(Venue, who.venue_id)
    access.require(who, access.Action.TALK_TO_SEATS, _target(loaded, own))
    everyone = access.allowed(who, access.Action.TALK_TO_SEATS, _target(loaded, None))
    visible = tuple(
        seat
        for seat in seats.seats
        if (everyone or seat.venue_id == who.venue_id) and seat_visible(who, seats, seat)
    )
    return Audience(
        session_id,
        everyone,
        visible,
        None if everyone or own is None else own.code,
        seats.state,
        bool(seats.seats),
    )
