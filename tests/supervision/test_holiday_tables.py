"""The calendar beyond the package: a holiday table per year (configs/holidays/YYYY.yaml),
checked when loaded, extending working-day counts; and the warning before coverage ends.

The 2027 table here (tests/supervision/holidays/2027.yaml) is a fixture with invented dates:
the official notice for 2027 had not been published when it was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from evaluation_hub.marked_yaml import MarkedError
from evaluation_hub.supervision import workdays
from evaluation_hub.supervision.holiday_tables import (
    DEFAULT_HOLIDAYS_DIR,
    load_holiday_table,
    load_holiday_tables,
)
from evaluation_hub.supervision.notices import calendar_refusal
from evaluation_hub.supervision.workdays import (
    CalendarNotCovered,
    add_working_days,
    coverage_warning,
    covered_until,
    covered_years,
    is_working_day,
    working_days_between,
)

FIXTURES = Path(__file__).parent / "holidays"
FIRST, LAST = workdays.package_years()


@pytest.fixture(autouse=True)
def no_tables() -> Iterator[None]:
    workdays.use_tables(())
    yield
    workdays.use_tables(())


def test_the_package_ends_in_2026_and_no_2027_table_ships() -> None:
    # The reason for this module: the package stops at 2026 and the 2027 notice is not out.
    assert LAST == 2026
    assert not (DEFAULT_HOLIDAYS_DIR / "2027.yaml").exists()
    assert load_holiday_tables(DEFAULT_HOLIDAYS_DIR) == ()
    assert covered_until() == date(2026, 12, 31)


def test_a_count_into_an_uncovered_year_names_the_file_to_add() -> None:
    with pytest.raises(CalendarNotCovered) as caught:
        add_working_days(date(2026, 12, 28), 7)
    assert str(caught.value) == (
        f"cannot count working days in 2027: the calendar covers {FIRST} to 2026 only; once the "
        "State Council has published the holiday arrangement for 2027, add "
        "configs/holidays/2027.yaml from its notice (docs/holidays.md) or update the "
        "chinesecalendar package"
    )
    refusal = calendar_refusal(caught.value, "抄送告知")
    assert (refusal.code, refusal.detail) == (
        "calendar-not-covered",
        f"无法计算抄送告知期限：节假日日历只覆盖 {FIRST}–2026 年，不含 2027 年；请在国务院公布 "
        "2027 年节假日安排后，由系统管理员按通知添加 configs/holidays/2027.yaml，再试",
    )


def test_a_2027_table_extends_counts_across_new_year() -> None:
    table = load_holiday_table(FIXTURES / "2027.yaml")
    assert (table.year, table.notice_number, table.notice_date) == (
        2027,
        "测试〔2026〕1号",
        date(2026, 11, 20),
    )
    assert workdays.use_tables([table]) == (table,)
    assert covered_years() == (FIRST, 2027)
    assert covered_until() == date(2027, 12, 31)
    # Mon 2026-12-28 is day 0: 12/29 1, 12/30 2, 12/31 3; 1/1-1/3 off; 1/4 4 … 1/7 7.
    assert add_working_days(date(2026, 12, 28), 7) == date(2027, 1, 7)
    # The make-up Saturday 1/9 counts; Fri 1/1 (a holiday) does not.
    assert is_working_day(date(2027, 1, 9)) and not is_working_day(date(2027, 1, 1))
    assert not is_working_day(date(2027, 1, 10))  # a plain Sunday
    # Thu 1/7 day 0: 1/8 1, Sat 1/9 2, 1/11 3.
    assert add_working_days(date(2027, 1, 7), 3) == date(2027, 1, 11)
    # Spring holiday Sat 2/6 - Sat 2/13, make-up Sat 2/20.
    assert working_days_between(date(2027, 2, 5), date(2027, 2, 20)) == 6  # 2/15-19, 2/20
    with pytest.raises(CalendarNotCovered) as caught:
        add_working_days(date(2027, 12, 27), 7)
    assert caught.value.year == 2028 and "configs/holidays/2028.yaml" in str(caught.value)


def test_a_table_for_a_year_the_package_covers_is_not_used() -> None:
    table = workdays.HolidayTable(
        2026, "测试", date(2025, 11, 1), frozenset({date(2026, 3, 2)}), frozenset()
    )
    assert workdays.use_tables([table]) == ()
    assert covered_until() == date(2026, 12, 31)
    assert is_working_day(date(2026, 3, 2))  # the package's calendar stands
    assert not is_working_day(date(2026, 2, 16))


_GOOD = (FIXTURES / "2027.yaml").read_text(encoding="utf-8")


def _refusal(tmp_path: Path, text: str, name: str = "2027.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MarkedError) as caught:
        load_holiday_table(path)
    assert str(caught.value).startswith(f"{path}:")
    return str(caught.value).removeprefix(f"{path}:")


def _line(text: str, needle: str) -> int:
    """The last line that is ``needle`` (the repeated one, where a line is repeated)."""
    lines = text.splitlines()
    return len(lines) - lines[::-1].index(needle)


@pytest.mark.parametrize(
    ("old", "new", "at", "problem"),
    [
        # dates inside the year
        (
            "    from: 2027-02-06",
            "    from: 2026-02-06",
            "    from: 2026-02-06",
            "春节 from 2026-02-06 is not in 2027",
        ),
        (
            "  - date: 2027-02-20",
            "  - date: 2028-02-19",
            "  - date: 2028-02-19",
            "make-up working day 2028-02-19 is not in 2027",
        ),
        # a day both a holiday and a working day
        (
            "  - date: 2027-02-20",
            "  - date: 2027-02-13",
            "  - date: 2027-02-13",
            "2027-02-13 is both a make-up working day and a holiday (春节, line 14)",
        ),
        # make-up days on weekends
        (
            "  - date: 2027-02-20",
            "  - date: 2027-02-17",
            "  - date: 2027-02-17",
            "make-up working day 2027-02-17 (星期三) is not a Saturday or Sunday",
        ),
        # holidays not duplicated
        (
            "    from: 2027-02-06",
            "    from: 2027-01-02",
            "  - name: 春节",
            "2027-01-02 is a holiday twice (元旦, line 11; 春节)",
        ),
        (
            "  - name: 春节",
            "  - name: 元旦",
            "  - name: 元旦",
            "holiday 元旦 is listed twice (first on line 11)",
        ),
        (
            "  - date: 2027-02-20",
            "  - date: 2027-01-09",
            "  - date: 2027-01-09",
            "make-up working day 2027-01-09 is listed twice (first on line 18)",
        ),
        # required fields and their types
        (
            "  number: 测试〔2026〕1号\n",
            "",
            "  date: 2026-11-20",  # the notice block's first line
            "notice: required field 'number' is missing",
        ),
        (
            "year: 2027",
            "year: 2028",
            "year: 2028",
            "year 2028 does not match the file name 2027.yaml",
        ),
        (
            "    to: 2027-02-13",
            "    to: 2027-02-30",
            "    to: 2027-02-30",
            "'2027-02-30' is not a valid value: day is out of range for month",
        ),
        (
            "    to: 2027-02-13",
            "    to: 2027-02-01",
            "    to: 2027-02-01",
            "春节 ends (2027-02-01) before it starts (2027-02-06)",
        ),
        (
            "    to: 2027-02-13",
            "    to: 13 February",
            "    to: 13 February",
            "春节 to must be a date written YYYY-MM-DD, got '13 February'",
        ),
        (
            "    for: 春节",
            "    for: 国庆节",
            "    for: 国庆节",
            "make-up working day 2027-02-20 is for 国庆节, which is not a holiday of this file",
        ),
        (
            "    to: 2027-02-13",
            "    to: 2027-02-13\n    days: 8",
            "    days: 8",
            "a holiday: unknown field 'days' (allowed: from, name, to)",
        ),
        (
            "  date: 2026-11-20",
            "  date: 2026-11-20\n  date: 2026-11-21",
            "  date: 2026-11-21",
            "key 'date' appears twice (first on line 8)",
        ),
        (
            "  - name: 元旦",
            "  - name: [元旦",
            "  - name: [元旦",
            "not valid YAML: expected ',' or ']', but got ':'",
        ),
    ],
)
def test_each_malformed_class_is_refused_with_its_line(
    tmp_path: Path, old: str, new: str, at: str, problem: str
) -> None:
    assert old in _GOOD
    text = _GOOD.replace(old, new, 1)
    got = _refusal(tmp_path, text)
    line, _, message = got.partition(": ")
    assert message == problem
    if problem.startswith("not valid YAML"):
        assert int(line) >= _line(text, at)  # the parser notices on the next token
    else:
        assert int(line) == _line(text, at)


def test_a_misnamed_file_and_a_missing_section_are_refused(tmp_path: Path) -> None:
    assert _refusal(tmp_path, _GOOD, "holidays-2027.yaml") == (
        "1: a holiday table's file is named for its year, e.g. 2027.yaml"
    )
    text = _GOOD[: _GOOD.index("working_days:")]
    assert _refusal(tmp_path, text) == (
        "5: the holiday table: required field 'working_days' is missing"
    )


def test_a_malformed_file_in_the_directory_stops_start_up(tmp_path: Path) -> None:
    from evaluation_hub.config import HubConfig

    (tmp_path / "2027.yaml").write_text(_GOOD.replace("2027-02-20", "2027-02-17"), "utf-8")
    with pytest.raises(MarkedError) as caught:
        HubConfig.from_env({"EVALHUB_HOLIDAYS_DIR": str(tmp_path)}, state_dir=tmp_path / "s")
    assert str(caught.value) == (
        f"{tmp_path / '2027.yaml'}:20: make-up working day 2027-02-17 (星期三) is not a "
        "Saturday or Sunday"
    )
    (tmp_path / "2027.yaml").write_text(_GOOD, "utf-8")
    config = HubConfig.from_env({"EVALHUB_HOLIDAYS_DIR": str(tmp_path)}, state_dir=tmp_path / "s")
    assert [t.year for t in config.holidays] == [2027]


def test_the_warning_starts_sixty_days_before_coverage_ends() -> None:
    assert coverage_warning(date(2026, 10, 31)) is None  # 61 days left
    first = coverage_warning(date(2026, 11, 1))  # 60 days left: from here on
    assert first is not None
    assert (first.covered_until, first.days_left, first.next_year, first.file) == (
        date(2026, 12, 31),
        60,
        2027,
        "configs/holidays/2027.yaml",
    )
    assert first.message == (
        "节假日日历只覆盖到 2026-12-31（还剩 60 天），跨入 2027 年的工作日期限届时将无法计算；"
        "请在国务院公布 2027 年节假日安排后，按通知添加 configs/holidays/2027.yaml"
    )
    late = coverage_warning(date(2027, 1, 5))
    assert late is not None and late.days_left == 0
    # Adding the year moves the warning a year on.
    workdays.use_tables([load_holiday_table(FIXTURES / "2027.yaml")])
    assert coverage_warning(date(2026, 12, 4)) is None
    later = coverage_warning(date(2027, 11, 1))
    assert later is not None and later.file == "configs/holidays/2028.yaml"
