"""Away-site handovers (客场资料移交): after the session each away venue hands its records (audit
slice, recordings, check-in records) to the host, due ``handover_working_days`` working days
after the session ended (``notices.Handover``). The host site's supervisor opens them, one per
away venue; each away venue's supervisor marks its own handed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access, localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import EvaluationSession, Venue
from evaluation_hub.errors import CalendarError, Conflict, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.supervision.models import HandoverRow
from evaluation_hub.supervision.notices import (
    HANDOVER_ITEMS,
    Acknowledgement,
    Handover,
    calendar_refusal,
)
from evaluation_hub.supervision.sites import (
    Site,
    away_venue_ids,
    host_session,
    site_of,
    venue_or_404,
    visible_session,
)

__all__ = [
    "HandoverRecord",
    "list_handovers",
    "mark_handed_over",
    "open_handovers",
    "read_handovers",
]


@dataclass(frozen=True, slots=True)
class HandoverRecord:
    """A stored handover with its deadline (``handover``) and the local day ``as_of`` which
    its status is read (the day of the request)."""

    id: int
    session_id: int
    venue: Site
    handover: Handover
    opened_by: str
    opened_at: datetime
    as_of: date


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


def _record(row: HandoverRow, host: Venue, venue: Venue, as_of: date) -> HandoverRecord:
    return HandoverRecord(
        id=row.id,
        session_id=row.session_id,
        venue=site_of(venue),
        handover=_handover(row, host, venue),
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        as_of=as_of,
    )


async def open_handovers(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> list[HandoverRecord]:
    """One handover per away venue seating an expert, due
    ``hub.regulation.supervision.handover_working_days`` working days after the session."""
    async with hub.db.write() as s:
        loaded = await host_session(s, actor, session_id, "开启客场资料移交")
        session, host = loaded.session, loaded.session.host_venue
        if now < session.ends_at:
            raise Conflict(
                "session-not-ended",
                f"评标会 #{session_id} 尚未结束（结束时间 "
                f"{localtime.format_minutes(session.ends_at)}），结束后才能开启客场资料移交",
            )
        existing = (
            await s.execute(select(HandoverRow.id).where(HandoverRow.session_id == session_id))
        ).first()
        if existing is not None:
            raise Conflict(
                "handovers-opened", f"评标会 #{session_id} 的客场资料移交已开启，不能重复开启"
            )
        away = sorted(away_venue_ids(loaded))
        if not away:
            raise Conflict(
                "no-away-venues", f"评标会 #{session_id} 没有在客场就座的专家，无需客场资料移交"
            )
        today = localtime.day_of(now)
        opened = []
        for venue_id in away:
            venue = await venue_or_404(s, venue_id)
            try:
                handover = Handover.after_session(
                    session_id=session_id,
                    away_venue=venue.name,
                    host_venue=host.name,
                    ended_at=session.ends_at,
                    deadlines=hub.regulation.supervision,
                )
            except CalendarError as exc:
                raise calendar_refusal(exc, "资料移交") from exc
            row = HandoverRow(
                session_id=session_id,
                venue_id=venue_id,
                session_ended_on=handover.session_ended_on,
                working_days=handover.working_days,
                due_on=handover.due_on,
                items=list(HANDOVER_ITEMS),
                opened_by=actor.username,
                opened_at=now,
            )
            s.add(row)
            await s.flush()
            await append_event(
                s,
                kind="supervision.handover_opened",
                subject=f"handover:{row.id}",
                actor=actor.username,
                payload={
                    "session_id": session_id,
                    "venue_id": venue_id,
                    "due_on": row.due_on.isoformat(),
                    "working_days": row.working_days,
                },
                at=now,
            )
            opened.append(_record(row, host, venue, today))
        return opened


async def list_handovers(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> list[HandoverRecord]:
    async with hub.db.read() as s:
        return await read_handovers(s, actor, session_id, now=now)


async def read_handovers(
    s: AsyncSession, actor: Principal, session_id: int, *, now: datetime
) -> list[HandoverRecord]:
    """The session's handovers the caller may see (an away site: its own), as of ``now``
    (inside the caller's unit of work: the archive's)."""
    loaded, scope = await visible_session(s, actor, session_id)
    rows = (
        await s.execute(
            select(HandoverRow).where(HandoverRow.session_id == session_id).order_by(HandoverRow.id)
        )
    ).scalars()
    today = localtime.day_of(now)
    return [
        _record(r, loaded.session.host_venue, await venue_or_404(s, r.venue_id), today)
        for r in rows
        if scope.sees(r.venue_id)
    ]


async def mark_handed_over(
    hub: Services, actor: Principal, handover_id: int, *, now: datetime
) -> HandoverRecord:
    """The away venue's supervisor marks its records handed over to the host (once)."""
    async with hub.db.write() as s:
        row = await s.get(HandoverRow, handover_id)
        if row is None:
            raise NotFound("handover-not-found", f"资料移交 #{handover_id} 不存在")
        venue = await venue_or_404(s, row.venue_id)
        access.require(
            actor,
            access.Action.SUPERVISE_AS_VENUE,
            access.Target(venue_id=venue.id, venue_name=venue.name),
            doing="标记资料已移交",
        )
        if row.handed_over_at is not None:
            raise Conflict(
                "handover-done",
                f"资料移交 #{row.id} 已由 {row.handed_over_by} 于 "
                f"{localtime.format_minutes(row.handed_over_at)} 标记为已移交，不能重复标记",
            )
        session = await s.get(EvaluationSession, row.session_id)
        assert session is not None
        host = await venue_or_404(s, session.host_venue_id)
        _handover(row, host, venue).acknowledge(actor.username, now)
        row.handed_over_by = actor.username
        row.handed_over_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.handover_done",
            subject=f"handover:{row.id}",
            actor=actor.username,
            payload={"late": localtime.day_of(now) > row.due_on},
            at=now,
        )
        return _record(row, host, venue, localtime.day_of(now))
