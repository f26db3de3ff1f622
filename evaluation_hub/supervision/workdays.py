"""Working-day arithmetic (工作日) on the Chinese statutory calendar, for supervision deadlines.

Statutory holidays and make-up working days (调休: a Saturday or Sunday declared a working
day) come from the maintained ``chinesecalendar`` package, which carries the State Council's
published arrangement for each year. Counting convention, used by every deadline in the hub:

* the day something happens (the case closes, the session ends) is **day 0**, whether or not
  it is a working day; counting starts the next calendar day;
* ``add_working_days(d, n)`` is the date of the n-th working day strictly after ``d``, so a
  notice "due within 7 working days" of a case closing on ``d`` is due at the end of
  ``add_working_days(d, 7)``; ``add_working_days(d, 0) == d``;
* ``working_days_between(a, b)`` counts the working days in ``(a, b]`` (after ``a``, up to and
  including ``b``), negated when ``b`` is before ``a``; so
  ``working_days_between(d, add_working_days(d, n)) == n``.

The package only knows the years whose arrangement has been published. Counting into any
other year raises :class:`CalendarNotCovered` rather than guessing that the year has no
holidays; the covered range is read from the package's own data, never hard-coded.

Pure: no clock, no I/O. Callers pass dates in China's time zone (Asia/Shanghai).
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import chinese_calendar

from evaluation_hub.errors import CalendarError

__all__ = [
    "CalendarNotCovered",
    "add_working_days",
    "covered_years",
    "is_working_day",
    "working_days_between",
]

_DAY = timedelta(days=1)


class CalendarNotCovered(CalendarError):
    """A working-day count reached ``year``, outside the calendar's ``first``–``last`` years."""

    def __init__(self, year: int, first: int, last: int) -> None:
        self.year = year
        self.first = first
        self.last = last
        super().__init__(
            f"cannot count working days in {year}: the installed chinesecalendar package "
            f"covers {first} to {last} only; update it (pip install -U chinesecalendar) once "
            f"the State Council has published the holiday arrangement for {year}"
        )


@functools.cache
def covered_years() -> tuple[int, int]:
    """The first and last year the installed calendar package has an arrangement for."""
    # The package's own range check uses its holiday table the same way; every covered year
    # has New Year's Day in it, so the table's span is the covered span.
    years = {day.year for day in chinese_calendar.holidays}
    return min(years), max(years)


def _check_covered(day: date) -> None:
    first, last = covered_years()
    if not first <= day.year <= last:
        raise CalendarNotCovered(day.year, first, last)


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day: a weekday that is not a holiday, or a make-up day."""
    _check_covered(day)
    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: date, n: int) -> date:
    """The date of the ``n``-th working day after ``start`` (``start`` itself is day 0)."""
    if n < 0:
        raise ValueError(f"a number of working days cannot be negative, got {n}")
    _check_covered(start)
    day = start
    while n > 0:
        day += _DAY
        if is_working_day(day):
            n -= 1
    return day


def working_days_between(a: date, b: date) -> int:
    """The number of working days in ``(a, b]``; negative when ``b`` is before ``a``."""
    if b < a:
        return -working_days_between(b, a)
    _check_covered(a)
    count = 0
    day = a
    while day < b:
        day += _DAY
        if is_working_day(day):
            count += 1
    return count
