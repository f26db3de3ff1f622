"""Loading an evaluation session for a use case: the session or 404, optionally under its row
lock, with the facts the access rules need (``access.Target``).

Every use case that acts on a session starts here, so "评标会 #N 不存在" has one wording and
the lock one meaning: ``lock=True`` takes the session's row lock (``FOR UPDATE`` on
PostgreSQL; SQLite's single writer serialises anyway), so a lifecycle move committed
meanwhile is seen and one to come waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from evaluation_hub.access import Target
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.errors import NotFound

__all__ = ["LoadedSession", "load_session", "session_not_found", "session_states"]


def session_not_found(session_id: int) -> NotFound:
    return NotFound("session-not-found", f"评标会 #{session_id} 不存在")


@dataclass(frozen=True)
class LoadedSession:
    session: EvaluationSession
    target: Target


async def load_session(
    s: AsyncSession, session_id: int, *, lock: bool = False, seated_venues: bool = False
) -> LoadedSession:
    """The session with its host venue, and its access target. ``seated_venues``: the target
    also names the venues where the session's experts sit now (supervision and live rules)."""
    # The host venue in the same statement (every session has one: an inner join).
    query = (
        select(EvaluationSession)
        .where(EvaluationSession.id == session_id)
        .options(joinedload(EvaluationSession.host_venue, innerjoin=True))
    )
    if lock:
        # The session's row only: the host venue is read, not locked.
        query = query.with_for_update(of=EvaluationSession)
    session = (await s.execute(query)).scalar_one_or_none()
    if session is None:
        raise session_not_found(session_id)
    seated: frozenset[int] = frozenset()
    if seated_venues:
        seated = frozenset(
            x.venue_id for x in await seatings(s, session_id=session.id, with_expert=True)
        )
    return LoadedSession(
        session,
        Target(
            session_id=session.id,
            host_venue_id=session.host_venue_id,
            host_venue_name=session.host_venue.name,
            seated_venue_ids=seated,
        ),
    )


async def session_states(s: AsyncSession, session_ids: Iterable[int]) -> dict[int, str]:
    """The state of each of these sessions, by id (one query)."""
    rows = await s.execute(
        select(EvaluationSession.id, EvaluationSession.state).where(
            EvaluationSession.id.in_(set(session_ids))
        )
    )
    return dict(rows.tuples().all())
