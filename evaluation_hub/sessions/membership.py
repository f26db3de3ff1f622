"""Registering the drawn experts of a session's committee (登记评标专家), and filling the place
of a member who declared recusal (增补专家) before the review starts.

Host business (``access.Action.FORM_COMMITTEE``). Under the session's row lock: a start
committed meanwhile is seen (after the start a committee that lost a member is sealed for a new
one, never topped up), one to come waits. The committee never exceeds the session's planned
size, counting the members who still serve. With the bid package attached, the evaluation's
committed shuffle follows the new membership in the same unit of work (:class:`MembersFollow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import Expert, SessionExpert
from evaluation_hub.errors import Conflict, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.sessions.formation import member_rows
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.records import SessionMember, expert_record
from evaluation_hub.sessions.states import BEFORE_START, state_name

__all__ = ["PLACEMENTS", "MemberAdded", "MembersFollow", "add_member"]

PLACEMENTS = ("host", "away")


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
    now: datetime,
    follow: MembersFollow,
) -> MemberAdded:
    """Add a drawn expert to the session's committee, at the host or away."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.FORM_COMMITTEE, loaded.target)
        session = loaded.session
        expert = await s.get(Expert, expert_id)
        if expert is None:
            raise NotFound("expert-not-found", f"专家 #{expert_id} 不存在")
        rows = await member_rows(s, session.id)
        if any(e.id == expert.id for _, e in rows):
            raise Conflict(
                "expert-already-added", f"专家 {expert.code} 已在评标会 #{session.id} 中"
            )
        if session.state not in BEFORE_START:
            # After the start a committee that lost a member is sealed for a new one.
            raise Conflict(
                "committee-fixed",
                f"评标会当前状态为「{state_name(session.state)}」，评审已开始，"
                "不能再增补专家；如评标委员会人数不足，请暂停并封存，重新组建评标委员会",
            )
        # A member who declared recusal leaves a place to fill (增补专家).
        serving = [e.code for m, e in rows if m.decision != "recused"]
        replacing = tuple(e.code for m, e in rows if m.decision == "recused")
        if len(serving) >= session.committee_size:
            raise Conflict(
                "committee-full",
                f"评标会 #{session.id} 的评标委员会已满 {session.committee_size} 人",
            )
        s.add(SessionExpert(session_id=session.id, expert_id=expert.id, placement=placement))
        await s.flush()
        await append_event(
            s,
            kind="session.expert_added",
            subject=f"session:{session.id}",
            actor=actor.username,
            payload={"expert": expert.code, "placement": placement, "replacing": list(replacing)},
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
