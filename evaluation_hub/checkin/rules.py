"""Pure check-in rules: may this expert check in at this seat now with this PIN? And does
the seat's live picture at that moment show the expert, and only them (在场核验)?

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
from media.conduct import Observation

__all__ = [
    "PIN_DIGITS",
    "PRESENCE_NAMES",
    "CheckinCredential",
    "CheckinPolicy",
    "Outcome",
    "PresenceVerdict",
    "decide",
    "judge_presence",
    "new_pin",
]

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


#: How a check-in's presence reads on the pages (签到在场核验).
PRESENCE_NAMES = {
    "confirmed": "已确认本人在场",
    "unconfirmed": "未确认本人在场",
    "confirmed_by_hand": "已人工确认在场",
}


@dataclass(frozen=True)
class PresenceVerdict:
    """What the seat's live picture showed at check-in. ``finding`` is a stable slug
    (``one-face``, ``no-picture``, ``dark``, ``no-face``, ``several-faces``), ``note`` says it
    in Chinese, ``faces`` is the count seen (None when there was no picture to count in)."""

    confirmed: bool
    finding: str
    note: str
    faces: int | None

    @property
    def presence(self) -> str:
        return "confirmed" if self.confirmed else "unconfirmed"

    @property
    def serious(self) -> bool:
        """Another person in view, or a covered camera, can hide who is at the seat."""
        return self.finding in ("several-faces", "dark")


def judge_presence(picture: Observation | None) -> PresenceVerdict:
    """Presence is confirmed only when the conduct monitor's latest look at the seat's live
    picture (``None``: no live picture) shows exactly one face."""
    if picture is None:
        return PresenceVerdict(False, "no-picture", "未检测到画面", None)
    if picture.dark:
        return PresenceVerdict(False, "dark", "画面过暗或摄像头被遮挡", None)
    if picture.faces == 0:
        return PresenceVerdict(False, "no-face", "画面中未检测到人脸", 0)
    if picture.faces > 1:
        return PresenceVerdict(
            False, "several-faces", f"画面中检测到 {picture.faces} 张人脸", picture.faces
        )
    return PresenceVerdict(True, "one-face", "画面中检测到一张人脸", 1)
