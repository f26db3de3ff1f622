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

__all__ = ["DIRECTORY", "load_directory", "seed", "seed_bookings"]

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
