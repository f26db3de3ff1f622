"""The expert's work over the seat link: check-in, deviation review answers, report signatures.

The seat websocket (``evaluation_hub.seats.websocket``) hands this module the seat's
``checkin_request``, ``commitment``, ``review_answer`` and ``report_signature`` messages; each is judged by the
same store functions the host API uses (check-in rules in ``evaluation_hub.checkin.store``, the
evaluation engine's use cases in ``evaluation_hub.evaluation`` with the seat as the actor, a
``SeatActor`` that may act only for the expert seated at it) and answered on the same link.
The review round and the reveal push their requests and the result to the experts' seats
themselves (``hub.seats``); ``seat_connected`` sends what a reconnecting seat missed.

Refusals reach the expert as a slug and the store's Chinese message, never an internal error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from sqlalchemy import select

from evaluation_hub.api.keys import CLOCK, CONFIG, DB, SEALER, SERVICES
from evaluation_hub.booking import rules as booking_rules
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.checkin import store as checkin_store
from evaluation_hub.db.models import (
    Booking,
    BookingSeat,
    CheckinCredential,
    EvaluationSession,
    Expert,
    Seat,
    Venue,
)
from evaluation_hub.errors import ProblemError
from evaluation_hub.evaluation.briefing import expert_briefing
from evaluation_hub.evaluation.context import SeatActor
from evaluation_hub.evaluation.models import (
    EvaluationPackageRow,
    ReportSignatureRow,
    ReviewRequestRow,
)
from evaluation_hub.evaluation.result import report_messages
from evaluation_hub.evaluation.review import answer_request, review_notice
from evaluation_hub.evaluation.signatures import sign_report
from evaluation_hub.seats.models import SeatEnrolment
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.states import SessionState
from seat_protocol.messages import (
    AppMessage,
    CheckinRequest,
    CheckinResult,
    CommitmentDecision,
    ExpertBriefing,
    ReportSignature,
    RequestResult,
    ReviewAnswer,
)

if TYPE_CHECKING:
    from evaluation_hub.seats.websocket import SeatHub

__all__ = ["ExpertMessage", "handle", "seat_connected"]

log = structlog.get_logger(__name__)

ExpertMessage = CheckinRequest | CommitmentDecision | ReviewAnswer | ReportSignature

_FAILED = "主场枢纽暂时无法处理该请求，请稍后重试；如持续失败请联系主场工作人员"


def _session_number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 12 else None


async def _seat_row_id(app: web.Application, seat_key: str) -> int | None:
    async with app[DB].read() as s:
        found = await s.execute(
            select(SeatEnrolment.seat_id).where(
                SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "approved"
            )
        )
        seat_id: int | None = found.scalars().first()
        return seat_id


async def _seated(app: web.Application, session_id: int, seat_key: str) -> str | None:
    async with app[DB].read() as s:
        found = await seatings(s, session_id=session_id, seat_key=seat_key, with_expert=True)
    return found[0].expert_code if found else None


async def briefing(
    app: web.Application, seat_key: str, session_id: int, expert: str
) -> ExpertBriefing | None:
    return await expert_briefing(app[SERVICES], SeatActor(seat_key), session_id, expert)


async def _check_in(app: web.Application, seat_key: str, msg: CheckinRequest) -> list[AppMessage]:
    def refused(message: str, attempts_left: int | None = None) -> list[AppMessage]:
        return [
            CheckinResult(
                session_id=msg.session_id,
                accepted=False,
                message=message,
                attempts_left=attempts_left,
            )
        ]

    number = _session_number(msg.session_id)
    expert = msg.expert_code.strip()
    # Checked before the PIN: a wrong session number must not use up one of its attempts.
    seated = None if number is None else await _seated(app, number, seat_key)
    if number is None or seated is None:
        return refused(f"本工位没有评标会 #{msg.session_id} 的预约，请核对评标会编号")
    seat_id = await _seat_row_id(app, seat_key)
    if seat_id is None:
        return refused("本工位终端尚未获批准，不能签到")
    try:
        await checkin_store.check_in(
            app[DB],
            seat_id=seat_id,
            expert_code=expert,
            pin=msg.pin.strip(),
            sealer=app[SEALER],
            now=app[CLOCK](),
            policy=app[CONFIG].regulation.checkin,
        )
    except ProblemError as exc:
        left = exc.extra.get("attempts_left")
        return refused(exc.detail, left if isinstance(left, int) else None)
    out: list[AppMessage] = [
        CheckinResult(
            session_id=str(number),
            accepted=True,
            message=f"专家 {expert} 签到成功",
            attempts_left=None,
        )
    ]
    brief = await briefing(app, seat_key, number, expert)
    if brief is not None:
        out.append(brief)
    return out


async def _answer(app: web.Application, seat_key: str, msg: ReviewAnswer) -> list[AppMessage]:
    ref = f"review:{msg.request_id}"
    number = _session_number(msg.session_id)
    if number is None:
        return [
            RequestResult(ref=ref, accepted=False, code="bad-session", message="评标会编号无效")
        ]
    try:
        await answer_request(
            app[SERVICES],
            SeatActor(seat_key),
            number,
            msg.request_id,
            msg.answer,
            msg.reason,
            now=app[CLOCK](),
        )
    except ProblemError as exc:
        return [RequestResult(ref=ref, accepted=False, code=exc.code, message=exc.detail)]
    return [RequestResult(ref=ref, accepted=True, code="answered", message="复核答复已记录")]


async def _sign(app: web.Application, seat_key: str, msg: ReportSignature) -> list[AppMessage]:
    ref = f"signature:{msg.session_id}"
    number = _session_number(msg.session_id)
    expert = None if number is None else await _seated(app, number, seat_key)
    if number is None or expert is None:
        return [
            RequestResult(
                ref=ref,
                accepted=False,
                code="not-seated",
                message=f"本工位没有评标会 #{msg.session_id} 的专家，不能签署",
            )
        ]
    try:
        await sign_report(
            app[SERVICES],
            SeatActor(seat_key),
            number,
            expert=expert,
            decision=msg.decision,
            reason=msg.reason,
            public_key=msg.public_key,
            signature=msg.signature,
            now=app[CLOCK](),
        )
    except ProblemError as exc:
        return [RequestResult(ref=ref, accepted=False, code=exc.code, message=exc.detail)]
    return [RequestResult(ref=ref, accepted=True, code="signed", message="评标报告签署已记录")]


async def _commitment(
    app: web.Application, seat_key: str, msg: CommitmentDecision
) -> list[AppMessage]:
    """Record the expert's integrity commitment or recusal on their committee membership
    (``sessions.formation``); a recusal releases this seat, and drawing a replacement is
    then the host's to do."""
    ref = f"commitment:{msg.session_id}"
    number = _session_number(msg.session_id)
    expert = None if number is None else await _seated(app, number, seat_key)
    if number is None or expert is None:
        return [
            RequestResult(
                ref=ref,
                accepted=False,
                code="not-seated",
                message=f"本工位没有评标会 #{msg.session_id} 的专家，不能记录承诺或回避",
            )
        ]
    recused = msg.decision == "recused"
    try:
        async with app[DB].write() as s:
            await formation.decide(
                s,
                number,
                expert,
                msg.decision,
                msg.reason,
                actor=f"seat:{seat_key}",
                host=None,
                now=app[CLOCK](),
            )
    except ProblemError as exc:
        return [RequestResult(ref=ref, accepted=False, code=exc.code, message=exc.detail)]
    message = (
        "已记录回避申请，请等待主场工作人员安排；本工位不再评分"
        if recused
        else "已记录评标纪律承诺"
    )
    return [RequestResult(ref=ref, accepted=True, code=msg.decision, message=message)]


async def handle(app: web.Application, hub: SeatHub, seat_key: str, msg: ExpertMessage) -> None:
    """Judge one request of the seat and send the answer(s) to it."""
    try:
        if isinstance(msg, CheckinRequest):
            answers = await _check_in(app, seat_key, msg)
        elif isinstance(msg, ReviewAnswer):
            answers = await _answer(app, seat_key, msg)
        elif isinstance(msg, CommitmentDecision):
            answers = await _commitment(app, seat_key, msg)
        else:
            answers = await _sign(app, seat_key, msg)
    except Exception:
        log.exception("seat.expert_request_failed", seat_key=seat_key, message=msg.type)
        if isinstance(msg, CheckinRequest):
            answers = [
                CheckinResult(
                    session_id=msg.session_id, accepted=False, message=_FAILED, attempts_left=None
                )
            ]
        else:
            if isinstance(msg, ReviewAnswer):
                ref = f"review:{msg.request_id}"
            elif isinstance(msg, CommitmentDecision):
                ref = f"commitment:{msg.session_id}"
            else:
                ref = f"signature:{msg.session_id}"
            answers = [RequestResult(ref=ref, accepted=False, code="failed", message=_FAILED)]
    for answer in answers:
        await hub.send(seat_key, answer)


async def _send_report(
    app: web.Application,
    hub: SeatHub,
    session_id: int,
    seats: dict[str, str],
) -> int:
    async with app[DB].read() as s:
        result = (
            await s.execute(
                select(EvaluationPackageRow.result).where(
                    EvaluationPackageRow.session_id == session_id
                )
            )
        ).scalar_one_or_none()
    if result is None:
        return 0
    sent = 0
    for seat_key, msg in report_messages(session_id, result, seats):
        if await hub.send(seat_key, msg) is not None:
            sent += 1
    return sent


async def seat_connected(app: web.Application, hub: SeatHub, seat_key: str) -> None:
    """Bring a (re)connected seat up to date: the check-in of its checked-in expert with the
    briefing, the review requests still unanswered, and the result still to be signed.

    The seat's page keeps its state in memory, so after a restart of either end this is how
    the expert finds the page as it was; repeats are harmless (the page keys them by id).
    """
    venue_code, dot, label = seat_key.partition(".")
    if not dot:
        return
    try:
        async with app[DB].read() as s:
            rows = (
                await s.execute(
                    select(EvaluationSession.id, EvaluationSession.state, Expert.code)
                    .select_from(BookingSeat)
                    .join(Booking, Booking.id == BookingSeat.booking_id)
                    .join(EvaluationSession, EvaluationSession.id == Booking.session_id)
                    .join(Seat, Seat.id == BookingSeat.seat_id)
                    .join(Venue, Venue.id == Seat.venue_id)
                    .join(Expert, Expert.id == BookingSeat.expert_id)
                    .join(CheckinCredential, CheckinCredential.booking_seat_id == BookingSeat.id)
                    .where(
                        Venue.code == venue_code,
                        Seat.label == label,
                        BookingSeat.live.is_(True),
                        Booking.state.in_(tuple(booking_rules.LIVE_STATES)),
                        CheckinCredential.used_at.is_not(None),
                    )
                )
            ).all()
            work = []
            for session_id, state, expert in rows:
                open_requests = (
                    (
                        await s.execute(
                            select(ReviewRequestRow)
                            .where(
                                ReviewRequestRow.session_id == session_id,
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
                            ReportSignatureRow.session_id == session_id,
                            ReportSignatureRow.expert_code == expert,
                        )
                    )
                ).first() is not None
                work.append((session_id, state, expert, list(open_requests), signed))
        for session_id, state, expert, open_requests, signed in work:
            await hub.send(
                seat_key,
                CheckinResult(
                    session_id=str(session_id),
                    accepted=True,
                    message=f"专家 {expert} 已在本工位签到",
                    attempts_left=None,
                ),
            )
            brief = await briefing(app, seat_key, session_id, expert)
            if brief is not None:
                await hub.send(seat_key, brief)
            if state == SessionState.DEVIATION_REVIEW:
                for row in open_requests:
                    await hub.send(seat_key, review_notice(row))
            if state == SessionState.REVEALED and not signed:
                await _send_report(app, hub, session_id, {expert: seat_key})
    except Exception:
        log.exception("seat.expert_resync_failed", seat_key=seat_key)
