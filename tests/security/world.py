"""The world the authorisation matrix asks about: two sessions, and an object of every kind the
API names by id, one belonging to each.

* **S1** (the seeded session) is hosted at 昆明 (KM) and in check-in; 曲靖 (QJ) confirmed
  QJ-01/QJ-02 with E06/E07 seated (QJ is its away venue), 大理 (DL) merely requested DL-01/DL-02.
* **S2** is hosted at 红河 (HH) two days later, in check-in, with E03 seated at DL-03 (DL is its
  away venue). Nothing of it concerns KM or QJ.

The principals sit at KM (S1's host) or QJ (S1's away venue); "own" objects are S1's (or the
principal's venue's), "other" ones S2's (or HH's). Every object is made through the use cases,
as the hub would make it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from evaluation_hub.booking import answers
from evaluation_hub.checkin import store as checkin
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import User
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.evaluation.package import recommit_members, start_evaluation_in
from evaluation_hub.principal import Principal
from evaluation_hub.seats import enrolment
from evaluation_hub.services import Services
from evaluation_hub.sessions import membership, records, seat_requests, store
from evaluation_hub.supervision import assistance, handovers, incidents
from evaluation_hub.supervision.models import Severity
from tests.conftest import FakeClock
from tests.supervision_api.conftest import seed_seated
from tests.support.services import services_for

__all__ = ["World", "build_world"]


@dataclass
class World:
    ids: dict[str, Any]
    s1: int
    s2: int
    #: S1's bookings at QJ, one per answer the matrix tries (each may be used up once)
    s1_bookings: dict[str, int]
    #: S2's confirmed booking of DL-03
    s2_booking: int
    incidents: dict[str, int]
    assistance: dict[str, int]
    copy_notices: dict[str, int]
    handovers: dict[str, int]
    #: seat enrolment requests by venue code
    enrolments: dict[str, int]
    enrolment_codes: dict[str, str]
    labels: itertools.count[int] = field(default_factory=itertools.count)

    def venue(self, code: str) -> int:
        return int(self.ids["venues"][code])

    def seat(self, label: str) -> int:
        return int(self.ids["seats"][label])

    def expert(self, code: str) -> int:
        return int(self.ids["experts"][code])


def _as(role: str, venue: int | None, name: str) -> Principal:
    return Principal(name, role, venue)


async def _session_on(hub: Services, host: Principal, session_id: int, now: datetime) -> None:
    for action in ("confirm_seats", "open_check_in"):
        await store.act(
            hub, host, session_id, action, reason=None, now=now, start=start_evaluation_in
        )


async def _booking(
    hub: Services,
    host: Principal,
    session_id: int,
    venue: int,
    seats: list[int] | None,
    now: datetime,
    *,
    confirm_as: Principal | None = None,
) -> int:
    made = await seat_requests.request_booking(
        hub,
        host,
        session_id=session_id,
        venue_id=venue,
        seat_count=len(seats) if seats else 1,
        seat_ids=seats,
        now=now,
    )
    if confirm_as is not None:
        await answers.confirm_booking(hub, confirm_as, made.id, seat_ids=None, now=now)
    return made.id


async def build_world(db: Database, clock: FakeClock) -> World:
    now = clock()
    ids = await seed_seated(db, clock)  # S1 with its three bookings, experts on DL-01..QJ-02
    hub = services_for(db)
    v = ids["venues"]
    km_operator = _as("host_operator", v["KM"], "km_operator")
    km_supervisor = _as("supervisor", v["KM"], "km_supervisor")
    qj_admin = _as("venue_admin", v["QJ"], "qj_admin")
    hh_operator = _as("host_operator", v["HH"], "hh_operator")
    hh_supervisor = _as("supervisor", v["HH"], "hh_supervisor")
    dl_admin = _as("venue_admin", v["DL"], "dl_admin")
    root = _as("system_admin", None, "sysadmin")
    # 曲靖's host operator: a principal of every role is needed at the away venue too.
    async with db.write() as s:
        template = (await s.execute(select(User).where(User.username == "qj_admin"))).scalar_one()
        s.add(
            User(
                username="qj_operator",
                display_name="曲靖业务员",
                role="host_operator",
                venue_id=v["QJ"],
                password_hash=template.password_hash,
            )
        )
    s1 = int(ids["session"])
    seats = ids["seats"]
    s1_bookings = {
        # to be confirmed with QJ-05, to be rejected, to be cancelled, to be changed
        "confirm": await _booking(hub, km_operator, s1, v["QJ"], None, now),
        "reject": await _booking(hub, km_operator, s1, v["QJ"], None, now),
        "cancel": await _booking(
            hub, km_operator, s1, v["QJ"], [seats["QJ-03"]], now, confirm_as=qj_admin
        ),
        "change": await _booking(
            hub, km_operator, s1, v["QJ"], [seats["QJ-04"]], now, confirm_as=qj_admin
        ),
        "seated": int(ids["bookings"]["qujing"]),
    }
    await _session_on(hub, km_operator, s1, now)

    day2 = now + timedelta(days=3)
    s2 = (
        await records.create_session(
            hub,
            root,
            records.SessionDraft(
                project_code="YN-2026-HH-0002",
                project_name="红河某项目",
                section="第 2 标段",
                host_venue_id=v["HH"],
                starts_at=day2,
                ends_at=day2 + timedelta(hours=8),
                committee_size=5,
            ),
            now=now,
        )
    ).id
    for code, placement in (("E01", "host"), ("E02", "host"), ("E03", "away")):
        await membership.add_member(
            hub,
            hh_operator,
            s2,
            ids["experts"][code],
            placement=placement,
            now=now,
            follow=recommit_members,
        )
    s2_booking = await _booking(
        hub, hh_operator, s2, v["DL"], [seats["DL-03"]], now, confirm_as=dl_admin
    )
    await checkin.assign_expert(
        hub, hh_operator, s2_booking, seats["DL-03"], ids["experts"]["E03"], now=now
    )
    await _session_on(hub, hh_operator, s2, now)

    async def incident(sup: Principal, session: int, expert: str) -> int:
        made = await incidents.raise_incident(
            hub,
            sup,
            session,
            kind="离开工位",
            severity=Severity.MINOR,
            expert_id=ids["experts"][expert],
            seat_id=None,
            evidence={},
            description="矩阵测试",
            now=now,
        )
        return made.id

    found = {
        "s1": await incident(km_supervisor, s1, "E06"),
        "s1-conclude": await incident(km_supervisor, s1, "E07"),
        "s2": await incident(hh_supervisor, s2, "E03"),
    }
    notices: dict[str, int] = {}
    for key, sup, session, expert in (
        ("s1", km_supervisor, s1, "E06"),
        ("s2", hh_supervisor, s2, "E03"),
    ):
        concluded = await incidents.conclude_incident(
            hub, sup, await incident(sup, session, expert), result="已处理", now=now
        )
        assert concluded.copy_notice_id is not None, concluded
        notices[key] = concluded.copy_notice_id
    helps = {
        "s1": (
            await assistance.request_assistance(
                hub, km_supervisor, s1, venue_id=v["QJ"], content="请协助核实", now=now
            )
        ).id,
        "s2": (
            await assistance.request_assistance(
                hub, hh_supervisor, s2, venue_id=v["DL"], content="请协助核实", now=now
            )
        ).id,
    }
    after = now + timedelta(days=10)  # both sessions are over: their handovers may open
    opened = {
        "s1": next(
            h
            for h in await handovers.open_handovers(hub, km_supervisor, s1, now=after)
            if h.venue.venue_id == v["QJ"]
        ).id,
        "s2": (await handovers.open_handovers(hub, hh_supervisor, s2, now=after))[0].id,
    }

    codes: dict[str, str] = {}
    for key, label in (("KM", "KM-01"), ("QJ", "QJ-05"), ("HH", "HH-01")):
        codes[key] = f"MX{key}-0001"  # the terminal's XXXX-XXXX form
        await enrolment.record_enrolment(
            db, f"{key}.{label}", os.urandom(32), os.urandom(32), codes[key], now
        )
    async with db.read() as s:
        rows = (await s.execute(select(SeatEnrolment))).scalars()
        enrolled = {r.seat_key.split(".")[0]: r.id for r in rows}
    return World(
        ids=ids,
        s1=s1,
        s2=s2,
        s1_bookings=s1_bookings,
        s2_booking=s2_booking,
        incidents=found,
        assistance=helps,
        copy_notices=notices,
        handovers=opened,
        enrolments=enrolled,
        enrolment_codes=codes,
    )
