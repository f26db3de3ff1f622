"""Copy notices (抄送告知) and away-site handovers (客场资料移交).

Due dates are worked out by hand in test_workdays.py's docstring calendar (2025 National Day:
10/1-10/8 off, Sun 9/28 and Sat 10/11 worked; Spring Festival: 1/28-2/4 off, Sun 1/26 and
Sat 2/8 worked).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from evaluation_hub.errors import ConfigError, Conflict, InvalidInput
from evaluation_hub.supervision.notices import (
    HANDOVER_ITEMS,
    CopyNotice,
    Handover,
    NoticeStatus,
    SupervisionDeadlines,
)
from evaluation_hub.supervision.workdays import CalendarNotCovered, covered_years

CST = timezone(timedelta(hours=8))
DEFAULTS = SupervisionDeadlines()


def notice(closed_at: datetime, deadlines: SupervisionDeadlines = DEFAULTS) -> CopyNotice:
    return CopyNotice.for_closed_case(
        incident_id=31,
        expert="E-0457",
        away_venue="V-NB",
        away_department="宁波市公共资源交易监督管理办公室",
        closed_at=closed_at,
        deadlines=deadlines,
    )


def test_copy_notice_is_due_seven_working_days_after_the_case_closes() -> None:
    # Closed Tue 9/30: 10/9 1, 10/10 2, Sat 10/11 3, 10/13 4, 10/14 5, 10/15 6, 10/16 7.
    n = notice(datetime(2025, 9, 30, 16, 30, tzinfo=CST))
    assert (n.case_closed_on, n.working_days, n.due_on) == (
        date(2025, 9, 30),
        7,
        date(2025, 10, 16),
    )
    assert n.status(date(2025, 10, 1)) is NoticeStatus.PENDING
    assert n.status(date(2025, 10, 16)) is NoticeStatus.PENDING  # the due date is still on time
    assert n.status(date(2025, 10, 17)) is NoticeStatus.OVERDUE
    assert n.working_days_left(date(2025, 9, 30)) == 7
    assert n.working_days_left(date(2025, 10, 8)) == 7  # the holiday does not use any up
    assert n.working_days_left(date(2025, 10, 20)) == -2  # 10/17 and 10/20 past due


def test_the_case_closing_day_is_the_local_date_in_china() -> None:
    # 17:00 UTC on Sun 1/26 is 01:00 on Mon 1/27 in China: day 0 is 1/27, not 1/26.
    # From 1/27: 2/5 1, 2/6 2, 2/7 3, Sat 2/8 4, 2/10 5, 2/11 6, 2/12 7 (from 1/26 it'd be 2/11).
    n = notice(datetime(2025, 1, 26, 17, 0, tzinfo=UTC))
    assert (n.case_closed_on, n.due_on) == (date(2025, 1, 27), date(2025, 2, 12))


def test_the_number_of_working_days_is_configuration() -> None:
    n = notice(
        datetime(2025, 9, 30, 9, 0, tzinfo=CST), SupervisionDeadlines(copy_notice_working_days=3)
    )
    assert (n.working_days, n.due_on) == (3, date(2025, 10, 11))  # Sat 10/11 is a working day


def test_acknowledgement_records_who_and_when() -> None:
    n = notice(datetime(2025, 9, 30, 16, 30, tzinfo=CST))
    at = datetime(2025, 10, 15, 10, 0, tzinfo=CST)
    done = n.acknowledge("supervisor:nb-li", at)
    assert n.acknowledgement is None  # notices are values; the original is unchanged
    assert done.acknowledgement is not None
    assert (done.acknowledgement.by, done.acknowledgement.at) == ("supervisor:nb-li", at)
    assert done.status(date(2025, 10, 15)) is NoticeStatus.ACKNOWLEDGED
    assert done.status(date(2025, 10, 30)) is NoticeStatus.ACKNOWLEDGED
    assert done.status(date(2025, 10, 14)) is NoticeStatus.PENDING  # as it stood before receipt
    assert done.acknowledged_late is False
    assert n.acknowledged_late is None


def test_a_late_acknowledgement_is_marked_late() -> None:
    n = notice(datetime(2025, 9, 30, 16, 30, tzinfo=CST))
    # 16:30 UTC on 10/16 is already 00:30 on 10/17 in China: one day late.
    late = n.acknowledge("supervisor:nb-li", datetime(2025, 10, 16, 16, 30, tzinfo=UTC))
    assert late.acknowledged_late is True
    assert late.status(date(2025, 10, 16)) is NoticeStatus.PENDING
    assert late.status(date(2025, 10, 17)) is NoticeStatus.ACKNOWLEDGED


def test_a_second_acknowledgement_is_refused() -> None:
    n = notice(datetime(2025, 9, 30, 16, 30, tzinfo=CST)).acknowledge(
        "supervisor:nb-li", datetime(2025, 10, 15, 2, 0, tzinfo=UTC)
    )
    with pytest.raises(Conflict) as caught:
        n.acknowledge("supervisor:nb-wang", datetime(2025, 10, 16, 9, 0, tzinfo=CST))
    assert caught.value.code == "already-acknowledged"
    assert (
        caught.value.detail
        == "该抄送告知已由 supervisor:nb-li 于 2025-10-15 10:00 确认接收，不能重复确认"
    )


@pytest.mark.parametrize(
    ("by", "at", "code", "detail"),
    [
        (
            "  ",
            datetime(2025, 10, 9, 9, 0, tzinfo=CST),
            "acknowledged-by-required",
            "确认接收抄送告知必须填写确认人",
        ),
        (
            "supervisor:nb-li",
            datetime(2025, 10, 9, 9, 0),
            "naive-datetime",
            "确认接收时间必须带时区，例如 2026-12-01T09:00:00+08:00",
        ),
        (
            "supervisor:nb-li",
            datetime(2025, 9, 29, 9, 0, tzinfo=CST),
            "acknowledged-too-early",
            "确认接收日期 2025-09-29 早于抄送告知的起算日 2025-09-30",
        ),
    ],
)
def test_bad_acknowledgements_are_refused(by: str, at: datetime, code: str, detail: str) -> None:
    n = notice(datetime(2025, 9, 30, 16, 30, tzinfo=CST))
    with pytest.raises(InvalidInput) as caught:
        n.acknowledge(by, at)
    assert (caught.value.code, caught.value.detail) == (code, detail)


def test_a_naive_closing_time_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        notice(datetime(2025, 9, 30, 16, 30))
    assert caught.value.detail == "结案时间必须带时区，例如 2026-12-01T09:00:00+08:00"


def test_a_due_date_beyond_the_calendar_is_refused_when_the_notice_is_created() -> None:
    _, last = covered_years()
    with pytest.raises(CalendarNotCovered) as caught:
        notice(datetime(last, 12, 28, 9, 0, tzinfo=CST))
    assert caught.value.year == last + 1


def test_handover_is_due_five_working_days_after_the_session() -> None:
    # Ended Fri 9/26: Sun 9/28 1, 9/29 2, 9/30 3, 10/9 4, 10/10 5.
    h = Handover.after_session(
        session_id=8,
        away_venue="V-NB",
        host_venue="V-HZ",
        ended_at=datetime(2025, 9, 26, 18, 0, tzinfo=CST),
        deadlines=DEFAULTS,
    )
    assert (h.session_ended_on, h.working_days, h.due_on) == (
        date(2025, 9, 26),
        5,
        date(2025, 10, 10),
    )
    assert h.items == HANDOVER_ITEMS == ("审计记录", "音视频录像", "签到记录")
    assert h.status(date(2025, 10, 10)) is NoticeStatus.PENDING
    assert h.status(date(2025, 10, 11)) is NoticeStatus.OVERDUE
    received = h.acknowledge("admin:hz-zhao", datetime(2025, 10, 13, 9, 0, tzinfo=CST))
    assert received.status(date(2025, 10, 12)) is NoticeStatus.OVERDUE  # before receipt
    assert received.status(date(2025, 10, 13)) is NoticeStatus.ACKNOWLEDGED
    assert received.acknowledged_late is True
    with pytest.raises(Conflict) as caught:
        received.acknowledge("admin:hz-zhao", datetime(2025, 10, 14, 9, 0, tzinfo=CST))
    assert (
        caught.value.detail
        == "该资料移交已由 admin:hz-zhao 于 2025-10-13 09:00 确认接收，不能重复确认"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"copy_notice_working_days": 0},
            "supervision copy_notice_working_days must be at least 1, got 0",
        ),
        (
            {"handover_working_days": -5},
            "supervision handover_working_days must be at least 1, got -5",
        ),
    ],
)
def test_deadline_configuration_is_checked(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SupervisionDeadlines(**kwargs)
    assert str(caught.value) == message


def test_status_labels_are_chinese() -> None:
    assert [s.label for s in NoticeStatus] == ["待接收", "已逾期", "已接收"]
