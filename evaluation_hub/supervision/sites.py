"""Where each expert of a session is supervised (主监督地、协助监督地), and the session facts every
supervision use case starts from.

The primary site is always the session's host venue; the secondary site is the venue of the seat
the expert sits at now (a live seating, ``booking.seatings``), or the host venue for a host expert
without a booked seat, or none for an away expert not seated yet.

Each use case opens the session through :func:`host_session` (acting as the host site's
supervisor) or :func:`visible_session` (reading, with the caller's ``access.Scope``), so the
principal is checked before anything else of the session is read. Reads only, inside the
caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from evaluation_hub import access
from evaluation_hub.booking.seatings import Seating, seatings
from evaluation_hub.db.models import Expert, SessionExpert, Venue
from evaluation_hub.errors import NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.sessions.lookup import LoadedSession, load_session

__all__ = [
    "ExpertRef",
    "Placements",
    "Site",
    "away_venue_ids",
    "expert_ref",
    "host_session",
    "placements",
    "site_of",
    "venue_or_404",
    "visible_session",
]


@dataclass(frozen=True, slots=True)
class Site:
    """A supervising site: a venue and the department supervising there (监督部门)."""

    venue_id: int
    venue_name: str
    supervising_department: str


@dataclass(frozen=True, slots=True)
class ExpertRef:
    id: int
    code: str
    name: str


def site_of(venue: Venue) -> Site:
    return Site(venue.id, venue.name, venue.supervising_department)


def expert_ref(expert: Expert) -> ExpertRef:
    return ExpertRef(expert.id, expert.code, expert.name)


async def venue_or_404(s: AsyncSession, venue_id: int) -> Venue:
    venue = await s.get(Venue, venue_id)
    if venue is None:
        raise NotFound("venue-not-found", f"场地 #{venue_id} 不存在")
    return venue


async def host_session(
    s: AsyncSession, actor: Principal, session_id: int, doing: str, *, lock: bool = False
) -> LoadedSession:
    """The session (or 404) if ``actor`` is its host site's supervisor; ``doing`` names the act
    in the refusal (``登记监督事件``, ``发出函告`` …)."""
    loaded = await load_session(s, session_id, lock=lock, seated_venues=True)
    access.require(actor, access.Action.SUPERVISE_AS_HOST, loaded.target, doing=doing)
    return loaded


async def visible_session(
    s: AsyncSession, actor: Principal, session_id: int
) -> tuple[LoadedSession, access.Scope]:
    """The session (or 404) and the part of it ``actor`` may see: everything at the host site
    and for the system administrator, one venue for an away supervisor (客场监督只见本场地)."""
    loaded = await load_session(s, session_id, seated_venues=True)
    return loaded, access.scope(actor, access.Action.SEE_SUPERVISION, loaded.target)


def away_venue_ids(loaded: LoadedSession) -> frozenset[int]:
    """The away venues (客场) of the session: where an expert of it is seated, but not the host."""
    return loaded.target.seated_venue_ids - {loaded.session.host_venue_id}


@dataclass(frozen=True)
class Placements:
    """The committee of a session and the seat each member sits at now."""

    host_venue_id: int
    members: tuple[SessionExpert, ...]
    seats: Mapping[int, Seating]  # by expert id

    def member(self, expert_id: int) -> SessionExpert | None:
        return next((m for m in self.members if m.expert_id == expert_id), None)

    def venue_id_of(self, member: SessionExpert) -> int | None:
        """The member's secondary site: the seat's venue, else the host for a host expert."""
        seat = self.seats.get(member.expert_id)
        if seat is not None:
            return seat.venue_id
        return self.host_venue_id if member.placement == "host" else None


async def placements(s: AsyncSession, loaded: LoadedSession) -> Placements:
    members = (
        await s.execute(
            select(SessionExpert)
            .where(SessionExpert.session_id == loaded.session.id)
            .options(selectinload(SessionExpert.expert))
            .order_by(SessionExpert.id)
        )
    ).scalars()
    seated = await seatings(s, session_id=loaded.session.id, with_expert=True)
    return Placements(
        loaded.session.host_venue_id,
        tuple(members),
        {x.expert_id: x for x in seated if x.expert_id is not None},
    )
