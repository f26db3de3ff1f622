"""Official holiday tables (``configs/holidays/YYYY.yaml``) for the years the calendar package
does not cover yet, read and checked before the hub uses them.

One file per year, written by the operator from the State Council's notice
(国务院办公厅关于YYYY年部分节假日安排的通知; docs/holidays.md shows the steps)::

    year: 2027
    notice:
      number: 国办发明电〔2026〕N号      # the notice's document number
      date: 2026-11-01                 # the date it was issued
      title: 国务院办公厅关于2027年部分节假日安排的通知   # optional
    holidays:                          # the days off, as the notice lists them
      - name: 元旦
        from: 2027-01-01
        to: 2027-01-03                 # optional: a single day without it
    working_days:                      # the make-up working days (调休上班), weekend days only
      - date: 2027-02-20
        for: 春节                       # optional: the holiday it makes up for

Checked: the file is named for its ``year``; the required fields are there and no unknown one
is; every date is a date inside the year; a range does not end before it starts; no day is a
holiday twice (overlapping ranges, a name repeated) nor a working day twice; no day is both a
holiday and a working day; every make-up working day is a Saturday or Sunday; a ``for`` names a
holiday of the file. A file breaking any of these is refused, naming the file and the line.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from evaluation_hub.marked_yaml import Marked, MarkedError, read_marked
from evaluation_hub.supervision.workdays import HolidayTable

__all__ = ["DEFAULT_HOLIDAYS_DIR", "load_holiday_table", "load_holiday_tables"]

# configs/ sits beside the packages in the repository (editable installs and the demo use it).
DEFAULT_HOLIDAYS_DIR = Path(__file__).resolve().parents[2] / "configs" / "holidays"

_FILE_NAME = re.compile(r"^(\d{4})\.yaml$")
_TOP = {"year", "notice", "holidays", "working_days"}
_NOTICE = {"number", "date", "title"}
_HOLIDAY = {"name", "from", "to"}
_WORKING_DAY = {"date", "for"}
_WEEKDAYS = "一二三四五六日"


class _File:
    """Refusals for one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, line: int, problem: str) -> MarkedError:
        return MarkedError(self.path, line, problem)

    def mapping(
        self, node: Marked, what: str, allowed: set[str], required: set[str]
    ) -> dict[str, Marked]:
        fields = node.mapping(self.path, what)
        for key, value in fields.items():
            if key not in allowed:
                raise self.error(
                    value.key_line,
                    f"{what}: unknown field {key!r} (allowed: {', '.join(sorted(allowed))})",
                )
        for key in sorted(required - fields.keys()):
            raise self.error(node.line, f"{what}: required field {key!r} is missing")
        return fields

    def text(self, node: Marked, what: str) -> str:
        if not isinstance(node.value, str) or not node.value.strip():
            raise self.error(node.line, f"{what} must be non-empty text")
        return node.value.strip()

    def day(self, node: Marked, what: str, year: int | None = None) -> date:
        value = node.value
        if not isinstance(value, date):
            raise self.error(node.line, f"{what} must be a date written YYYY-MM-DD, got {value!r}")
        if year is not None and value.year != year:
            raise self.error(node.line, f"{what} {value.isoformat()} is not in {year}")
        return value


def _weekday(day: date) -> str:
    return f"{day.isoformat()} (星期{_WEEKDAYS[day.weekday()]})"


def load_holiday_table(path: Path) -> HolidayTable:
    """The table in ``path``, checked; :class:`MarkedError` names the line at fault."""
    f = _File(path)
    named = _FILE_NAME.match(path.name)
    if named is None:
        raise f.error(1, "a holiday table's file is named for its year, e.g. 2027.yaml")
    doc = read_marked(path)
    top = f.mapping(doc, "the holiday table", _TOP, _TOP)
    year_node = top["year"]
    if not isinstance(year_node.value, int) or isinstance(year_node.value, bool):
        raise f.error(year_node.line, f"year must be a number, got {year_node.value!r}")
    year = year_node.value
    if year != int(named.group(1)):
        raise f.error(year_node.line, f"year {year} does not match the file name {path.name}")
    notice = f.mapping(top["notice"], "notice", _NOTICE, {"number", "date"})
    number = f.text(notice["number"], "notice number")
    issued = f.day(notice["date"], "notice date")
    if issued.year > year:
        raise f.error(notice["date"].line, f"notice date {issued.isoformat()} is after {year}")
    if "title" in notice:
        f.text(notice["title"], "notice title")

    holidays: dict[date, tuple[str, int]] = {}
    names: dict[str, int] = {}
    entries = top["holidays"].sequence(path, "holidays")
    if not entries:
        raise f.error(top["holidays"].line, "holidays: the notice lists at least one holiday")
    for entry in entries:
        fields = f.mapping(entry, "a holiday", _HOLIDAY, {"name", "from"})
        name = f.text(fields["name"], "holiday name")
        if name in names:
            raise f.error(
                fields["name"].line, f"holiday {name} is listed twice (first on line {names[name]})"
            )
        names[name] = entry.line
        start = f.day(fields["from"], f"{name} from", year)
        end = f.day(fields["to"], f"{name} to", year) if "to" in fields else start
        if end < start:
            raise f.error(
                fields["to"].line,
                f"{name} ends ({end.isoformat()}) before it starts ({start.isoformat()})",
            )
        day = start
        while day <= end:
            if day in holidays:
                other, line = holidays[day]
                raise f.error(
                    entry.line,
                    f"{day.isoformat()} is a holiday twice ({other}, line {line}; {name})",
                )
            holidays[day] = (name, entry.line)
            day = date.fromordinal(day.toordinal() + 1)

    working: dict[date, int] = {}
    for entry in top["working_days"].sequence(path, "working_days"):
        fields = f.mapping(entry, "a make-up working day", _WORKING_DAY, {"date"})
        node = fields["date"]
        day = f.day(node, "make-up working day", year)
        if day in working:
            raise f.error(
                node.line,
                f"make-up working day {day.isoformat()} is listed twice (first on line {working[day]})",
            )
        if day in holidays:
            other, line = holidays[day]
            raise f.error(
                node.line,
                f"{day.isoformat()} is both a make-up working day and a holiday ({other}, line {line})",
            )
        if day.weekday() < 5:
            raise f.error(
                node.line, f"make-up working day {_weekday(day)} is not a Saturday or Sunday"
            )
        if "for" in fields:
            made_up_for = f.text(fields["for"], "for")
            if made_up_for not in names:
                raise f.error(
                    fields["for"].line,
                    f"make-up working day {day.isoformat()} is for {made_up_for}, which is not a holiday of this file",
                )
        working[day] = node.line
    return HolidayTable(
        year=year,
        notice_number=number,
        notice_date=issued,
        holidays=frozenset(holidays),
        working_days=frozenset(working),
        source=str(path),
    )


def load_holiday_tables(directory: Path) -> tuple[HolidayTable, ...]:
    """Every ``*.yaml`` table in ``directory`` (none if it does not exist), by year."""
    if not directory.is_dir():
        return ()
    return tuple(load_holiday_table(p) for p in sorted(directory.glob("*.yaml")))
