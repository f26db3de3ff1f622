"""Experts at the host sit at seat terminals too (主场专家也在工位评标): the host operator books
seats of the host venue for the host's own members, the host venue's admin confirms them like
any booking, each member sits on their own side only (an away member never at the host venue,
a host member only there), the committee view says where each member sits, an allocation
still never puts an away expert at the host venue, and the supervision record gives a
host-seated expert the host as both primary and secondary site. (The seeded session: E01, E02
at the host KM, E03…E07 away.)"""

from __future__ import annotations

from typing import Any

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.evaluation.helpers import Client
from tests.hub.helpers import login, problem
from tests.support.seed import seed_bookings

KM = "云南省公共资源交易中心（昆明）"


async def _book(
    client: Client, headers: dict[str, str], sid: int, seats: list[tuple[int, int]]
) -> Any:
    return await client.post(
        f"/api/sessions/{sid}/host-seats",
        json={"seats": [{"seat_id": s, "expert_id": e} for s, e in seats]},
        headers=headers,
    )


async def test_host_members_are_booked_at_host_seats_like_away_seats(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    sid, seats, experts = seeded["session"], seeded["seats"], seeded["experts"]
    host = await login(client, "km_operator")

    # Only the host's own members, each on their own side, each once.
    resp = await _book(client, host, sid, [(seats["KM-01"], experts["E03"])])
    assert (await problem(resp, 422))["detail"] == (
        f"专家 E03 是客场专家，不能安排在主场「{KM}」的工位"
    )
    resp = await _book(client, host, sid, [(seats["KM-01"], 999)])
    assert (await problem(resp, 422))["detail"] == f"专家 #999 不是评标会 #{sid} 的评标委员会成员"
    resp = await _book(
        client, host, sid, [(seats["KM-01"], experts["E01"]), (seats["KM-02"], experts["E01"])]
    )
    assert (await problem(resp, 422))["detail"] == (
        f"每位专家只能安排一个工位：专家 #{experts['E01']} 出现了多次"
    )
    resp = await _book(client, host, sid, [(seats["DL-03"], experts["E01"])])
    assert (await problem(resp, 422))["detail"] == (f"工位 #{seats['DL-03']} 不属于场地「{KM}」")
    resp = await _book(
        client, await login(client, "km_admin"), sid, [(seats["KM-01"], experts["E01"])]
    )
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「{KM}」的业务人员可以为评标会 #{sid} 预约工位，当前用户 km_admin（场地管理员）无此权限"
    )
    async with database.read() as s:
        assert [e.kind for e in await load_chain(s)] == []  # every refusal changed nothing

    resp = await _book(
        client, host, sid, [(seats["KM-01"], experts["E01"]), (seats["KM-02"], experts["E02"])]
    )
    assert resp.status == 201, await resp.text()
    booking = await resp.json()
    assert (booking["venue_id"], booking["state"], booking["seat_count"]) == (
        seeded["venues"]["KM"],
        "requested",
        2,
    )
    assert [(h["label"], h["live"]) for h in booking["seats"]] == [("KM-01", True), ("KM-02", True)]
    async with database.read() as s:
        (requested,) = [e for e in await load_chain(s) if e.kind == "booking.requested"]
    assert requested.actor == "km_operator"
    assert requested.payload["experts"] == [
        {"seat_id": seats["KM-01"], "expert_id": experts["E01"]},
        {"seat_id": seats["KM-02"], "expert_id": experts["E02"]},
    ]
    # A member seated once is not seated again.
    resp = await _book(client, host, sid, [(seats["KM-03"], experts["E01"])])
    assert (await problem(resp, 409))["detail"] == (
        f"专家 #{experts['E01']} 已安排在工位 #{seats['KM-01']}"
    )

    # The host venue's admin confirms, as any venue's admin confirms a booking of its seats.
    resp = await client.post(
        f"/api/bookings/{booking['id']}/confirm", json={}, headers=await login(client, "km_admin")
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "confirmed"

    # Where each member sits, host and away alike.
    view = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    where = {m["code"]: m["seat"] for m in view["members"]}
    assert where["E01"] == {"venue_name": KM, "label": "KM-01", "checked_in": False}
    assert where["E02"] == {"venue_name": KM, "label": "KM-02", "checked_in": False}
    assert where["E03"] is None

    # The host members get their PINs with the away members' (here: the host's only).
    resp = await client.post(f"/api/sessions/{sid}/checkin-pins", headers=host)
    assert resp.status == 201, await resp.text()
    assert [
        (p["expert_code"], p["venue_name"], p["seat_label"]) for p in (await resp.json())["pins"]
    ] == [
        ("E01", KM, "KM-01"),
        ("E02", KM, "KM-02"),
    ]

    # The supervision record: a host-seated expert is supervised by the host, primarily and
    # secondarily, at that seat.
    record = await (
        await client.get(
            f"/api/sessions/{sid}/supervision", headers=await login(client, "km_supervisor")
        )
    ).json()
    e01 = next(x for x in record["experts"] if x["expert"]["code"] == "E01")
    assert e01["seat"]["label"] == "KM-01"
    assert e01["primary_site"]["venue_id"] == seeded["venues"]["KM"]
    assert e01["secondary_site"]["venue_id"] == seeded["venues"]["KM"]


async def test_members_are_seated_on_their_own_side_only(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())  # QJ-01 and QJ-02 confirmed
    sid, seats, experts = seeded["session"], seeded["seats"], seeded["experts"]
    host = await login(client, "km_operator")
    resp = await client.post(
        f"/api/bookings/{bookings['qujing']}/seats/{seats['QJ-01']}/expert",
        json={"expert_id": experts["E01"]},
        headers=host,
    )
    assert (await problem(resp, 422))["detail"] == (
        f"专家 E01 是主场专家，只能安排在主场「{KM}」的工位，不能安排在「曲靖市公共资源交易中心」"
    )
    # A host booking without named members: the host seats them afterwards, host members only.
    resp = await client.post(
        "/api/bookings",
        json={
            "session_id": sid,
            "venue_id": seeded["venues"]["KM"],
            "seat_count": 1,
            "seat_ids": [seats["KM-03"]],
        },
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    km = (await resp.json())["id"]
    seat_at = f"/api/bookings/{km}/seats/{seats['KM-03']}/expert"
    resp = await client.post(seat_at, json={"expert_id": experts["E06"]}, headers=host)
    assert (await problem(resp, 422))["detail"] == (
        f"专家 E06 是客场专家，不能安排在主场「{KM}」的工位"
    )
    resp = await client.post(seat_at, json={"expert_id": experts["E02"]}, headers=host)
    assert resp.status == 204, await resp.text()

    # The nearest-venue allocation books away members away, never at the host venue, though
    # the host still has a free seat (KM-01).
    resp = await client.post(
        f"/api/sessions/{sid}/allocation", json={"policy": "nearest", "book": True}, headers=host
    )
    assert resp.status == 200, await resp.text()
    proposal = await resp.json()
    assert proposal["assignments"]
    assert {a["venue_id"] for a in proposal["assignments"]}.isdisjoint({seeded["venues"]["KM"]})
    assert {a["expert_id"] for a in proposal["assignments"]}.isdisjoint(
        {experts["E01"], experts["E02"]}
    )
