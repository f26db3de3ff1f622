"""Working days on the Chinese statutory calendar.

The expected dates below were worked out by hand from the State Council's published holiday
arrangements (国务院办公厅关于2025年部分节假日安排的通知, 国办发明电〔2024〕12号):

* Spring Festival 2025: off Tue 1/28 to Tue 2/4 (8 days); make-up working days Sun 1/26 and
  Sat 2/8.
* National Day and Mid-Autumn 2025: off Wed 10/1 to Wed 10/8 (8 days); make-up working days
  Sun 9/28 and Sat 10/11.

The installed chinesecalendar package agrees with both (checked day by day below); where a
plain Monday-to-Friday count would differ, the expected value says so.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation_hub.errors import CalendarError
from evaluation_hub.supervision.workdays import (
    CalendarNotCovered,
    add_working_days,
    covered_years,
    is_working_day,
    working_days_between,
)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(n) for n in range((end - start).days + 1)]


def test_spring_festival_2025_day_by_day() -> None:
    off = set(days(date(2025, 1, 28), date(2025, 2, 4))) | {
        date(2025, 1, 25),  # Sat
        date(2025, 2, 9),  # Sun
    }
    make_up = {date(2025, 1, 26), date(2025, 2, 8)}  # Sun, Sat
    for day in days(date(2025, 1, 25), date(2025, 2, 9)):
        assert is_working_day(day) is (day not in off), day
    assert all(day.weekday() >= 5 for day in make_up)
    assert all(is_working_day(day) for day in make_up)


def test_national_day_2025_day_by_day() -> None:
    off = set(days(date(2025, 10, 1), date(2025, 10, 8))) | {
        date(2025, 9, 27),  # Sat
        date(2025, 10, 12),  # Sun
    }
    for day in days(date(2025, 9, 27), date(2025, 10, 12)):
        assert is_working_day(day) is (day not in off), day
    assert is_working_day(date(2025, 9, 28))  # Sun, make-up
    assert is_working_day(date(2025, 10, 11))  # Sat, make-up


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Fri 1/24 is day 0; Sun 1/26 (make-up) 1, Mon 1/27 2, [1/28-2/4 off], Wed 2/5 3,
        # Thu 2/6 4, Fri 2/7 5, Sat 2/8 (make-up) 6, Mon 2/10 7. Weekdays only would say 2/4.
        (date(2025, 1, 24), 7, date(2025, 2, 10)),
        (date(2025, 1, 24), 1, date(2025, 1, 26)),
        # Closed on Mon 1/27: Wed 2/5 1 … Sat 2/8 4, Mon 2/10 5.
        (date(2025, 1, 27), 5, date(2025, 2, 10)),
        # A case closed during the holiday: Thu 1/30 is day 0, Wed 2/5 is day 1.
        (date(2025, 1, 30), 1, date(2025, 2, 5)),
        # Fri 9/26 is day 0; Sun 9/28 (make-up) 1, Mon 9/29 2, Tue 9/30 3, [10/1-10/8 off],
        # Thu 10/9 4, Fri 10/10 5, Sat 10/11 (make-up) 6, Mon 10/13 7.
        (date(2025, 9, 26), 5, date(2025, 10, 10)),
        (date(2025, 9, 26), 7, date(2025, 10, 13)),
        # Tue 9/30 is day 0; 10/9 1, 10/10 2, Sat 10/11 3, 10/13 4, 10/14 5, 10/15 6, 10/16 7.
        (date(2025, 9, 30), 7, date(2025, 10, 16)),
        # Day 0 is returned as is, even on a holiday.
        (date(2025, 10, 3), 0, date(2025, 10, 3)),
    ],
)
def test_add_working_days_across_the_holidays(start: date, n: int, due: date) -> None:
    assert add_working_days(start, n) == due
    assert working_days_between(start, due) == n


def test_working_days_between() -> None:
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 8)) == 0  # all holiday
    assert working_days_between(date(2025, 10, 8), date(2025, 9, 30)) == 0
    assert working_days_between(date(2025, 2, 10), date(2025, 1, 24)) == -7
    # 2025 by hand: 261 weekdays (52 weeks and a Wednesday); 18 of them are holidays
    # (1/1; 1/28-31, 2/3-4; 4/4; 5/1, 5/2, 5/5; 6/2; 10/1-3, 10/6-8); 5 make-up days
    # (1/26, 2/8, 4/27, 9/28, 10/11): 261 - 18 + 5 = 248.
    assert working_days_between(date(2024, 12, 31), date(2025, 12, 31)) == 248


def test_negative_counts_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="a number of working days cannot be negative, got -1"):
        add_working_days(date(2025, 1, 2), -1)


def test_covered_years_match_the_packages_own_range() -> None:
    first, last = covered_years()
    # The package refuses dates outside the range it has data for; ours must be the same range.
    chinese_calendar.is_workday(date(first, 1, 1))
    chinese_calendar.is_workday(date(last, 12, 31))
    for outside in (date(first - 1, 12, 31), date(last + 1, 1, 1)):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(outside)
    assert first <= 2025 <= last


def test_counting_past_the_last_covered_year_is_refused() -> None:
    first, last = covered_years()
    with pytest.raises(CalendarNotCovered) as caught:
        add_working_days(date(last, 12, 24), 10)
    assert isinstance(caught.value, CalendarError)
    assert (caught.value.year, caught.value.first, caught.value.last) == (last + 1, first, last)
    assert str(caught.value) == (
        f"cannot count working days in {last + 1}: the calendar covers {first} to {last} only; "
        f"once the State Council has published the holiday arrangement for {last + 1}, add "
        f"configs/holidays/{last + 1}.yaml from its notice (docs/holidays.md) or update the "
        "chinesecalendar package"
    )


@pytest.mark.parametrize("which", ["before", "after"])
def test_every_entry_point_refuses_uncovered_years(which: str) -> None:
    first, last = covered_years()
    outside = date(first - 1, 6, 1) if which == "before" else date(last + 1, 6, 1)
    inside = date(2025, 6, 3)
    for call in (
        lambda: is_working_day(outside),
        lambda: add_working_days(outside, 0),
        lambda: add_working_days(outside, 3),
        lambda: working_days_between(outside, inside),
        lambda: working_days_between(inside, outside),
    ):
        with pytest.raises(CalendarNotCovered) as caught:
            call()
        assert caught.value.year == outside.year


FIRST, LAST = covered_years()
_starts = st.dates(min_value=date(FIRST, 1, 1), max_value=date(LAST, 9, 30))
_counts = st.integers(0, 40)


@settings(max_examples=200)
@given(_starts, _counts)
def test_the_nth_working_day_is_a_working_day_n_working_days_later(start: date, n: int) -> None:
    due = add_working_days(start, n)
    assert due >= start
    assert working_days_between(start, due) == n
    if n > 0:
        assert is_working_day(due)
        # No earlier day reaches n: the day before the due date counts one fewer.
        assert working_days_between(start, due - timedelta(days=1)) == n - 1


@settings(max_examples=200)
@given(_starts, _counts)
def test_more_working_days_are_strictly_later(start: date, n: int) -> None:
    assert add_working_days(start, n) < add_working_days(start, n + 1)


@settings(max_examples=200)
@given(_starts, _starts, _counts)
def test_a_later_start_never_gives_an_earlier_due_date(a: date, b: date, n: int) -> None:
    early, late = sorted((a, b))
    assert add_working_days(early, n) <= add_working_days(late, n)


@settings(max_examples=100)
@given(
    st.dates(min_value=date(FIRST, 1, 1), max_value=date(LAST, 8, 1)),
    st.integers(0, 60),
    st.integers(0, 60),
)
def test_counts_add_up_over_consecutive_spans(start: date, gap1: int, gap2: int) -> None:
    middle = start + timedelta(days=gap1)
    end = middle + timedelta(days=gap2)
    total = working_days_between(start, end)
    assert total == working_days_between(start, middle) + working_days_between(middle, end)
    assert working_days_between(end, start) == -total
    assert 0 <= total <= gap1 + gap2
