"""Bringing a (re)connected seat up to date (工位重连补发): what it missed while it had no
connection to this hub process.

When a seat authenticates, the seat websocket shell sends it what :func:`seat_connected`
returns, in this order:

1. the current state of every session that holds the seat now (``SessionStateNotice``), so a
   seat that was offline when the reading ended wipes its chapter cache, then the text
   announcements addressed to it (or to all seats) of the sessions whose seats are in use
   (``talkback.announcements``);
2. the chapter manifest released while it had no connection here (``ChapterChunks``), or,
   released through another hub process or before this one started, the seat's kept manifest
   with its chunks re-derived here (``seats.chapter_handover``), recorded as sent
   (``seats.deliveries``);
3. for each session whose expert checked in at this seat: the check-in again with the
   expert's briefing, the review requests still unanswered (during the deviation review), the
   result still to be signed (after the reveal), the expert's presence at check-in and where
   the chair election stands (``seats.chair_ballots``).

The seat's page keeps its state in memory, so after a restart of either end this is how the
expert finds the page as it was; repeats are harmless (the page keys them by id).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.evaluation.models import ReportSignatureRow, ReviewRequestRow
from evaluation_hub.evaluation.result import report_messages, revealed_result
from evaluation_hub.evaluation.review import review_notice
from evaluation_hub.seats import chair_ballots, chapter_handover, deliveries
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.seats.expert_requests import briefing
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import session_states
from evaluation_hub.sessions.states import SEATS_IN_USE, SessionState
from evaluation_hub.talkback.announcements import seat_announcements
from seat_protocol.messages import AppMessage, ChapterManifest, CheckinResult, SessionStateNotice
from seat_protocol.seat_key import SeatKey

__all__ = ["seat_connected"]

log = structlog.get_logger(__name__)


async def seat_connected(
    hub: Services, seat_key: str, *, chunks: ChapterChunks | None, now: datetime
) -> list[AppMessage]:
    """The messages that bring the seat ``seat_key`` up to date, in the order to send them."""
    if SeatKey.parse(seat_key) is None:
        return []
    notices: list[AppMessage] = []
    expert_work: list[AppMessage] = []
    async with hub.db.read() as s:
        held = await seatings(s, seat_key=seat_key)
        if not held:
            return []
        states = await session_states(s, (x.session_id for x in held))
        at = now.timestamp()
        for seating in held:
            notices.append(
                SessionStateNotice(
                    session_id=str(seating.session_id), state=states[seating.session_id], at=at
                )
            )
        # Announcements while the session's seats are in use: the page shows what was missed.
        in_use = [x.session_id for x in held if states.get(x.session_id) in SEATS_IN_USE]
        notices.extend(await seat_announcements(s, seat_key, in_use))
        work = []
        for seating in await seatings(s, seat_key=seat_key, checked_in=True):
            expert = seating.expert_code
            if expert is None:
                continue
            open_requests = (
                (
                    await s.execute(
                        select(ReviewRequestRow)
                        .where(
                            ReviewRequestRow.session_id == seating.session_id,
                            ReviewRequestRow.expert_code == expert,
                            ReviewRequestRow.answer.is_(None),
                        )
                        .order_by(ReviewRequestRow.id)
                    )
                )
                .scalars()
                .all()
            )
            signed = (
                await s.execute(
                    select(ReportSignatureRow.id).where(
                        ReportSignatureRow.session_id == seating.session_id,
                        ReportSignatureRow.expert_code == expert,
                    )
                )
            ).first() is not None
            state = states.get(seating.session_id)
            result = (
                await revealed_result(s, seating.session_id)
                if state == SessionState.REVEALED and not signed
                else None
            )
            work.append((seating.session_id, state, expert, list(open_requests), result))
    for session_id, state, expert, open_requests, result in work:
        expert_work.append(
            CheckinResult(
                session_id=str(session_id),
                accepted=True,
                message=f"专家 {expert} 已在本工位签到",
                attempts_left=None,
            )
        )
        brief = await briefing(hub, seat_key, session_id, expert)
        if brief is not None:
            expert_work.append(brief)
        if state == SessionState.DEVIATION_REVIEW:
            expert_work.extend(review_notice(row) for row in open_requests)
        if result is not None:
            expert_work.extend(
                msg for _, msg in report_messages(session_id, result, {expert: seat_key})
            )
        expert_work.extend(await chair_ballots.expert_notices(hub, seat_key, session_id))
    # Taken last: if anything above failed, the manifest still waits for the next connection.
    manifest = chunks.take_waiting(seat_key) if chunks is not None else None
    if manifest is not None and chunks is not None:
        await _delivered(hub, seat_key, manifest, chunks, now)
    elif chunks is not None:
        # Released through another hub process, or before this one started: handed over here.
        manifest = await chapter_handover.take_over(hub, seat_key, chunks, now=now)
    return [*notices, *([manifest] if manifest is not None else []), *expert_work]


async def _delivered(
    hub: Services, seat_key: str, manifest: ChapterManifest, chunks: ChapterChunks, now: datetime
) -> None:
    """Record the waiting manifest as sent (the caller hands it to the seat's channel next);
    a failure to record never keeps the manifest from the seat."""
    try:
        await deliveries.record_progress(
            hub,
            seat_key,
            manifest,
            sent=True,
            received=chunks.completed(seat_key) is not None,
            now=now,
        )
    except Exception:
        log.exception("seat.delivery_record_failed", seat_key=seat_key)
