"""Check-in with one-time PINs: only the booked seat, only in the window, limited attempts,
used once; wrong attempts are counted even though refused."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evaluation_hub.api.keys import HUB_KEY, SERVICES
from evaluation_hub.archive.auditslice import load_slice
from evaluation_hub.audit.checkpoint import CheckpointPolicy
from evaluation_hub.audit.store import load_chain, maybe_checkpoint
from evaluation_hub.checkin import rules
from evaluation_hub.checkin.store import check_in
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import ProblemError
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]


async def _seat_and_confirm(client: Client, seeded: dict[str, Any]) -> dict[str, Any]:
    host = await login(client, "km_operator")
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/allocation",
        json={"policy": "nearest", "book": True},
        headers=host,
    )
    bookings = (await resp.json())["bookings"]
    admins = {
        seeded["venues"]["DL"]: "dl_admin",
        seeded["venues"]["HH"]: "hh_admin",
        seeded["venues"]["QJ"]: "qj_admin",
    }
    for b in bookings:
        headers = await login(client, admins[b["venue_id"]])
        assert (
            await client.post(f"/api/bookings/{b['id']}/confirm", json={}, headers=headers)
        ).status == 200
    resp = await client.post(f"/api/sessions/{seeded['session']}/checkin-pins", headers=host)
    assert resp.status == 201, await resp.text()
    return {p["expert_code"]: p for p in (await resp.json())["pins"]}


async def test_pins_and_check_in(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    resp = await client.post(f"/api/sessions/{seeded['session']}/checkin-pins", headers=host)
    assert (await problem(resp, 409))[
        "detail"
    ] == f"评标会 #{seeded['session']} 还没有安排到已确认工位的专家，无法发放签到码"
    pins = await _seat_and_confirm(client, seeded)
    assert sorted(pins) == ["E03", "E04", "E05", "E06", "E07"]
    e03 = pins["E03"]
    assert (e03["seat_label"], e03["venue_name"]) == ("DL-01", "大理州公共资源交易中心")
    assert len(e03["pin"]) == 6 and e03["pin"].isdigit()
    seats = seeded["seats"]
    hub = client.app[SERVICES]  # the hub's check-in policy: 5 attempts, from 60 min before

    async def attempt(seat: str, code: str, pin: str) -> int:
        return await check_in(hub, seat_id=seats[seat], expert_code=code, pin=pin, now=clock())

    async def refused(seat: str, code: str, pin: str) -> str:
        with pytest.raises(ProblemError) as err:
            await attempt(seat, code, pin)
        return err.value.detail

    # The demo clock stands at 2026-11-30 09:00; the window opens 2026-12-01 09:00.
    assert (
        await refused("DL-01", "E03", e03["pin"]) == "签到尚未开始：最早可于 2026-12-01 08:00 签到"
    )
    clock.advance(hours=23, minutes=30)
    assert (
        await refused("DL-02", "E03", e03["pin"]) == "专家 E03 预约的不是本工位，请到预约的工位签到"
    )
    assert await refused("DL-01", "E99", e03["pin"]) == "专家 E99 未预约本工位，不能在此签到"
    wrong = "000000" if e03["pin"] != "000000" else "111111"
    assert await refused("DL-01", "E03", wrong) == "签到码错误，还可尝试 4 次"
    assert await refused("DL-01", "E03", wrong) == "签到码错误，还可尝试 3 次"
    booking_id = await attempt("DL-01", "E03", e03["pin"])
    assert (
        await refused("DL-01", "E03", e03["pin"])
        == "签到码已于 2026-12-01 08:30 使用，每个签到码只能使用一次"
    )
    booking = await (
        await client.get(f"/api/bookings/{booking_id}", headers=await login(client, "km_operator"))
    ).json()
    assert booking["state"] == "checked_in"
    assert booking["events"][-1]["actor"] == "E03"

    # Five wrong PINs lock the credential; the right PIN no longer helps.
    e04 = pins["E04"]
    wrong = "000000" if e04["pin"] != "000000" else "111111"
    for left in (4, 3, 2, 1):
        assert await refused("DL-02", "E04", wrong) == f"签到码错误，还可尝试 {left} 次"
    assert (
        await refused("DL-02", "E04", wrong) == "签到码错误次数过多已锁定，请联系主场重新发放签到码"
    )
    assert (
        await refused("DL-02", "E04", e04["pin"])
        == "签到码错误次数过多已锁定，请联系主场重新发放签到码"
    )
    # Re-issuing gives E04 a fresh PIN (E03, already in, gets none) and the old one stops working.
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/checkin-pins",
        headers=await login(client, "km_operator"),
    )
    fresh = {p["expert_code"]: p["pin"] for p in (await resp.json())["pins"]}
    assert "E03" not in fresh
    if fresh["E04"] != e04["pin"]:
        assert await refused("DL-02", "E04", e04["pin"]) == "签到码错误，还可尝试 4 次"
    await attempt("DL-02", "E04", fresh["E04"])

    clock.advance(hours=10)  # past the window's end (17:30)
    assert (
        await refused("HH-01", "E05", pins["E05"]["pin"])
        == "签到码已过期：预约时段已于 2026-12-01 17:30 结束"
    )

    # Every refusal of a booked expert names the booking, so it is one of the session's events
    # (in its archive's audit slice); a refusal of nobody's credential names none and is not.
    async with database.write() as s:  # the slice needs a signed checkpoint over its end
        await maybe_checkpoint(s, client.app[HUB_KEY], clock(), CheckpointPolicy(every_events=1))
    async with database.read() as s:
        chain = await load_chain(s)
        session_seqs = set((await load_slice(s, int(seeded["session"]))).session_seqs)
    checkins = [
        e for e in chain if e.kind.startswith("checkin.") and e.kind != "checkin.pins_issued"
    ]
    unknown = [e for e in checkins if e.actor == "E99"]
    assert [e.payload for e in unknown] == [{"reason": "checkin-not-booked"}]
    booked = [e for e in checkins if e.actor != "E99"]
    assert {e.actor for e in booked} == {"E03", "E04", "E05"}
    assert [e.kind for e in booked].count("checkin.accepted") == 2
    assert all(isinstance(e.payload["booking_id"], int) for e in booked)
    assert {e.seq for e in booked} <= session_seqs
    assert unknown[0].seq not in session_seqs


async def test_seating_experts(client: Client, seeded: dict[str, Any]) -> None:
    host = await login(client, "km_operator")
    seats = seeded["seats"]
    resp = await client.post(
        "/api/bookings",
        json={
            "session_id": seeded["session"],
            "venue_id": seeded["venues"]["DL"],
            "seat_count": 2,
            "seat_ids": [seats["DL-01"], seats["DL-02"]],
        },
        headers=host,
    )
    booking = await resp.json()
    url = f"/api/bookings/{booking['id']}/seats/{seats['DL-01']}/expert"
    assert (
        await client.post(url, json={"expert_id": seeded["experts"]["E03"]}, headers=host)
    ).status == 204
    resp = await client.post(
        f"/api/bookings/{booking['id']}/seats/{seats['DL-02']}/expert",
        json={"expert_id": seeded["experts"]["E03"]},
        headers=host,
    )
    assert (await problem(resp, 409))[
        "detail"
    ] == f"专家 #{seeded['experts']['E03']} 已安排在工位 #{seats['DL-01']}"
    resp = await client.post(
        f"/api/bookings/{booking['id']}/seats/{seats['DL-03']}/expert",
        json={"expert_id": seeded["experts"]["E04"]},
        headers=host,
    )
    assert (await problem(resp, 404))[
        "detail"
    ] == f"预约 #{booking['id']} 未占用工位 #{seats['DL-03']}"
    resp = await client.post(url, json={"expert_id": 999}, headers=host)
    assert (await problem(resp, 422))[
        "detail"
    ] == f"专家 #999 不是评标会 #{seeded['session']} 的评标委员会成员"
    resp = await client.post(
        url, json={"expert_id": seeded["experts"]["E04"]}, headers=await login(client, "dl_admin")
    )
    await problem(resp, 403)


def test_new_pin_is_six_digits() -> None:
    assert rules.new_pin(0) == "000000"
    assert rules.new_pin(999_999) == "999999"
    with pytest.raises(ValueError):
        rules.new_pin(1_000_000)
