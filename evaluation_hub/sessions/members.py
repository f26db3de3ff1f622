"""A session's committee members as stored (评标委员会成员): the rows and the pure committee
they make. Read by formation (commitments, recusals), the chair election and the host's view,
inside the caller's unit of work.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.db.models import Expert, SessionExpert
from evaluation_hub.sessions import committee as rules

__all__ = ["committee_of", "member_rows"]

_KIND: dict[str, rules.MemberKind] = {
    "expert": "expert",
    "tenderer_representative": "tenderer_representative",
}
_STATUS: dict[str, rules.MemberStatus] = {
    "pending": "pending",
    "confirmed": "confirmed",
    "recused": "recused",
}


async def member_rows(s: AsyncSession, session_id: int) -> list[tuple[SessionExpert, Expert]]:
    """The session's members with their experts, in the order they joined."""
    found = await s.execute(
        select(SessionExpert, Expert)
        .join(Expert, Expert.id == SessionExpert.expert_id)
        .where(SessionExpert.session_id == session_id)
        .order_by(SessionExpert.id)
    )
    return [(m, e) for m, e in found.tuples()]


def committee_of(rows: list[tuple[SessionExpert, Expert]]) -> rules.Committee:
    return rules.Committee(
        tuple(
            rules.Member(
                e.code,
                _KIND[m.kind],
                _STATUS[m.decision],
                m.decision_reason or None,
            )
            for m, e in rows
        )
    )
