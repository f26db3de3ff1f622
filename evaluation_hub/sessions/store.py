"""Applies the pure lifecycle (``lifecycle``) and outage clocks (``outage``) to stored sessions.

One unit of work per call: load, decide with the pure machine, write the new state, the
transition record and its audit event, commit. Concurrent moves of one session cannot both
win: the state is updated only if it is still the one the decision was made from.

Every move is also noted in the unit of work's ``info`` (``SESSION_MOVES``); once it commits,
the hub's commit listener tells the session's seats (``evaluation_hub.seats.session_notices``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.store import append_event
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, SessionTransition
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import formation, lifecycle, outage

__all__ = [
    "SESSION_MOVES",
    "LifecycleView",
    "SessionMove",
    "apply_action",
    "apply_action_in",
    "lifecycle_view",
    "report_fault",
]

# Key in a unit of work's ``info``: the session moves it made, in order (``SessionMove``).
SESSION_MOVES = "session_moves"


@dataclass(frozen=True)
class SessionMove:
    session_id: int
    state: str
    at: datetime


async def _load(s: AsyncSession, session_id: int) -> EvaluationSession:
    session = await s.get(EvaluationSession, session_id)
    if session is None:
        raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
    return session


def _state(session: EvaluationSession) -> lifecycle.SessionStatus:
    return lifecycle.SessionStatus(session.state, session.paused_from)


def _check_visible(actor: Principal, session: EvaluationSession) -> None:
    if not (actor.is_system or actor.venue_id == session.host_venue_id):
        raise Forbidden("session-not-visible", f"评标会 #{session.id} 不由本场地主办，无权查看")


async def apply_action(
    db: Database,
    actor: Principal,
    session_id: int,
    action: str,
    *,
    reason: str | None,
    now: datetime,
) -> EvaluationSession:
    async with db.write() as s:
        return await apply_action_in(s, actor, session_id, action, reason=reason, now=now)


async def apply_action_in(
    s: AsyncSession,
    actor: Principal,
    session_id: int,
    action: str,
    *,
    reason: str | None,
    now: datetime,
) -> EvaluationSession:
    """``apply_action`` inside the caller's open unit of work (the caller commits), so a
    transition and the facts that justify it are written together or not at all."""
    session = await _load(s, session_id)
    current = _state(session)
    new, record = lifecycle.transition(
        current,
        action,
        actor_role=actor.role,
        actor_site_is_host=actor.venue_id == session.host_venue_id,
        now=now,
        reason=reason,
        actor=actor.username,
    )
    if action == "start_evaluation":
        await formation.require_lawful_committee(s, session.id)
    moved = await s.execute(
        update(EvaluationSession)
        .where(
            EvaluationSession.id == session.id,
            EvaluationSession.state == current.state,
        )
        .values(state=new.state, paused_from=new.paused_from)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("session-moved", f"评标会 #{session.id} 的状态刚被他人改变，请刷新后重试")
    s.add(
        SessionTransition(
            session_id=session.id,
            action=record.action,
            from_state=record.from_state,
            to_state=record.to_state,
            actor=record.actor,
            actor_role=record.actor_role,
            at=record.at,
            reason=record.reason or "",
        )
    )
    await append_event(
        s,
        kind=f"session.{action}",
        subject=f"session:{session.id}",
        actor=actor.username,
        payload={
            "from_state": record.from_state,
            "to_state": record.to_state,
            "actor_role": record.actor_role,
            "reason": record.reason or "",
        },
        at=now,
    )
    s.info.setdefault(SESSION_MOVES, []).append(SessionMove(session.id, new.state, now))
    await s.refresh(session)
    return session


async def report_fault(
    db: Database,
    actor: Principal,
    session_id: int,
    *,
    note: str | None,
    fixed: bool,
    now: datetime,
) -> EvaluationSession:
    """Start (or stop) the outage clocks of a session: only the host site records faults."""
    async with db.write() as s:
        session = await _load(s, session_id)
        if not (
            actor.venue_id == session.host_venue_id
            and actor.role in {"host_operator", "supervisor"}
        ):
            raise Forbidden("not-host", "只有主场业务人员或主场监督人员可以登记或解除故障")
        if fixed:
            if session.fault_started_at is None:
                raise Conflict("no-fault", f"评标会 #{session.id} 当前没有未排除的故障")
            session.fault_started_at = None
            kind = "session.fault_fixed"
        else:
            text = (note or "").strip()
            if not text:
                raise InvalidInput("reason-required", "登记故障必须填写故障情况")
            if session.fault_started_at is not None:
                raise Conflict("fault-open", f"评标会 #{session.id} 已有未排除的故障，请先登记排除")
            session.fault_started_at = now
            session.fault_note = text
            kind = "session.fault_reported"
        await append_event(
            s,
            kind=kind,
            subject=f"session:{session.id}",
            actor=actor.username,
            payload={"note": session.fault_note},
            at=now,
        )
        return session


@dataclass(frozen=True)
class LifecycleView:
    session: EvaluationSession
    allowed: list[str]
    transitions: list[SessionTransition]
    due: list[outage.DueAction]


async def lifecycle_view(
    db: Database, actor: Principal, session_id: int, *, now: datetime, rules: outage.OutageRules
) -> LifecycleView:
    """Where the session is, what may be done next, its history, and what is due (到期事项)."""
    async with db.read() as s:
        session = await _load(s, session_id)
        _check_visible(actor, session)
        history = list(
            (
                await s.execute(
                    select(SessionTransition)
                    .where(SessionTransition.session_id == session.id)
                    .order_by(SessionTransition.id)
                )
            ).scalars()
        )
    state = _state(session)
    return LifecycleView(
        session,
        lifecycle.allowed_actions(state),
        history,
        outage.due_actions(state, session.starts_at, session.fault_started_at, now, rules),
    )
