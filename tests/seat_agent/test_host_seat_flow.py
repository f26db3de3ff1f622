"""A host expert at a host seat (主场专家在主场工位): booked by the host operator at the host
venue, confirmed by the host venue's admin, the terminal enrolled like any seat; the expert
checks in with a PIN at the seat agent (presence unconfirmed: the seat sends no picture, so
the supervisors get an incident and the expert is told), confirms the commitment at the seat
(the host may no longer record it for them) and scores every part from the seat's page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from evaluation_hub.api.keys import CONFIG
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.evaluation.models import ScoreSaveRow
from evaluation_hub.principal import Principal
from evaluation_hub.seats import enrolment as seat_store
from scoring.model import COMMERCIAL_PART
from seat_agent.keys import init_state_dir
from seat_agent.page.app import DESK, make_app, start_page
from seat_agent.page.guard import new_page_key
from seat_agent.runner import SeatAgent
from seat_protocol.suites import DEFAULT, Suite
from tests.conftest import FakeClock
from tests.evaluation.helpers import act, attach, hub_shuffle
from tests.hub.helpers import confirm_committee, login, problem
from tests.seat_agent.test_page_flow import (
    COMMENT,
    SEAT_POINTS,
    Client,
    ExpertSeat,
    page_headers,
    until,
)

SEAT = "KM.KM-01"
EXPERT = "E01"
KM = "云南省公共资源交易中心（昆明）"


@contextlib.asynccontextmanager
async def host_expert_seat(
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp: Path,
    suite: Suite = DEFAULT,
) -> AsyncIterator[ExpertSeat]:
    """E01 booked at the host's KM-01, the booking confirmed, the terminal enrolled (with keys
    of ``suite``), the session in check-in with the package attached, PINs issued, the agent
    and page running."""
    host = await login(client, "km_operator")
    sid = seeded["session"]
    resp = await client.post(
        f"/api/sessions/{sid}/host-seats",
        json={
            "seats": [{"seat_id": seeded["seats"]["KM-01"], "expert_id": seeded["experts"][EXPERT]}]
        },
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    booking = (await resp.json())["id"]
    resp = await client.post(
        f"/api/bookings/{booking}/confirm", json={}, headers=await login(client, "km_admin")
    )
    assert resp.status == 200, await resp.text()
    assert client.app is not None
    identity = init_state_dir(
        tmp / "seat",
        seat_id=SEAT,
        hub_url=f"ws://127.0.0.1:{client.port}/ws/seat",
        hub_id=client.app[CONFIG].hub_id,
        suite=suite,
    )
    await seat_store.record_enrolment(
        database,
        SEAT,
        identity.ed25519_public,
        identity.x25519_public,
        identity.enrolment_code,
        clock(),
    )
    km_admin = Principal("km_admin", "venue_admin", seeded["venues"]["KM"])
    await seat_store.approve_enrolment(
        database, km_admin, SEAT, clock(), enrolment_code=identity.enrolment_code
    )
    host = await login(client, "km_operator")
    await act(client, host, sid, "confirm_seats", "open_check_in")
    resp = await attach(client, host, sid)
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "经监督人员确认放行"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/sessions/{sid}/checkin-pins", headers=host)
    assert resp.status == 201, await resp.text()
    (pin,) = [p["pin"] for p in (await resp.json())["pins"] if p["expert_code"] == EXPERT]
    clock.advance(hours=23, minutes=30)  # into the check-in window
    host = await login(client, "km_operator")

    agent = await SeatAgent.open(identity)
    page, url = await start_page(agent, 0, "127.0.0.1", new_page_key())
    desk = page.app[DESK]
    seat = ExpertSeat(client, database, clock, host, sid, pin, agent, desk, page, url)
    seat.tasks.append(asyncio.create_task(agent.run(seat.stop)))
    try:
        await until(lambda: desk.aligned, "the seat's first connection")
        yield seat
    finally:
        await seat.close()


async def test_a_host_expert_checks_in_and_evaluates_at_a_host_seat(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    async with (
        host_expert_seat(client, seeded, database, clock, tmp_path) as seat,
        TestClient(
            TestServer(make_app(seat.desk, seat.agent.chapters, page_key=seat.page_key)),
            headers=page_headers(seat.page_key),
        ) as http,
    ):
        sid = seat.sid
        resp = await http.post(
            "/api/checkin", json={"session_id": str(sid), "expert_code": EXPERT, "pin": seat.pin}
        )
        assert resp.status == 202, await resp.text()
        await until(lambda: seat.desk.briefing is not None, "the briefing")
        state = await (await http.get("/api/state")).json()
        assert state["checkin"]["message"] == f"专家 {EXPERT} 签到成功"
        assert state["briefing"]["expert"] == EXPERT
        # No picture from this terminal: the check-in stands, presence is not confirmed, the
        # expert is told and the supervisors get an incident.
        await until(lambda: seat.desk.committee.presence is not None, "the presence check")
        state = await (await http.get("/api/state")).json()
        assert state["presence"] == {
            "state": "unconfirmed",
            "message": "签到已记录，但未能确认本人在场：未检测到画面。已报告监督人员核实，"
            "请面向摄像头并保持画面中只有本人",
        }
        supervisor = await login(seat.client, "km_supervisor")
        incidents = await (
            await seat.client.get(f"/api/sessions/{sid}/incidents", headers=supervisor)
        ).json()
        assert [
            (i["kind"], i["expert"]["code"], i["seat"]["label"], i["venue"]["venue_id"])
            for i in incidents
        ] == [("签到时未确认本人在场", EXPERT, "KM-01", seeded["venues"]["KM"])]
        assert incidents[0]["description"].startswith(
            "签到时未能确认本人在场：工位 KM-01，未检测到画面（"
        )

        # At a seat, the expert decides for themself: the host may not record it for them.
        status, body = await seat.api(
            "POST",
            f"/api/sessions/{sid}/committee/members/{EXPERT}/decision",
            {"decision": "confirmed"},
        )
        assert (status, body["detail"]) == (
            409,
            f"专家 {EXPERT} 已在工位 {SEAT} 签到，须在本人工位确认承诺或声明回避",
        )
        resp = await http.post("/api/commitment", json={"decision": "confirmed"})
        assert resp.status == 200, await resp.text()
        await until(lambda: seat.desk.commitment_result, "the commitment recorded")
        assert seat.desk.commitment_result == "已记录评标纪律承诺"
        status, view = await seat.api("GET", f"/api/sessions/{sid}/committee")
        e01 = next(m for m in view["members"] if m["code"] == EXPERT)
        assert (e01["decision"], e01["seat"]) == (
            "confirmed",
            {"venue_name": KM, "label": "KM-01", "checked_in": True},
        )
        await confirm_committee(database, sid, clock())
        await act(seat.client, seat.host, sid, "start_evaluation")

        # E01 scores every part at the seat; each save reaches the hub as E01's, from the seat.
        shuffle = await hub_shuffle(seat.client, database, sid)
        for part in state["briefing"]["parts"]:
            values = {}
            for subject in part["subjects"]:
                bidder = (
                    subject
                    if part["part"] == COMMERCIAL_PART
                    else shuffle.bidder_for(EXPERT, part["part"], subject)
                )
                for item in part["items"]:
                    values[f"{subject}|{item['id']}"] = {
                        "points": SEAT_POINTS[bidder, item["id"]],
                        "comment": COMMENT,
                    }
            resp = await http.post("/api/scores", json={"part": part["part"], "values": values})
            assert resp.status == 201, await resp.text()

        async def delivered() -> bool:
            saves = (await (await http.get("/api/state")).json())["saves"]
            return len(saves) == 4 and all(s["status"] == "delivered" for s in saves)

        await until(delivered, "every save acknowledged")
        status, body = await seat.api("GET", f"/api/sessions/{sid}/evaluation")
        assert status == 200, body
        async with database.read() as s:
            submitted = (
                (
                    await s.execute(
                        select(SubmittedScore.seat_key).where(
                            SubmittedScore.session_ref == str(sid)
                        )
                    )
                )
                .scalars()
                .all()
            )
            saves = (
                await s.execute(
                    select(
                        ScoreSaveRow.expert_code,
                        ScoreSaveRow.part_id,
                        ScoreSaveRow.source,
                        ScoreSaveRow.accepted,
                    )
                    .where(ScoreSaveRow.session_id == sid)
                    .order_by(ScoreSaveRow.part_id)
                )
            ).all()
        assert submitted == [SEAT] * 4
        assert [tuple(r) for r in saves] == [
            (EXPERT, part, "seat", True) for part in ("ch1", "ch2", "ch3", "commercial")
        ]


async def test_a_host_expert_at_a_seat_is_not_recorded_by_the_host(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    """Before the check-in the host still records a host member's commitment; the chair ballot
    of a member checked in at a seat is theirs to cast there, never typed in by the host."""
    async with host_expert_seat(client, seeded, database, clock, tmp_path) as seat:
        sid = seat.sid
        await seat.desk.check_in(str(sid), EXPERT, seat.pin)
        await until(lambda: seat.desk.briefing is not None, "the briefing")
        await seat.desk.commit("confirmed")
        await until(lambda: seat.desk.commitment_result, "the commitment recorded")
        await confirm_committee(database, sid, clock())
        resp = await seat.client.post(
            f"/api/sessions/{sid}/committee/chair-votes",
            json={"ballots": [{"voter": EXPERT, "candidate": "E02"}], "reason": "代为登记"},
            headers=seat.host,
        )
        assert (await problem(resp, 409))["detail"] == (
            f"专家 {EXPERT} 已在工位 {SEAT} 签到，须由本人在工位投票"
        )
