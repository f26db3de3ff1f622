"""Evaluation sessions (评标会) as records: creating one, reading one with its committee, the
sessions a caller may see, and the expert pool.

A session has one host venue (一个评标会只有一个主场): its operators create it there, or the
system administrator creates it for any host (``access.Action.CREATE_SESSION``). Its window
follows the dispatch rules (``booking.rules.Window``) and its committee size the regulation
(``Regulation.committee``). The host venue's staff and the system administrator read it
(``access.Action.SEE_SESSION``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules as booking_rules
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert, Venue
from evaluation_hub.errors import InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import committee, cutoff
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import SessionState

__all__ = [
    "ExpertRecord",
    "SessionDetail",
    "SessionDraft",
    "SessionMember",
    "SessionRecord",
    "create_session",
    "expert_record",
    "get_session",
    "list_experts",
    "list_sessions",
    "session_record",
]


@dataclass(frozen=True)
class SessionRecord:
    id: int
    project_code: str
    project_name: str
    section: str
    host_venue_id: int
    starts_at: datetime
    ends_at: datetime
    committee_size: int
    state: str
    procurement_type: str = "engineering"
    budget: Decimal | None = None
    representatives: int = 0


@dataclass(frozen=True)
class ExpertRecord:
    id: int
    code: str
    name: str
    home_region: str
    employer: str


@dataclass(frozen=True)
class SessionMember:
    expert: ExpertRecord
    #: ``host`` (sits at the host venue) or ``away`` (at a booked seat elsewhere)
    placement: str


@dataclass(frozen=True)
class SessionDetail:
    session: SessionRecord
    members: tuple[SessionMember, ...]


@dataclass(frozen=True)
class SessionDraft:
    """A session to create, as the host site describes it."""

    project_code: str
    project_name: str
    section: str
    starts_at: datetime
    ends_at: datetime
    committee_size: int
    #: None: the creator's own venue (a host operator creates sessions at their venue)
    host_venue_id: int | None = None
    #: 工程招标 (engineering) or 政府采购 (government): the committee rules follow it
    procurement_type: str = "engineering"
    #: the budget in yuan (government procurement above a set amount needs a larger committee)
    budget: Decimal | None = None
    #: how many of ``committee_size`` are the purchaser's representatives (采购人代表)
    representatives: int = 0


def session_record(s: EvaluationSession) -> SessionRecord:
    return SessionRecord(
        s.id,
        s.project_code,
        s.project_name,
        s.section,
        s.host_venue_id,
        s.starts_at,
        s.ends_at,
        s.committee_size,
        s.state,
        s.procurement_type,
        s.budget,
        s.representatives,
    )


def expert_record(e: Expert) -> ExpertRecord:
    return ExpertRecord(e.id, e.code, e.name, e.home_region, e.employer)


async def create_session(
    hub: Services, actor: Principal, draft: SessionDraft, *, now: datetime
) -> SessionRecord:
    """Create a session at its host venue (创建评标会)."""
    host_id = draft.host_venue_id if draft.host_venue_id is not None else actor.venue_id
    if host_id is None:
        raise InvalidInput("invalid-body", "缺少字段 host_venue_id")
    async with hub.db.write() as s:
        host = await s.get(Venue, host_id)
        if host is None:
            raise NotFound("venue-not-found", f"场地 #{host_id} 不存在")
        access.require(
            actor,
            access.Action.CREATE_SESSION,
            access.Target(host_venue_id=host.id, host_venue_name=host.name),
        )
        window = booking_rules.Window.checked(draft.starts_at, draft.ends_at)
        past_cutoff = cutoff.window_refusal(
            window.starts_at, window.ends_at, hub.regulation.evening_cutoff
        )
        if past_cutoff is not None:
            raise InvalidInput("window-past-cutoff", past_cutoff)
        regulation = hub.regulation
        if draft.procurement_type not in committee.PROCUREMENT_TYPES:
            raise InvalidInput(
                "bad-procurement-type",
                "采购类型只能是 engineering（工程招标）或 government（政府采购）",
            )
        if draft.budget is not None and not Decimal(0) <= draft.budget < Decimal(10) ** 16:
            raise InvalidInput("bad-budget", "预算金额须为非负数（单位：元）")
        committee.check_plan(
            draft.committee_size,
            draft.representatives,
            committee.rules_for(
                regulation.committee, regulation.composition, draft.procurement_type, draft.budget
            ),
        )
        session = EvaluationSession(
            project_code=draft.project_code.strip(),
            project_name=draft.project_name.strip(),
            section=draft.section.strip(),
            host_venue_id=host.id,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            committee_size=draft.committee_size,
            procurement_type=draft.procurement_type,
            budget=None if draft.budget is None else draft.budget.quantize(Decimal("0.01")),
            representatives=draft.representatives,
            representatives_may_chair=committee.may_chair(
                "tenderer_representative", draft.procurement_type, regulation.composition
            ),
            state=SessionState.SCHEDULED,
            created_at=now,
        )
        s.add(session)
        await s.flush()
        await append_event(
            s,
            kind="session.created",
            subject=f"session:{session.id}",
            actor=actor.username,
            payload={
                "project_code": session.project_code,
                "section": session.section,
                "host_venue_id": host.id,
                "starts_at": session.starts_at.astimezone(UTC).isoformat(),
                "ends_at": session.ends_at.astimezone(UTC).isoformat(),
                "committee_size": session.committee_size,
                **(
                    {}
                    if draft.procurement_type == "engineering"
                    and draft.budget is None
                    and not draft.representatives
                    else {
                        "procurement_type": draft.procurement_type,
                        "budget": None if draft.budget is None else str(draft.budget),
                        "representatives": draft.representatives,
                    }
                ),
            },
            at=now,
        )
        return session_record(session)


async def get_session(hub: Services, actor: Principal, session_id: int) -> SessionDetail:
    """A session with its committee members, in the order they joined."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        members = await s.execute(
            select(SessionExpert)
            .where(SessionExpert.session_id == session_id)
            .options(selectinload(SessionExpert.expert))
            .order_by(SessionExpert.id)
        )
        return SessionDetail(
            session_record(loaded.session),
            tuple(SessionMember(expert_record(m.expert), m.placement) for m in members.scalars()),
        )


async def list_sessions(hub: Services, actor: Principal) -> list[SessionRecord]:
    """The sessions ``actor`` may see, by start: the system administrator every session, the
    host venue's staff those their venue hosts."""
    query = (
        select(EvaluationSession)
        .options(selectinload(EvaluationSession.host_venue))
        .order_by(EvaluationSession.starts_at)
    )
    # Whoever sees sessions wherever they are hosted (an empty target names no venue of
    # theirs) reads them all; anyone else only those of their venue.
    if not access.allowed(actor, access.Action.SEE_SESSION, access.Target()):
        query = query.where(EvaluationSession.host_venue_id == actor.venue_id)
    async with hub.db.read() as s:
        found = list((await s.execute(query)).scalars())
    return [
        session_record(x)
        for x in found
        if access.allowed(
            actor,
            access.Action.SEE_SESSION,
            access.Target(session_id=x.id, host_venue_id=x.host_venue_id),
        )
    ]


async def list_experts(hub: Services, actor: Principal) -> list[ExpertRecord]:
    """The expert pool (专家库) the committees are drawn from, for those who form committees
    (host operators) and the system administrator (``access.Action.LIST_EXPERTS``)."""
    access.require(actor, access.Action.LIST_EXPERTS, access.Target())
    async with hub.db.read() as s:
        return [
            expert_record(e)
            for e in (
                await s.execute(select(Expert).where(Expert.in_pool).order_by(Expert.id))
            ).scalars()
        ]
