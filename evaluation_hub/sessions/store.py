"""The session's progress (评标会进程), as use cases: where it is and what is due, moving it
along the pure lifecycle (``lifecycle``), and the fault clocks (``outage``).

One unit of work per call: load, decide with the pure machine, write the new state, the
transition record and its audit event, commit. Concurrent moves of one session cannot both
win: the state is updated only if it is still the one the decision was made from. Who may make
each move is the lifecycle's (``lifecycle.TRANSITIONS``, host site only); who may read the
progress is ``access.Action.SEE_SESSION``, who may report a fault ``access.Action.REPORT_FAULT``.

Every move is also noted in the unit of work's ``info`` (``SESSION_MOVES``); once it commits,
the hub's commit listener tells the session's seats (``evaluation_hub.seats.session_notices``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import EvaluationSession, SessionTransition
from evaluation_hub.errors import Conflict, InvalidInput
from evaluation_hub.principal import Principal
from evaluation_hub.regulation import Regulation
from evaluation_hub.services import Services
from evaluation_hub.sessions import cutoff, formation, lifecycle, outage
from evaluation_hub.sessions.committee import CommitteeRules
from evaluation_hub.sessions.lookup import load_session

if TYPE_CHECKING:
    from evaluation_hub.regulation import Regulation

log = structlog.get_logger(__name__)

__all__ = [
    "SESSION_MOVES",
    "LifecycleView",
    "SessionMove",
    "StartEvaluation",
    "TransitionEntry",
    "act",
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


@dataclass(frozen=True)
class TransitionEntry:
    """One move of the session's history (进程记录)."""

    action: str
    from_state: str
    to_state: str
    actor: str
    actor_role: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class LifecycleView:
    """Where the session is, what the state allows next, its history, and what is due."""

    session_id: int
    state: str
    paused_from: str | None
    allowed: tuple[str, ...]
    #: the fault being timed, if any (故障计时)
    fault_started_at: datetime | None
    fault_note: str
    due: tuple[outage.DueAction, ...]
    transitions: tuple[TransitionEntry, ...]


class StartEvaluation(Protocol):
    """The start of the review (开始评审), which the evaluation owns: the lifecycle move, and
    its committed shuffle re-committed to exactly the members who confirmed, in one unit of
    work, the caller's (``evaluation_hub.evaluation.package.start_evaluation_in``). A port, so
    that this package, which the evaluation package imports, never imports it back; the shell
    passes the evaluation's use case."""

    async def __call__(
        self,
        s: AsyncSession,
        hub: Services,
        actor: Principal,
        session_id: int,
        *,
        reason: str | None,
        now: datetime,
    ) -> object: ...


def _status(session: EvaluationSession) -> lifecycle.SessionStatus:
    return lifecycle.SessionStatus(session.state, session.paused_from)


async def apply_action_in(
    s: AsyncSession,
    actor: Principal,
    session_id: int,
    action: str,
    *,
    reason: str | None,
    now: datetime,
    committee_rules: CommitteeRules | None = None,
    regulation: Regulation | None = None,
) -> EvaluationSession:
    """Move the session by ``action`` inside the caller's open unit of work (the caller
    commits), so a transition and the facts that justify it are written together or not at
    all. ``committee_rules``: the regulation's, for the lawful committee the start needs."""
    loaded = await load_session(s, session_id)
    session = loaded.session
    current = _status(session)
    new, move = lifecycle.transition(
        current,
        action,
        actor_role=actor.role,
        actor_site_is_host=access.Relation.HOST in access.relations(actor, loaded.target),
        now=now,
        reason=reason,
        actor=actor.username,
    )
    if action == "start_evaluation":
        await formation.require_lawful_committee(
            s, session.id, committee_rules, regulation=regulation, now=now
        )
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
            action=move.action,
            from_state=move.from_state,
            to_state=move.to_state,
            actor=move.actor,
            actor_role=move.actor_role,
            at=move.at,
            reason=move.reason or "",
        )
    )
    await append_event(
        s,
        kind=f"session.{action}",
        subject=f"session:{session.id}",
        actor=actor.username,
        payload={
            "from_state": move.from_state,
            "to_state": move.to_state,
            "actor_role": move.actor_role,
            "reason": move.reason or "",
        },
        at=now,
    )
    s.info.setdefault(SESSION_MOVES, []).append(SessionMove(session.id, new.state, now))
    await s.refresh(session)
    return session


def _due(
    session: EvaluationSession, state: lifecycle.SessionStatus, now: datetime, rules: Regulation
) -> tuple[outage.DueAction, ...]:
    """The outage clocks' actions, and the evening cut-off (开评分离) once its warning is on."""
    due = outage.due_actions(state, session.starts_at, session.fault_started_at, now, rules.outage)
    evening = cutoff.decide(state.state, now, rules.evening_cutoff)
    if evening is not None:
        due.append(
            outage.DueAction(
                "evening_cutoff", evening.cutoff, evening.kind == "pause", evening.message
            )
        )
    return tuple(sorted(due, key=lambda a: a.due_at))


async def _view_in(
    s: AsyncSession, actor: Principal, session_id: int, now: datetime, rules: Regulation
) -> LifecycleView:
    loaded = await load_session(s, session_id)
    access.require(actor, access.Action.SEE_SESSION, loaded.target)
    session = loaded.session
    history = (
        await s.execute(
            select(SessionTransition)
            .where(SessionTransition.session_id == session.id)
            .order_by(SessionTransition.id)
        )
    ).scalars()
    state = _status(session)
    return LifecycleView(
        session_id=session.id,
        state=session.state,
        paused_from=session.paused_from,
        allowed=tuple(lifecycle.allowed_actions(state)),
        fault_started_at=session.fault_started_at,
        fault_note=session.fault_note if session.fault_started_at else "",
        due=_due(session, state, now, rules),
        transitions=tuple(
            TransitionEntry(
                t.action, t.from_state, t.to_state, t.actor, t.actor_role, t.at, t.reason
            )
            for t in history
        ),
    )


async def lifecycle_view(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> LifecycleView:
    """Where the session is, what may be done next, its history, and what is due (到期事项)."""
    async with hub.db.read() as s:
        return await _view_in(s, actor, session_id, now, hub.regulation)


async def act(
    hub: Services,
    actor: Principal,
    session_id: int,
    action: str,
    *,
    reason: str | None,
    now: datetime,
    start: StartEvaluation,
) -> LifecycleView:
    """Move the session (开始、暂停、恢复、封存…) and answer with its progress.

    The start of the review is the evaluation's (``start``: its shuffle follows the members
    who confirmed, in the same unit of work as the move); every other move is made here."""
    # The answer's view is read in the move's own unit of work: read in a second one, it could
    # fail (503, "try again") after the move had committed, and the retry would be refused.
    async with hub.db.write() as s:
        if await _made_already(s, actor, session_id, action):
            # A retry of the move its actor made last (its answer was lost: a 503 or a dropped
            # connection after the commit): answered with what happened, not refused.
            log.info("session.action_repeated", session_id=session_id, action=action)
        elif action == "start_evaluation":
            await start(s, hub, actor, session_id, reason=reason, now=now)
        else:
            await apply_action_in(
                s,
                actor,
                session_id,
                action,
                reason=reason,
                now=now,
                committee_rules=hub.regulation.committee,
            )
        return await _view_in(s, actor, session_id, now, hub.regulation)


async def _made_already(s: AsyncSession, actor: Principal, session_id: int, action: str) -> bool:
    """Whether ``action`` is the session's latest move, made by ``actor`` (the same user in the
    same role), and the session is still where it took it. Only then: another person's move,
    or an older one, is refused as before (the lifecycle's rules say why)."""
    rule = lifecycle.TRANSITIONS.get(action)
    if rule is None:
        return False
    session = (await load_session(s, session_id)).session
    if session.state in rule.sources:
        return False  # the move is possible: it is made, not repeated
    last = (
        await s.execute(
            select(SessionTransition)
            .where(SessionTransition.session_id == session_id)
            .order_by(SessionTransition.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return (
        last is not None
        and (last.action, last.actor, last.actor_role) == (action, actor.username, actor.role)
        and last.to_state == session.state
    )


async def report_fault(
    hub: Services,
    actor: Principal,
    session_id: int,
    *,
    note: str | None,
    fixed: bool,
    now: datetime,
) -> LifecycleView:
    """Start (or stop) the outage clocks of a session: only the host site records faults."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.REPORT_FAULT, loaded.target)
        session = loaded.session
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
        await s.flush()
        return await _view_in(s, actor, session_id, now, hub.regulation)
