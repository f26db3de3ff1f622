"""The chair election (主任委员推选), ballot by ballot and round by round.

Each confirmed member votes on their own seat's page (``cast_at_seat``, the seat's
``chair_ballot``); a member not at a seat may have their ballot typed in by the host operator,
with the reason, as a recorded fallback (代录, ``record_chair_round``: host business,
``access.Action.FORM_COMMITTEE``). Every ballot is a ``ChairVote`` row and an audit event. A
round closes when every member confirmed then has voted (``ChairRound`` keeps its candidates);
the pure ``committee.count_round`` counts it, and a tie leads to a further round among the tied.
After every change each checked-in seat of the session hears where the election stands
(``chair_round``: the open round and its candidates, the closed rounds' tallies, the chair).

A recusal voids an unfinished election (``formation.decide``), so the rounds here are always
those of the current election.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import ChairRound, ChairVote, EvaluationSession, Expert, SessionExpert
from evaluation_hub.errors import Conflict, InvalidInput
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.members import committee_of, member_rows
from evaluation_hub.sessions.states import CHAIR_ELECTION, state_name
from seat_protocol.messages import ChairCandidate, ChairRoundNotice, ChairTally

__all__ = [
    "BallotCast",
    "Election",
    "OpenRound",
    "RoundOutcome",
    "cast_at_seat",
    "load_election",
    "record_chair_round",
    "seat_round_notices",
    "tell_seats",
]

Rows = list[tuple[SessionExpert, Expert]]


@dataclass(frozen=True)
class RoundOutcome:
    """A round's count once it closed; an open round has no tally yet (``closed`` false, with
    the members still ``waiting`` to vote)."""

    round: int
    votes: dict[str, int]
    chair: str | None
    #: candidates of the further round when this one tied
    tied: list[str]
    closed: bool = True
    waiting: list[str] = field(default_factory=list)
    #: ballots the host operator typed in for members not at a seat: voter → reason (代录)
    proxied: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenRound:
    round: int
    candidates: list[str]
    #: voter → candidate so far (shown only once the round closes)
    ballots: dict[str, str]
    proxied: dict[str, str]
    #: confirmed members yet to vote
    waiting: list[str]


@dataclass(frozen=True)
class Election:
    """The election so far: each closed round's ballots and count, the open round (None once
    a chair is elected), the chair."""

    closed: list[tuple[dict[str, str], RoundOutcome]]
    open: OpenRound | None
    chair: str | None


@dataclass(frozen=True)
class BallotCast:
    """A seat's ballot as recorded: the round it went into, and whether that closed it."""

    round: int
    candidate: str
    #: the count, when this ballot closed the round
    outcome: RoundOutcome | None
    #: the same ballot was already recorded (a seat repeating itself after a reconnection)
    repeated: bool = False


async def _eligible(s: AsyncSession, session_id: int, rows: Rows, seated: list[str]) -> list[str]:
    """The seated members who may be elected: not a representative where the session's rule
    (``EvaluationSession.representatives_may_chair``, from the configuration) says so."""
    session = await s.get(EvaluationSession, session_id)
    if session is None or session.representatives_may_chair:
        return seated
    representatives = {e.code for m, e in rows if m.kind != "expert"}
    return [code for code in seated if code not in representatives]


async def load_election(s: AsyncSession, session_id: int, rows: Rows | None = None) -> Election:
    """The election as stored (inside the caller's unit of work)."""
    rows = rows if rows is not None else await member_rows(s, session_id)
    codes = {e.id: e.code for _, e in rows}
    seated = [m.member_id for m in committee_of(rows).seated()]
    chair = next((e.code for m, e in rows if m.is_chair), None)
    votes = (
        (
            await s.execute(
                select(ChairVote).where(ChairVote.session_id == session_id).order_by(ChairVote.id)
            )
        )
        .scalars()
        .all()
    )
    by_round: dict[int, dict[str, str]] = {}
    proxied: dict[int, dict[str, str]] = {}
    for vote in votes:
        voter = codes.get(vote.voter_id) or await _code(s, vote.voter_id)
        candidate = codes.get(vote.candidate_id) or await _code(s, vote.candidate_id)
        by_round.setdefault(vote.round, {})[voter] = candidate
        if vote.reason:
            proxied.setdefault(vote.round, {})[voter] = vote.reason
    closed: list[tuple[dict[str, str], RoundOutcome]] = []
    rounds = (
        await s.execute(
            select(ChairRound).where(ChairRound.session_id == session_id).order_by(ChairRound.round)
        )
    ).scalars()
    for held in rounds:
        ballots = by_round.get(held.round, {})
        # Counted again as it was held: its candidates as they stood, its voters as recorded.
        counted = rules.count_round(held.candidates, set(ballots), ballots, held.round)
        closed.append(
            (
                ballots,
                RoundOutcome(
                    held.round,
                    dict(counted.votes),
                    counted.chair if isinstance(counted, rules.Elected) else None,
                    sorted(counted.candidates) if isinstance(counted, rules.Tied) else [],
                    proxied=proxied.get(held.round, {}),
                ),
            )
        )
    if chair is not None:
        return Election(closed, None, chair)
    number = len(closed) + 1
    candidates = closed[-1][1].tied if closed else await _eligible(s, session_id, rows, seated)
    ballots = by_round.get(number, {})
    return Election(
        closed,
        OpenRound(
            number,
            list(candidates),
            dict(ballots),
            proxied.get(number, {}),
            [code for code in seated if code not in ballots],
        ),
        None,
    )


async def _code(s: AsyncSession, expert_id: int) -> str:
    """The code of an expert who is no longer a member (their ballot stays in the history)."""
    expert = await s.get(Expert, expert_id)
    assert expert is not None  # a foreign key
    return expert.code


def _check_electing(session: EvaluationSession, rows: Rows, election: Election) -> OpenRound:
    if session.state not in CHAIR_ELECTION:
        raise Conflict(
            "not-electing",
            f"评标会当前状态为「{state_name(session.state)}」，不能推选主任委员",
        )
    if not committee_of(rows).seated():
        raise Conflict("no-confirmed-members", "尚无确认承诺的评标委员会成员，不能推选主任委员")
    if election.chair is not None:
        raise Conflict("already-elected", f"已选出主任委员 {election.chair}，不再投票")
    assert election.open is not None
    return election.open


async def _add_ballots(
    s: AsyncSession,
    session: EvaluationSession,
    rows: Rows,
    current: OpenRound,
    ballots: dict[str, str],
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> RoundOutcome:
    """Record checked ``ballots`` in the open round; close and count it once every confirmed
    member has voted."""
    ids = {e.code: e.id for _, e in rows}
    for voter, candidate in ballots.items():
        s.add(
            ChairVote(
                session_id=session.id,
                round=current.round,
                voter_id=ids[voter],
                candidate_id=ids[candidate],
                recorded_by=actor,
                at=now,
                reason=reason,
            )
        )
        await append_event(
            s,
            kind="committee.chair_ballot",
            subject=f"session:{session.id}",
            actor=actor,
            payload={
                "round": current.round,
                "voter": voter,
                "candidate": candidate,
                "reason": reason,
            },
            at=now,
        )
    cast = {**current.ballots, **ballots}
    proxied = {**current.proxied, **dict.fromkeys(ballots if reason else (), reason)}
    waiting = [code for code in current.waiting if code not in ballots]
    if waiting:
        await s.flush()
        return RoundOutcome(current.round, {}, None, [], False, waiting, proxied)
    s.add(
        ChairRound(
            session_id=session.id,
            round=current.round,
            candidates=list(current.candidates),
            closed_at=now,
        )
    )
    outcome = rules.count_round(current.candidates, set(cast), cast, current.round)
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
        actor=actor,
        payload={
            "round": current.round,
            "votes": dict(outcome.votes),
            "chair": chair,
            "tied": tied,
        },
        at=now,
    )
    await s.flush()
    return RoundOutcome(current.round, dict(outcome.votes), chair, tied, proxied=proxied)


async def record_chair_round(
    hub: Services,
    actor: Principal,
    session_id: int,
    ballots: Sequence[tuple[str, str]],
    *,
    reason: str,
    now: datetime,
) -> RoundOutcome:
    """The host operator types in ballots of the open round for members not at a seat (代录),
    with the reason; ``ballots`` are (voter, candidate) pairs, one per voter. Returns the
    round's count if these ballots closed it, else the members still waiting to vote."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.FORM_COMMITTEE, loaded.target)
        rows = await member_rows(s, session_id)
        election = await load_election(s, session_id, rows)
        current = _check_electing(loaded.session, rows, election)
        why = reason.strip()
        if not why:
            raise InvalidInput(
                "reason-required", "代为登记主任委员推选投票须说明原因（如专家不在评标终端前）"
            )
        counted: dict[str, str] = {}
        for voter, candidate in ballots:
            if voter in counted:
                raise InvalidInput(
                    "duplicate-ballot",
                    f"{voter} 在第 {current.round} 轮重复投票，每位成员每轮只能投一票",
                )
            counted[voter] = candidate
        seated = [m.member_id for m in committee_of(rows).seated()]
        rules.count_round(current.candidates, seated, counted, current.round)
        for voter in counted:
            if voter in current.ballots:
                raise InvalidInput(
                    "duplicate-ballot",
                    f"{voter} 在第 {current.round} 轮重复投票，每位成员每轮只能投一票",
                )
            at_seat = await seatings(s, session_id=session_id, expert_code=voter, checked_in=True)
            if at_seat:
                raise Conflict(
                    "voter-at-seat",
                    f"专家 {voter} 已在工位 {at_seat[0].seat_key} 签到，须由本人在工位投票",
                )
        outcome = await _add_ballots(
            s, loaded.session, rows, current, counted, actor=actor.username, reason=why, now=now
        )
    await tell_seats(hub, session_id)
    return outcome


async def cast_at_seat(
    hub: Services,
    seat_key: str,
    session_id: int,
    expert_code: str,
    round_no: int,
    candidate: str,
    *,
    now: datetime,
) -> BallotCast:
    """A member's own ballot from their seat (the seat shell has checked that ``expert_code``
    is checked in there); the seat is the actor on the audit chain. ``round_no`` is the round
    the page showed: a ballot for a round that has closed meanwhile is refused."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        rows = await member_rows(s, session_id)
        election = await load_election(s, session_id, rows)
        current = _check_electing(loaded.session, rows, election)
        if round_no != current.round:
            raise Conflict(
                "round-closed",
                f"当前为第 {current.round} 轮投票，第 {round_no} 轮的选票不能计入，"
                f"请在第 {current.round} 轮候选人中重新投票",
            )
        seated = [m.member_id for m in committee_of(rows).seated()]
        rules.count_round(current.candidates, seated, {expert_code: candidate}, current.round)
        already = current.ballots.get(expert_code)
        if already == candidate:
            return BallotCast(current.round, candidate, None, repeated=True)
        if already is not None:
            raise InvalidInput(
                "duplicate-ballot",
                f"{expert_code} 在第 {current.round} 轮重复投票，每位成员每轮只能投一票",
            )
        outcome = await _add_ballots(
            s,
            loaded.session,
            rows,
            current,
            {expert_code: candidate},
            actor=f"seat:{seat_key}",
            reason="",
            now=now,
        )
    await tell_seats(hub, session_id)
    return BallotCast(current.round, candidate, outcome if outcome.closed else None)


def _notice(session_id: int, rows: Rows, election: Election, expert_code: str) -> ChairRoundNotice:
    names = {e.code: e.name for _, e in rows}
    current = election.open
    if current is not None:
        number, candidates = current.round, current.candidates
    else:
        number, candidates = (election.closed[-1][1].round if election.closed else 1), []
    return ChairRoundNotice(
        session_id=str(session_id),
        round=number,
        candidates=tuple(ChairCandidate(code=c, name=names.get(c, "")) for c in candidates),
        ballot=current.ballots.get(expert_code) if current is not None else None,
        waiting=len(current.waiting) if current is not None else 0,
        results=tuple(
            ChairTally(round=o.round, votes=o.votes, chair=o.chair, tied=tuple(o.tied))
            for _, o in election.closed
        ),
        chair=election.chair,
    )


async def seat_round_notices(
    s: AsyncSession, session_id: int, seat_key: str | None = None
) -> list[tuple[str, ChairRoundNotice]]:
    """Where the election stands, for each seat of the session with its expert checked in (or
    only ``seat_key``): (seat key, notice) pairs."""
    held = [
        x
        for x in await seatings(s, session_id=session_id, checked_in=True)
        if x.expert_code is not None and seat_key in (None, x.seat_key)
    ]
    if not held:
        return []
    rows = await member_rows(s, session_id)
    election = await load_election(s, session_id, rows)
    return [
        (x.seat_key, _notice(session_id, rows, election, x.expert_code))
        for x in held
        if x.expert_code is not None
    ]


async def tell_seats(hub: Services, session_id: int) -> None:
    """Push where the election stands to every checked-in seat of the session (best effort: a
    seat not connected here hears it when it reconnects, ``seats.catch_up``)."""
    async with hub.db.read() as s:
        notices = await seat_round_notices(s, session_id)
    for seat_key, notice in notices:
        await hub.seats.send(seat_key, notice)
