"""Copy notices (抄送告知) and away-site handovers (客场资料移交): working-day deadlines.

Under joint supervision (主场为主、客场为辅) two things are owed within a number of working
days, both counted with ``workdays.add_working_days`` (the triggering day is day 0):

* a :class:`CopyNotice`: a finding about an expert seated at an away venue is copied to that
  venue's supervising department, due 7 working days after the case closes;
* a :class:`Handover`: after the session the away venue hands its records (its audit slice,
  recordings, check-in records) to the host, due 5 working days after the session.

The numbers are configuration (:class:`SupervisionDeadlines`). The due date is computed once,
when the notice is created, and stored with it: a later calendar update never moves a deadline
that has already been announced. Each is ``pending`` until the receiving side acknowledges it
(who and when), ``overdue`` from the day after the due date, ``acknowledged`` once received.

Pure: no clock (callers pass ``today`` and acknowledgement times), no I/O. Refusals are
``InvalidInput``/``Conflict`` with Simplified Chinese details, because a supervisor reads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Self

from evaluation_hub import localtime
from evaluation_hub.errors import CalendarError, ConfigError, Conflict, InvalidInput
from evaluation_hub.supervision.workdays import (
    CalendarNotCovered,
    add_working_days,
    table_file,
    working_days_between,
)

__all__ = [
    "HANDOVER_ITEMS",
    "Acknowledgement",
    "CopyNotice",
    "Handover",
    "NoticeStatus",
    "SupervisionDeadlines",
    "calendar_refusal",
]

# What an away venue hands to the host after a session (客场移交材料).
HANDOVER_ITEMS = ("审计记录", "音视频录像", "签到记录")


class NoticeStatus(StrEnum):
    PENDING = "pending"
    OVERDUE = "overdue"
    ACKNOWLEDGED = "acknowledged"

    @property
    def label(self) -> str:
        """The status as a supervisor's page shows it."""
        return {"pending": "待接收", "overdue": "已逾期", "acknowledged": "已接收"}[self.value]


@dataclass(frozen=True, slots=True)
class SupervisionDeadlines:
    """Working-day limits from the published measures (defaults) or the centre's configuration."""

    copy_notice_working_days: int = 7  # provincial joint-supervision notice
    handover_working_days: int = 5  # city measure

    def __post_init__(self) -> None:
        for name in ("copy_notice_working_days", "handover_working_days"):
            value = getattr(self, name)
            if value < 1:
                raise ConfigError(f"supervision {name} must be at least 1, got {value}")


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """Who confirmed receipt, and when (an aware datetime)."""

    by: str
    at: datetime

    @property
    def local_date(self) -> date:
        return localtime.day_of(self.at)


def _local_date(at: datetime, what: str) -> date:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("naive-datetime", f"{what}必须带时区，例如 2026-12-01T09:00:00+08:00")
    return localtime.day_of(at)


def _status(due_on: date, acknowledgement: Acknowledgement | None, today: date) -> NoticeStatus:
    # Status as of ``today``: an acknowledgement recorded later does not count yet.
    if acknowledgement is not None and acknowledgement.local_date <= today:
        return NoticeStatus.ACKNOWLEDGED
    # Due "within N working days": the whole due date still counts as on time.
    return NoticeStatus.OVERDUE if today > due_on else NoticeStatus.PENDING


def _acknowledgement(
    current: Acknowledgement | None, name: str, start_on: date, by: str, at: datetime
) -> Acknowledgement:
    if current is not None:
        when = localtime.format_minutes(current.at)
        raise Conflict(
            "already-acknowledged", f"该{name}已由 {current.by} 于 {when} 确认接收，不能重复确认"
        )
    if not by.strip():
        raise InvalidInput("acknowledged-by-required", f"确认接收{name}必须填写确认人")
    on = _local_date(at, "确认接收时间")
    if on < start_on:
        raise InvalidInput(
            "acknowledged-too-early",
            f"确认接收日期 {on.isoformat()} 早于{name}的起算日 {start_on.isoformat()}",
        )
    return Acknowledgement(by=by, at=at)


class _Deadline:
    """What a copy notice and a handover share: a due date counted in working days from a
    start day, and a receipt to acknowledge once."""

    __slots__ = ()
    _WHAT: ClassVar[str]
    due_on: date
    acknowledgement: Acknowledgement | None

    @property
    def _starts_on(self) -> date:
        raise NotImplementedError

    def status(self, today: date) -> NoticeStatus:
        return _status(self.due_on, self.acknowledgement, today)

    def working_days_left(self, today: date) -> int:
        """Working days from ``today`` to the due date; negative once overdue."""
        return working_days_between(today, self.due_on)

    def acknowledge(self, by: str, at: datetime) -> Self:
        """This one with receipt acknowledged by ``by`` at ``at``; refuses a second one."""
        ack = _acknowledgement(self.acknowledgement, self._WHAT, self._starts_on, by, at)
        return dataclasses.replace(self, acknowledgement=ack)  # type: ignore[type-var]

    @property
    def acknowledged_late(self) -> bool | None:
        """Whether receipt was acknowledged after the due date (``None``: not yet)."""
        if self.acknowledgement is None:
            return None
        return self.acknowledgement.local_date > self.due_on


@dataclass(frozen=True, slots=True)
class CopyNotice(_Deadline):
    """抄送告知: a finding about an expert seated away, copied to that venue's department.

    ``case_closed_on`` is day 0 (the local date the incident was concluded) and ``due_on`` the
    last day on time; the away site's supervisor acknowledges receipt.
    """

    _WHAT: ClassVar[str] = "抄送告知"
    incident_id: int
    expert: str
    away_venue: str
    away_department: str
    case_closed_on: date
    working_days: int
    due_on: date
    acknowledgement: Acknowledgement | None = None

    @classmethod
    def for_closed_case(
        cls,
        *,
        incident_id: int,
        expert: str,
        away_venue: str,
        away_department: str,
        closed_at: datetime,
        deadlines: SupervisionDeadlines,
    ) -> Self:
        """The notice owed when the incident is concluded at ``closed_at``.

        Raises ``CalendarError`` if the due date falls in a year the calendar does not cover.
        """
        closed_on = _local_date(closed_at, "结案时间")
        days = deadlines.copy_notice_working_days
        return cls(
            incident_id=incident_id,
            expert=expert,
            away_venue=away_venue,
            away_department=away_department,
            case_closed_on=closed_on,
            working_days=days,
            due_on=add_working_days(closed_on, days),
        )

    @property
    def _starts_on(self) -> date:
        return self.case_closed_on


@dataclass(frozen=True, slots=True)
class Handover(_Deadline):
    """客场资料移交: the away venue hands its records of a session to the host venue.

    ``session_ended_on`` is day 0 (the local date the session ended) and ``due_on`` the last
    day on time; the host site acknowledges receipt.
    """

    _WHAT: ClassVar[str] = "资料移交"
    session_id: int
    away_venue: str
    host_venue: str
    session_ended_on: date
    working_days: int
    due_on: date
    items: tuple[str, ...] = HANDOVER_ITEMS
    acknowledgement: Acknowledgement | None = None

    @classmethod
    def after_session(
        cls,
        *,
        session_id: int,
        away_venue: str,
        host_venue: str,
        ended_at: datetime,
        deadlines: SupervisionDeadlines,
    ) -> Self:
        """The handover owed by ``away_venue`` after a session that ended at ``ended_at``.

        Raises ``CalendarError`` if the due date falls in a year the calendar does not cover.
        """
        ended_on = _local_date(ended_at, "评标结束时间")
        days = deadlines.handover_working_days
        return cls(
            session_id=session_id,
            away_venue=away_venue,
            host_venue=host_venue,
            session_ended_on=ended_on,
            working_days=days,
            due_on=add_working_days(ended_on, days),
        )

    @property
    def _starts_on(self) -> date:
        return self.session_ended_on


def calendar_refusal(exc: CalendarError, what: str) -> Conflict:
    """The refusal when the deadline of ``what`` (抄送告知, 资料移交) cannot be counted: the
    calendar does not cover its year, so the change that owes it must wait for the update."""
    if isinstance(exc, CalendarNotCovered):
        return Conflict(
            "calendar-not-covered",
            f"无法计算{what}期限：节假日日历只覆盖 {exc.first}–{exc.last} 年，"
            f"不含 {exc.year} 年；请在国务院公布 {exc.year} 年节假日安排后，由系统管理员按通知"
            f"添加 {table_file(exc.year)}，再试",
        )
    return Conflict("calendar-error", f"无法计算{what}期限：{exc}")
