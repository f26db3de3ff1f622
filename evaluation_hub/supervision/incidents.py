"""Incidents (监督事件): a conduct finding about one expert of a session, owned by the primary
(host) site: raised, handled and concluded by the host site's supervisor; read by the away site
where the expert sits (客场监督只见本场地就座专家的事件).

Concluding an incident about an expert seated away owes that venue a copy notice
(``copy_notices.owe_copy_notice``), in the same unit of work: a conclusion whose notice cannot be
dated is refused as a whole. Incidents raised from conduct alerts are ``alert_incidents``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from evaluation_hub import access, localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import EvaluationSession, Expert, Seat, Venue
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.supervision.copy_notices import owe_copy_notice
from evaluation_hub.supervision.models import (
    CopyNoticeRow,
    Incident,
    IncidentHandling,
    IncidentState,
    Severity,
)
from evaluation_hub.supervision.sites import (
    ExpertRef,
    Site,
    expert_ref,
    host_session,
    placements,
    site_of,
    visible_session,
)

__all__ = [
    "HandlingStep",
    "IncidentRecord",
    "IncidentSeat",
    "conclude_incident",
    "get_incident",
    "incident_record",
    "list_incidents",
    "load_incident",
    "raise_incident",
    "read_incidents",
    "record_handling",
    "store_new_incident",
]


@dataclass(frozen=True, slots=True)
class IncidentSeat:
    id: int
    label: str


@dataclass(frozen=True, slots=True)
class HandlingStep:
    """处理记录: what was done about an incident, by whom, when."""

    note: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """An incident as supervisors read it, with its handling and its copy notice if any."""

    id: int
    session_id: int
    expert: ExpertRef
    seat: IncidentSeat | None
    #: where the expert sat when it was raised (the away site it concerns, or the host)
    venue: Site | None
    seated_away: bool
    kind: str
    severity: Severity
    description: str
    evidence: Mapping[str, Any]
    state: IncidentState
    result: str
    raised_by: str
    raised_at: datetime
    concluded_by: str | None
    concluded_at: datetime | None
    handling: tuple[HandlingStep, ...]
    copy_notice_id: int | None


async def load_incident(s: AsyncSession, incident_id: int) -> Incident:
    """The incident with its handling steps, read afresh (or 404)."""
    incident = (
        await s.execute(
            select(Incident)
            .where(Incident.id == incident_id)
            .options(selectinload(Incident.handling))
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if incident is None:
        raise NotFound("incident-not-found", f"监督事件 #{incident_id} 不存在")
    return incident


async def incident_record(s: AsyncSession, incident: Incident) -> IncidentRecord:
    expert = await s.get(Expert, incident.expert_id)
    assert expert is not None  # a foreign key
    seat = await s.get(Seat, incident.seat_id) if incident.seat_id else None
    venue = await s.get(Venue, incident.venue_id) if incident.venue_id else None
    session = await s.get(EvaluationSession, incident.session_id)
    assert session is not None
    notice_id = (
        await s.execute(select(CopyNoticeRow.id).where(CopyNoticeRow.incident_id == incident.id))
    ).scalar_one_or_none()
    return IncidentRecord(
        id=incident.id,
        session_id=incident.session_id,
        expert=expert_ref(expert),
        seat=IncidentSeat(seat.id, seat.label) if seat else None,
        venue=site_of(venue) if venue else None,
        seated_away=venue is not None and venue.id != session.host_venue_id,
        kind=incident.kind,
        severity=Severity(incident.severity),
        description=incident.description,
        evidence=dict(incident.evidence),
        state=IncidentState(incident.state),
        result=incident.result,
        raised_by=incident.raised_by,
        raised_at=incident.raised_at,
        concluded_by=incident.concluded_by,
        concluded_at=incident.concluded_at,
        handling=tuple(HandlingStep(h.note, h.by, h.at) for h in incident.handling),
        copy_notice_id=notice_id,
    )


async def store_new_incident(s: AsyncSession, incident: Incident, now: datetime) -> None:
    """Store a new incident and its ``supervision.incident_raised`` event (raised by a
    supervisor or by the conduct monitor alike)."""
    s.add(incident)
    await s.flush()
    await append_event(
        s,
        kind="supervision.incident_raised",
        subject=f"incident:{incident.id}",
        actor=incident.raised_by,
        payload={
            "session_id": incident.session_id,
            "expert_id": incident.expert_id,
            "seat_id": incident.seat_id,
            "venue_id": incident.venue_id,
            "kind": incident.kind,
            "severity": incident.severity,
            "evidence": incident.evidence,
            "description": incident.description,
        },
        at=now,
    )


async def raise_incident(
    hub: Services,
    actor: Principal,
    session_id: int,
    *,
    kind: str,
    severity: Severity,
    expert_id: int,
    seat_id: int | None,
    evidence: dict[str, Any],
    description: str,
    now: datetime,
) -> IncidentRecord:
    """The host site's supervisor records an incident about an expert of the session; the seat,
    if given, must be the one the expert sits at."""
    async with hub.db.write() as s:
        loaded = await host_session(s, actor, session_id, "登记监督事件")
        placed = await placements(s, loaded)
        member = placed.member(expert_id)
        if member is None:
            raise InvalidInput(
                "expert-not-in-session", f"专家 #{expert_id} 不是评标会 #{session_id} 的评委"
            )
        seated = placed.seats.get(expert_id)
        if seat_id is not None and (seated is None or seated.seat_id != seat_id):
            where = f"工位是 {seated.seat_label}" if seated else "没有安排工位"
            raise InvalidInput(
                "seat-mismatch",
                f"专家 {member.expert.code} 在本场评标会{where}，与所填工位 #{seat_id} 不符",
            )
        incident = Incident(
            session_id=session_id,
            expert_id=expert_id,
            seat_id=seated.seat_id if seated else None,
            venue_id=placed.venue_id_of(member),
            kind=kind,
            severity=Severity(severity),
            description=description,
            evidence=evidence,
            state=IncidentState.OPEN,
            raised_by=actor.username,
            raised_at=now,
        )
        await store_new_incident(s, incident, now)
        return await incident_record(s, await load_incident(s, incident.id))


async def list_incidents(hub: Services, actor: Principal, session_id: int) -> list[IncidentRecord]:
    async with hub.db.read() as s:
        return await read_incidents(s, actor, session_id)


async def read_incidents(
    s: AsyncSession, actor: Principal, session_id: int
) -> list[IncidentRecord]:
    """The session's incidents the caller may see, oldest first (inside the caller's unit of
    work: the archive's)."""
    _, scope = await visible_session(s, actor, session_id)
    incidents = (
        await s.execute(
            select(Incident)
            .where(Incident.session_id == session_id)
            .options(selectinload(Incident.handling))
            .order_by(Incident.id)
        )
    ).scalars()
    return [await incident_record(s, i) for i in incidents if scope.sees(i.venue_id)]


async def get_incident(hub: Services, actor: Principal, incident_id: int) -> IncidentRecord:
    async with hub.db.read() as s:
        incident = await load_incident(s, incident_id)
        _, scope = await visible_session(s, actor, incident.session_id)
        if not scope.sees(incident.venue_id):
            raise Forbidden(
                "incident-not-visible",
                f"监督事件 #{incident.id} 不涉及在本场地就座的专家，无权查看",
            )
        return await incident_record(s, incident)


async def _open_for_host(
    s: AsyncSession, actor: Principal, incident_id: int, doing: str
) -> Incident:
    """The incident (or 404) if ``actor`` supervises its session's host site and it is not
    concluded yet."""
    incident = await load_incident(s, incident_id)
    loaded = await load_session(s, incident.session_id)
    access.require(actor, access.Action.SUPERVISE_AS_HOST, loaded.target, doing=doing)
    if incident.state == IncidentState.CONCLUDED:
        assert incident.concluded_at is not None
        raise Conflict(
            "incident-concluded",
            f"监督事件 #{incident.id} 已于 {localtime.format_minutes(incident.concluded_at)} "
            f"结案，不能再{doing}",
        )
    return incident


async def record_handling(
    hub: Services, actor: Principal, incident_id: int, *, note: str, now: datetime
) -> IncidentRecord:
    async with hub.db.write() as s:
        incident = await _open_for_host(s, actor, incident_id, "记录处理情况")
        s.add(IncidentHandling(incident_id=incident.id, note=note, by=actor.username, at=now))
        incident.state = IncidentState.HANDLING
        await s.flush()
        await append_event(
            s,
            kind="supervision.incident_handled",
            subject=f"incident:{incident.id}",
            actor=actor.username,
            payload={"note": note},
            at=now,
        )
        return await incident_record(s, await load_incident(s, incident.id))


async def conclude_incident(
    hub: Services, actor: Principal, incident_id: int, *, result: str, now: datetime
) -> IncidentRecord:
    """Conclude; an incident about an expert seated away also creates its copy notice, due
    ``hub.regulation.supervision.copy_notice_working_days`` working days later."""
    async with hub.db.write() as s:
        incident = await _open_for_host(s, actor, incident_id, "结案")
        incident.state = IncidentState.CONCLUDED
        incident.result = result
        incident.concluded_by = actor.username
        incident.concluded_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.incident_concluded",
            subject=f"incident:{incident.id}",
            actor=actor.username,
            payload={"result": result},
            at=now,
        )
        await owe_copy_notice(s, incident, actor, now=now, deadlines=hub.regulation.supervision)
        return await incident_record(s, await load_incident(s, incident.id))
