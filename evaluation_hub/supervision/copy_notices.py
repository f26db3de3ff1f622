"""Copy notices (抄送告知): a concluded finding about an expert seated at an away venue is copied
to that venue's supervising department, due ``copy_notice_working_days`` working days after the
case closes (``notices.CopyNotice``); the away site's supervisor acknowledges receipt.

The notice is created by the conclusion itself (``incidents.conclude_incident`` calls
:func:`owe_copy_notice` in its unit of work); here it is listed and acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access, localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import EvaluationSession, Expert, Venue
from evaluation_hub.errors import CalendarError, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.supervision.models import CopyNoticeRow, Incident
from evaluation_hub.supervision.notices import (
    Acknowledgement,
    CopyNotice,
    SupervisionDeadlines,
    calendar_refusal,
)
from evaluation_hub.supervision.sites import (
    ExpertRef,
    Site,
    expert_ref,
    site_of,
    venue_or_404,
    visible_session,
)

__all__ = [
    "CopyNoticeRecord",
    "acknowledge_copy_notice",
    "list_copy_notices",
    "owe_copy_notice",
    "read_copy_notices",
]


@dataclass(frozen=True, slots=True)
class CopyNoticeRecord:
    """A stored copy notice with its deadline (``notice``) and the local day ``as_of`` which its
    status is read (the day of the request)."""

    id: int
    session_id: int
    expert: ExpertRef
    venue: Site
    notice: CopyNotice
    as_of: date


def _notice(row: CopyNoticeRow, expert: str, venue: Venue) -> CopyNotice:
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


async def _record(s: AsyncSession, row: CopyNoticeRow, as_of: date) -> CopyNoticeRecord:
    incident = await s.get(Incident, row.incident_id)
    assert incident is not None  # a foreign key
    expert = await s.get(Expert, incident.expert_id)
    assert expert is not None
    venue = await venue_or_404(s, row.venue_id)
    return CopyNoticeRecord(
        id=row.id,
        session_id=row.session_id,
        expert=expert_ref(expert),
        venue=site_of(venue),
        notice=_notice(row, expert.code, venue),
        as_of=as_of,
    )


async def owe_copy_notice(
    s: AsyncSession,
    incident: Incident,
    actor: Principal,
    *,
    now: datetime,
    deadlines: SupervisionDeadlines,
) -> CopyNoticeRow | None:
    """The copy notice a conclusion at ``now`` owes, stored with its audit event; None when the
    expert sat at the host (or nowhere). ``Conflict`` when the due date cannot be counted."""
    session = await s.get(EvaluationSession, incident.session_id)
    assert session is not None
    if incident.venue_id is None or incident.venue_id == session.host_venue_id:
        return None
    venue = await venue_or_404(s, incident.venue_id)
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
        # Refuse the conclusion as a whole: a closed case without its notice would silently
        # miss the statutory copy.
        raise calendar_refusal(exc, "抄送告知") from exc
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
        actor=actor.username,
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
    return row


async def list_copy_notices(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> list[CopyNoticeRecord]:
    async with hub.db.read() as s:
        return await read_copy_notices(s, actor, session_id, now=now)


async def read_copy_notices(
    s: AsyncSession, actor: Principal, session_id: int, *, now: datetime
) -> list[CopyNoticeRecord]:
    """The session's copy notices the caller may see (an away site: those copied to it), as of
    ``now`` (inside the caller's unit of work: the archive's)."""
    _, scope = await visible_session(s, actor, session_id)
    rows = (
        await s.execute(
            select(CopyNoticeRow)
            .where(CopyNoticeRow.session_id == session_id)
            .order_by(CopyNoticeRow.id)
        )
    ).scalars()
    today = localtime.day_of(now)
    return [await _record(s, r, today) for r in rows if scope.sees(r.venue_id)]


async def acknowledge_copy_notice(
    hub: Services, actor: Principal, notice_id: int, *, now: datetime
) -> CopyNoticeRecord:
    """The away venue's supervisor confirms receipt (once)."""
    async with hub.db.write() as s:
        row = await s.get(CopyNoticeRow, notice_id)
        if row is None:
            raise NotFound("copy-notice-not-found", f"抄送告知 #{notice_id} 不存在")
        venue = await venue_or_404(s, row.venue_id)
        access.require(
            actor,
            access.Action.SUPERVISE_AS_VENUE,
            access.Target(venue_id=venue.id, venue_name=venue.name),
            doing="确认接收该抄送告知",
        )
        acknowledged = _notice(row, "", venue).acknowledge(actor.username, now)
        assert acknowledged.acknowledgement is not None
        row.acknowledged_by = actor.username
        row.acknowledged_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.copy_notice_acknowledged",
            subject=f"copy_notice:{row.id}",
            actor=actor.username,
            payload={"late": acknowledged.acknowledged_late},
            at=now,
        )
        return await _record(s, row, localtime.day_of(now))
