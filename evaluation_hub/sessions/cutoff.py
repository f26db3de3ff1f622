"""开评分离: an evaluation may not run past the evening cut-off (22:00 local by default).

The hub warns the host ``warn_before`` (30 min) ahead, and at the cut-off pauses a session that
is still on (check-in, scoring, deviation review) with the rule as its reason; the host resumes
it on the next working day. A booking window that runs past the cut-off is refused.

:func:`decide` is the whole rule as a pure function of (session state, now, rules): the timer
(``sessions.timers``) asks it and performs what it answers. Pure: ``now`` comes in; local
dates and times from ``evaluation_hub.localtime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from evaluation_hub import localtime
from evaluation_hub.errors import ConfigError
from evaluation_hub.sessions.states import PAUSABLE

__all__ = ["CutoffDecision", "EveningCutoff", "cutoff_on", "decide", "window_refusal"]


@dataclass(frozen=True)
class EveningCutoff:
    """The evening cut-off (``at``, local time) and how long ahead the host is warned."""

    at: time = time(22, 0)
    warn_before: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if self.at.tzinfo is not None or self.at.second or self.at.microsecond:
            raise ConfigError(f"evening_cutoff at must be a local HH:MM time, got {self.at}")
        if not timedelta(0) < self.warn_before < timedelta(hours=12):
            raise ConfigError(
                f"evening_cutoff warn_before must lie between 0 and 12 h, got {self.warn_before}"
            )

    @property
    def rule(self) -> str:
        """The rule, as it is named in pauses, warnings and refusals (Simplified Chinese)."""
        return f"开评分离：评标活动不得超过当日 {self.at.strftime('%H:%M')}"


def cutoff_on(moment: datetime, rules: EveningCutoff) -> datetime:
    """The cut-off of the local day ``moment`` falls on."""
    return localtime.at_local(localtime.day_of(moment), rules.at)


@dataclass(frozen=True)
class CutoffDecision:
    """``warn``: the cut-off is within ``warn_before``; ``pause``: it has passed."""

    kind: Literal["warn", "pause"]
    cutoff: datetime
    message: str


def decide(
    state: str, now: datetime, rules: EveningCutoff, resume_on: date | None = None
) -> CutoffDecision | None:
    """What the rule asks of a session in ``state`` at ``now``; None when nothing.
    ``resume_on``: the next working day, named in the pause (None when the calendar cannot
    tell it)."""
    if state not in PAUSABLE:
        return None
    cutoff = cutoff_on(now, rules)
    hm = localtime.format_minutes(cutoff)
    if now >= cutoff:
        resume = f"下一工作日（{resume_on.isoformat()}）" if resume_on else "下一工作日"
        return CutoffDecision(
            "pause", cutoff, f"{rules.rule}；已于 {hm} 自动暂停，请于{resume}恢复评标"
        )
    if now >= cutoff - rules.warn_before:
        minutes = int((cutoff - now).total_seconds() // 60)
        return CutoffDecision(
            "warn",
            cutoff,
            f"{rules.rule}；距 {hm} 还有 {minutes} 分钟，届时评标会将自动暂停",
        )
    return None


def window_refusal(start: datetime, end: datetime, rules: EveningCutoff) -> str | None:
    """Why an evaluation window from ``start`` to ``end`` breaks the rule, or None if it does
    not: it may not end after the cut-off of the day it starts on."""
    cutoff = cutoff_on(start, rules)
    if end <= cutoff:
        return None
    return (
        f"{rules.rule}，评标时段 {localtime.format_minutes(start)}–"
        f"{localtime.format_minutes(end)[-5:]} 超过了当日 {rules.at.strftime('%H:%M')}；"
        "请缩短时段，或将其余评审安排在下一工作日"
    )
