"""What the hub pushes to seats on its own (推送到工位): a deviation review request to the seat
of the expert it concerns, and the revealed result to every seated member for signing.

The evaluation use cases call these after a review round and after the reveal (today the
evaluation API and the demo do); a seat that is not connected to this process gets the same
messages when it next connects (``evaluation_hub.seats.catch_up``), built by the same
functions. Best effort: a failure is logged and never undoes what the evaluation recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.evaluation.models import EvaluationPackageRow, ReviewRequestRow
from evaluation_hub.evaluation.rules import EXPLAINABLE
from evaluation_hub.services import Services
from seat_protocol.messages import ReportForSignature, ReviewRequestNotice

__all__ = [
    "push_report",
    "push_review_requests",
    "report_for_signature",
    "revealed_result",
    "review_notice",
]

log = structlog.get_logger(__name__)


# TODO(merge): use evaluation.review.review_notice
def review_notice(row: ReviewRequestRow) -> ReviewRequestNotice:
    """A review request as its expert's seat receives it."""
    spread: dict[str, Any] = dict(row.spread)
    return ReviewRequestNotice(
        session_id=str(row.session_id),
        request_id=row.id,
        round=row.round,
        part=row.part_id,
        subject=row.subject,
        item=row.item_id,
        reason=row.reason,
        message=row.message,
        spread=spread,
        explainable=row.reason in EXPLAINABLE,
    )


# TODO(merge): use the report-message builder of evaluation.result
def report_for_signature(
    session_id: int, expert_code: str, result: dict[str, Any]
) -> ReportForSignature:
    """The revealed result as a member's seat receives it for signing."""
    return ReportForSignature(session_id=str(session_id), expert_code=expert_code, result=result)


async def revealed_result(s: AsyncSession, session_id: int) -> dict[str, Any] | None:
    """The session's revealed result document, or None before the reveal."""
    result: dict[str, Any] | None = (
        await s.execute(
            select(EvaluationPackageRow.result).where(EvaluationPackageRow.session_id == session_id)
        )
    ).scalar_one_or_none()
    return result


async def _seats_of_experts(s: AsyncSession, session_id: int) -> dict[str, str]:
    """expert code → seat key for the session's live seatings."""
    return {
        x.expert_code: x.seat_key
        for x in await seatings(s, session_id=session_id, with_expert=True)
        if x.expert_code is not None
    }


async def push_review_requests(
    hub: Services, session_id: int, rows: Sequence[ReviewRequestRow]
) -> int:
    """Send each new review request to the seat of its expert; how many were queued.

    A request whose seat is not connected stays answerable at the host."""
    if not rows:
        return 0
    sent = 0
    try:
        async with hub.db.read() as s:
            seats = await _seats_of_experts(s, session_id)
        for row in rows:
            seat_key = seats.get(row.expert_code)
            if seat_key is not None and await hub.seats.send(seat_key, review_notice(row)):
                sent += 1
    except Exception:
        log.exception("seat.review_push_failed", session_id=session_id)
    return sent


async def push_report(hub: Services, session_id: int) -> int:
    """Send the revealed result to the seat of every seated member, for signing."""
    sent = 0
    try:
        async with hub.db.read() as s:
            seats = await _seats_of_experts(s, session_id)
            result = await revealed_result(s, session_id)
        if result is None:
            return 0
        for expert, seat_key in seats.items():
            if await hub.seats.send(seat_key, report_for_signature(session_id, expert, result)):
                sent += 1
    except Exception:
        log.exception("seat.report_push_failed", session_id=session_id)
    return sent
