"""Allocation through the API: nearest proposals, booking them, and the sealed random draw."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.booking.allocation import inputs_from_canonical, verify_draw
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]


async def test_nearest_proposal_and_booking_it(client: Client, seeded: dict[str, Any]) -> None:
    host = await login(client, "km_operator")
    url = f"/api/sessions/{seeded['session']}/allocation"
    resp = await client.post(url, json={"policy": "nearest"}, headers=host)
    assert resp.status == 200, await resp.text()
    proposal = await resp.json()
    placed = {
        a["expert_code"]: (a["seat_label"], a["distance_km"]) for a in proposal["assignments"]
    }
    # Experts living in 大理/红河/曲靖 sit at home; 玉溪's expert goes to the nearest away venue
    # with a free seat (红河, 135 km), never to the host venue in 昆明.
    assert placed == {
        "E03": ("DL-01", 0),
        "E04": ("DL-02", 0),
        "E05": ("HH-01", 0),
        "E06": ("QJ-01", 0),
        "E07": ("HH-02", 135),
    }
    assert proposal["total_distance_km"] == 135
    assert proposal["assignments"][4]["reason"] == (
        "专家 E07 所在地 玉溪市，分配至 红河州公共资源交易中心 HH-02，距离 135 km；无同单位专家"
    )
    assert proposal["bookings"] == []

    resp = await client.post(url, json={"policy": "nearest", "book": True}, headers=host)
    booked = (await resp.json())["bookings"]
    assert [(b["venue_id"], b["seat_count"], [s["label"] for s in b["seats"]]) for b in booked] == [
        (seeded["venues"]["DL"], 2, ["DL-01", "DL-02"]),
        (seeded["venues"]["HH"], 2, ["HH-01", "HH-02"]),
        (seeded["venues"]["QJ"], 1, ["QJ-01"]),
    ]
    # Everybody is seated now: a further proposal has nobody left to place.
    resp = await client.post(url, json={"policy": "nearest"}, headers=host)
    assert (await resp.json())["assignments"] == []


async def test_infeasible_allocation_names_what_is_missing(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/allocation",
        json={"policy": "nearest", "required_capabilities": ["id_reader"]},
        headers=host,
    )
    body = await problem(resp, 422)
    assert body["detail"] == (
        "可用工位不足：5 名专家需要 5 个客场工位，具备能力 id_reader 且可用的非主场工位只有 0 个"
    )
    assert "15 个客场工位缺少能力 id_reader" in body["reasons"]


async def test_only_the_host_allocates(client: Client, seeded: dict[str, Any]) -> None:
    dali = await login(client, "dl_admin")
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/allocation", json={"policy": "random"}, headers=dali
    )
    await problem(resp, 403)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evaluation_hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_random_draw_is_hidden_until_the_start_then_verifiable(
    client: Client, seeded: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    host = await login(client, "km_operator")
    url = f"/api/sessions/{seeded['session']}/allocation"
    resp = await client.post(url, json={"policy": "random"}, headers=host)
    assert resp.status == 201, await resp.text()
    drawn = await resp.json()
    assert drawn["booking_count"] >= 1
    commitment = drawn["commitment"]
    assert set(drawn) == {"policy", "commitment", "booking_count", "note"}

    # 四不知: before the start the host learns neither venues nor seats.
    bookings = await (await client.get("/api/bookings", headers=host)).json()
    assert len(bookings) == drawn["booking_count"]
    assert all(b["venue_id"] is None and b["seats"] == [] and b["drawn"] for b in bookings)
    resp = await client.get(f"/api/bookings?venue_id={seeded['venues']['DL']}", headers=host)
    assert await resp.json() == []
    draw = await (await client.get(f"/api/sessions/{seeded['session']}/draw", headers=host)).json()
    assert (draw["commitment"], draw["revealed"], draw["seed"], draw["inputs"]) == (
        commitment,
        False,
        None,
        None,
    )

    resp = await client.post(url, json={"policy": "random"}, headers=host)
    assert (await problem(resp, 409))[
        "detail"
    ] == f"评标会 #{seeded['session']} 已进行过随机抽取，不能重复抽取"

    # The drawn venues' admins do see their own requests, with seats, to confirm them.
    seen_by_venues: dict[int, list[str]] = {}
    for admin in ("dl_admin", "hh_admin", "qj_admin"):
        headers = await login(client, admin)
        for b in await (await client.get("/api/bookings", headers=headers)).json():
            seen_by_venues[b["venue_id"]] = [s["label"] for s in b["seats"]]
    assert sum(len(v) for v in seen_by_venues.values()) == 5

    clock.advance(hours=24)  # the session has started: the seed is revealed
    host = await login(client, "km_operator")
    draw = await (await client.get(f"/api/sessions/{seeded['session']}/draw", headers=host)).json()
    assert draw["revealed"] is True
    result = verify_draw(
        bytes.fromhex(draw["seed"]), commitment, inputs_from_canonical(draw["inputs"])
    )
    rederived: dict[int, list[str]] = {}
    for a in result.assignments:
        rederived.setdefault(a.venue_id, []).append(a.seat_label)
    assert {v: sorted(s) for v, s in rederived.items()} == seen_by_venues
    bookings = await (await client.get("/api/bookings", headers=host)).json()
    assert {b["venue_id"] for b in bookings} == set(seen_by_venues)

    # Anyone can check the draw offline from the published document.
    published = tmp_path / "draw.json"
    published.write_text(json.dumps(draw), encoding="utf-8")
    checked = run_cli("draw", "verify", str(published))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"抽取验证通过：承诺值 {commitment}\n")
    assert checked.stdout.count("  专家 E0") == 5
    published.write_text(json.dumps({**draw, "seed": "00" * 32}), encoding="utf-8")
    forged = run_cli("draw", "verify", str(published))
    assert forged.returncode == 1
    assert forged.stderr.splitlines()[:2] == [
        "抽取验证失败：公开的种子或抽取输入与事先公布的承诺值不符",
        f"  事先公布的承诺值 {commitment}",
    ]
