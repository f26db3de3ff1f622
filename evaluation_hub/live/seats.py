"""Which seats of an evaluation session a supervisor may watch live (音视频监督).

The rule (主场为主、客场为辅) is ``access.Action.WATCH_LIVE``: a supervisor of the session's
host venue sees every seat of the session; a supervisor of an away venue where the session
holds seats sees only the seats at that venue; anyone else, system admins included (live
pictures of experts are for supervising departments only), is refused. :func:`visible_seats`
applies it (``access.scope``) to the session's seats; :func:`require_seat` refuses a seat
outside the caller's view exactly like a seat that is not there.

A seat's picture is whoever sits there now, whatever session they sit for, so a session's
seats on the wall are only those it holds for certain, while it is on: seatings
(``booking.seatings``, with or without an expert) of a confirmed or checked-in booking (a mere
request holds a seat nobody agreed to give), and only while the session's state is one of
``sessions.states.SEATS_IN_USE`` (from the opening of check-in until the session ends: the
booked window says nothing about check-in opening early or a session running late). A random
draw's seats are further hidden from whoever may not learn the drawn venue before the start
(两随机、四不知, ``booking.records.hold_visible``). :func:`session_seats` reads them in the
caller's unit of work. Everything else here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.booking.records import hold_visible, session_started
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.errors import NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.sessions.lookup import LoadedSession
from evaluation_hub.sessions.states import SEATS_IN_USE

#: the booking states in which a seat is the session's for certain (never a mere request)
HELD_FOR_CERTAIN = frozenset({"confirmed", "checked_in"})

__all__ = [
    "HELD_FOR_CERTAIN",
    "LiveSeat",
    "SessionSeats",
    "require_seat",
    "seat_visible",
    "session_seats",
    "visible_seats",
    "watch_scope",
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
    #: held by a random draw's booking (hidden from the host site until the start)
    drawn: bool = False


@dataclass(frozen=True, slots=True)
class SessionSeats:
    session_id: int
    host_venue_id: int
    seats: tuple[LiveSeat, ...]
    #: the session has started (四不知: a drawn seat is no secret any more)
    started: bool = True
    #: the venues holding a seat for certain, whether or not the session is on now: who
    #: supervises there is the session's away supervisor, and sees an empty wall (not a
    #: refusal) before check-in opens or after the session ends
    held_venue_ids: frozenset[int] = frozenset()
    #: the session's state (the wall says why it is empty)
    state: str = ""

    @property
    def target(self) -> access.Target:
        """The facts ``WATCH_LIVE`` needs: the host, and every venue holding a seat."""
        return access.Target(
            session_id=self.session_id,
            host_venue_id=self.host_venue_id,
            seated_venue_ids=self.held_venue_ids | frozenset(s.venue_id for s in self.seats),
        )


async def session_seats(s: AsyncSession, loaded: LoadedSession, *, now: datetime) -> SessionSeats:
    """The seats the session holds for certain while it is on, by venue and seat label (none
    before check-in opens or after the session ends)."""
    session = loaded.session
    started = session_started(session.starts_at, now)
    held = [
        x for x in await seatings(s, session_id=session.id) if x.booking_state in HELD_FOR_CERTAIN
    ]
    venues = frozenset(x.venue_id for x in held)
    if session.state not in SEATS_IN_USE:
        return SessionSeats(session.id, session.host_venue_id, (), started, venues, session.state)
    seats = tuple(
        LiveSeat(
            seat_id=x.seat_id,
            seat_key=x.seat_key,
            label=x.seat_label,
            room=x.room,
            venue_id=x.venue_id,
            venue_name=x.venue_name,
            expert_code=x.expert_code,
            drawn=x.drawn,
        )
        for x in held
    )
    return SessionSeats(session.id, session.host_venue_id, seats, started, venues, session.state)


def watch_scope(who: Principal, seats: SessionSeats) -> access.Scope:
    """What of the session ``who`` may watch: everything, or one venue's seats."""
    return access.scope(who, access.Action.WATCH_LIVE, seats.target)


def seat_visible(who: Principal, seats: SessionSeats, seat: LiveSeat) -> bool:
    """Whether ``who`` may learn where ``seat`` is (a drawn seat before the start: its own
    venue's staff only)."""
    return hold_visible(
        who,
        session_id=seats.session_id,
        host_venue_id=seats.host_venue_id,
        venue_id=seat.venue_id,
        drawn=seat.drawn,
        started=seats.started,
    )


def visible_seats(who: Principal, seats: SessionSeats) -> list[LiveSeat]:
    """The seats ``who`` may watch; ``Forbidden`` if none may be watched at all."""
    scope = watch_scope(who, seats)
    return [
        seat for seat in seats.seats if scope.sees(seat.venue_id) and seat_visible(who, seats, seat)
    ]


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
