"""The session rules that act on time: the evening cut-off (开评分离) and the outage limits.

:func:`enforce_session_rules` looks at every session that is running or paused, and for each:

* an outage rule requiring a move (``outage.enforcement``): the hub pauses the session, or
  seals it for a new committee, with the rule as the reason;
* otherwise the evening cut-off (``cutoff.decide``): from ``warn_before`` ahead, the host is
  warned once (an audit event ``session.cutoff_warning`` and an event on the host's channel);
  at the cut-off the hub pauses the session, the reason naming the rule and the next working
  day.

The hub acts as ``Role.SYSTEM`` of the host venue (the lifecycle allows it exactly these
moves). One unit of work per session, with the row locked, deciding on the row as it stands
then: a host moving the session meanwhile wins or loses cleanly. The host's page hears every
move and warning on ``host:<venue>`` (``access.event_channels``) and re-reads its session,
where the reason shows in the history and the warning among the due actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access, localtime
from evaluation_hub.access import Role
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.errors import CalendarError, Conflict
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import cutoff, outage
from evaluation_hub.sessions.lifecycle import SessionStatus
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import PAUSABLE, SessionState
from evaluation_hub.sessions.store import apply_action_in
from evaluation_hub.supervision.workdays import add_working_days

__all__ = ["CUTOFF_WARNING", "TimedAction", "enforce_session_rules"]

log = structlog.get_logger(__name__)

#: The audit kind of the evening cut-off's warning (one per session and evening).
CUTOFF_WARNING = "session.cutoff_warning"

_WATCHED = tuple(PAUSABLE | {SessionState.PAUSED})


@dataclass(frozen=True)
class TimedAction:
    """What the hub did to one session: ``kind`` is ``cutoff_warning``, ``cutoff_pause``,
    ``outage_pause`` or ``outage_seal``; ``message`` is what the host reads."""

    session_id: int
    host_venue_id: int
    kind: str
    state: str
    message: str


def _next_working_day(now: datetime) -> date | None:
    try:
        return add_working_days(localtime.day_of(now), 1)
    except CalendarError:  # the calendar ends: the pause still names the rule
        return None


async def _warned(s: AsyncSession, session_id: int, since: datetime) -> bool:
    found = await s.execute(
        select(AuditEventRow.seq)
        .where(
            AuditEventRow.subject == f"session:{session_id}",
            AuditEventRow.kind == CUTOFF_WARNING,
            AuditEventRow.at >= since,
        )
        .limit(1)
    )
    return found.first() is not None


async def _enforce_one(hub: Services, session_id: int, now: datetime) -> TimedAction | None:
    regulation = hub.regulation
    async with hub.db.write() as s:
        session = (await load_session(s, session_id, lock=True)).session
        status = SessionStatus(session.state, session.paused_from)
        system = Principal("hub", Role.SYSTEM, session.host_venue_id)
        move = outage.enforcement(
            status, session.starts_at, session.fault_started_at, now, regulation.outage
        )
        if move is not None:
            moved = await apply_action_in(
                s, system, session.id, move.action, reason=move.reason, now=now
            )
            kind = "outage_pause" if move.action == "pause" else "outage_seal"
            return TimedAction(session.id, session.host_venue_id, kind, moved.state, move.reason)
        decision = cutoff.decide(
            session.state, now, regulation.evening_cutoff, _next_working_day(now)
        )
        if decision is None:
            return None
        if decision.kind == "pause":
            moved = await apply_action_in(
                s, system, session.id, "pause", reason=decision.message, now=now
            )
            return TimedAction(
                session.id, session.host_venue_id, "cutoff_pause", moved.state, decision.message
            )
        if await _warned(s, session.id, decision.cutoff - regulation.evening_cutoff.warn_before):
            return None
        await append_event(
            s,
            kind=CUTOFF_WARNING,
            subject=f"session:{session.id}",
            actor=system.username,
            payload={"cutoff": decision.cutoff.isoformat(), "message": decision.message},
            at=now,
        )
        return TimedAction(
            session.id, session.host_venue_id, "cutoff_warning", session.state, decision.message
        )


async def enforce_session_rules(hub: Services, *, now: datetime) -> tuple[TimedAction, ...]:
    """Apply the time rules to every running or paused session at ``now``; what was done."""
    async with hub.db.read() as s:
        ids = (
            (
                await s.execute(
                    select(EvaluationSession.id)
                    .where(EvaluationSession.state.in_(_WATCHED))
                    .order_by(EvaluationSession.id)
                )
            )
            .scalars()
            .all()
        )
    done: list[TimedAction] = []
    for session_id in ids:
        try:
            action = await _enforce_one(hub, session_id, now)
        except Conflict:  # the host moved the session meanwhile: the next tick looks again
            continue
        if action is None:
            continue
        done.append(action)
        event = {
            "type": f"session.{action.kind}",
            "session_id": action.session_id,
            "state": action.state,
            "message": action.message,
        }
        host = Principal("channel", Role.HOST_OPERATOR, action.host_venue_id)
        for channel in access.event_channels(host):
            await hub.bus.publish(channel, event)
    return tuple(done)
