"""What the host sees of the committee (评标委员会组建情况): each member's commitment or
recusal and where an away member sits, whether the confirmed members form a lawful committee,
and the chair election so far. Read by whoever sees the session (``access.Action.SEE_SESSION``).
Where a member sits is left out while it is a random draw's secret from the caller
(两随机、四不知, ``booking.records.seating_visible``): the host learns the seats at the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.booking.records import seating_visible, session_started
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import Expert, SessionExpert
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions.chair import RoundOutcome, held_rounds, round_results
from evaluation_hub.sessions.formation import MemberView, committee_of, member_rows
from evaluation_hub.sessions.lookup import load_session

__all__ = ["CommitteeView", "committee_view"]


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


def _view(
    session_id: int,
    rows: list[tuple[SessionExpert, Expert]],
    rounds: list[dict[str, str]],
    seats: dict[int, tuple[str, str]],
    committee_rules: rules.CommitteeRules,
) -> CommitteeView:
    committee = committee_of(rows)
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
                seats.get(e.id),
            )
            for m, e in rows
        ],
        rules.assess(committee, committee_rules),
        chair,
        rounds,
        candidates,
        round_results(seated, rounds),
    )


async def _seats(
    s: AsyncSession, actor: Principal, host_venue_id: int, session_id: int, *, started: bool
) -> dict[int, tuple[str, str]]:
    """Where each seated member sits, as far as ``actor`` may know: the venue's name and the
    seat's label."""
    return {
        x.expert_id: (x.venue_name, x.seat_label)
        for x in await seatings(s, session_id=session_id, with_expert=True)
        if x.expert_id is not None and seating_visible(actor, x, host_venue_id, started=started)
    }


async def committee_view(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> CommitteeView:
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        session = loaded.session
        started = session_started(session.starts_at, now)
        return _view(
            session_id,
            await member_rows(s, session_id),
            await held_rounds(s, session_id),
            await _seats(s, actor, session.host_venue_id, session_id, started=started),
            hub.regulation.committee,
        )
