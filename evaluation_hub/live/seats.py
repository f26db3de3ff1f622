"""Which seats of an evaluation session a supervisor may watch live (音视频监督), and the
database read that lists a session's seats.

The rule (主场为主、客场为辅), enforced here and nowhere else: a supervisor of the session's
host venue sees every seat of the session; a supervisor of an away venue where the session
has booked seats sees only the seats at that venue; anyone else, system admins included (live
pictures of experts are for supervising departments only), is refused. The scope itself comes
from :func:`evaluation_hub.access.scope` (``Action.WATCH_LIVE``).

A session's seats are the live seats of its live bookings. :func:`visible_seats` is pure; only
:func:`load_session_seats` touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from evaluation_hub import access
from evaluation_hub.booking.rules import LIVE_STATES
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Booking, BookingSeat, EvaluationSession, Expert, Seat, Venue
from evaluation_hub.errors import Forbidden, NotFound
from evaluation_hub.principal import ROLE_NAMES, Principal
from evaluation_hub.seats.store import seat_key_for

__all__ = [
    "LiveSeat",
    "SessionSeats",
    "load_session_seats",
    "require_seat",
    "seated_sessions",
    "visible_seats",
]


@dataclass(frozen=True, slots=True)
class LiveSeat:
    """One seat of a session as the wall shows it."""

    seat_id: int
    seat_key: str  # what the seat's terminal calls itself on the wire
    label: str
    room: str
    venue_id: int
    venue_name: str
    expert_code: str | None


@dataclass(frozen=True, slots=True)
class SessionSeats:
    session_id: int
    host_venue_id: int
    seats: tuple[LiveSeat, ...]

    @property
    def away_venue_ids(self) -> frozenset[int]:
        return frozenset(s.venue_id for s in self.seats if s.venue_id != self.host_venue_id)


async def load_session_seats(db: Database, session_id: int) -> SessionSeats:
    """The session's booked seats, or ``NotFound`` for an unknown session."""
    async with db.read() as s:
        session = await s.get(EvaluationSession, session_id)
        if session is None:
            raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
        rows = await s.execute(
            select(Seat, Venue, Expert.code)
            .join(BookingSeat, BookingSeat.seat_id == Seat.id)
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .join(Venue, Venue.id == Seat.venue_id)
            .outerjoin(Expert, Expert.id == BookingSeat.expert_id)
            .where(
                Booking.session_id == session_id,
                Booking.state.in_(LIVE_STATES),
                BookingSeat.live.is_(True),
            )
            .order_by(Venue.id, Seat.label)
        )
        seats = tuple(
            LiveSeat(
                seat_id=seat.id,
                seat_key=seat_key_for(venue.code, seat.label),
                label=seat.label,
                room=seat.room,
                venue_id=venue.id,
                venue_name=venue.name,
                expert_code=expert_code,
            )
            for seat, venue, expert_code in rows
        )
        return SessionSeats(session_id, session.host_venue_id, seats)


async def seated_sessions(db: Database, seat_key: str, now: datetime) -> list[tuple[int, int]]:
    """(session id, seat id) of the sessions with an expert seated at ``seat_key`` now."""
    venue_code, dot, label = seat_key.partition(".")
    if not dot:
        return []
    async with db.read() as s:
        rows = await s.execute(
            select(Booking.session_id, Seat.id)
            .join(BookingSeat, BookingSeat.booking_id == Booking.id)
            .join(Seat, Seat.id == BookingSeat.seat_id)
            .join(Venue, Venue.id == Seat.venue_id)
            .where(
                Venue.code == venue_code,
                Seat.label == label,
                Booking.state.in_(LIVE_STATES),
                BookingSeat.live.is_(True),
                BookingSeat.expert_id.is_not(None),
                BookingSeat.starts_at <= now,
                BookingSeat.ends_at > now,
            )
            .order_by(Booking.session_id)
        )
        return [(session_id, seat_id) for session_id, seat_id in rows]


def visible_seats(who: Principal, seats: SessionSeats) -> list[LiveSeat]:
    """The seats ``who`` may watch; ``Forbidden`` if none may be watched at all."""
    if who.role != "supervisor":
        raise Forbidden(
            "live-supervisors-only",
            f"只有评标会 #{seats.session_id} 主场或客场的监督人员可以观看工位音视频，"
            f"当前用户 {who.username}（{ROLE_NAMES.get(who.role, who.role)}）无此权限",
        )
    target = access.seated_target(seats.session_id, seats.host_venue_id, "", seats.away_venue_ids)
    scope = access.scope(who, access.Action.WATCH_LIVE, target)
    return [seat for seat in seats.seats if scope.sees(seat.venue_id)]


def require_seat(who: Principal, seats: SessionSeats, seat_id: int) -> LiveSeat:
    """The seat ``seat_id`` of the session if ``who`` may watch it.

    A seat outside the caller's view is refused exactly like a seat that is not in the
    session at all, so a refusal tells an away supervisor nothing about other venues.
    """
    for seat in visible_seats(who, seats):
        if seat.seat_id == seat_id:
            return seat
    raise NotFound(
        "live-seat-not-visible",
        f"评标会 #{seats.session_id} 中没有您可观看的工位 #{seat_id}",
    )
