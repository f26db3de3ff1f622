"""Demo data and the ``evaluation-hub demo`` command (embedded default: SQLite, in-process bus).

Seeds the Yunnan directory from ``configs/demo/directory.yaml``, a session on the next day, and
three booking requests (one waiting with seats held, one waiting for seats, one confirmed), then
serves the hub and prints where to sign in.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from evaluation_hub.api.auth import hash_password
from evaluation_hub.booking import store
from evaluation_hub.booking.rules import CHINA_TZ
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, Expert, Seat, SessionExpert, User, Venue
from evaluation_hub.errors import ConfigError
from evaluation_hub.principal import Principal

__all__ = ["DEMO_DIRECTORY", "add_user_command", "load_directory", "run", "seed"]

DEMO_DIRECTORY = Path(__file__).resolve().parent.parent / "configs" / "demo" / "directory.yaml"
CAPABILITIES = ["camera", "dual_screen", "microphone"]


def load_directory(path: Path = DEMO_DIRECTORY) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


async def seed(db: Database, now: datetime, *, day: date | None = None) -> dict[str, Any]:
    """Load the demo directory into an empty, migrated database. Returns ids by code."""
    data = load_directory()
    ids: dict[str, Any] = {"venues": {}, "experts": {}, "seats": {}}
    async with db.write() as s:
        if (await s.execute(select(func.count(Venue.id)))).scalar_one():
            raise ConfigError("the demo database already holds data; use --reset to start over")
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
                    capabilities=CAPABILITIES if n % 3 else ["camera", "microphone"],
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
        spec = data["session"]
        day = day or (now.astimezone(CHINA_TZ) + timedelta(days=1)).date()
        session = EvaluationSession(
            project_code=spec["project_code"],
            project_name=spec["project_name"],
            section=spec["section"],
            host_venue_id=ids["venues"][spec["host"]],
            starts_at=datetime.combine(day, time.fromisoformat(spec["start"]), CHINA_TZ),
            ends_at=datetime.combine(day, time.fromisoformat(spec["end"]), CHINA_TZ),
            committee_size=spec["committee_size"],
            state="scheduled",
            created_at=now,
        )
        s.add(session)
        await s.flush()
        ids["session"] = session.id
        for placement, codes in (("host", spec["host_experts"]), ("away", spec["away_experts"])):
            for code in codes:
                s.add(
                    SessionExpert(
                        session_id=session.id, expert_id=ids["experts"][code], placement=placement
                    )
                )
    ids["password"] = data["password"]
    return ids


async def seed_bookings(db: Database, ids: dict[str, Any], now: datetime) -> dict[str, int]:
    """Three requests from the host: held seats at 大理, a count at 红河, confirmed at 曲靖."""
    host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
    policy = store.BookingPolicy()
    seats = ids["seats"]
    dali = await store.request_booking(
        db,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["DL"],
        seat_count=2,
        seat_ids=[seats["DL-01"], seats["DL-02"]],
        now=now,
        policy=policy,
    )
    honghe = await store.request_booking(
        db,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["HH"],
        seat_count=1,
        seat_ids=None,
        now=now,
        policy=policy,
    )
    qujing = await store.request_booking(
        db,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["QJ"],
        seat_count=2,
        seat_ids=None,
        now=now,
        policy=policy,
    )
    qj_admin = Principal("qj_admin", "venue_admin", ids["venues"]["QJ"])
    await store.confirm_booking(
        db, qj_admin, qujing.id, seat_ids=[seats["QJ-01"], seats["QJ-02"]], now=now
    )
    return {"dali": dali.id, "honghe": honghe.id, "qujing": qujing.id}


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from evaluation_hub.api.app import create_app
    from evaluation_hub.logging import configure_logging

    state = Path(args.state_dir)
    if args.reset and state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{state / 'hub.db'}"
    config = HubConfig.from_env(database_url=url, host=args.host, port=args.port)
    configure_logging(json=config.json_logs)

    async def prepare() -> bool:
        db = Database(url)
        try:
            await db.upgrade()
            async with db.read() as s:
                empty = not (await s.execute(select(func.count(Venue.id)))).scalar_one()
            if empty:
                now = datetime.now(UTC)
                ids = await seed(db, now)
                await seed_bookings(db, ids, now)
            return empty
        finally:
            await db.dispose()

    seeded = asyncio.run(prepare())
    data = load_directory()
    base = f"http://{config.host}:{config.port}"
    print(f"\n远程异地评标 主场枢纽 demo ({'seeded' if seeded else 'existing data'}: {url})")
    print(f"  admin page:   {base}/admin   (venue admins: seat directory and booking requests)")
    print(
        f"  host page:    {base}/host    (host site: allocation, session lifecycle, check-in PINs)"
    )
    print(
        f"  supervision:  {base}/supervision   (supervisors: record, incidents, 函告, copy notices)"
    )
    print(f"  API document: {base}/api/openapi.json")
    print(
        f"  sign in as dl_admin / hh_admin / qj_admin / km_operator / km_supervisor / qj_supervisor / sysadmin, password {data['password']}"
    )
    if args.seed_only:
        return 0
    app = create_app(config)
    web.run_app(app, host=config.host, port=config.port, print=None)
    return 0


def add_user_command(args: argparse.Namespace) -> int:
    config = HubConfig.from_env(database_url=args.database_url)

    async def add() -> None:
        db = Database(config.database_url)
        try:
            await db.check_migrated()
            async with db.write() as s:
                venue_id = None
                if args.venue_code:
                    venue = (
                        await s.execute(select(Venue).where(Venue.code == args.venue_code))
                    ).scalar_one_or_none()
                    if venue is None:
                        raise ConfigError(f"no venue with code {args.venue_code}")
                    venue_id = venue.id
                s.add(
                    User(
                        username=args.username,
                        role=args.role,
                        venue_id=venue_id,
                        password_hash=hash_password(args.password),
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(add())
    print(f"user {args.username} added")
    return 0
