"""The expert's requests from a seat (专家在工位的操作): check-in, the integrity commitment or
recusal, deviation review answers and the report signature.

The seat websocket shell (``evaluation_hub.api.seat_link``) hands each such message to one use
case here, with the authenticated seat's key and ``now``, and sends back the messages it
returns. Each is judged by the same stores the host uses: check-in rules in
``evaluation_hub.checkin.store``, the committee in ``evaluation_hub.sessions.formation``, the
evaluation engine (``evaluation_hub.evaluation.review``, ``.signatures``, ``.briefing``) with the seat as the actor (a
``SeatActor`` may act only for the expert seated at it). Who sits where is read from
``booking.seatings``.

Refusals reach the expert as a slug and the store's Chinese message; an internal failure is
logged by the shell and answered with :func:`failure_answer`, never with its details.
"""

from __future__ import annotations

from datetime import datetime

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.checkin import store as checkin_store
from evaluation_hub.errors import ProblemError
from evaluation_hub.evaluation import review, signatures
from evaluation_hub.evaluation.briefing import expert_briefing
from evaluation_hub.evaluation.context import SeatActor
from evaluation_hub.seats import chair_ballots
from evaluation_hub.seats.enrolment import approved_seat_id
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation
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

__all__ = [
    "ExpertRequest",
    "answer_review",
    "briefing",
    "check_in",
    "decide_commitment",
    "failure_answer",
    "sign_report",
]

ExpertRequest = CheckinRequest | CommitmentDecision | ReviewAnswer | ReportSignature

_FAILED = "主场枢纽暂时无法处理该请求，请稍后重试；如持续失败请联系主场工作人员"


def _session_number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 12 else None


async def _seated_expert(hub: Services, session_id: int, seat_key: str) -> str | None:
    """The code of the expert seated at the seat for this session, if any."""
    async with hub.db.read() as s:
        found = await seatings(s, session_id=session_id, seat_key=seat_key, with_expert=True)
    return found[0].expert_code if found else None


async def briefing(
    hub: Services, seat_key: str, session_id: int, expert: str
) -> ExpertBriefing | None:
    """What the seat of a checked-in expert needs to score (None before the package)."""
    return await expert_briefing(hub, SeatActor(seat_key), session_id, expert)


async def check_in(
    hub: Services, seat_key: str, msg: CheckinRequest, *, now: datetime
) -> list[AppMessage]:
    """Check the expert in at this seat with their PIN; on success, also their briefing."""

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
    seated = None if number is None else await _seated_expert(hub, number, seat_key)
    if number is None or seated is None:
        return refused(f"本工位没有评标会 #{msg.session_id} 的预约，请核对评标会编号")
    async with hub.db.read() as s:
        seat_id = await approved_seat_id(s, seat_key)
    if seat_id is None:
        return refused("本工位终端尚未获批准，不能签到")
    try:
        await checkin_store.check_in(
            hub, seat_id=seat_id, expert_code=expert, pin=msg.pin.strip(), now=now
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
    brief = await briefing(hub, seat_key, number, expert)
    if brief is not None:
        out.append(brief)
    # Whether the seat's picture confirmed presence, and where the chair election stands.
    out.extend(await chair_ballots.expert_notices(hub, seat_key, number))
    return out


async def decide_commitment(
    hub: Services, seat_key: str, msg: CommitmentDecision, *, now: datetime
) -> list[AppMessage]:
    """Record the expert's integrity commitment or recusal on their committee membership
    (``sessions.formation``); a recusal releases this seat, and drawing a replacement is
    then the host's to do."""
    ref = f"commitment:{msg.session_id}"
    number = _session_number(msg.session_id)
    expert = None if number is None else await _seated_expert(hub, number, seat_key)
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
        await formation.decide_at_seat(
            hub, seat_key, number, expert, msg.decision, msg.reason, now=now
        )
    except ProblemError as exc:
        return [RequestResult(ref=ref, accepted=False, code=exc.code, message=exc.detail)]
    message = (
        "已记录回避申请，请等待主场工作人员安排；本工位不再评分"
        if recused
        else "已记录评标纪律承诺"
    )
    return [RequestResult(ref=ref, accepted=True, code=msg.decision, message=message)]


async def answer_review(
    hub: Services, seat_key: str, msg: ReviewAnswer, *, now: datetime
) -> list[AppMessage]:
    """The seated expert's answer to a deviation review request."""
    ref = f"review:{msg.request_id}"
    number = _session_number(msg.session_id)
    if number is None:
        return [
            RequestResult(ref=ref, accepted=False, code="bad-session", message="评标会编号无效")
        ]
    try:
        await review.answer_request(
            hub, SeatActor(seat_key), number, msg.request_id, msg.answer, msg.reason, now=now
        )
    except ProblemError as exc:
        return [RequestResult(ref=ref, accepted=False, code=exc.code, message=exc.detail)]
    return [RequestResult(ref=ref, accepted=True, code="answered", message="复核答复已记录")]


async def sign_report(
    hub: Services, seat_key: str, msg: ReportSignature, *, now: datetime
) -> list[AppMessage]:
    """The seated expert's signature (agreement or dissent) on the revealed result."""
    ref = f"signature:{msg.session_id}"
    number = _session_number(msg.session_id)
    expert = None if number is None else await _seated_expert(hub, number, seat_key)
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
        await signatures.sign_report(
            hub,
            SeatActor(seat_key),
            number,
            expert=expert,
            decision=msg.decision,
            reason=msg.reason,
            public_key=msg.public_key,
            signature=msg.signature,
            now=now,
        )
    except ProblemError as exc:
        return [RequestResult(ref=ref, accepted=False, code=exc.code, message=exc.detail)]
    return [RequestResult(ref=ref, accepted=True, code="signed", message="评标报告签署已记录")]


def failure_answer(msg: ExpertRequest) -> AppMessage:
    """What the seat hears when its request failed inside the hub (details stay in the log)."""
    if isinstance(msg, CheckinRequest):
        return CheckinResult(
            session_id=msg.session_id, accepted=False, message=_FAILED, attempts_left=None
        )
    if isinstance(msg, ReviewAnswer):
        ref = f"review:{msg.request_id}"
    elif isinstance(msg, CommitmentDecision):
        ref = f"commitment:{msg.session_id}"
    else:
        ref = f"signature:{msg.session_id}"
    return RequestResult(ref=ref, accepted=False, code="failed", message=_FAILED)
