"""Registering the drawn experts of a session's committee (登记评标专家), and filling the place
of a member who declared recusal (增补专家) before the review starts.

Host business (``access.Action.FORM_COMMITTEE``). Under the session's row lock: a start
committed meanwhile is seen (after the start a committee that lost a member is sealed for a new
one, never topped up), one to come waits. The committee never exceeds the session's planned
size, counting the members who still serve. With the bid package attached, the evaluation's
committed shuffle follows the new membership in the same unit of work (:class:`MembersFollow`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.localtime import day_of
from evaluation_hub.pool.conflicts import candidate_conflicts, conflicts_json
from evaluation_hub.pool.errors import RecusalRequired
from evaluation_hub.pool.expert_file import EXPERT_CODE
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions.formation import member_rows
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.records import SessionMember, expert_record
from evaluation_hub.sessions.states import BEFORE_START, state_name

__all__ = [
    "MEMBER_KINDS",
    "PLACEMENTS",
    "MemberAdded",
    "MembersFollow",
    "RepresentativeDraft",
    "add_member",
    "add_representative",
]

PLACEMENTS = ("host", "away")
MEMBER_KINDS = ("expert", "tenderer_representative")


class MembersFollow(Protocol):
    """What follows a change of the committee's membership in the same unit of work: the
    evaluation re-commits its shuffle to ``members`` (``evaluation_hub.evaluation``'s
    ``recommit_members``). A port, so that this package, which the evaluation package imports,
    never imports it back; the shell passes the evaluation's function."""

    async def __call__(
        self,
        s: AsyncSession,
        session_id: int,
        members: Sequence[str],
        *,
        sealer: Sealer,
        actor: str,
        why: str,
        now: datetime,
    ) -> bool: ...


@dataclass(frozen=True)
class MemberAdded:
    member: SessionMember
    #: the recused members whose place the newcomer takes (增补), if any
    replacing: tuple[str, ...]


async def add_member(
    hub: Services,
    actor: Principal,
    session_id: int,
    expert_id: int,
    *,
    placement: str = "away",
    kind: str = "expert",
    now: datetime,
    follow: MembersFollow,
) -> MemberAdded:
    """Add a drawn expert (or, ``kind="tenderer_representative"``, a representative already
    recorded) to the session's committee, at the host or away.

    Automatic recusal (智能回避, ``pool.conflicts``): a member whose employer or recent former
    employer is a bidder of the attached package, or who is on the credit blacklist, is
    refused with the reasons (``RecusalRequired``), and the refusal is audited
    (``pool.recusal_refused``) in a unit of work that commits before the refusal is raised."""

    async def pool_expert(s: AsyncSession, session: EvaluationSession) -> Expert:
        expert = await s.get(Expert, expert_id)
        if expert is None:
            raise NotFound("expert-not-found", f"专家 #{expert_id} 不存在")
        return expert

    return await _register(hub, actor, session_id, pool_expert, placement, kind, now, follow)


@dataclass(frozen=True)
class RepresentativeDraft:
    """The purchaser's (tenderer's) representative (采购人代表), who is not in the pool: the
    code they sign in with at a seat, their name and employer (the purchaser)."""

    code: str
    name: str
    employer: str
    placement: str = "host"


async def add_representative(
    hub: Services,
    actor: Principal,
    session_id: int,
    draft: RepresentativeDraft,
    *,
    now: datetime,
    follow: MembersFollow,
) -> MemberAdded:
    """Record a representative (outside the pool, at the host venue's region) and add them
    to the committee, with the same checks and recusal as ``add_member``."""

    async def representative(s: AsyncSession, session: EvaluationSession) -> Expert:
        code, name = draft.code.strip(), draft.name.strip()
        employer = draft.employer.strip()
        if not EXPERT_CODE.fullmatch(code):
            raise InvalidInput(
                "bad-member-code",
                f"编号「{code}」不可用：须以字母或数字开头，只含字母、数字和 . _ -，最长 32 个字符",
            )
        if not name or len(name) > 100 or not employer or len(employer) > 200:
            raise InvalidInput(
                "bad-representative",
                "采购人代表的姓名（最多 100 字）和工作单位（最多 200 字）不能为空",
            )
        found = (await s.execute(select(Expert).where(Expert.code == code))).scalar_one_or_none()
        if found is not None and found.in_pool:
            raise Conflict("code-in-pool", f"编号 {code} 已是专家库中的专家，不能登记为采购人代表")
        if found is None:
            found = Expert(
                code=code,
                name=name,
                employer=employer,
                home_region=session.host_venue.region_code,
                in_pool=False,
                specialties=[],
            )
            s.add(found)
        else:
            found.name, found.employer = name, employer
        await s.flush()
        return found

    return await _register(
        hub,
        actor,
        session_id,
        representative,
        draft.placement,
        "tenderer_representative",
        now,
        follow,
    )


async def _register(
    hub: Services,
    actor: Principal,
    session_id: int,
    person: Callable[[AsyncSession, EvaluationSession], Awaitable[Expert]],
    placement: str,
    kind: str,
    now: datetime,
    follow: MembersFollow,
) -> MemberAdded:
    refused: RecusalRequired | None = None
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.FORM_COMMITTEE, loaded.target)
        session = loaded.session
        if placement not in PLACEMENTS:
            raise InvalidInput("bad-placement", "场地只能是 host（主场）或 away（客场）")
        expert = await person(s, session)
        rows = await member_rows(s, session.id)
        _check_place(session, rows, expert, kind)
        found = await candidate_conflicts(
            s,
            session.id,
            expert,
            title=rules.member_title(kind, session.procurement_type),
            years=hub.regulation.former_employer_years,
            today=day_of(now),
        )
        if not found:
            return await _add(hub, s, actor, session, rows, expert, placement, kind, now, follow)
        refused = RecusalRequired(expert.code, found)
        await append_event(
            s,
            kind="pool.recusal_refused",
            subject=f"session:{session.id}",
            actor=actor.username,
            payload={"expert": expert.code, "kind": kind, "reasons": conflicts_json(found)},
            at=now,
        )
    # Raised after the commit: the refusal stays on the audit chain (a representative
    # recorded meanwhile stays too, outside the pool and outside the committee).
    raise refused


def _check_place(
    session: EvaluationSession, rows: list[tuple[SessionExpert, Expert]], expert: Expert, kind: str
) -> None:
    if kind not in MEMBER_KINDS:
        raise InvalidInput(
            "bad-member-kind",
            "成员类别只能是 expert（专家）或 tenderer_representative（采购人代表）",
        )
    if kind == "expert" and not expert.in_pool:
        raise Conflict("not-in-pool", f"{expert.code} 不在专家库中，不能作为专家登记")
    if any(e.id == expert.id for _, e in rows):
        raise Conflict("expert-already-added", f"专家 {expert.code} 已在评标会 #{session.id} 中")
    if session.state not in BEFORE_START:
        # After the start a committee that lost a member is sealed for a new one.
        raise Conflict(
            "committee-fixed",
            f"评标会当前状态为「{state_name(session.state)}」，评审已开始，"
            "不能再增补专家；如评标委员会人数不足，请暂停并封存，重新组建评标委员会",
        )
    serving = [m for m, _ in rows if m.decision != "recused"]
    if len(serving) >= session.committee_size:
        raise Conflict(
            "committee-full",
            f"评标会 #{session.id} 的评标委员会已满 {session.committee_size} 人",
        )
    same_kind = sum(m.kind == kind for m in serving)
    planned = (
        session.representatives
        if kind != "expert"
        else session.committee_size - session.representatives
    )
    if same_kind >= planned:
        title = rules.member_title(kind, session.procurement_type)
        raise Conflict(
            "committee-composition-full",
            f"评标会 #{session.id} 计划{title} {planned} 人，已登记 {same_kind} 人",
        )


async def _add(
    hub: Services,
    s: AsyncSession,
    actor: Principal,
    session: EvaluationSession,
    rows: list[tuple[SessionExpert, Expert]],
    expert: Expert,
    placement: str,
    kind: str,
    now: datetime,
    follow: MembersFollow,
) -> MemberAdded:
    # A member who declared recusal leaves a place to fill (增补专家).
    serving = [e.code for m, e in rows if m.decision != "recused"]
    replacing = tuple(e.code for m, e in rows if m.decision == "recused")
    s.add(SessionExpert(session_id=session.id, expert_id=expert.id, placement=placement, kind=kind))
    await s.flush()
    payload: dict[str, object] = {
        "expert": expert.code,
        "placement": placement,
        "replacing": list(replacing),
    }
    if kind != "expert":
        payload["kind"] = kind
    await append_event(
        s,
        kind="session.expert_added",
        subject=f"session:{session.id}",
        actor=actor.username,
        payload=payload,
        at=now,
    )
    # With the package attached, the newcomer's view joins the committed shuffle now, so
    # their chapters can be released before the start.
    await follow(
        s,
        session.id,
        [*serving, expert.code],
        sealer=hub.sealer,
        actor=actor.username,
        why="member_added",
        now=now,
    )
    return MemberAdded(SessionMember(expert_record(expert), placement), replacing)
