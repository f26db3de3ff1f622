"""Requests for assistance (函告): the host site's supervisor asks an away venue in writing for
help (a recording, an identity check …); that venue's supervisor answers, once. Each away venue
sees only what was sent to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access, localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.supervision.models import AssistanceRequest
from evaluation_hub.supervision.sites import (
    Site,
    away_venue_ids,
    host_session,
    site_of,
    venue_or_404,
    visible_session,
)

__all__ = [
    "AssistanceRecord",
    "list_assistance_requests",
    "read_assistance_requests",
    "request_assistance",
    "respond_assistance",
]


@dataclass(frozen=True, slots=True)
class AssistanceRecord:
    """函告 and its answer (``response`` … ``responded_at`` stay None until answered)."""

    id: int
    session_id: int
    venue: Site
    content: str
    requested_by: str
    requested_at: datetime
    response: str | None
    responded_by: str | None
    responded_at: datetime | None

    @property
    def answered(self) -> bool:
        return self.responded_at is not None


def _record(row: AssistanceRequest, venue: Site) -> AssistanceRecord:
    return AssistanceRecord(
        id=row.id,
        session_id=row.session_id,
        venue=venue,
        content=row.content,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        response=row.response,
        responded_by=row.responded_by,
        responded_at=row.responded_at,
    )


async def request_assistance(
    hub: Services, actor: Principal, session_id: int, *, venue_id: int, content: str, now: datetime
) -> AssistanceRecord:
    """The host site's supervisor writes to an away venue of the session (one seating an
    expert of it)."""
    async with hub.db.write() as s:
        loaded = await host_session(s, actor, session_id, "发出函告")
        venue = await venue_or_404(s, venue_id)
        if venue_id not in away_venue_ids(loaded):
            raise InvalidInput(
                "venue-not-away",
                f"「{venue.name}」没有本场评标会的专家就座，不是其客场，不能向其发出函告",
            )
        row = AssistanceRequest(
            session_id=session_id,
            venue_id=venue_id,
            content=content,
            requested_by=actor.username,
            requested_at=now,
        )
        s.add(row)
        await s.flush()
        await append_event(
            s,
            kind="supervision.assistance_requested",
            subject=f"assistance:{row.id}",
            actor=actor.username,
            payload={"session_id": session_id, "venue_id": venue_id, "content": content},
            at=now,
        )
        return _record(row, site_of(venue))


async def list_assistance_requests(
    hub: Services, actor: Principal, session_id: int
) -> list[AssistanceRecord]:
    async with hub.db.read() as s:
        return await read_assistance_requests(s, actor, session_id)


async def read_assistance_requests(
    s: AsyncSession, actor: Principal, session_id: int
) -> list[AssistanceRecord]:
    """The session's 函告 the caller may see (an away site: those sent to it), oldest first
    (inside the caller's unit of work: the archive's)."""
    _, scope = await visible_session(s, actor, session_id)
    rows = (
        await s.execute(
            select(AssistanceRequest)
            .where(AssistanceRequest.session_id == session_id)
            .order_by(AssistanceRequest.id)
        )
    ).scalars()
    return [
        _record(r, site_of(await venue_or_404(s, r.venue_id)))
        for r in rows
        if scope.sees(r.venue_id)
    ]


async def respond_assistance(
    hub: Services, actor: Principal, request_id: int, *, response: str, now: datetime
) -> AssistanceRecord:
    """The supervisor of the venue written to answers, once."""
    async with hub.db.write() as s:
        row = await s.get(AssistanceRequest, request_id)
        if row is None:
            raise NotFound("assistance-not-found", f"函告 #{request_id} 不存在")
        venue = await venue_or_404(s, row.venue_id)
        access.require(
            actor,
            access.Action.SUPERVISE_AS_VENUE,
            access.Target(venue_id=venue.id, venue_name=venue.name),
            doing="答复该函告",
        )
        if row.responded_at is not None:
            raise Conflict(
                "assistance-answered",
                f"函告 #{row.id} 已由 {row.responded_by} 于 "
                f"{localtime.format_minutes(row.responded_at)} 答复，不能重复答复",
            )
        row.response = response
        row.responded_by = actor.username
        row.responded_at = now
        await s.flush()
        await append_event(
            s,
            kind="supervision.assistance_answered",
            subject=f"assistance:{row.id}",
            actor=actor.username,
            payload={"response": response},
            at=now,
        )
        return _record(row, site_of(venue))
