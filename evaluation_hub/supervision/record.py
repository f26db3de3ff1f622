"""The supervision record (联合监督记录): which sessions a supervisor supervises, and for each
expert of a session the seat, the primary site (主监督地, the host) and the secondary site
(协助监督地, the venue of the seat).

An away supervisor sees the sessions seating an expert at their venue, and of each only the
experts seated there; the host site's supervisors and the system administrator see everything
(``evaluation_hub.access``, ``Action.SEE_SUPERVISION``). Before the start, an expert seated by
the random draw is listed without seat and secondary site to whoever may not learn the drawn
venue yet (两随机、四不知, ``booking.records.seating_visible``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.booking.records import seating_visible, session_started
from evaluation_hub.booking.seatings import live_holds, seatings
from evaluation_hub.db.models import Booking, BookingSeat, EvaluationSession, Seat, Venue
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.supervision.sites import (
    ExpertRef,
    Site,
    expert_ref,
    placements,
    site_of,
    venue_or_404,
    visible_session,
)

__all__ = [
    "RecordEntry",
    "RecordSeat",
    "SupervisedSession",
    "SupervisionRecord",
    "read_record",
    "supervised_sessions",
    "supervision_record",
]


@dataclass(frozen=True, slots=True)
class SupervisedSession:
    """A session in a supervisor's list, and whether they supervise it as its host or away."""

    id: int
    project_code: str
    project_name: str
    section: str
    starts_at: datetime
    ends_at: datetime
    role: Literal["host", "away"]


@dataclass(frozen=True, slots=True)
class RecordSeat:
    id: int
    label: str
    room: str


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One expert of the session with both supervising sites."""

    expert: ExpertRef
    placement: str
    seat: RecordSeat | None
    primary_site: Site
    secondary_site: Site | None


@dataclass(frozen=True, slots=True)
class SupervisionRecord:
    session_id: int
    project_code: str
    project_name: str
    section: str
    host_venue_id: int
    #: what the caller sees: everything, or the experts seated at one venue
    scope: access.Scope
    experts: tuple[RecordEntry, ...]


async def supervised_sessions(hub: Services, actor: Principal) -> list[SupervisedSession]:
    """Sessions the caller supervises: hosted by their venue or seating an expert there (every
    session for the system administrator), by start."""
    access.require(actor, access.Action.LIST_SUPERVISED_SESSIONS, access.Target())
    async with hub.db.read() as s:
        query = select(EvaluationSession).order_by(EvaluationSession.starts_at)
        if actor.role != access.Role.SYSTEM_ADMIN:
            seated_here = (
                live_holds()
                .join(Seat, Seat.id == BookingSeat.seat_id)
                .where(Seat.venue_id == actor.venue_id, BookingSeat.expert_id.is_not(None))
                .with_only_columns(Booking.session_id)
            )
            query = query.where(
                (EvaluationSession.host_venue_id == actor.venue_id)
                | EvaluationSession.id.in_(seated_here)
            )
        sessions = list((await s.execute(query)).scalars())
        seated: dict[int, set[int]] = {x.id: set() for x in sessions}
        for seating in await seatings(s, session_ids=list(seated), with_expert=True):
            seated[seating.session_id].add(seating.venue_id)
        found = []
        for x in sessions:
            target = access.Target(
                session_id=x.id,
                host_venue_id=x.host_venue_id,
                seated_venue_ids=frozenset(seated[x.id]),
            )
            if not access.allowed(actor, access.Action.SEE_SUPERVISION, target):
                continue
            scope = access.scope(actor, access.Action.SEE_SUPERVISION, target)
            found.append(
                SupervisedSession(
                    id=x.id,
                    project_code=x.project_code,
                    project_name=x.project_name,
                    section=x.section,
                    starts_at=x.starts_at,
                    ends_at=x.ends_at,
                    role="host" if scope.everything else "away",
                )
            )
        return found


async def supervision_record(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> SupervisionRecord:
    """Every expert of the session the caller may see, with seat, primary and secondary site."""
    async with hub.db.read() as s:
        return await read_record(s, actor, session_id, now=now)


async def read_record(
    s: AsyncSession, actor: Principal, session_id: int, *, now: datetime
) -> SupervisionRecord:
    """:func:`supervision_record` inside the caller's unit of work (the archive's)."""
    loaded, scope = await visible_session(s, actor, session_id)
    session = loaded.session
    placed = await placements(s, loaded)
    host = site_of(session.host_venue)
    started = session_started(session.starts_at, now)
    entries = []
    for member in placed.members:
        venue_id = placed.venue_id_of(member)
        if not scope.sees(venue_id):
            continue
        seating = placed.seats.get(member.expert_id)
        if seating is not None and not seating_visible(
            actor, seating, session.host_venue_id, started=started
        ):
            seating, venue_id = None, None
        venue: Venue | None = await venue_or_404(s, venue_id) if venue_id is not None else None
        entries.append(
            RecordEntry(
                expert=expert_ref(member.expert),
                placement=member.placement,
                seat=(
                    RecordSeat(seating.seat_id, seating.seat_label, seating.room)
                    if seating is not None
                    else None
                ),
                primary_site=host,
                secondary_site=site_of(venue) if venue is not None else None,
            )
        )
    return SupervisionRecord(
        session_id=session.id,
        project_code=session.project_code,
        project_name=session.project_name,
        section=session.section,
        host_venue_id=session.host_venue_id,
        scope=scope,
        experts=tuple(entries),
    )
