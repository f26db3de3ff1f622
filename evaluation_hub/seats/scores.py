"""Score intake (评分接收): the hub's durable half of the seat protocol's exactly-once promise.

:func:`commit_score` inserts a score sheet save submitted from a seat under its UNIQUE
idempotency key and reports whether it was new or a faithful replay; a different payload under
a used key is refused. The seat websocket acknowledges a score to the seat only after this
returned, and tells the evaluation engine only of new commits. Never deletes or rewrites a
submitted score.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.errors import Conflict

__all__ = ["CommitOutcome", "commit_score"]

CommitOutcome = Literal["committed", "replayed"]


async def commit_score(
    db: Database,
    *,
    seat_key: str,
    idempotency_key: str,
    session_ref: str,
    sheet: dict[str, Any],
    digest: str,
    now: datetime,
) -> CommitOutcome:
    """Insert the score once. A replay with the same digest is ``"replayed"``; another digest
    under the same key raises ``Conflict("idempotency-conflict")`` and stores nothing."""
    try:
        async with db.write() as s:
            s.add(
                SubmittedScore(
                    idempotency_key=idempotency_key,
                    seat_key=seat_key,
                    session_ref=session_ref,
                    sheet=sheet,
                    payload_digest=digest,
                    received_at=now,
                )
            )
        return "committed"
    except IntegrityError:
        # Insert first and look second: the UNIQUE key decides races between hub processes.
        pass
    async with db.read() as s:
        stored = (
            await s.execute(
                select(SubmittedScore).where(SubmittedScore.idempotency_key == idempotency_key)
            )
        ).scalar_one()
    if stored.payload_digest != digest or stored.seat_key != seat_key:
        raise Conflict(
            "idempotency-conflict",
            "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员",
            idempotency_key=idempotency_key,
        )
    return "replayed"
