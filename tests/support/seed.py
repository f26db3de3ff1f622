"""The tests' own data: the Yunnan directory of ``tests/support/directory.yaml`` in a migrated,
empty database, and the host's three booking requests.

``seed`` writes what exists before a test's story begins: four venues with their seats (the
last seat of each venue under maintenance; every third seat without a second screen), seven
experts, ten users who all sign in with the password ``demo-2026``, and one session hosted at
KM on the day after ``now`` with its seven experts (E01–E02 at the host, E03–E07 away). These
are plain rows with no audit event, as the directory would stand after an import, so a test's
audit chain starts with the test's own first event (several tests assert ``seq == 1`` and exact
event lists). ``seed_bookings`` then makes the three requests through the booking use cases
(audited like any request).

The returned ids are the tests' handles: ``ids["venues"]["KM"]``, ``ids["seats"]["DL-01"]``,
``ids["experts"]["E03"]``, ``ids["session"]``, ``ids["password"]``; ``seed_bookings`` returns
``{"dali": …, "honghe": …, "qujing": …}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import localtime
from evaluation_hub.admin.passwords import hash_password
from evaluation_hub.booking import answers
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, Expert, Seat, SessionExpert, User, Venue
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import seat_requests
from evaluation_hub.sessions.states import SessionState
from tests.support.services import services_for

__all__ = ["DIRECTORY", "DaySession", "load_directory", "seed", "seed_bookings", "seed_day"]

DIRECTORY = Path(__file__).resolve().parent / "directory.yaml"
# Every seat has a camera and a microphone; all but every third one a second screen.
FULL_DESK = ["camera", "dual_screen", "microphone"]
PLAIN_DESK = ["camera", "microphone"]


def load_directory(path: Path = DIRECTORY) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


async def seed(
    db: Database,
    now: datetime,
    *,
    day: date | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """Load the tests' directory into an empty, migrated database; the session is on ``day``
    (default: the local day after ``now``) at the directory's times, or over ``window`` (a
    session under way, for tests whose hub runs on the real clock). Returns ids by code."""
    data = load_directory()
    ids: dict[str, Any] = {"venues": {}, "experts": {}, "seats": {}}
    async with db.write() as s:
        if (await s.execute(select(func.count(Venue.id)))).scalar_one():
            raise RuntimeError("seed() needs an empty database; this one already holds venues")
        for v in data["venues"]:
            venue = Venue(
                code=v["code"],
                name=v["name"],
                region_code=v["region_code"],
                supervising_department=v["supervising_department"],
                contact_name=v["contact_name"],
                contact_phone=v["contact_phone"],
            )
            s.add(venue)
            await s.flush()
            ids["venues"][v["code"]] = venue.id
            spec = v["seats"]
            for n in range(1, spec["count"] + 1):
                seat = Seat(
                    venue_id=venue.id,
                    label=f"{spec['prefix']}{n:02d}",
                    room=spec["room"],
                    capabilities=FULL_DESK if n % 3 else PLAIN_DESK,
                    status="available" if n != spec["count"] else "maintenance",
                    shared=True,
                )
                s.add(seat)
                await s.flush()
                ids["seats"][seat.label] = seat.id
        for e in data["experts"]:
            expert = Expert(**e)
            s.add(expert)
            await s.flush()
            ids["experts"][e["code"]] = expert.id
        # One hash for all: scrypt is slow on purpose, and every test seeds.
        password = hash_password(data["password"])
        for u in data["users"]:
            s.add(
                User(
                    username=u["username"],
                    display_name=u["display_name"],
                    role=u["role"],
                    venue_id=ids["venues"].get(u.get("venue")),
                    password_hash=password,
                )
            )
        ids["session"] = await _add_session(s, data, ids, now, day, window)
    ids["password"] = data["password"]
    return ids


async def _add_session(
    s: AsyncSession,
    data: dict[str, Any],
    ids: dict[str, Any],
    now: datetime,
    day: date | None,
    window: tuple[datetime, datetime] | None,
) -> int:
    spec = data["session"]
    day = day or (localtime.day_of(now) + timedelta(days=1))
    starts_at, ends_at = window or (
        localtime.at_local(day, time.fromisoformat(spec["start"])),
        localtime.at_local(day, time.fromisoformat(spec["end"])),
    )
    session = EvaluationSession(
        project_code=spec["project_code"],
        project_name=spec["project_name"],
        section=spec["section"],
        host_venue_id=ids["venues"][spec["host"]],
        starts_at=starts_at,
        ends_at=ends_at,
        committee_size=spec["committee_size"],
        state=SessionState.SCHEDULED,
        created_at=now,
    )
    s.add(session)
    await s.flush()
    for placement, codes in (("host", spec["host_experts"]), ("away", spec["away_experts"])):
        for code in codes:
            s.add(
                SessionExpert(
                    session_id=session.id, expert_id=ids["experts"][code], placement=placement
                )
            )
    return session.id


async def seed_session(db: Database, ids: dict[str, Any], now: datetime, *, day: date) -> int:
    """One more session of the directory's (same project, committee and times) on ``day``, in
    a database ``seed`` filled; returns its id (``bench/soak.py`` runs one after another)."""
    async with db.write() as s:
        return await _add_session(s, load_directory(), ids, now, day, None)


@dataclass(frozen=True)
class DaySession:
    """One session of ``seed_day``: its id, its members (expert code, seat label, venue code)
    in seating order, and the supervisor on duty for it at the host."""

    session: int
    members: tuple[tuple[str, str, str], ...]
    supervisor: str


async def seed_day(
    db: Database, ids: dict[str, Any], now: datetime, *, sessions: int, size: int
) -> list[DaySession]:
    """``sessions`` more sessions of the directory's project, all at the directory's times on
    the day after ``now`` (``bench/day.py``: a province's day on one hub), in a database
    ``seed`` filled. Each has a committee of ``size`` experts of its own: two sit at the host
    (KM), the others at 大理, 红河 and 曲靖 in turn, each at a seat added for them there; and
    a supervisor of its own at the host (a user may watch only so many seats at once). The
    new experts, seats and users are added to ``ids`` (``experts``, ``seats``)."""
    data = load_directory()
    region = {v["code"]: v["region_code"] for v in data["venues"]}
    prefix = {v["code"]: v["seats"]["prefix"] for v in data["venues"]}
    away = [v["code"] for v in data["venues"] if v["code"] != data["session"]["host"]]
    host = data["session"]["host"]
    made: list[DaySession] = []
    password = hash_password(data["password"])
    async with db.write() as s:
        numbers = dict.fromkeys(prefix, 100)
        for k in range(1, sessions + 1):
            members = []
            for j in range(size):
                venue = host if j < 2 else away[(j - 2) % len(away)]
                numbers[venue] += 1
                label = f"{prefix[venue]}{numbers[venue]}"
                seat = Seat(
                    venue_id=ids["venues"][venue],
                    label=label,
                    room=f"评标区 {k:02d}",
                    capabilities=FULL_DESK,
                    status="available",
                    shared=True,
                )
                code = f"D{k:02d}{j + 1:02d}"
                expert = Expert(
                    code=code,
                    name=f"专家{k:02d}-{j + 1}",
                    home_region=region[venue],
                    employer=f"评审专家单位{k:02d}{j + 1:02d}",
                )
                s.add_all([seat, expert])
                await s.flush()
                ids["seats"][label], ids["experts"][code] = seat.id, expert.id
                members.append((code, label, venue))
            supervisor = f"day_supervisor_{k:02d}"
            s.add(
                User(
                    username=supervisor,
                    display_name=f"主场监督 {k:02d}",
                    role="supervisor",
                    venue_id=ids["venues"][host],
                    password_hash=password,
                )
            )
            codes = [code for code, _, _ in members]
            spec = {
                **data["session"],
                "committee_size": size,
                "host_experts": codes[:2],
                "away_experts": codes[2:],
            }
            sid = await _add_session(s, {**data, "session": spec}, ids, now, None, None)
            made.append(DaySession(sid, tuple(members), supervisor))
    return made


async def seed_bookings(db: Database, ids: dict[str, Any], now: datetime) -> dict[str, int]:
    """Three requests from the host: two held seats at 大理 (waiting), one seat at 红河 (waiting
    for the venue to choose), two seats at 曲靖 (confirmed with QJ-01 and QJ-02)."""
    host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
    hub = services_for(db)
    seats = ids["seats"]
    dali = await seat_requests.request_booking(
        hub,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["DL"],
        seat_count=2,
        seat_ids=[seats["DL-01"], seats["DL-02"]],
        now=now,
    )
    honghe = await seat_requests.request_booking(
        hub,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["HH"],
        seat_count=1,
        seat_ids=None,
        now=now,
    )
    qujing = await seat_requests.request_booking(
        hub,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["QJ"],
        seat_count=2,
        seat_ids=None,
        now=now,
    )
    qj_admin = Principal("qj_admin", "venue_admin", ids["venues"]["QJ"])
    await answers.confirm_booking(
        hub, qj_admin, qujing.id, seat_ids=[seats["QJ-01"], seats["QJ-02"]], now=now
    )
    return {"dali": dali.id, "honghe": honghe.id, "qujing": qujing.id}
