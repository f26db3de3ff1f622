"""Automatic recusal against the stored facts (智能回避), inside the caller's unit of work:
the session's bidders (written when its package is attached), each member's employer and
former employers, and the blacklist entries in force. The rule itself is
``pool.recusal.conflicts``; the callers decide what a conflict means (a registration refused,
a member listed for replacement, a start refused) and write the audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import Expert, SessionExpert
from evaluation_hub.pool.models import BlacklistEntryRow, FormerEmployerRow, SessionBidderRow
from evaluation_hub.pool.recusal import (
    BidderName,
    BlacklistEntry,
    Candidate,
    Conflict,
    FormerEmployer,
    conflicts,
)

__all__ = [
    "MemberConflicts",
    "active_blacklist",
    "candidate_conflicts",
    "conflicts_json",
    "record_bidders",
    "serving_conflicts",
    "session_bidders",
]


@dataclass(frozen=True)
class MemberConflicts:
    """A serving member who must be replaced, and why."""

    code: str
    name: str
    conflicts: tuple[Conflict, ...]


def conflicts_json(found: Sequence[Conflict]) -> list[dict[str, str | None]]:
    return [{"kind": c.kind, "bidder_id": c.bidder_id, "message": c.message} for c in found]


async def active_blacklist(s: AsyncSession, today: date) -> list[BlacklistEntry]:
    """The blacklist entries in force on ``today``."""
    found = await s.execute(
        select(BlacklistEntryRow)
        .where(BlacklistEntryRow.until >= today)
        .order_by(BlacklistEntryRow.id)
    )
    return [
        BlacklistEntry(r.expert_code, r.name, r.employer, r.reason, r.until)
        for r in found.scalars()
    ]


async def session_bidders(s: AsyncSession, session_id: int) -> list[BidderName]:
    """The bidders of the session's attached package (none before the attach)."""
    found = await s.execute(
        select(SessionBidderRow)
        .where(SessionBidderRow.session_id == session_id)
        .order_by(SessionBidderRow.id)
    )
    return [BidderName(r.bidder_id, r.name) for r in found.scalars()]


async def _candidates(s: AsyncSession, experts: Sequence[tuple[Expert, str]]) -> list[Candidate]:
    ids = [e.id for e, _ in experts]
    former: dict[int, list[FormerEmployer]] = {i: [] for i in ids}
    if ids:
        rows = await s.execute(
            select(FormerEmployerRow)
            .where(FormerEmployerRow.expert_id.in_(ids))
            .order_by(FormerEmployerRow.id)
        )
        for r in rows.scalars():
            former[r.expert_id].append(FormerEmployer(r.employer, r.left_year))
    return [
        Candidate(e.code, e.name, e.employer, tuple(former[e.id]), title) for e, title in experts
    ]


async def candidate_conflicts(
    s: AsyncSession, session_id: int, expert: Expert, *, title: str, years: int, today: date
) -> tuple[Conflict, ...]:
    """Why ``expert`` may not join the session's committee (empty: they may)."""
    (candidate,) = await _candidates(s, [(expert, title)])
    return conflicts(
        candidate,
        await session_bidders(s, session_id),
        await active_blacklist(s, today),
        former_employer_years=years,
        today=today,
    )


async def serving_conflicts(
    s: AsyncSession,
    session_id: int,
    rows: Sequence[tuple[SessionExpert, Expert]],
    *,
    titles: dict[str, str],
    years: int,
    today: date,
) -> list[MemberConflicts]:
    """The members still serving (not recused) who must be replaced, in joining order;
    ``titles``: how each member kind is named (专家, 采购人代表…)."""
    serving = [(e, titles.get(m.kind, "专家")) for m, e in rows if m.decision != "recused"]
    bidders = await session_bidders(s, session_id)
    blacklist = await active_blacklist(s, today)
    found = []
    for candidate in await _candidates(s, serving):
        reasons = conflicts(candidate, bidders, blacklist, former_employer_years=years, today=today)
        if reasons:
            found.append(MemberConflicts(candidate.code, candidate.name, reasons))
    return found


async def record_bidders(
    s: AsyncSession,
    session_id: int,
    bidders: Sequence[BidderName],
    rows: Sequence[tuple[SessionExpert, Expert]],
    *,
    titles: dict[str, str],
    years: int,
    actor: str,
    now: datetime,
    today: date,
) -> list[MemberConflicts]:
    """Keep the attached package's bidders and check the members already registered: those
    who must be replaced are returned and listed on the audit chain (``pool.recusal_found``),
    never dropped silently."""
    s.add_all(
        SessionBidderRow(session_id=session_id, bidder_id=b.bidder_id, name=b.name) for b in bidders
    )
    await s.flush()
    found = await serving_conflicts(s, session_id, rows, titles=titles, years=years, today=today)
    if found:
        await append_event(
            s,
            kind="pool.recusal_found",
            subject=f"session:{session_id}",
            actor=actor,
            payload={
                "members": [
                    {"expert": m.code, "reasons": conflicts_json(m.conflicts)} for m in found
                ]
            },
            at=now,
        )
    return found
