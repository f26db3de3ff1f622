"""What the host sees of the committee (评标委员会组建情况): each member's commitment or
recusal and where they sit (host or away, checked in or not), whether the confirmed members
form a lawful committee, and the chair election so far: each closed round's ballots and
count, and the open round (who has voted, who is still to). Read by whoever sees the session
(``access.Action.SEE_SESSION``). Where a member sits is left out while it is a random draw's
secret from the caller (两随机、四不知, ``booking.records.seating_visible``): the host learns the
seats at the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.booking.records import seating_visible, session_started
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert
from evaluation_hub.localtime import day_of
from evaluation_hub.pool.conflicts import MemberConflicts, serving_conflicts
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions.chair import Election, OpenRound, RoundOutcome, load_election
from evaluation_hub.sessions.formation import MemberSeat, MemberView
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.members import committee_of, member_rows

__all__ = ["CommitteeView", "committee_view"]


@dataclass(frozen=True)
class CommitteeView:
    session_id: int
    members: list[MemberView]
    assessment: rules.Assessment
    chair: str | None
    #: ballots of each closed round, voter code → candidate code
    rounds: list[dict[str, str]]
    #: candidates of the open round (empty once a chair is elected)
    next_candidates: list[str]
    #: each closed round's count: votes per candidate, the chair elected or the tied
    round_results: list[RoundOutcome] = field(default_factory=list)
    #: the round being voted now (None once a chair is elected)
    open_round: OpenRound | None = None
    #: serving members automatic recusal names (智能回避): to be replaced, never dropped
    must_replace: list[MemberConflicts] = field(default_factory=list)
    #: the session's procurement type (工程招标 engineering / 政府采购 government)
    procurement_type: str = "engineering"


def _view(
    session: EvaluationSession,
    rows: list[tuple[SessionExpert, Expert]],
    election: Election,
    seats: dict[int, MemberSeat],
    committee_rules: rules.CommitteeRules,
    must_replace: list[MemberConflicts],
) -> CommitteeView:
    committee = committee_of(rows)
    current = election.open
    session_id = session.id
    titles = rules.member_titles(session.procurement_type)
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
                m.kind,
                titles[m.kind],
            )
            for m, e in rows
        ],
        rules.assess(committee, committee_rules),
        election.chair,
        [ballots for ballots, _ in election.closed],
        list(current.candidates) if current is not None else [],
        [outcome for _, outcome in election.closed],
        current,
        must_replace,
        session.procurement_type,
    )


async def _seats(
    s: AsyncSession, actor: Principal, host_venue_id: int, session_id: int, *, started: bool
) -> dict[int, MemberSeat]:
    """Where each seated member sits, as far as ``actor`` may know: the venue's name, the
    seat's label, checked in or not."""
    return {
        x.expert_id: MemberSeat(x.venue_name, x.seat_label, x.checked_in)
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
        rows = await member_rows(s, session_id)
        regulation = hub.regulation
        return _view(
            session,
            rows,
            await load_election(s, session_id, rows),
            await _seats(s, actor, session.host_venue_id, session_id, started=started),
            rules.rules_for(
                regulation.committee,
                regulation.composition,
                session.procurement_type,
                session.budget,
            ),
            await serving_conflicts(
                s,
                session_id,
                rows,
                titles=rules.member_titles(session.procurement_type),
                years=regulation.former_employer_years,
                today=day_of(now),
            ),
        )
