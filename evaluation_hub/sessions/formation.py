"""Committee formation at check-in, stored: each member's integrity commitment or recusal
(回避), the lawfulness check before the evaluation starts, and the chair election (主任委员).

The rules are the pure ones of ``evaluation_hub.sessions.committee``; this module loads the
session's members (``SessionExpert`` rows, every one an expert), decides with those rules and
writes the outcome with its audit event in one unit of work.

- A host member confirms or recuses through the host API (they have no seat); a seat member
  through the seat's ``commitment`` message (``evaluation_hub.seats.expert_requests``).
- A recusal releases the member's seat: no live booking seat holds them any more, so the seat
  can no longer act for them; the evaluation engine also refuses their saves, answers and
  signatures (``evaluation_hub.evaluation``).
- ``require_lawful_committee`` is called by the lifecycle store before ``start_evaluation``:
  the evaluation starts only when the members who confirmed the commitment form a lawful
  committee on their own (recused members are out, pending ones are not counted), so every
  start is preceded by enough confirmations.
- The chair election is recorded round by round; ``elect_chair`` decides, and ties lead to a
  further round among the tied. A recusal before a chair is elected (or of the chair) voids the
  rounds held and the election starts over among the members who remain.
- A recused member's place may be filled before the review starts (增补专家, the host adds an
  expert to the session); the review starts with exactly the members who confirmed, and the
  evaluation's committed shuffle follows (``evaluation_hub.evaluation.package.recommit_members``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules as booking_rules
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import (
    Booking,
    BookingSeat,
    ChairVote,
    EvaluationSession,
    Expert,
    Seat,
    SessionExpert,
    Venue,
)
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions import lifecycle
from evaluation_hub.sessions.states import BEFORE_START, CHAIR_ELECTION, RECUSAL_ALLOWED

__all__ = [
    "CommitteeView",
    "MemberView",
    "RoundOutcome",
    "committee_view",
    "decide",
    "decide_at_host",
    "record_chair_round",
    "require_lawful_committee",
    "require_not_recused",
]

DECISIONS = ("confirmed", "recused")
_LIVE = tuple(booking_rules.LIVE_STATES)
_STATUS: dict[str, rules.MemberStatus] = {
    "pending": "pending",
    "confirmed": "confirmed",
    "recused": "recused",
}


async def _session(s: AsyncSession, session_id: int) -> tuple[EvaluationSession, Venue]:
    session = await s.get(EvaluationSession, session_id)
    if session is None:
        raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
    host = await s.get(Venue, session.host_venue_id)
    assert host is not None
    return session, host


def _require_host_operator(actor: Principal, session: EvaluationSession, host: Venue) -> None:
    if actor.role == "host_operator" and actor.venue_id == session.host_venue_id:
        return
    raise Forbidden(
        "not-host",
        f"只有主场「{host.name}」的业务人员可以办理评标会 #{session.id} 的评标委员会组建",
    )


async def _rows(s: AsyncSession, session_id: int) -> list[tuple[SessionExpert, Expert]]:
    found = await s.execute(
        select(SessionExpert, Expert)
        .join(Expert, Expert.id == SessionExpert.expert_id)
        .where(SessionExpert.session_id == session_id)
        .order_by(SessionExpert.id)
    )
    return [(m, e) for m, e in found.tuples()]


def _committee(rows: list[tuple[SessionExpert, Expert]]) -> rules.Committee:
    return rules.Committee(
        tuple(
            rules.Member(
                e.code,
                "expert",
                _STATUS[m.decision],
                m.decision_reason or None,
            )
            for m, e in rows
        )
    )


@dataclass(frozen=True)
class MemberView:
    code: str
    name: str
    placement: str
    decision: str
    reason: str
    decided_at: datetime | None
    is_chair: bool
    #: where an away member sits now: the venue's name and the seat's label (None: no seat)
    seat: tuple[str, str] | None = None


@dataclass(frozen=True)
class CommitteeView:
    session_id: int
    members: list[MemberView]
    assessment: rules.Assessment
    chair: str | None
    #: ballots of each round held so far, voter code → candidate code
    rounds: list[dict[str, str]]
    #: candidates of the next round (empty once a chair is elected)
    next_candidates: list[str]
    #: each round's count: (round, votes per candidate, chair elected or None, tied candidates)
    round_results: list[RoundOutcome] = field(default_factory=list)


async def _rounds(s: AsyncSession, session_id: int) -> list[dict[str, str]]:
    codes = {e.id: e.code for e in (await s.execute(select(Expert))).scalars()}
    found = await s.execute(
        select(ChairVote).where(ChairVote.session_id == session_id).order_by(ChairVote.id)
    )
    by_round: dict[int, dict[str, str]] = defaultdict(dict)
    for vote in found.scalars():
        by_round[vote.round][codes[vote.voter_id]] = codes[vote.candidate_id]
    return [by_round[n] for n in sorted(by_round)]


def _view(
    session_id: int,
    rows: list[tuple[SessionExpert, Expert]],
    rounds: list[dict[str, str]],
    seats: dict[int, tuple[str, str]] | None = None,
) -> CommitteeView:
    committee = _committee(rows)
    chair = next((e.code for m, e in rows if m.is_chair), None)
    seated = [m.member_id for m in committee.seated()]
    if chair is not None:
        candidates: list[str] = []
    elif rounds:
        outcome = rules.elect_chair(seated, seated, rounds)
        candidates = sorted(outcome.candidates) if isinstance(outcome, rules.Tied) else []
    else:
        candidates = seated
    return CommitteeView(
        session_id,
        [
            MemberView(
                e.code,
                e.name,
                m.placement,
                m.decision,
                m.decision_reason,
                m.decided_at,
                m.is_chair,
                (seats or {}).get(e.id),
            )
            for m, e in rows
        ],
        rules.assess(committee),
        chair,
        rounds,
        candidates,
        _results(seated, rounds),
    )


def _results(seated: list[str], rounds: list[dict[str, str]]) -> list[RoundOutcome]:
    """Each round counted again as it was held. Its voters and choices are taken as recorded:
    a member who recused after a chair was elected (which keeps that chair) still counts in
    the history."""
    results: list[RoundOutcome] = []
    current: set[str] = set(seated)
    for number, ballots in enumerate(rounds, start=1):
        candidates = current | set(ballots.values())
        outcome = rules.count_round(candidates, set(ballots), ballots, number)
        tied = sorted(outcome.candidates) if isinstance(outcome, rules.Tied) else []
        chair = outcome.chair if isinstance(outcome, rules.Elected) else None
        results.append(RoundOutcome(number, dict(outcome.votes), chair, tied))
        current = set(tied)
    return results


async def committee_view(db: Database, actor: Principal, session_id: int) -> CommitteeView:
    async with db.read() as s:
        session, _ = await _session(s, session_id)
        if not (actor.is_system or actor.venue_id == session.host_venue_id):
            raise Forbidden("session-not-visible", f"评标会 #{session.id} 不由本场地主办，无权查看")
        held = await s.execute(
            select(BookingSeat.expert_id, Venue.name, Seat.label)
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .join(Seat, Seat.id == BookingSeat.seat_id)
            .join(Venue, Venue.id == Seat.venue_id)
            .where(
                Booking.session_id == session.id,
                Booking.state.in_(_LIVE),
                BookingSeat.live.is_(True),
                BookingSeat.expert_id.is_not(None),
            )
        )
        seats = {
            expert_id: (venue, label)
            for expert_id, venue, label in held.tuples()
            if expert_id is not None
        }
        return _view(session.id, await _rows(s, session.id), await _rounds(s, session.id), seats)


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
    session, venue = await _session(s, session_id)
    if host is not None:
        _require_host_operator(host, session, venue)
    if decision not in DECISIONS:
        raise InvalidInput("bad-decision", "决定只能是 confirmed（确认承诺）或 recused（回避）")
    rows = await _rows(s, session.id)
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
    allowed = BEFORE_START if decision == "confirmed" else RECUSAL_ALLOWED
    if session.state not in allowed:
        verb = "确认评标纪律承诺" if decision == "confirmed" else "声明回避"
        raise Conflict(
            "not-forming",
            f"评标会当前状态为「{lifecycle.STATE_NAMES[session.state]}」，不能{verb}",
        )
    committee = _committee(rows)
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
        held = await s.execute(
            select(BookingSeat.id, BookingSeat.seat_id)
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .where(
                Booking.session_id == session.id,
                Booking.state.in_(_LIVE),
                BookingSeat.live.is_(True),
                BookingSeat.expert_id == expert.id,
            )
        )
        for booking_seat_id, seat_id in held.tuples().all():
            await s.execute(
                update(BookingSeat)
                .where(BookingSeat.id == booking_seat_id)
                .values(expert_id=None)
                .execution_options(synchronize_session=False)
            )
            await append_event(
                s,
                kind="committee.seat_released",
                subject=subject,
                actor=actor,
                payload={"expert": expert_code, "seat_id": seat_id},
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
    await append_event(
        s,
        kind="committee.chair_election_restarted",
        subject=f"session:{session_id}",
        actor=actor,
        payload={"recused": recused, "rounds_voided": max(voided), "chair_recused": was_chair},
        at=now,
    )


async def decide_at_host(
    db: Database,
    actor: Principal,
    session_id: int,
    expert_code: str,
    decision: str,
    reason: str,
    *,
    now: datetime,
) -> MemberView:
    async with db.write() as s:
        return await decide(
            s,
            session_id,
            expert_code,
            decision,
            reason,
            actor=actor.username,
            host=actor,
            now=now,
        )


async def require_lawful_committee(
    s: AsyncSession,
    session_id: int,
    committee_rules: rules.CommitteeRules | None = None,
    *,
    verb: str = "开始评审",
) -> None:
    """Refuse to start the evaluation unless the confirmed members form a lawful committee
    (members still pending are not counted, recused ones are out)."""
    rows = await _rows(s, session_id)
    result = rules.assess(_committee(rows), committee_rules)
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


@dataclass(frozen=True)
class RoundOutcome:
    round: int
    votes: dict[str, int]
    chair: str | None
    #: candidates of the further round when this one tied
    tied: list[str]


async def record_chair_round(
    db: Database,
    actor: Principal,
    session_id: int,
    ballots: Sequence[tuple[str, str]],
    *,
    now: datetime,
) -> RoundOutcome:
    """Record one round of the chair election held among the confirmed members; ``ballots``
    are (voter, candidate) pairs, one per voter."""
    async with db.write() as s:
        session, venue = await _session(s, session_id)
        _require_host_operator(actor, session, venue)
        if session.state not in CHAIR_ELECTION:
            raise Conflict(
                "not-electing",
                f"评标会当前状态为「{lifecycle.STATE_NAMES[session.state]}」，不能推选主任委员",
            )
        rows = await _rows(s, session.id)
        seated = [m.member_id for m in _committee(rows).seated()]
        if not seated:
            raise Conflict("no-confirmed-members", "尚无确认承诺的评标委员会成员，不能推选主任委员")
        elected = next((e.code for m, e in rows if m.is_chair), None)
        if elected is not None:
            raise Conflict("already-elected", f"已选出主任委员 {elected}，不再投票")
        previous = await _rounds(s, session.id)
        number = len(previous) + 1
        counted: dict[str, str] = {}
        for voter, candidate in ballots:
            if voter in counted:
                raise InvalidInput(
                    "duplicate-ballot", f"{voter} 在第 {number} 轮重复投票，每位成员每轮只能投一票"
                )
            counted[voter] = candidate
        outcome = rules.elect_chair(seated, seated, [*previous, counted])
        ids = {e.code: e.id for _, e in rows}
        for voter, candidate in sorted(counted.items()):
            s.add(
                ChairVote(
                    session_id=session.id,
                    round=number,
                    voter_id=ids[voter],
                    candidate_id=ids[candidate],
                    recorded_by=actor.username,
                    at=now,
                )
            )
        chair = outcome.chair if isinstance(outcome, rules.Elected) else None
        if chair is not None:
            for member, expert in rows:
                if expert.code == chair:
                    member.is_chair = True
        tied = sorted(outcome.candidates) if isinstance(outcome, rules.Tied) else []
        await append_event(
            s,
            kind="committee.chair_elected" if chair else "committee.chair_round_tied",
            subject=f"session:{session.id}",
            actor=actor.username,
            payload={"round": number, "votes": dict(outcome.votes), "chair": chair, "tied": tied},
            at=now,
        )
        return RoundOutcome(number, dict(outcome.votes), chair, tied)
