"""The chair election (主任委员推选), stored round by round.

The members who confirmed their commitment vote at check-in or during the evaluation; the pure
``committee.elect_chair`` decides, and a tie leads to a further round among the tied. The host
operator records each round (host business, ``access.Action.FORM_COMMITTEE``). A recusal voids
an unfinished election (``formation.decide``), so the rounds here are always those of the
current election.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import ChairVote, Expert
from evaluation_hub.errors import Conflict, InvalidInput
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions.formation import committee_of, member_rows
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import CHAIR_ELECTION, state_name

__all__ = ["RoundOutcome", "held_rounds", "record_chair_round", "round_results"]


@dataclass(frozen=True)
class RoundOutcome:
    round: int
    votes: dict[str, int]
    chair: str | None
    #: candidates of the further round when this one tied
    tied: list[str]


async def held_rounds(s: AsyncSession, session_id: int) -> list[dict[str, str]]:
    """The ballots of each round held so far, voter code → candidate code."""
    codes = {e.id: e.code for e in (await s.execute(select(Expert))).scalars()}
    found = await s.execute(
        select(ChairVote).where(ChairVote.session_id == session_id).order_by(ChairVote.id)
    )
    by_round: dict[int, dict[str, str]] = defaultdict(dict)
    for vote in found.scalars():
        by_round[vote.round][codes[vote.voter_id]] = codes[vote.candidate_id]
    return [by_round[n] for n in sorted(by_round)]


def round_results(seated: list[str], rounds: list[dict[str, str]]) -> list[RoundOutcome]:
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


async def record_chair_round(
    hub: Services,
    actor: Principal,
    session_id: int,
    ballots: Sequence[tuple[str, str]],
    *,
    now: datetime,
) -> RoundOutcome:
    """Record one round of the chair election held among the confirmed members; ``ballots``
    are (voter, candidate) pairs, one per voter."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.FORM_COMMITTEE, loaded.target)
        session = loaded.session
        if session.state not in CHAIR_ELECTION:
            raise Conflict(
                "not-electing",
                f"评标会当前状态为「{state_name(session.state)}」，不能推选主任委员",
            )
        rows = await member_rows(s, session.id)
        seated = [m.member_id for m in committee_of(rows).seated()]
        if not seated:
            raise Conflict("no-confirmed-members", "尚无确认承诺的评标委员会成员，不能推选主任委员")
        elected = next((e.code for m, e in rows if m.is_chair), None)
        if elected is not None:
            raise Conflict("already-elected", f"已选出主任委员 {elected}，不再投票")
        previous = await held_rounds(s, session.id)
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
