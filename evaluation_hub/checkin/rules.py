"""Pure check-in rules: may this expert check in at this seat now with this PIN?

A PIN is issued per (booked seat, expert), shown once to the host, and stored only as a keyed
MAC (the key is not in the database, so a copied database does not give the PINs away to an
offline search of the one million six-digit codes). It is accepted only at the booked seat,
only within the booked window (from a configurable lead time before the start), only until it
is used once, and only for a limited number of wrong attempts. No I/O, no clock: callers pass
``now`` and the stored facts.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from evaluation_hub.booking.rules import format_local
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput

__all__ = ["PIN_DIGITS", "CheckinCredential", "CheckinPolicy", "Outcome", "decide", "new_pin"]

PIN_DIGITS = 6


@dataclass(frozen=True)
class CheckinPolicy:
    max_attempts: int = 5
    # Experts may check in this long before the window starts (to test camera and microphone).
    lead: timedelta = timedelta(minutes=60)


@dataclass(frozen=True)
class CheckinCredential:
    """What is stored for one expert's PIN at one booked seat."""

    seat_id: int
    expert_code: str
    pin_mac: str
    window_start: datetime
    window_end: datetime
    attempts_left: int
    used_at: datetime | None
    live: bool  # the booking still holds the seat


@dataclass(frozen=True)
class Outcome:
    """``accepted`` or not; ``attempts_left`` to store; a refusal's problem to raise."""

    accepted: bool
    attempts_left: int
    refusal: Exception | None = None


def new_pin(random_below: int) -> str:
    """A PIN from a uniform random integer below 10**PIN_DIGITS (the caller draws it)."""
    if not 0 <= random_below < 10**PIN_DIGITS:
        raise ValueError("random_below out of range")
    return f"{random_below:0{PIN_DIGITS}d}"


def decide(
    credential: CheckinCredential | None,
    *,
    seat_id: int,
    expert_code: str,
    pin_mac: str,
    now: datetime,
    policy: CheckinPolicy,
) -> Outcome:
    """Judge one check-in attempt. Wrong PINs use up attempts; nothing else does."""
    if credential is None or credential.expert_code != expert_code:
        return Outcome(
            False,
            0,
            Forbidden("checkin-not-booked", f"专家 {expert_code} 未预约本工位，不能在此签到"),
        )
    if credential.seat_id != seat_id:
        return Outcome(
            False,
            credential.attempts_left,
            Forbidden(
                "checkin-wrong-seat", f"专家 {expert_code} 预约的不是本工位，请到预约的工位签到"
            ),
        )
    if not credential.live:
        return Outcome(
            False,
            credential.attempts_left,
            Conflict("checkin-booking-ended", "该工位的预约已取消或已释放，不能签到"),
        )
    if credential.used_at is not None:
        return Outcome(
            False,
            credential.attempts_left,
            Conflict(
                "checkin-used",
                f"签到码已于 {format_local(credential.used_at)} 使用，每个签到码只能使用一次",
            ),
        )
    opens = credential.window_start - policy.lead
    if now < opens:
        return Outcome(
            False,
            credential.attempts_left,
            Conflict("checkin-too-early", f"签到尚未开始：最早可于 {format_local(opens)} 签到"),
        )
    if now >= credential.window_end:
        return Outcome(
            False,
            credential.attempts_left,
            Conflict(
                "checkin-expired",
                f"签到码已过期：预约时段已于 {format_local(credential.window_end)} 结束",
            ),
        )
    if credential.attempts_left <= 0:
        return Outcome(
            False,
            0,
            Conflict("checkin-locked", "签到码错误次数过多已锁定，请联系主场重新发放签到码"),
        )
    if not hmac.compare_digest(credential.pin_mac, pin_mac):
        left = credential.attempts_left - 1
        message = (
            f"签到码错误，还可尝试 {left} 次"
            if left
            else "签到码错误次数过多已锁定，请联系主场重新发放签到码"
        )
        return Outcome(False, left, InvalidInput("checkin-wrong-pin", message))
    return Outcome(True, credential.attempts_left)
