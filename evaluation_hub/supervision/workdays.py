"""Working-day arithmetic (工作日) on the Chinese statutory calendar, for supervision deadlines.

Statutory holidays and make-up working days (调休: a Saturday or Sunday declared a working
day) come from the maintained ``chinesecalendar`` package, which carries the State Council's
published arrangement for each year, and, for a year the package does not cover yet, from an
official holiday table the operator adds from the notice (``configs/holidays/YYYY.yaml``, read
and checked by ``supervision.holiday_tables``; the hub installs them with :func:`use_tables` at
start-up, as it sets the time zone). Counting convention, used by every deadline in the hub:

* the day something happens (the case closes, the session ends) is **day 0**, whether or not
  it is a working day; counting starts the next calendar day;
* ``add_working_days(d, n)`` is the date of the n-th working day strictly after ``d``, so a
  notice "due within 7 working days" of a case closing on ``d`` is due at the end of
  ``add_working_days(d, 7)``; ``add_working_days(d, 0) == d``;
* ``working_days_between(a, b)`` counts the working days in ``(a, b]`` (after ``a``, up to and
  including ``b``), negated when ``b`` is before ``a``; so
  ``working_days_between(d, add_working_days(d, n)) == n``.

Only years whose arrangement has been published are known. Counting into any other year raises
:class:`CalendarNotCovered` (naming the file to add) rather than guessing that the year has no
holidays; the covered range is read from the package's data and the loaded tables, never
hard-coded. A table for a year the package already covers is not used: the package wins.
:func:`coverage_warning` says, from ``COVERAGE_WARNING_DAYS`` before the covered range ends,
that the next year's table is due.

Pure: no clock, no I/O. Callers pass dates in China's time zone (Asia/Shanghai).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from evaluation_hub.errors import CalendarError

__all__ = [
    "COVERAGE_WARNING_DAYS",
    "CalendarNotCovered",
    "CoverageWarning",
    "HolidayTable",
    "add_working_days",
    "coverage_warning",
    "covered_until",
    "covered_years",
    "is_working_day",
    "loaded_tables",
    "package_years",
    "table_file",
    "use_tables",
    "working_days_between",
]

#: How long before the covered range ends the hub starts warning (admin page, /api/health).
COVERAGE_WARNING_DAYS = 60

_DAY = timedelta(days=1)


def table_file(year: int) -> str:
    """Where the operator adds the holiday table of ``year`` (relative to the installation)."""
    return f"configs/holidays/{year}.yaml"


class CalendarNotCovered(CalendarError):
    """A working-day count reached ``year``, outside the calendar's ``first``–``last`` years."""

    def __init__(self, year: int, first: int, last: int) -> None:
        self.year = year
        self.first = first
        self.last = last
        super().__init__(
            f"cannot count working days in {year}: the calendar covers {first} to {last} only; "
            f"once the State Council has published the holiday arrangement for {year}, add "
            f"{table_file(year)} from its notice (docs/holidays.md) or update the "
            f"chinesecalendar package"
        )


@dataclass(frozen=True)
class HolidayTable:
    """One year's official arrangement: the days off (``holidays``, weekends inside a holiday
    included or not, as the notice lists them) and the make-up working days (``working_days``,
    weekend days declared working days), from the notice ``notice_number`` of ``notice_date``.
    Checked for consistency by the loader, which knows the file's lines."""

    year: int
    notice_number: str
    notice_date: date
    holidays: frozenset[date]
    working_days: frozenset[date]
    source: str = ""

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return day not in self.holidays and day.weekday() < 5


class _Calendar:
    """The tables in use (process-wide, like the time zone) and the range they make."""

    tables: dict[int, HolidayTable] = {}  # noqa: RUF012 - replaced whole, never mutated
    span: tuple[int, int] | None = None


_calendar = _Calendar()


@functools.cache
def package_years() -> tuple[int, int]:
    """The first and last year the installed calendar package has an arrangement for."""
    # The package's own range check uses its holiday table the same way; every covered year
    # has New Year's Day in it, so the table's span is the covered span.
    years = {day.year for day in chinese_calendar.holidays}
    return min(years), max(years)


def use_tables(tables: Iterable[HolidayTable]) -> tuple[HolidayTable, ...]:
    """Install the loaded tables (replacing any before); returns those that take effect (the
    years the package does not cover)."""
    first, last = package_years()
    used = {t.year: t for t in tables if not first <= t.year <= last}
    _calendar.tables = used
    _calendar.span = None
    return tuple(used[y] for y in sorted(used))


def loaded_tables() -> tuple[HolidayTable, ...]:
    """The tables in effect, by year."""
    return tuple(_calendar.tables[y] for y in sorted(_calendar.tables))


def covered_years() -> tuple[int, int]:
    """The first and last year of the unbroken range the package and the tables cover."""
    if _calendar.span is None:
        first, last = package_years()
        while first - 1 in _calendar.tables:
            first -= 1
        while last + 1 in _calendar.tables:
            last += 1
        _calendar.span = (first, last)
    return _calendar.span


def covered_until() -> date:
    """The last day a working-day count may reach (31 December of the last covered year)."""
    return date(covered_years()[1], 12, 31)


@dataclass(frozen=True)
class CoverageWarning:
    """The calendar runs out soon: ``covered_until``, ``days_left`` and the file to add."""

    covered_until: date
    days_left: int
    next_year: int
    file: str

    @property
    def message(self) -> str:
        return (
            f"节假日日历只覆盖到 {self.covered_until.isoformat()}（还剩 {self.days_left} 天），"
            f"跨入 {self.next_year} 年的工作日期限届时将无法计算；请在国务院公布 "
            f"{self.next_year} 年节假日安排后，按通知添加 {self.file}"
        )


def coverage_warning(today: date, lead_days: int = COVERAGE_WARNING_DAYS) -> CoverageWarning | None:
    """A warning from ``lead_days`` before the covered range ends (and after it), else None."""
    until = covered_until()
    days_left = (until - today).days
    if days_left > lead_days:
        return None
    return CoverageWarning(until, max(days_left, 0), until.year + 1, table_file(until.year + 1))


def _check_covered(day: date) -> None:
    first, last = covered_years()
    if not first <= day.year <= last:
        raise CalendarNotCovered(day.year, first, last)


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day: a weekday that is not a holiday, or a make-up day."""
    _check_covered(day)
    table = _calendar.tables.get(day.year)
    if table is not None:
        return table.is_working_day(day)
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
