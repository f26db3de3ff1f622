"""Importing venues, seats and users from CSV (批量导入), for automation (``evaluation-hub venue
import`` and the like); the columns are documented in ``docs/administration.md``.

An import is all or nothing as far as the file goes: every row is checked first (each field by
the same rules as the pages', every key against the file's other rows and against the
database), and when any row is bad nothing is imported and ``BadImport`` names every problem by
line and column. A row whose key (a venue's code, a venue's seat label, a username) already
exists is left as it is and reported as such, so running an import twice changes nothing the
second time. With ``dry_run`` the report says what would be added and nothing is written;
otherwise each new row is added through its use case (``admin.venues.add_venue``,
``booking.directory.create_seat``, ``admin.users.add_user``), audited like any other.

Imported users have no password: their accounts are added disabled, and an administrator sets
a password (重置密码) and enables them. A password never travels in a CSV file.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from evaluation_hub import access
from evaluation_hub.admin.errors import BadCoordinates, BadImport
from evaluation_hub.admin.users import add_user, check_account
from evaluation_hub.admin.venues import (
    VenueDraft,
    add_venue,
    checked_draft,
    known_regions,
    venue_problems,
)
from evaluation_hub.booking.directory import CAPABILITIES, SEAT_STATUSES, create_seat
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, User, Venue
from evaluation_hub.errors import ProblemError
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = [
    "SEAT_COLUMNS",
    "USER_COLUMNS",
    "VENUE_COLUMNS",
    "ImportReport",
    "SeatRow",
    "UserRow",
    "import_seats",
    "import_users",
    "import_venues",
]

#: each import's columns: required ones first, then the optional ones
VENUE_COLUMNS = (
    ("code", "name", "region_code", "supervising_department"),
    ("contact_name", "contact_phone", "latitude", "longitude"),
)
SEAT_COLUMNS = (("venue_code", "label"), ("room", "capabilities", "status", "shared"))
USER_COLUMNS = (("username", "role"), ("venue_code", "display_name"))
_YES = {"": True, "1": True, "true": True, "yes": True, "是": True}
_NO = {"0": False, "false": False, "no": False, "否": False}


@dataclass(frozen=True)
class ImportReport:
    """What an import added (or, in a dry run, would add) and what it left as it was."""

    what: str
    added: tuple[str, ...]
    present: tuple[str, ...]
    dry_run: bool


@dataclass(frozen=True)
class SeatRow:
    venue_code: str
    label: str
    room: str
    capabilities: tuple[str, ...]
    status: str
    shared: bool


@dataclass(frozen=True)
class UserRow:
    username: str
    role: str
    venue_code: str | None
    display_name: str


class _Problems:
    """The problems found so far, reported in line order."""

    def __init__(self) -> None:
        self._found: list[tuple[int, str]] = []

    def add(self, line: int, column: str | None, message: str) -> None:
        where = f"第 {line} 行" + (f"「{column}」列" if column else "")
        self._found.append((line, f"{where}：{message}"))

    @property
    def found(self) -> list[str]:
        return [text for _, text in sorted(self._found, key=lambda item: item[0])]


def _rows(
    text: str, columns: tuple[tuple[str, ...], tuple[str, ...]], problems: _Problems
) -> list[tuple[int, dict[str, str]]]:
    """The file's rows with their line numbers (the header is line 1), blank lines skipped."""
    required, optional = columns
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in required + optional]
    if missing:
        problems.add(1, None, f"缺少列 {', '.join(missing)}")
    if unknown:
        problems.add(
            1, None, f"未知的列 {', '.join(unknown)}（可用列：{', '.join(required + optional)}）"
        )
    if missing or unknown:
        return []
    reader.fieldnames = header
    out: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.add(line, None, "列数多于表头")
            continue
        values = {k: (v or "").strip() for k, v in row.items()}
        if not any(values.values()):
            continue
        out.append((line, values))
    return out


def _coordinate(problems: _Problems, line: int, row: dict[str, str], column: str) -> float | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.add(line, column, BadCoordinates().detail)
        return None
    return value


def _duplicates(keyed: Iterable[tuple[int, str]], problems: _Problems, column: str) -> None:
    first: dict[str, int] = {}
    for line, key in keyed:
        if key in first:
            problems.add(line, column, f"与第 {first[key]} 行重复（{key}）")
        else:
            first[key] = line


def _database(hub: Services | Database) -> Database:
    return hub if isinstance(hub, Database) else hub.db


async def import_venues(
    hub: Services | Database, actor: Principal, text: str, *, dry_run: bool, now: datetime
) -> ImportReport:
    """Import venues (场地) from CSV ``text``; ``Forbidden`` unless a system administrator."""
    access.require(actor, access.Action.ADD_VENUE, access.Target())
    problems = _Problems()
    regions = known_regions(hub)
    drafts: list[tuple[int, VenueDraft]] = []
    rows = _rows(text, VENUE_COLUMNS, problems)
    _duplicates(((line, row["code"]) for line, row in rows), problems, "code")
    for line, row in rows:
        latitude = _coordinate(problems, line, row, "latitude")
        longitude = _coordinate(problems, line, row, "longitude")
        draft = VenueDraft(
            code=row["code"],
            name=row["name"],
            region_code=row["region_code"],
            supervising_department=row["supervising_department"],
            contact_name=row.get("contact_name", ""),
            contact_phone=row.get("contact_phone", ""),
            latitude=latitude,
            longitude=longitude,
        )
        checked = _venue_fields(problems, line, draft, regions)
        if checked is not None:
            drafts.append((line, checked))
    async with _database(hub).read() as s:
        existing = set((await s.execute(select(Venue.code))).scalars())
    if problems.found:
        raise BadImport("场地", problems.found)
    new = [d for _, d in drafts if d.code not in existing]
    if not dry_run:
        for draft in new:
            await add_venue(hub, actor, draft, now=now)
    return ImportReport(
        "venue",
        tuple(f"{d.code} {d.name}" for d in new),
        tuple(d.code for _, d in drafts if d.code in existing),
        dry_run,
    )


def _venue_fields(
    problems: _Problems, line: int, draft: VenueDraft, regions: Any
) -> VenueDraft | None:
    """``draft`` checked, each bad field reported under its own column."""
    found = venue_problems(draft, regions)
    for column, message in found:
        problems.add(line, column, message)
    return None if found else checked_draft(draft, regions)


def _seat_row(problems: _Problems, line: int, row: dict[str, str]) -> SeatRow | None:
    bad = len(problems.found)
    label, room = row["label"], row.get("room", "")
    if not label:
        problems.add(line, "label", "工位编号不能为空")
    elif len(label) > 50:
        problems.add(line, "label", "工位编号太长：最多 50 个字符")
    if len(room) > 100:
        problems.add(line, "room", "房间太长：最多 100 个字符")
    capabilities = tuple(
        c for c in row.get("capabilities", "").replace(";", " ").replace(",", " ").split() if c
    )
    unknown = [c for c in capabilities if c not in CAPABILITIES]
    if unknown:
        problems.add(
            line,
            "capabilities",
            f"未知的设备能力：{', '.join(unknown)}（可选：{', '.join(CAPABILITIES)}）",
        )
    status = row.get("status", "") or "available"
    if status not in SEAT_STATUSES:
        problems.add(line, "status", f"状态只能是 {'、'.join(SEAT_STATUSES)} 之一")
    shared_text = row.get("shared", "").lower()
    if shared_text not in _YES and shared_text not in _NO:
        problems.add(line, "shared", "共享只能填 是/否（或 true/false、1/0），留空为是")
    if len(problems.found) != bad:
        return None
    return SeatRow(
        row["venue_code"],
        label,
        room,
        tuple(sorted(set(capabilities))),
        status,
        _YES.get(shared_text, False),
    )


async def import_seats(
    hub: Services | Database, actor: Principal, text: str, *, dry_run: bool, now: datetime
) -> ImportReport:
    """Import seats (工位) of existing venues from CSV ``text``; each venue's seats are its
    admin's or the system administrator's (``Forbidden`` naming the first venue refused)."""
    problems = _Problems()
    rows = [
        (line, _seat_row(problems, line, row)) for line, row in _rows(text, SEAT_COLUMNS, problems)
    ]
    seats = [(line, seat) for line, seat in rows if seat is not None]
    async with _database(hub).read() as s:
        venues = {v.code: v for v in (await s.execute(select(Venue))).scalars()}
        for code in sorted({seat.venue_code for _, seat in seats if seat.venue_code in venues}):
            venue = venues[code]
            target = access.Target(venue_id=venue.id, venue_name=venue.name)
            access.require(actor, access.Action.ADMINISTER_VENUE, target)
        existing = {
            (venues_by_id, label)
            for venues_by_id, label in (await s.execute(select(Seat.venue_id, Seat.label))).all()
        }
    for line, seat in seats:
        if seat.venue_code not in venues:
            problems.add(line, "venue_code", f"场地代码「{seat.venue_code}」不存在，请核对场地代码")
    _duplicates(
        ((line, f"{seat.venue_code}.{seat.label}") for line, seat in seats), problems, "label"
    )
    if problems.found:
        raise BadImport("工位", problems.found)

    def present(seat: SeatRow) -> bool:
        return (venues[seat.venue_code].id, seat.label) in existing

    new = [seat for _, seat in seats if not present(seat)]
    if not dry_run:
        for seat in new:
            await create_seat(
                hub,
                actor,
                venues[seat.venue_code].id,
                label=seat.label,
                room=seat.room,
                capabilities=seat.capabilities,
                status=seat.status,
                shared=seat.shared,
                now=now,
            )
    return ImportReport(
        "seat",
        tuple(f"{seat.venue_code}.{seat.label}" for seat in new),
        tuple(f"{seat.venue_code}.{seat.label}" for _, seat in seats if present(seat)),
        dry_run,
    )


async def import_users(
    hub: Services | Database, actor: Principal, text: str, *, dry_run: bool, now: datetime
) -> ImportReport:
    """Import user accounts from CSV ``text``, added disabled and without a password (an
    administrator sets one and enables them); ``Forbidden`` unless a system administrator."""
    access.require(actor, access.Action.MANAGE_USERS, access.Target())
    problems = _Problems()
    users: list[tuple[int, UserRow]] = []
    columns = {
        "unknown-role": "role",
        "bad-username": "username",
        "bad-display-name": "display_name",
    }
    for line, row in _rows(text, USER_COLUMNS, problems):
        user = UserRow(
            row["username"], row["role"], row.get("venue_code") or None, row.get("display_name", "")
        )
        try:
            check_account(user.username, user.role, user.venue_code is not None, user.display_name)
        except ProblemError as exc:
            problems.add(line, columns.get(exc.code, "venue_code"), exc.detail)
            continue
        users.append((line, user))
    _duplicates(((line, u.username) for line, u in users), problems, "username")
    async with _database(hub).read() as s:
        venues = set((await s.execute(select(Venue.code))).scalars())
        existing = set((await s.execute(select(User.username))).scalars())
    for line, user in users:
        if user.venue_code is not None and user.venue_code not in venues:
            problems.add(line, "venue_code", f"场地代码「{user.venue_code}」不存在，请核对场地代码")
    if problems.found:
        raise BadImport("用户", problems.found)
    new = [u for _, u in users if u.username not in existing]
    if not dry_run:
        for user in new:
            await add_user(
                hub,
                actor,
                user.username,
                user.role,
                user.venue_code,
                None,
                user.display_name,
                now=now,
            )
    return ImportReport(
        "user",
        tuple(
            f"{u.username} ({u.role}{'' if u.venue_code is None else ', ' + u.venue_code})"
            for u in new
        ),
        tuple(u.username for _, u in users if u.username in existing),
        dry_run,
    )
