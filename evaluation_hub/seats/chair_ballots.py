"""The committee at the seat (工位上的评标委员会事务): the expert's chair ballot, and what a
checked-in expert is told about the committee — their presence at check-in and where the chair
election stands.

The seat websocket shell hands each ``chair_ballot`` to :func:`cast_ballot` with the
authenticated seat's key and ``now`` and sends back what it returns (a ``request_result``
``chair:<session>``); the election itself is ``sessions.chair`` (which then tells every seat
of the session). :func:`expert_notices` is what a seat hears after its expert's check-in and
again whenever it (re)connects (``seats.expert_requests``, ``seats.catch_up``).
"""

from __future__ import annotations

from datetime import datetime

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.checkin.presence import seat_presence
from evaluation_hub.errors import ProblemError
from evaluation_hub.services import Services
from evaluation_hub.sessions import chair
from seat_protocol.messages import AppMessage, ChairBallot, RequestResult

__all__ = ["cast_ballot", "expert_notices", "failure_answer"]

_FAILED = "主场枢纽暂时无法记录投票，请稍后重试；如持续失败请联系主场工作人员"


def _ref(msg: ChairBallot) -> str:
    return f"chair:{msg.session_id}"


def _session_number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 12 else None


async def cast_ballot(
    hub: Services, seat_key: str, msg: ChairBallot, *, now: datetime
) -> list[AppMessage]:
    """Record the vote of the expert checked in at this seat."""
    number = _session_number(msg.session_id)
    expert = None
    if number is not None:
        async with hub.db.read() as s:
            found = await seatings(s, session_id=number, seat_key=seat_key, checked_in=True)
        expert = found[0].expert_code if found else None
    if number is None or expert is None:
        return [
            RequestResult(
                ref=_ref(msg),
                accepted=False,
                code="not-seated",
                message=f"本工位没有在评标会 #{msg.session_id} 签到的专家，不能投票",
            )
        ]
    try:
        cast = await chair.cast_at_seat(
            hub, seat_key, number, expert, msg.round, msg.candidate.strip(), now=now
        )
    except ProblemError as exc:
        return [RequestResult(ref=_ref(msg), accepted=False, code=exc.code, message=exc.detail)]
    message = f"已记录您在第 {cast.round} 轮的投票"
    outcome = cast.outcome
    if outcome is not None and outcome.chair is not None:
        message += f"；第 {outcome.round} 轮计票结束，{outcome.chair} 当选主任委员"
    elif outcome is not None:
        message += f"；第 {outcome.round} 轮票数相同，进入第 {outcome.round + 1} 轮"
    code = "already-voted" if cast.repeated else "voted"
    return [RequestResult(ref=_ref(msg), accepted=True, code=code, message=message)]


def failure_answer(msg: ChairBallot) -> AppMessage:
    """What the seat hears when its ballot failed inside the hub (details stay in the log)."""
    return RequestResult(ref=_ref(msg), accepted=False, code="failed", message=_FAILED)


async def expert_notices(
    hub: Services, seat_key: str, session_id: int | None = None
) -> list[AppMessage]:
    """For each expert checked in at the seat (in one session, or any): their presence at
    check-in and where the chair election stands."""
    told: list[AppMessage] = []
    async with hub.db.read() as s:
        presence = await seat_presence(s, seat_key, session_id)
        told.extend(presence)
        sessions = sorted(
            {
                x.session_id
                for x in await seatings(s, seat_key=seat_key, checked_in=True)
                if session_id in (None, x.session_id)
            }
        )
        for number in sessions:
            told.extend(notice for _, notice in await chair.seat_round_notices(s, number, seat_key))
    return told
