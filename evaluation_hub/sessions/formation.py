"""Committee formation at check-in, stored (评标委员会组建): each member's integrity commitment
or recusal (回避), and the lawfulness check before the evaluation starts.

The rules are the pure ones of ``evaluation_hub.sessions.committee``; this module loads the
session's members (``SessionExpert`` rows, every one an expert), decides with those rules and
writes the outcome with its audit event in one unit of work.

- A member checked in at a seat (away, or a host member at a host seat) confirms or recuses at
  that seat (the seat's ``commitment`` message, ``evaluation_hub.seats.expert_requests``, which
  has checked the seat holds the member: :func:`decide_at_seat`, or :func:`decide` in its own
  unit of work); a host member not at a seat through the host (:func:`decide_at_host`, host
  business: ``access.Action.FORM_COMMITTEE``). Either way the checked-in seats then hear where
  the chair election stands (``chair.tell_seats``): the voters and candidates may have changed.
- A recusal releases the member's seat: no live booking seat holds them any more, so the seat
  can no longer act for them; the evaluation engine also refuses their saves, answers and
  signatures (:func:`require_not_recused`).
- :func:`require_lawful_committee` is called before ``start_evaluation`` and the seal: the
  evaluation starts only when the members who confirmed the commitment form a lawful
  committee on their own (recused members are out, pending ones are not counted).
- A recusal before a chair is elected (or of the chair) voids the chair election's rounds held
  (``evaluation_hub.sessions.chair``), and the election starts over among those who remain.
- A recused member's place may be filled before the review starts (增补专家,
  ``evaluation_hub.sessions.membership``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import BookingSeat, ChairRound, ChairVote, Expert, SessionExpert
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.localtime import day_of
from evaluation_hub.pool.conflicts import serving_conflicts
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import chair
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.members import committee_of, member_rows
from evaluation_hub.sessions.states import BEFORE_START, RECUSAL_ALLOWED, state_name

if TYPE_CHECKING:
    from evaluation_hub.regulation import Regulation

__all__ = [
    "DECISIONS",
    "MemberSeat",
    "MemberView",
    "committee_of",
    "decide",
    "decide_at_host",
    "decide_at_seat",
    "member_rows",
    "require_lawful_committee",
    "require_not_recused",
]

DECISIONS = ("confirmed", "recused")


@dataclass(frozen=True)
class MemberSeat:
    """Where a member sits: the venue's name, the seat's label, whether they checked in."""

    venue_name: str
    label: str
    checked_in: bool = False


@dataclass(frozen=True)
class MemberView:
    code: str
    name: str
    placement: str
    decision: str
    reason: str
    decided_at: datetime | None
    is_chair: bool
    #: where the member sits now, host or away (None: no seat)
    seat: MemberSeat | None = None
    #: expert, or tenderer_representative (采购人代表), and how pages name the kind
    kind: str = "expert"
    title: str = "专家"


async def decide(
    s: AsyncSession,
    session_id: int,
    expert_code: str,
    decision: str,
    reason: str,
    *,
    actor: str,
    host: Principal | None,
    now: datetime,
) -> MemberView:
    """Record one member's commitment (``confirmed``) or recusal (``recused``) in the caller's
    unit of work. ``host`` is the host operator acting for a host member; a seat passes None
    and ``actor`` names it (the caller has checked that the seat holds ``expert_code``)."""
    loaded = await load_session(s, session_id)
    if host is not None:
        access.require(host, access.Action.FORM_COMMITTEE, loaded.target)
    session = loaded.session
    if decision not in DECISIONS:
        raise InvalidInput("bad-decision", "决定只能是 confirmed（确认承诺）或 recused（回避）")
    rows = await member_rows(s, session.id)
    found = next(((m, e) for m, e in rows if e.code == expert_code), None)
    if found is None:
        raise NotFound(
            "not-a-member", f"专家 {expert_code} 不是评标会 #{session.id} 的评标委员会成员"
        )
    member, expert = found
    if host is not None and member.placement != "host":
        raise Conflict(
            "not-host-member",
            f"专家 {expert_code} 在客场工位，须在本人工位确认承诺或声明回避",
        )
    if host is not None:
        at_seat = await seatings(s, session_id=session.id, expert_id=expert.id, checked_in=True)
        if at_seat:
            raise Conflict(
                "member-at-seat",
                f"专家 {expert_code} 已在工位 {at_seat[0].seat_key} 签到，"
                "须在本人工位确认承诺或声明回避",
            )
    allowed = BEFORE_START if decision == "confirmed" else RECUSAL_ALLOWED
    if session.state not in allowed:
        verb = "确认评标纪律承诺" if decision == "confirmed" else "声明回避"
        raise Conflict(
            "not-forming",
            f"评标会当前状态为「{state_name(session.state)}」，不能{verb}",
        )
    committee = committee_of(rows)
    if decision == "confirmed":
        committee.confirm(expert_code)
    else:
        committee.recuse(expert_code, reason)
    member.decision = decision
    member.decision_reason = reason.strip() if decision == "recused" else ""
    member.decided_at = now
    subject = f"session:{session.id}"
    await append_event(
        s,
        kind="committee.recusal_declared"
        if decision == "recused"
        else "committee.commitment_confirmed",
        subject=subject,
        actor=actor,
        payload={"expert": expert_code, "reason": member.decision_reason},
        at=now,
    )
    if decision == "recused":
        was_chair, member.is_chair = member.is_chair, False
        await _restart_election(s, session.id, rows, expert_code, was_chair, actor=actor, now=now)
        for held in await seatings(s, session_id=session.id, expert_id=expert.id):
            await s.execute(
                update(BookingSeat)
                .where(BookingSeat.id == held.booking_seat_id)
                .values(expert_id=None)
                .execution_options(synchronize_session=False)
            )
            await append_event(
                s,
                kind="committee.seat_released",
                subject=subject,
                actor=actor,
                payload={"expert": expert_code, "seat_id": held.seat_id},
                at=now,
            )
    await s.flush()
    return MemberView(
        expert.code,
        expert.name,
        member.placement,
        member.decision,
        member.decision_reason,
        member.decided_at,
        member.is_chair,
    )


async def _restart_election(
    s: AsyncSession,
    session_id: int,
    rows: list[tuple[SessionExpert, Expert]],
    recused: str,
    was_chair: bool,
    *,
    actor: str,
    now: datetime,
) -> None:
    """A recusal changes who votes and who may be elected: rounds held without a chair elected
    yet (or that elected the member now recused) no longer count, and the election starts over
    among the members who remain. The rounds stay on the audit chain; only their working copy
    (``ChairVote``) goes. A chair already elected stays when somebody else recuses."""
    chair_elected = any(m.is_chair for m, _ in rows)
    if chair_elected and not was_chair:
        return
    voided = (
        (await s.execute(select(ChairVote.round).where(ChairVote.session_id == session_id)))
        .scalars()
        .all()
    )
    if not voided:
        return
    await s.execute(
        delete(ChairVote)
        .where(ChairVote.session_id == session_id)
        .execution_options(synchronize_session=False)
    )
    await s.execute(
        delete(ChairRound)
        .where(ChairRound.session_id == session_id)
        .execution_options(synchronize_session=False)
    )
    await append_event(
        s,
        kind="committee.chair_election_restarted",
        subject=f"session:{session_id}",
        actor=actor,
        payload={"recused": recused, "rounds_voided": max(voided), "chair_recused": was_chair},
        at=now,
    )


async def decide_at_host(
    hub: Services,
    actor: Principal,
    session_id: int,
    expert_code: str,
    decision: str,
    reason: str,
    *,
    now: datetime,
) -> MemberView:
    """The host operator records the commitment or recusal of a host member who is not at a
    seat terminal."""
    async with hub.db.write() as s:
        decided = await decide(
            s,
            session_id,
            expert_code,
            decision,
            reason,
            actor=actor.username,
            host=actor,
            now=now,
        )
    await chair.tell_seats(hub, session_id)
    return decided


async def decide_at_seat(
    hub: Services,
    seat_key: str,
    session_id: int,
    expert_code: str,
    decision: str,
    reason: str,
    *,
    now: datetime,
) -> MemberView:
    """A seat member's commitment or recusal from their seat (the seat shell has checked the
    seat holds ``expert_code``); the seat is the actor on the audit chain."""
    async with hub.db.write() as s:
        decided = await decide(
            s,
            session_id,
            expert_code,
            decision,
            reason,
            actor=f"seat:{seat_key}",
            host=None,
            now=now,
        )
    await chair.tell_seats(hub, session_id)
    return decided


async def require_lawful_committee(
    s: AsyncSession,
    session_id: int,
    committee_rules: rules.CommitteeRules | None = None,
    *,
    verb: str = "开始评审",
    regulation: Regulation | None = None,
    now: datetime | None = None,
) -> None:
    """Refuse to start the evaluation unless the confirmed members form a lawful committee
    (members still pending are not counted, recused ones are out). With ``regulation``, the
    rules are the session's (its procurement type and budget, ``rules.rules_for``); with
    ``now`` too, a serving member automatic recusal names (``pool.conflicts``) must first be
    replaced."""
    rows = await member_rows(s, session_id)
    if regulation is not None:
        session = (await load_session(s, session_id)).session
        committee_rules = rules.rules_for(
            regulation.committee,
            regulation.composition,
            session.procurement_type,
            session.budget,
        )
        if now is not None:
            found = await serving_conflicts(
                s,
                session_id,
                rows,
                titles=rules.member_titles(session.procurement_type),
                years=regulation.former_employer_years,
                today=day_of(now),
            )
            if found:
                raise Conflict(
                    "recusal-pending",
                    f"以下成员须回避并更换后才能{verb}："
                    + "；".join(c.message for m in found for c in m.conflicts),
                )
    result = rules.assess(committee_of(rows), committee_rules)
    if not result.valid:
        raise Conflict(
            "committee-unlawful",
            f"评标委员会组成不符合规定，不能{verb}：" + "；".join(result.problems),
        )


async def require_not_recused(s: AsyncSession, session_id: int, expert_code: str) -> None:
    """Refuse any further act of a member who declared recusal."""
    found = await s.execute(
        select(SessionExpert.decision)
        .join(Expert, Expert.id == SessionExpert.expert_id)
        .where(SessionExpert.session_id == session_id, Expert.code == expert_code)
    )
    if found.scalars().first() == "recused":
        raise Forbidden(
            "member-recused",
            f"专家 {expert_code} 已声明回避，不能继续参加评标会 #{session_id} 的评审",
        )
