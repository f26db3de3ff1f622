"""Who may watch which seat (主场为主、客场为辅), enforced by the hub: a host supervisor every
seat of the session, an away supervisor only the seats at their venue, nobody else anything —
whatever request the away supervisor sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.live.conftest import Rig, Viewer, eventually

PROBLEM = "application/problem+json"


async def problem(resp: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = json.loads(text)
    return body


async def test_the_wall_lists_only_the_seats_a_supervisor_may_watch(rig: Rig) -> None:
    session = rig.ids["session"]
    expected = {
        "km_supervisor": ("all", ["DL-01", "DL-02", "QJ-01", "QJ-02"]),
        "dl_supervisor": ("venue", ["DL-01", "DL-02"]),
        "qj_supervisor": ("venue", ["QJ-01", "QJ-02"]),
    }
    for user, (scope, labels) in expected.items():
        headers = await rig.login(user)
        async with rig.http.get(
            f"{rig.base}/api/sessions/{session}/live/seats", headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        assert body["scope"] == scope
        assert [s["label"] for s in body["seats"]] == labels
        assert {s["state"] for s in body["seats"]} == {"offline"}


async def test_nobody_but_the_sessions_supervisors_sees_the_wall(rig: Rig) -> None:
    session = rig.ids["session"]
    url = f"{rig.base}/api/sessions/{session}/live/seats"
    refusals = {
        "sysadmin": f"只有评标会 #{session} 主场或客场的监督人员可以观看工位音视频，"
        "当前用户 sysadmin（系统管理员）无此权限",
        "dl_admin": f"只有评标会 #{session} 主场或客场的监督人员可以观看工位音视频，"
        "当前用户 dl_admin（场地管理员）无此权限",
        # 红河 has a booking but no seat held yet: nothing of the session is at that venue.
        "hh_supervisor": f"只有评标会 #{session} 主场或客场的监督人员可以观看工位音视频，"
        "当前用户 hh_supervisor（监督人员）无此权限",
    }
    for user, detail in refusals.items():
        headers = await rig.login(user)
        for path in ("live/seats", "live/events"):
            async with rig.http.get(
                f"{rig.base}/api/sessions/{session}/{path}", headers=headers
            ) as resp:
                assert (await problem(resp, 403))["detail"] == detail
    async with rig.http.get(url) as resp:
        await problem(resp, 401)


async def test_an_away_supervisor_cannot_obtain_another_venues_stream(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    await rig.publish("QJ-01", "QJ")
    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("QJ.QJ-01").state == "live", "QJ-01 is live")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    session = rig.ids["session"]
    seats = rig.ids["seats"]
    headers = await rig.login("dl_supervisor")
    offer = await viewers().offer()

    async def post(path: str, body: Any) -> aiohttp.ClientResponse:
        return await rig.http.post(f"{rig.base}{path}", json=body, headers=headers)

    # Seats of other venues, booked in this session or not, and seats that do not exist:
    # refused alike, so the answer tells nothing about other venues.
    for seat_id in (seats["QJ-01"], seats["QJ-02"], seats["HH-01"], seats["KM-01"], 999_999, -1):
        resp = await post(f"/api/sessions/{session}/live/seats/{seat_id}/viewers", offer)
        body = await problem(resp, 404)
        assert body["detail"] == f"评标会 #{session} 中没有您可观看的工位 #{seat_id}"
    # Another session, a forged session id, forged path ids.
    resp = await post(f"/api/sessions/{session + 1}/live/seats/{seats['DL-01']}/viewers", offer)
    assert (await problem(resp, 404))["detail"] == f"评标会 #{session + 1} 不存在"
    for path in (
        f"/api/sessions/{session}/live/seats/QJ.QJ-01/viewers",
        f"/api/sessions/{session}/live/seats/{seats['QJ-01']}.0/viewers",
        f"/api/sessions/x/live/seats/{seats['QJ-01']}/viewers",
    ):
        resp = await post(path, offer)
        assert (await problem(resp, 404))["detail"] == "请求的地址不存在"
    # Naming the other seat in the body instead of the path is not accepted either.
    resp = await post(
        f"/api/sessions/{session}/live/seats/{seats['DL-01']}/viewers",
        {**offer, "seat_key": "QJ.QJ-01", "seat_id": seats["QJ-01"]},
    )
    assert (await problem(resp, 422))["status"] == 422
    assert rig.live.status("QJ.QJ-01").viewers == 0

    # Their own venue's seat they may watch, and the hub forwards that seat's stream.
    viewer = viewers()
    await viewer.watch(rig, session, seats["DL-01"], headers)
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    frame = await asyncio.wait_for(viewer.tracks["video"].recv(), 20)
    assert frame is not None
    assert rig.live.status("DL.DL-01").viewers == 1
    assert rig.live.status("QJ.QJ-01").viewers == 0


async def test_the_event_stream_carries_only_the_venues_seats(rig: Rig) -> None:
    session = rig.ids["session"]
    streams: dict[str, list[dict[str, Any]]] = {"km_supervisor": [], "dl_supervisor": []}
    readers = []

    async def read(user: str) -> None:
        headers = await rig.login(user)
        async with rig.http.get(
            f"{rig.base}/api/sessions/{session}/live/events", headers=headers
        ) as resp:
            assert resp.status == 200
            async for line in resp.content:
                if line.startswith(b"data: "):
                    streams[user].append(json.loads(line[6:]))

    for user in streams:
        readers.append(asyncio.create_task(read(user)))
    await asyncio.sleep(0.5)  # both streams subscribed (events are not replayed)
    await rig.publish("QJ-01", "QJ")
    await rig.publish("DL-01", "DL")

    def live_seats(user: str) -> set[str]:
        return {e["seat_key"] for e in streams[user] if e.get("state") == "live"}

    await eventually(lambda: live_seats("km_supervisor") == {"QJ.QJ-01", "DL.DL-01"}, "host")
    await eventually(lambda: live_seats("dl_supervisor") == {"DL.DL-01"}, "away")
    # The away stream opened with its own venue's seats (the snapshot) and never named another.
    assert {e["seat_key"] for e in streams["dl_supervisor"]} == {"DL.DL-01", "DL.DL-02"}
    ids = {rig.ids["seats"]["DL-01"], rig.ids["seats"]["DL-02"]}
    assert {e["seat_id"] for e in streams["dl_supervisor"]} == ids
    assert {e["seat_key"] for e in streams["km_supervisor"]} == {
        "DL.DL-01",
        "DL.DL-02",
        "QJ.QJ-01",
        "QJ.QJ-02",
    }
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
