"""Booking rules from a provincial dispatch system, as pure functions (no I/O, no clock).

What this module decides: whether an evaluation window is acceptable, whether two windows
overlap, which state changes a booking (预约) may make, and whether a confirmation assigns the
right seats. It never reads the database or the clock: callers pass ``now`` and the facts.

Windows are half-open ``[starts_at, ends_at)``: a window ending at 13:00 and one starting at
13:00 merely touch and do not overlap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from evaluation_hub import localtime
from evaluation_hub.errors import Conflict, InvalidInput

__all__ = [
    "LIVE_STATES",
    "STATE_NAMES",
    "Transition",
    "Window",
    "check_cancel_reason",
    "check_confirmation_seats",
    "check_placement",
    "expires_at",
    "format_local",
    "is_expired",
    "next_state",
    "overlaps",
]

# A booking in one of these states holds its seats.
LIVE_STATES = frozenset({"requested", "confirmed", "checked_in"})

STATE_NAMES = {
    "requested": "待确认",
    "confirmed": "已确认",
    "checked_in": "已签到",
    "released": "已释放",
    "rejected": "已拒绝",
    "cancelled": "已取消",
    "expired": "已过期",
    "changed": "已变更",
}

ACTION_NAMES = {
    "confirm": "确认",
    "reject": "拒绝",
    "cancel": "取消",
    "change": "变更",
    "check_in": "签到",
    "release": "释放",
    "expire": "置为过期",
}


@dataclass(frozen=True)
class Transition:
    action: str
    from_state: str
    to_state: str


# (state, action) -> new state. Anything absent is refused.
_TRANSITIONS: dict[tuple[str, str], str] = {
    ("requested", "confirm"): "confirmed",
    ("requested", "reject"): "rejected",
    ("requested", "expire"): "expired",
    ("confirmed", "cancel"): "cancelled",
    ("confirmed", "change"): "changed",
    ("confirmed", "check_in"): "checked_in",
    ("checked_in", "release"): "released",
}


def format_local(dt: datetime) -> str:
    return localtime.format_minutes(dt)


@dataclass(frozen=True)
class Window:
    """An evaluation window ``[starts_at, ends_at)`` in aware datetimes."""

    starts_at: datetime
    ends_at: datetime

    @classmethod
    def checked(cls, starts_at: datetime, ends_at: datetime) -> Window:
        """Build a window, enforcing the dispatch rules: aware times, positive length, one day."""
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise InvalidInput("naive-datetime", "时间必须带时区，例如 2026-12-01T09:00:00+08:00")
        if ends_at <= starts_at:
            raise InvalidInput(
                "window-order",
                f"评标时段的结束时间（{format_local(ends_at)}）必须晚于开始时间（{format_local(starts_at)}）",
            )
        if localtime.day_of(starts_at) != localtime.day_of(ends_at):
            raise InvalidInput(
                "window-not-same-day",
                f"评标时段必须在同一天内开始和结束：{format_local(starts_at)} 至 {format_local(ends_at)} "
                "跨越了午夜，请拆分为两个时段（开评分离）",
            )
        return cls(starts_at, ends_at)

    def describe(self) -> str:
        return f"{format_local(self.starts_at)}–{localtime.format_minutes(self.ends_at)[-5:]}"


def overlaps(a: Window, b: Window) -> bool:
    """True when the half-open windows share any instant; touching windows do not overlap."""
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


def next_state(booking_id: int, state: str, action: str) -> Transition:
    """The transition ``action`` makes from ``state``, or a 409 naming what is allowed."""
    target = _TRANSITIONS.get((state, action))
    if target is None:
        allowed = sorted({s for (s, a) in _TRANSITIONS if a == action})
        allowed_names = "、".join(f"「{STATE_NAMES[s]}」" for s in allowed)
        raise Conflict(
            "booking-state",
            f"预约 #{booking_id} 当前状态为「{STATE_NAMES[state]}」，只有{allowed_names}的预约"
            f"可以{ACTION_NAMES[action]}",
            booking_id=booking_id,
            state=state,
        )
    return Transition(action, state, target)


def check_cancel_reason(reason: str | None) -> str:
    """A cancellation needs a reason a person wrote."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("reason-required", "取消或变更预约必须填写原因")
    return text


def check_confirmation_seats(
    booking_id: int,
    seat_count: int,
    seat_ids: Sequence[int],
    venue_seat_ids: Iterable[int],
    venue_name: str,
) -> list[int]:
    """A confirmation assigns exactly ``seat_count`` distinct seats of the booked venue."""
    dupes = sorted(s for s, n in Counter(seat_ids).items() if n > 1)
    if dupes:
        raise InvalidInput(
            "seat-duplicate",
            f"确认的工位不能重复：工位 {', '.join(f'#{s}' for s in dupes)} 出现了多次",
        )
    if len(seat_ids) != seat_count:
        raise InvalidInput(
            "seat-count",
            f"预约 #{booking_id} 申请了 {seat_count} 个工位，确认时必须指定恰好 {seat_count} 个"
            f"不同的工位，实际指定了 {len(seat_ids)} 个",
        )
    own = set(venue_seat_ids)
    foreign = [s for s in seat_ids if s not in own]
    if foreign:
        raise InvalidInput(
            "seat-not-at-venue",
            f"工位 {', '.join(f'#{s}' for s in foreign)} 不属于场地「{venue_name}」",
        )
    return sorted(seat_ids)


def check_placement(
    expert_code: str, placement: str, *, at_host: bool, venue_name: str, host_venue_name: str
) -> None:
    """A member sits at a seat of their own side: an away member (客场专家) never at the host
    venue, a host member (主场专家) only at the host venue."""
    if placement == "away" and at_host:
        raise InvalidInput(
            "away-expert-at-host",
            f"专家 {expert_code} 是客场专家，不能安排在主场「{venue_name}」的工位",
        )
    if placement == "host" and not at_host:
        raise InvalidInput(
            "host-expert-away",
            f"专家 {expert_code} 是主场专家，只能安排在主场「{host_venue_name}」的工位，"
            f"不能安排在「{venue_name}」",
        )


def expires_at(requested_at: datetime, ttl: timedelta, window_start: datetime) -> datetime:
    """An unconfirmed request lapses after ``ttl``, and never later than the window's start."""
    return min(requested_at + ttl, window_start)


def is_expired(state: str, expiry: datetime, now: datetime) -> bool:
    return state == "requested" and now >= expiry
