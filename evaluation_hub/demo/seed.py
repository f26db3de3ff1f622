"""The demo's data, made the way the people who own it would make it: through the hub's use
cases, each checked and audited.

``seed`` loads ``configs/demo/directory.yaml`` into an empty, migrated database: the system
administrator registers the four venues (``admin.venues``), each venue's admin publishes its
seats (``booking.directory``; the last seat of each venue under maintenance, every third one
without a second screen), the administrator adds the seven experts to the pool
(``admin.experts``) and the ten users (``admin.users``), and the host operator at 昆明 creates
the session on the next day (``sessions.records``) and registers its committee
(``sessions.membership``: E01–E02 at the host, E03–E07 away). ``seed_bookings`` then makes the
host's three booking requests and 曲靖's confirmation (``sessions.seat_requests``,
``booking.answers``).

The demo's set-up acts as a system administrator named ``demo`` (as ``evaluation-hub user add``
acts as ``cli:<user>``), and as each venue's admin and the host operator by their usernames in
the directory, so the audit chain says who did what. The returned ids are keyed by code:
``ids["venues"]["KM"]``, ``ids["seats"]["DL-01"]``, ``ids["experts"]["E03"]``,
``ids["session"]``, ``ids["password"]``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from evaluation_hub import localtime
from evaluation_hub.admin.experts import ExpertDraft, add_expert
from evaluation_hub.admin.users import add_user
from evaluation_hub.admin.venues import VenueDraft, add_venue
from evaluation_hub.booking import answers
from evaluation_hub.booking.directory import create_seat, list_venues
from evaluation_hub.demo.data import load_directory
from evaluation_hub.errors import ConfigError
from evaluation_hub.evaluation.package import recommit_members
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import membership, seat_requests
from evaluation_hub.sessions.records import SessionDraft, create_session

__all__ = ["SEED_ACTOR", "host_operator", "seed", "seed_bookings", "venue_admin"]

#: who the demo's set-up is as the system administrator
SEED_ACTOR = Principal("demo", "system_admin", None)
# Every seat has a camera and a microphone; all but every third one a second screen.
FULL_DESK = ("camera", "dual_screen", "microphone")
PLAIN_DESK = ("camera", "microphone")


def _user(data: dict[str, Any], role: str, venue: str) -> str:
    users = data["users"]
    return str(next(u["username"] for u in users if u["role"] == role and u.get("venue") == venue))


def venue_admin(data: dict[str, Any], ids: dict[str, Any], venue: str) -> Principal:
    """The venue's admin (``dl_admin`` …) as the directory names them."""
    return Principal(_user(data, "venue_admin", venue), "venue_admin", ids["venues"][venue])


def host_operator(data: dict[str, Any], ids: dict[str, Any]) -> Principal:
    """The host operator of the session's host venue (``km_operator``)."""
    host = data["session"]["host"]
    return Principal(_user(data, "host_operator", host), "host_operator", ids["venues"][host])


async def seed(hub: Services, now: datetime, *, day: date | None = None) -> dict[str, Any]:
    """Load the demo directory into an empty, migrated database; the session is on ``day``
    (default: the local day after ``now``). ``ConfigError`` if the database holds venues."""
    if await list_venues(hub, SEED_ACTOR):
        raise ConfigError("the demo database already holds data; use --reset to start over")
    data = load_directory()
    ids: dict[str, Any] = {"venues": {}, "experts": {}, "seats": {}}
    for v in data["venues"]:
        draft = VenueDraft(
            code=v["code"],
            name=v["name"],
            region_code=v["region_code"],
            supervising_department=v["supervising_department"],
            contact_name=v["contact_name"],
            contact_phone=v["contact_phone"],
        )
        venue = await add_venue(hub, SEED_ACTOR, draft, now=now)
        ids["venues"][venue.code] = venue.id
        admin = venue_admin(data, ids, venue.code)
        spec = v["seats"]
        for n in range(1, spec["count"] + 1):
            seat = await create_seat(
                hub,
                admin,
                venue.id,
                label=f"{spec['prefix']}{n:02d}",
                room=spec["room"],
                capabilities=FULL_DESK if n % 3 else PLAIN_DESK,
                status="available" if n != spec["count"] else "maintenance",
                shared=True,
                now=now,
            )
            ids["seats"][seat.label] = seat.id
    for e in data["experts"]:
        expert = await add_expert(hub, SEED_ACTOR, ExpertDraft(**e), now=now)
        ids["experts"][expert.code] = expert.id
    for u in data["users"]:
        await add_user(
            hub,
            SEED_ACTOR,
            u["username"],
            u["role"],
            u.get("venue"),
            data["password"],
            u["display_name"],
            now=now,
        )
    spec = data["session"]
    day = day or (localtime.day_of(now) + timedelta(days=1))
    operator = host_operator(data, ids)
    session = await create_session(
        hub,
        operator,
        SessionDraft(
            project_code=spec["project_code"],
            project_name=spec["project_name"],
            section=spec["section"],
            starts_at=localtime.at_local(day, time.fromisoformat(spec["start"])),
            ends_at=localtime.at_local(day, time.fromisoformat(spec["end"])),
            committee_size=spec["committee_size"],
            host_venue_id=ids["venues"][spec["host"]],
        ),
        now=now,
    )
    ids["session"] = session.id
    for placement, codes in (("host", spec["host_experts"]), ("away", spec["away_experts"])):
        for code in codes:
            await membership.add_member(
                hub,
                operator,
                session.id,
                ids["experts"][code],
                placement=placement,
                now=now,
                follow=recommit_members,
            )
    ids["password"] = data["password"]
    return ids


async def seed_bookings(hub: Services, ids: dict[str, Any], now: datetime) -> dict[str, int]:
    """Three requests from the host: two held seats at 大理 (waiting), one seat at 红河 (waiting
    for the venue to choose), two seats at 曲靖 (confirmed with QJ-01 and QJ-02)."""
    data = load_directory()
    host = host_operator(data, ids)
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
    await answers.confirm_booking(
        hub,
        venue_admin(data, ids, "QJ"),
        qujing.id,
        seat_ids=[seats["QJ-01"], seats["QJ-02"]],
        now=now,
    )
    return {"dali": dali.id, "honghe": honghe.id, "qujing": qujing.id}
