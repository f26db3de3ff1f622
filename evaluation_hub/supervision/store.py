"""Joint supervision in the database: the supervision record, incidents (监督事件), 函告,
copy notices (抄送告知) and away-site handovers (客场资料移交).

Each function opens its own unit of work on the hub's ``Database``, applies the access rules of
``supervision.access`` and the deadline rules of ``supervision.notices``, and returns plain
JSON-ready dicts. Every change is written together with its audit event in one transaction, so
a change without its event (or the reverse) cannot be committed.

Where an expert sits comes from the session's live bookings (``BookingSeat.expert_id``); host
experts without a booked seat sit at the host venue. This module never reads a clock: callers
pass ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from evaluation_hub import localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.rules import LIVE_STATES
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import (
    Booking,
    BookingSeat,
    EvaluationSession,
    Expert,
    Seat,
    SessionExpert,
    Venue,
)
from evaluation_hub.errors import CalendarError, Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.supervision import access
from evaluation_hub.supervision.alerts import ALERT_ACTOR, AlertEvidence, alert_incident
from evaluation_hub.supervision.models import (
    AssistanceRequest,
    CopyNoticeRow,
    HandoverRow,
    Incident,
    IncidentHandling,
)
from evaluation_hub.supervision.notices import (
    HANDOVER_ITEMS,
    Acknowledgement,
    CopyNotice,
    Handover,
    SupervisionDeadlines,
)
from evaluation_hub.supervision.workdays import CalendarNotCovered
from media.conduct import AlertKind

__all__ = [
    "SEVERITY_NAMES",
    "acknowledge_copy_notice",
    "conclude_incident",
    "get_incident",
    "list_assistance_requests",
    "list_copy_notices",
    "list_handovers",
    "list_incidents",
    "mark_handed_over",
    "open_handovers",
    "raise_alert_incident",
    "raise_incident",
    "record_handling",
    "request_assistance",
    "respond_assistance",
    "supervised_sessions",
    "supervision_record",
]

SEVERITY_NAMES = {"minor": "一般", "serious": "较重", "grave": "严重"}
STATE_NAMES = {"open": "待处理", "handling": "处理中", "concluded": "已结案"}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _local(at: datetime) -> str:
    return localtime.format_minutes(at)


def _today(now: datetime) -> date:
    return localtime.day_of(now)


@dataclass
class _Context:
    """One session as supervision needs it: who sits where."""

    session: EvaluationSession
    host: Venue
    experts: list[SessionExpert]
    seats: dict[int, tuple[Seat, Venue]] = field(default_factory=dict)  # by expert id
    venues: dict[int, Venue] = field(default_factory=dict)

    def venue_of(self, expert_id: int, placement: str) -> Venue | None:
        if expert_id in self.seats:
            return self.seats[expert_id][1]
        return self.host if placement == "host" else None

    @property
    def away_venue_ids(self) -> set[int]:
        return {v.id for _, v in self.seats.values() if v.id != self.host.id}

    @property
    def seated_venue_ids(self) -> set[int]:
        return {v.id for _, v in self.seats.values()} | {self.host.id}

    def scope(self, who: Principal) -> access.SupervisionScope:
        return access.scope_for(who, self.session.id, self.host.id, self.away_venue_ids)

    def require_host(self, who: Principal, action: str) -> None:
        access.require_host_supervisor(who, self.host.id, self.host.name, action)


async def _context(s: AsyncSession, session_id: int) -> _Context:
    session = (
        await s.execute(
            select(EvaluationSession)
            .where(EvaluationSession.id == session_id)
            .options(
                selectinload(EvaluationSession.experts).selectinload(SessionExpert.expert),
                selectinload(EvaluationSession.host_venue),
            )
        )
    ).scalar_one_or_none()
    if session is None:
        raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
    ctx = _Context(session, session.host_venue, list(session.experts))
    rows = await s.execute(
        select(BookingSeat.expert_id, Seat, Venue)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .join(Seat, Seat.id == BookingSeat.seat_id)
        .join(Venue, Venue.id == Seat.venue_id)
        .where(
            Booking.session_id == session_id,
            Booking.state.in_(LIVE_STATES),
            BookingSeat.live.is_(True),
            BookingSeat.expert_id.is_not(None),
        )
    )
    for expert_id, seat, venue in rows:
        ctx.seats[expert_id] = (seat, venue)
        ctx.venues[venue.id] = venue
    ctx.venues[ctx.host.id] = ctx.host
    return ctx


async def _venue(s: AsyncSession, venue_id: int) -> Venue:
    venue = await s.get(Venue, venue_id)
    if venue is None:
        raise NotFound("venue-not-found", f"场地 #{venue_id} 不存在")
    return venue


def _site(venue: Venue | None) -> dict[str, Any] | None:
    if venue is None:
        return None
    return {
        "venue_id": venue.id,
        "venue_name": venue.name,
        "supervising_department": venue.supervising_department,
    }


def _expert(expert: Expert) -> dict[str, Any]:
    return {"id": expert.id, "code": expert.code, "name": expert.name}


# -- the supervision record -------------------------------------------------------------------


async def supervised_sessions(db: Database, who: Principal) -> list[dict[str, Any]]:
    """Sessions the caller supervises: hosted by their venue or seating an expert there."""
    if not (who.is_system or who.role == "supervisor"):
        raise Forbidden(
            "not-supervisor", f"只有监督人员可以查看监督记录，当前用户 {who.username} 无此权限"
        )
    async with db.read() as s:
        query = select(EvaluationSession).order_by(EvaluationSession.starts_at)
        if not who.is_system:
            seated = (
                select(Booking.session_id)
                .join(BookingSeat, BookingSeat.booking_id == Booking.id)
                .join(Seat, Seat.id == BookingSeat.seat_id)
                .where(
                    Seat.venue_id == who.venue_id,
                    Booking.state.in_(LIVE_STATES),
                    BookingSeat.live.is_(True),
                    BookingSeat.expert_id.is_not(None),
                )
            )
            query = query.where(
                (EvaluationSession.host_venue_id == who.venue_id) | EvaluationSession.id.in_(seated)
            )
        sessions = list((await s.execute(query)).scalars())
        return [
            {
                "id": x.id,
                "project_code": x.project_code,
                "project_name": x.project_name,
                "section": x.section,
                "starts_at": _iso(x.starts_at),
                "ends_at": _iso(x.ends_at),
                "role": "host" if who.is_system or x.host_venue_id == who.venue_id else "away",
            }
            for x in sessions
        ]


async def supervision_record(db: Database, who: Principal, session_id: int) -> dict[str, Any]:
    """Every expert of the session with seat, venue, primary and secondary site."""
    async with db.read() as s:
        ctx = await _context(s, session_id)
        scope = ctx.scope(who)
        experts = []
        for assignment in ctx.experts:
            seated = ctx.seats.get(assignment.expert_id)
            venue = ctx.venue_of(assignment.expert_id, assignment.placement)
            if not scope.sees(venue.id if venue else None):
                continue
            experts.append(
                {
                    "expert": _expert(assignment.expert),
                    "placement": assignment.placement,
                    "seat": (
                        {"id": seated[0].id, "label": seated[0].label, "room": seated[0].room}
                        if seated
                        else None
                    ),
                    "primary_site": _site(ctx.host),
                    "secondary_site": _site(venue),
                }
            )
        return {
            "session": {
                "id": ctx.session.id,
                "project_code": ctx.session.project_code,
                "project_name": ctx.session.project_name,
                "section": ctx.session.section,
                "host_venue_id": ctx.host.id,
            },
            "scope": "all" if scope.everything else "venue",
            "scope_venue_id": scope.venue_id,
            "experts": experts,
        }


# -- incidents --------------------------------------------------------------------------------


def _incident_json(
    incident: Incident,
    expert: Expert,
    seat: Seat | None,
    venue: Venue | None,
    host_venue_id: int,
    notice_id: int | None,
) -> dict[str, Any]:
    return {
        "id": incident.id,
        "session_id": incident.session_id,
        "expert": _expert(expert),
        "seat": {"id": seat.id, "label": seat.label} if seat else None,
        "venue": _site(venue),
        "seated_away": venue is not None and venue.id != host_venue_id,
        "kind": incident.kind,
        "severity": incident.severity,
        "severity_label": SEVERITY_NAMES[incident.severity],
        "description": incident.description,
        "evidence": incident.evidence,
        "state": incident.state,
        "state_label": STATE_NAMES[incident.state],
        "result": incident.result,
        "raised_by": incident.raised_by,
        "raised_at": _iso(incident.raised_at),
        "concluded_by": incident.concluded_by,
        "concluded_at": _iso(incident.concluded_at),
        "handling": [{"note": h.note, "by": h.by, "at": _iso(h.at)} for h in incident.handling],
        "copy_notice_id": notice_id,
    }


async def _incident_view(s: AsyncSession, incident: Incident) -> dict[str, Any]:
    expert = await s.get(Expert, incident.expert_id)
    assert expert is not None  # a foreign key
    seat = await s.get(Seat, incident.seat_id) if incident.seat_id else None
    venue = await s.get(Venue, incident.venue_id) if incident.venue_id else None
    session = await s.get(EvaluationSession, incident.session_id)
    assert session is not None
    notice_id = (
        await s.execute(select(CopyNoticeRow.id).where(CopyNoticeRow.incident_id == incident.id))
    ).scalar_one_or_none()
    return _incident_json(incident, expert, seat, venue, session.host_venue_id, notice_id)


async def _load_incident(s: AsyncSession, incident_id: int) -> Incident:
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


async def raise_incident(
    db: Database,
    who: Principal,
    session_id: int,
    *,
    kind: str,
    severity: str,
    expert_id: int,
    seat_id: int | None,
    evidence: dict[str, Any],
    description: str,
    now: datetime,
) -> dict[str, Any]:
    async with db.write() as s:
        ctx = await _context(s, session_id)
        ctx.require_host(who, "登记监督事件")
        assignment = next((a for a in ctx.experts if a.expert_id == expert_id), None)
        if assignment is None:
            raise InvalidInput(
                "expert-not-in-session", f"专家 #{expert_id} 不是评标会 #{session_id} 的评委"
            )
        seated = ctx.seats.get(expert_id)
        if seat_id is not None and (seated is None or seated[0].id != seat_id):
            where = f"工位是 {seated[0].label}" if seated else "没有安排工位"
            raise InvalidInput(
                "seat-mismatch",
                f"专家 {assignment.expert.code} 在本场评标会{where}，与所填工位 #{seat_id} 不符",
            )
        venue = ctx.venue_of(expert_id, assignment.placement)
        incident = Incident(
            session_id=session_id,
            expert_id=expert_id,
            seat_id=seated[0].id if seated else None,
            venue_id=venue.id if venue else None,
            kind=kind,
            severity=severity,
            description=description,
            evidence=evidence,
            state="open",
            raised_by=who.username,
            raised_at=now,
        )
        await _add_incident(s, incident, now)
        return await _incident_view(s, await _load_incident(s, incident.id))


async def _add_incident(s: AsyncSession, incident: Incident, now: datetime) -> None:
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


# An alert that keeps coming back while its incident is open is counted every time, but only
# the first occurrences are kept in the evidence (the audit chain has every one).
MAX_ALERT_OCCURRENCES = 50


async def _open_alert_incidents(
    s: AsyncSession, session_id: int, seat_id: int, kind: str
) -> list[Incident]:
    """The session's incidents raised by the conduct monitor at this seat for this kind of
    incident and not concluded, oldest first (one, unless concurrent writers raced)."""
    found = await s.execute(
        select(Incident)
        .where(
            Incident.session_id == session_id,
            Incident.seat_id == seat_id,
            Incident.raised_by == ALERT_ACTOR,
            Incident.kind == kind,
            Incident.state != "concluded",
        )
        .order_by(Incident.id)
    )
    return list(found.scalars())


async def raise_alert_incident(
    db: Database,
    session_id: int,
    *,
    seat_id: int,
    evidence: AlertEvidence,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Turn a conduct alert at a seat into an incident of the primary (host) site.

    Returns the incident and whether it is new. While an incident raised from the same alert
    kind at the same seat of the session is not concluded, a repeat is added to that incident's
    evidence (``occurrences``, ``repeats``) and audit-evented as
    ``supervision.incident_alert_repeated`` instead of raising another. Called by the live-media
    module; there is no HTTP route, so no principal: the actor is ``conduct_monitor``.
    """
    rule = alert_incident(evidence.alert)
    async with db.write() as s:
        # Alerts of one session are serialised (PostgreSQL: the row lock; SQLite: the hub's
        # BEGIN IMMEDIATE), so two hub processes cannot both raise the "one" open incident.
        locked = await s.execute(
            select(EvaluationSession.id).where(EvaluationSession.id == session_id).with_for_update()
        )
        if locked.first() is None:
            raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
        ctx = await _context(s, session_id)
        seated = next(
            ((expert_id, seat, venue) for expert_id, (seat, venue) in ctx.seats.items()
             if seat.id == seat_id),
            None,
        )  # fmt: skip
        if seated is None:
            raise InvalidInput(
                "seat-not-seated",
                f"工位 #{seat_id} 在评标会 #{session_id} 中没有就座的专家，无法登记自动告警事件",
            )
        expert_id, seat, venue = seated
        existing = next(iter(await _open_alert_incidents(s, session_id, seat_id, rule.kind)), None)
        if existing is not None:
            kept = list(existing.evidence.get("occurrences", []))
            if len(kept) < MAX_ALERT_OCCURRENCES:
                kept.append(evidence.occurrence())
            # A new dict, so the JSON column is seen as changed.
            existing.evidence = {
                **existing.evidence,
                "occurrences": kept,
                "repeats": int(existing.evidence.get("repeats", 0)) + 1,
            }
            await s.flush()
            await append_event(
                s,
                kind="supervision.incident_alert_repeated",
                subject=f"incident:{existing.id}",
                actor=ALERT_ACTOR,
                payload={"alert": evidence.alert.value, **evidence.occurrence()},
                at=now,
            )
            return await _incident_view(s, await _load_incident(s, existing.id)), False
        incident = Incident(
            session_id=session_id,
            expert_id=expert_id,
            seat_id=seat.id,
            venue_id=venue.id,
            kind=rule.kind,
            severity=rule.severity,
            description=evidence.description(seat.label, _local(evidence.started_at)),
            evidence=evidence.first_evidence(),
            state="open",
            raised_by=ALERT_ACTOR,
            raised_at=now,
        )
        await _add_incident(s, incident, now)
        return await _incident_view(s, await _load_incident(s, incident.id)), True


async def clear_alert_incident(
    db: Database,
    session_id: int,
    *,
    seat_id: int,
    alert: AlertKind,
    started_at: datetime,
    cleared_at: datetime,
    now: datetime,
) -> dict[str, Any] | None:
    """Record on the open incident raised from this alert that the occurrence which started at
    ``started_at`` ended at ``cleared_at`` (the monitor cleared it): the occurrence gets
    ``cleared_at`` and ``duration_s``, audited as ``supervision.incident_alert_cleared``.

    Returns the incident, or None when no open incident holds that occurrence (the alert fell
    outside the session, or the incident was concluded meanwhile): nothing is written then.
    """
    rule = alert_incident(alert)
    started, cleared = started_at.isoformat(), cleared_at.isoformat()
    async with db.write() as s:
        for incident in await _open_alert_incidents(s, session_id, seat_id, rule.kind):
            occurrences = list(incident.evidence.get("occurrences", []))
            index = next(
                (i for i, o in enumerate(occurrences) if o.get("started_at") == started), None
            )
            if index is None or "cleared_at" in occurrences[index]:
                continue
            duration = max(0, int((cleared_at - started_at).total_seconds()))
            occurrences[index] = {
                **occurrences[index],
                "cleared_at": cleared,
                "duration_s": duration,
            }
            incident.evidence = {**incident.evidence, "occurrences": occurrences}
            await s.flush()
            await append_event(
                s,
                kind="supervision.incident_alert_cleared",
                subject=f"incident:{incident.id}",
                actor=ALERT_ACTOR,
                payload={
                    "alert": alert.value,
                    "started_at": started,
                    "cleared_at": cleared,
                    "duration_s": duration,
                },
                at=now,
            )
            return await _incident_view(s, await _load_incident(s, incident.id))
    return None


async def list_incidents(db: Database, who: Principal, session_id: int) -> list[dict[str, Any]]:
    async with db.read() as s:
        ctx = await _context(s, session_id)
        scope = ctx.scope(who)
        incidents = (
            await s.execute(
                select(Incident)
                .where(Incident.session_id == session_id)
                .options(selectinload(Incident.handling))
                .order_by(Incident.id)
            )
        ).scalars()
        return [await _incident_view(s, i) for i in incidents if scope.sees(i.venue_id)]


async def _visible_incident(s: AsyncSession, who: Principal, incident_id: int) -> Incident:
    incident = await _load_incident(s, incident_id)
    ctx = await _context(s, incident.session_id)
    if not ctx.scope(who).sees(incident.venue_id):
        raise Forbidden(
            "incident-not-visible",
            f"监督事件 #{incident.id} 不涉及在本场地就座的专家，无权查看",
        )
    return incident


async def get_incident(db: Database, who: Principal, incident_id: int) -> dict[str, Any]:
    async with db.read() as s:
        return await _incident_view(s, await _visible_incident(s, who, incident_id))


async def _host_incident(
    s: AsyncSession, who: Principal, incident_id: int, action: str
) -> Incident:
    incident = await _load_incident(s, incident_id)
    ctx = await _context(s, incident.session_id)
    ctx.require_host(who, action)
    if incident.state == "concluded":
        assert incident.concluded_at is not None
        raise Conflict(
            "incident-concluded",
            f"监督事件 #{incident.id} 已于 {_local(incident.concluded_at)} 结案，不能再{action}",
        )
    return incident


async def record_handling(
    db: Database, who: Principal, incident_id: int, *, note: str, now: datetime
) -> dict[str, Any]:
    async with db.write() as s:
        incident = await _host_incident(s, who, incident_id, "记录处理情况")
        s.add(IncidentHandling(incident_id=incident.id, note=note, by=who.username, at=now))
        incident.state = "handling"
        await s.flush()
        await append_event(
            s,
            kind="supervision.incident_handled",
            subject=f"incident:{incident.id}",
            actor=who.username,
            payload={"note": note},
            at=now,
        )
        return await _incident_view(s, await _load_incident(s, incident.id))


def _calendar_refusal(exc: CalendarError, what: str) -> Conflict:
    if isinstance(exc, CalendarNotCovered):
        return Conflict(
            "calendar-not-covered",
            f"无法计算{what}期限：已安装的节假日日历只覆盖 {exc.first}–{exc.last} 年，"
            f"不含 {exc.year} 年；请在国务院公布 {exc.year} 年节假日安排、系统管理员更新日历后再试",
        )
    return Conflict("calendar-error", f"无法计算{what}期限：{exc}")


async def conclude_incident(
    db: Database,
    who: Principal,
    incident_id: int,
    *,
    result: str,
    now: datetime,
    deadlines: SupervisionDeadlines,
) -> dict[str, Any]:
    """Conclude; an incident about an expert seated away also creates its copy notice."""
    async with db.write() as s:
        incident = await _host_incident(s, who, incident_id, "结案")
        session = await s.get(EvaluationSession, incident.session_id)
        assert session is not None
        incident.state = "concluded"
        incident.result = result
        incident.concluded_by = who.username
        incident.concluded_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.incident_concluded",
            subject=f"incident:{incident.id}",
            actor=who.username,
            payload={"result": result},
            at=now,
        )
        if incident.venue_id is not None and incident.venue_id != session.host_venue_id:
            venue = await _venue(s, incident.venue_id)
            expert = await s.get(Expert, incident.expert_id)
            assert expert is not None
            try:
                notice = CopyNotice.for_closed_case(
                    incident_id=incident.id,
                    expert=expert.code,
                    away_venue=venue.name,
                    away_department=venue.supervising_department,
                    closed_at=now,
                    deadlines=deadlines,
                )
            except CalendarError as exc:
                # Refuse the conclusion as a whole: a closed case without its notice would
                # silently miss the statutory copy.
                raise _calendar_refusal(exc, "抄送告知") from exc
            row = CopyNoticeRow(
                incident_id=incident.id,
                session_id=incident.session_id,
                venue_id=venue.id,
                department=venue.supervising_department,
                case_closed_on=notice.case_closed_on,
                working_days=notice.working_days,
                due_on=notice.due_on,
                created_at=now,
            )
            s.add(row)
            await s.flush()
            await append_event(
                s,
                kind="supervision.copy_notice_created",
                subject=f"copy_notice:{row.id}",
                actor=who.username,
                payload={
                    "incident_id": incident.id,
                    "venue_id": venue.id,
                    "department": venue.supervising_department,
                    "case_closed_on": notice.case_closed_on.isoformat(),
                    "working_days": notice.working_days,
                    "due_on": notice.due_on.isoformat(),
                },
                at=now,
            )
        return await _incident_view(s, await _load_incident(s, incident.id))


# -- assistance requests (函告) --------------------------------------------------------------


def _assistance_json(row: AssistanceRequest, venue: Venue) -> dict[str, Any]:
    return {
        "id": row.id,
        "session_id": row.session_id,
        "venue": _site(venue),
        "content": row.content,
        "requested_by": row.requested_by,
        "requested_at": _iso(row.requested_at),
        "response": row.response,
        "responded_by": row.responded_by,
        "responded_at": _iso(row.responded_at),
        "answered": row.responded_at is not None,
    }


async def request_assistance(
    db: Database, who: Principal, session_id: int, *, venue_id: int, content: str, now: datetime
) -> dict[str, Any]:
    async with db.write() as s:
        ctx = await _context(s, session_id)
        ctx.require_host(who, "发出函告")
        if venue_id not in ctx.away_venue_ids:
            venue = await _venue(s, venue_id)
            raise InvalidInput(
                "venue-not-away",
                f"「{venue.name}」没有本场评标会的专家就座，不是其客场，不能向其发出函告",
            )
        row = AssistanceRequest(
            session_id=session_id,
            venue_id=venue_id,
            content=content,
            requested_by=who.username,
            requested_at=now,
        )
        s.add(row)
        await s.flush()
        await append_event(
            s,
            kind="supervision.assistance_requested",
            subject=f"assistance:{row.id}",
            actor=who.username,
            payload={"session_id": session_id, "venue_id": venue_id, "content": content},
            at=now,
        )
        return _assistance_json(row, ctx.venues[venue_id])


async def list_assistance_requests(
    db: Database, who: Principal, session_id: int
) -> list[dict[str, Any]]:
    async with db.read() as s:
        ctx = await _context(s, session_id)
        scope = ctx.scope(who)
        rows = (
            await s.execute(
                select(AssistanceRequest)
                .where(AssistanceRequest.session_id == session_id)
                .order_by(AssistanceRequest.id)
            )
        ).scalars()
        return [
            _assistance_json(r, await _venue(s, r.venue_id)) for r in rows if scope.sees(r.venue_id)
        ]


async def respond_assistance(
    db: Database, who: Principal, request_id: int, *, response: str, now: datetime
) -> dict[str, Any]:
    async with db.write() as s:
        row = await s.get(AssistanceRequest, request_id)
        if row is None:
            raise NotFound("assistance-not-found", f"函告 #{request_id} 不存在")
        venue = await _venue(s, row.venue_id)
        access.require_venue_supervisor(who, venue.id, venue.name, "答复该函告")
        if row.responded_at is not None:
            raise Conflict(
                "assistance-answered",
                f"函告 #{row.id} 已由 {row.responded_by} 于 {_local(row.responded_at)} 答复，"
                f"不能重复答复",
            )
        row.response = response
        row.responded_by = who.username
        row.responded_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.assistance_answered",
            subject=f"assistance:{row.id}",
            actor=who.username,
            payload={"response": response},
            at=now,
        )
        return _assistance_json(row, venue)


# -- copy notices -----------------------------------------------------------------------------


def _copy_notice(row: CopyNoticeRow, expert: str, venue: Venue) -> CopyNotice:
    ack = (
        Acknowledgement(row.acknowledged_by, row.acknowledged_at)
        if row.acknowledged_by is not None and row.acknowledged_at is not None
        else None
    )
    return CopyNotice(
        incident_id=row.incident_id,
        expert=expert,
        away_venue=venue.name,
        away_department=row.department,
        case_closed_on=row.case_closed_on,
        working_days=row.working_days,
        due_on=row.due_on,
        acknowledgement=ack,
    )


def _days_left(deadline: CopyNotice | Handover, today: date) -> int | None:
    try:
        return deadline.working_days_left(today)
    except CalendarError:
        return None  # today is outside the calendar: show the due date without a count


async def _notice_json(s: AsyncSession, row: CopyNoticeRow, today: date) -> dict[str, Any]:
    incident = await s.get(Incident, row.incident_id)
    assert incident is not None
    expert = await s.get(Expert, incident.expert_id)
    assert expert is not None
    venue = await _venue(s, row.venue_id)
    notice = _copy_notice(row, expert.code, venue)
    status = notice.status(today)
    return {
        "id": row.id,
        "incident_id": row.incident_id,
        "session_id": row.session_id,
        "expert": _expert(expert),
        "venue": _site(venue),
        "department": row.department,
        "case_closed_on": row.case_closed_on.isoformat(),
        "working_days": row.working_days,
        "due_on": row.due_on.isoformat(),
        "status": status.value,
        "status_label": status.label,
        "overdue": status.value == "overdue",
        "working_days_left": _days_left(notice, today),
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_late": notice.acknowledged_late,
    }


async def list_copy_notices(
    db: Database, who: Principal, session_id: int, *, now: datetime
) -> list[dict[str, Any]]:
    async with db.read() as s:
        ctx = await _context(s, session_id)
        scope = ctx.scope(who)
        rows = (
            await s.execute(
                select(CopyNoticeRow)
                .where(CopyNoticeRow.session_id == session_id)
                .order_by(CopyNoticeRow.id)
            )
        ).scalars()
        return [await _notice_json(s, r, _today(now)) for r in rows if scope.sees(r.venue_id)]


async def acknowledge_copy_notice(
    db: Database, who: Principal, notice_id: int, *, now: datetime
) -> dict[str, Any]:
    async with db.write() as s:
        row = await s.get(CopyNoticeRow, notice_id)
        if row is None:
            raise NotFound("copy-notice-not-found", f"抄送告知 #{notice_id} 不存在")
        venue = await _venue(s, row.venue_id)
        access.require_venue_supervisor(who, venue.id, venue.name, "确认接收该抄送告知")
        acknowledged = _copy_notice(row, "", venue).acknowledge(who.username, now)
        assert acknowledged.acknowledgement is not None
        row.acknowledged_by = who.username
        row.acknowledged_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.copy_notice_acknowledged",
            subject=f"copy_notice:{row.id}",
            actor=who.username,
            payload={"late": acknowledged.acknowledged_late},
            at=now,
        )
        return await _notice_json(s, row, _today(now))


# -- handovers --------------------------------------------------------------------------------


def _handover(row: HandoverRow, host: Venue, venue: Venue) -> Handover:
    ack = (
        Acknowledgement(row.handed_over_by, row.handed_over_at)
        if row.handed_over_by is not None and row.handed_over_at is not None
        else None
    )
    return Handover(
        session_id=row.session_id,
        away_venue=venue.name,
        host_venue=host.name,
        session_ended_on=row.session_ended_on,
        working_days=row.working_days,
        due_on=row.due_on,
        items=tuple(row.items),
        acknowledgement=ack,
    )


def _handover_json(row: HandoverRow, host: Venue, venue: Venue, today: date) -> dict[str, Any]:
    handover = _handover(row, host, venue)
    status = handover.status(today)
    return {
        "id": row.id,
        "session_id": row.session_id,
        "venue": _site(venue),
        "session_ended_on": row.session_ended_on.isoformat(),
        "working_days": row.working_days,
        "due_on": row.due_on.isoformat(),
        "items": list(row.items),
        "status": status.value,
        "status_label": {"pending": "待移交", "overdue": "已逾期", "acknowledged": "已移交"}[
            status.value
        ],
        "overdue": status.value == "overdue",
        "working_days_left": _days_left(handover, today),
        "opened_by": row.opened_by,
        "opened_at": _iso(row.opened_at),
        "handed_over_by": row.handed_over_by,
        "handed_over_at": _iso(row.handed_over_at),
    }


async def open_handovers(
    db: Database,
    who: Principal,
    session_id: int,
    *,
    now: datetime,
    deadlines: SupervisionDeadlines,
) -> list[dict[str, Any]]:
    """One handover per away venue seating an expert, due N working days after the session."""
    async with db.write() as s:
        ctx = await _context(s, session_id)
        ctx.require_host(who, "开启客场资料移交")
        if now < ctx.session.ends_at:
            raise Conflict(
                "session-not-ended",
                f"评标会 #{session_id} 尚未结束（结束时间 {_local(ctx.session.ends_at)}），"
                f"结束后才能开启客场资料移交",
            )
        existing = (
            await s.execute(select(HandoverRow.id).where(HandoverRow.session_id == session_id))
        ).first()
        if existing is not None:
            raise Conflict(
                "handovers-opened", f"评标会 #{session_id} 的客场资料移交已开启，不能重复开启"
            )
        if not ctx.away_venue_ids:
            raise Conflict(
                "no-away-venues", f"评标会 #{session_id} 没有在客场就座的专家，无需客场资料移交"
            )
        rows = []
        for venue_id in sorted(ctx.away_venue_ids):
            venue = ctx.venues[venue_id]
            try:
                handover = Handover.after_session(
                    session_id=session_id,
                    away_venue=venue.name,
                    host_venue=ctx.host.name,
                    ended_at=ctx.session.ends_at,
                    deadlines=deadlines,
                )
            except CalendarError as exc:
                raise _calendar_refusal(exc, "资料移交") from exc
            row = HandoverRow(
                session_id=session_id,
                venue_id=venue_id,
                session_ended_on=handover.session_ended_on,
                working_days=handover.working_days,
                due_on=handover.due_on,
                items=list(HANDOVER_ITEMS),
                opened_by=who.username,
                opened_at=now,
            )
            s.add(row)
            await s.flush()
            await append_event(
                s,
                kind="supervision.handover_opened",
                subject=f"handover:{row.id}",
                actor=who.username,
                payload={
                    "session_id": session_id,
                    "venue_id": venue_id,
                    "due_on": row.due_on.isoformat(),
                    "working_days": row.working_days,
                },
                at=now,
            )
            rows.append(_handover_json(row, ctx.host, venue, _today(now)))
        return rows


async def list_handovers(
    db: Database, who: Principal, session_id: int, *, now: datetime
) -> list[dict[str, Any]]:
    async with db.read() as s:
        ctx = await _context(s, session_id)
        scope = ctx.scope(who)
        rows = (
            await s.execute(
                select(HandoverRow)
                .where(HandoverRow.session_id == session_id)
                .order_by(HandoverRow.id)
            )
        ).scalars()
        return [
            _handover_json(r, ctx.host, await _venue(s, r.venue_id), _today(now))
            for r in rows
            if scope.sees(r.venue_id)
        ]


async def mark_handed_over(
    db: Database, who: Principal, handover_id: int, *, now: datetime
) -> dict[str, Any]:
    async with db.write() as s:
        row = await s.get(HandoverRow, handover_id)
        if row is None:
            raise NotFound("handover-not-found", f"资料移交 #{handover_id} 不存在")
        venue = await _venue(s, row.venue_id)
        access.require_venue_supervisor(who, venue.id, venue.name, "标记资料已移交")
        if row.handed_over_at is not None:
            raise Conflict(
                "handover-done",
                f"资料移交 #{row.id} 已由 {row.handed_over_by} 于 {_local(row.handed_over_at)} "
                f"标记为已移交，不能重复标记",
            )
        session = await s.get(EvaluationSession, row.session_id)
        assert session is not None
        host = await _venue(s, session.host_venue_id)
        _handover(row, host, venue).acknowledge(who.username, now)
        row.handed_over_by = who.username
        row.handed_over_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.handover_done",
            subject=f"handover:{row.id}",
            actor=who.username,
            payload={"late": _today(now) > row.due_on},
            at=now,
        )
        return _handover_json(row, host, venue, _today(now))
