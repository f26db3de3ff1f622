"""``media_backend = janus``: seats publish through the hub to Janus VideoRoom, supervisors
watch through single-use subscriptions limited to the seats they may see (real hub, real
Janus, aiortc seat agents and viewers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from evaluation_hub.live.janus_rooms import room_for
from evaluation_hub.live.status import MediaRefused
from media.errors import JanusRefused
from media.janus.client import JanusSession
from tests.janus.conftest import JanusViewer, plane
from tests.live.conftest import Rig, eventually
from tests.support.janus_server import JanusServer

PROBLEM = "application/problem+json"
SPENT = "该观看授权已使用、已过期或无效，请重新打开观看窗口"


async def problem(resp: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = json.loads(text)
    return body


async def test_a_seat_publishes_through_the_hub_and_a_viewer_decodes_it_once(
    rig: Rig, janus_viewers: Callable[[], JanusViewer]
) -> None:
    session, seats = rig.ids["session"], rig.ids["seats"]
    await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status("DL.DL-01").state == "live", "DL-01 is live")
    headers = await rig.login("km_supervisor")
    row = await rig.seat_row(session, headers, "DL-01")
    assert (row["state"], row["viewers"]) == ("live", 0)
    async with rig.http.get(
        f"{rig.base}/api/sessions/{session}/live/seats", headers=headers
    ) as resp:
        assert (await resp.json())["media"] == "janus"

    viewer = janus_viewers()
    opened = await viewer.subscribe(rig, session, seats["DL-01"], headers)
    assert set(opened) == {"viewer_id", "seat_id", "type", "sdp", "token"}
    assert (opened["seat_id"], opened["type"]) == (seats["DL-01"], "offer")
    # Nothing of Janus's secrets reaches the browser: the room's PIN and secret, the API secret.
    settings = plane(rig).settings
    room = room_for(session, settings.room_key)
    text = json.dumps(opened)
    for secret in (room.pin, room.secret, settings.api_secret, settings.admin_key):
        assert secret is not None and secret not in text
    async with await viewer.answer(rig, headers) as resp:
        assert resp.status == 204, await resp.text()
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    frame = await asyncio.wait_for(viewer.tracks["video"].recv(), 20)  # type: ignore[attr-defined]
    assert (frame.width, frame.height) == (320, 240)
    assert (await rig.seat_row(session, headers, "DL-01"))["viewers"] == 1

    # The token is spent: a second answer with it is refused, and so is a made-up one.
    for token in (viewer.token, "forged-token"):
        async with await viewer.answer(rig, headers, token) as resp:
            body = await problem(resp, 409)
        assert (body["type"].rsplit("/", 1)[-1], body["detail"]) == ("viewer-token-spent", SPENT)


async def test_a_token_is_the_subscribers_own_and_unanswered_ones_expire(
    rig: Rig, janus_viewers: Callable[[], JanusViewer]
) -> None:
    session, seats = rig.ids["session"], rig.ids["seats"]
    await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status("DL.DL-01").state == "live", "DL-01 is live")
    host = await rig.login("km_supervisor")
    viewer = janus_viewers()
    await viewer.subscribe(rig, session, seats["DL-01"], host)
    # Another supervisor holding the id and even the token cannot use it.
    away = await rig.login("dl_supervisor")
    async with await viewer.answer(rig, away) as resp:
        body = await problem(resp, 403)
    assert body["detail"] == f"观看连接 #{viewer.viewer_id} 不是当前用户打开的"
    # Not answered in time: withdrawn, and its token with it.
    plane(rig).viewers.connect_timeout = 0.0
    late = janus_viewers()
    await late.subscribe(rig, session, seats["DL-01"], host)
    await eventually(lambda: not plane(rig).holds(late.viewer_id or 0), "withdrawn")
    async with await late.answer(rig, host) as resp:
        body = await problem(resp, 404)
    assert body["detail"] == f"观看连接 #{late.viewer_id} 不存在或已关闭"


async def test_an_away_supervisor_cannot_subscribe_to_another_venues_seat(
    rig: Rig, janus: JanusServer, janus_viewers: Callable[[], JanusViewer]
) -> None:
    session, seats = rig.ids["session"], rig.ids["seats"]
    await rig.publish("QJ-01", "QJ")
    await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status("QJ.QJ-01").state == "live", "QJ-01 is live")
    await eventually(lambda: plane(rig).status("DL.DL-01").state == "live", "DL-01 is live")
    headers = await rig.login("dl_supervisor")
    # By the hub's route, whichever way it is asked: refused as a seat that is not there.
    for body in ({"type": "subscribe"}, {"type": "offer", "sdp": "v=0\r\n"}):
        for seat_id in (seats["QJ-01"], seats["QJ-02"], seats["KM-01"], 999_999):
            async with rig.http.post(
                f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers",
                json=body,
                headers=headers,
            ) as resp:
                refused = await problem(resp, 404)
            assert refused["detail"] == f"评标会 #{session} 中没有您可观看的工位 #{seat_id}"
    assert plane(rig).status("QJ.QJ-01").viewers == 0
    # Their own venue's seat they may watch.
    viewer = janus_viewers()
    await viewer.watch(rig, session, seats["DL-01"], headers)
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")

    # By Janus itself: without the API secret nothing is answered; with it (which only the hub
    # holds), the session's room still refuses a subscriber without its PIN.
    async with (
        aiohttp.ClientSession() as http,
        http.post(janus.url, json={"janus": "create", "transaction": "x"}) as resp,
    ):
        assert (await resp.json(content_type=None))["error"]["code"] == 403
    intruder = await JanusSession.create(janus.url, api_secret=janus.api_secret)
    try:
        handle = await intruder.attach()
        for extra, refusal in (
            ({}, (429, "Missing mandatory element (pin)")),
            ({"pin": "guess"}, (433, "Unauthorized (wrong pin)")),
        ):
            try:
                await handle.message(
                    {
                        "request": "join",
                        "ptype": "subscriber",
                        "room": session,
                        "streams": [{"feed": 1}],
                        **extra,
                    }
                )
            except JanusRefused as exc:
                assert (exc.code, exc.reason) == refusal
            else:
                raise AssertionError("Janus let a subscriber in without the room's PIN")
    finally:
        await intruder.close()


async def test_a_seat_in_no_session_on_is_not_published(rig: Rig) -> None:
    # 红河's seat is booked by nobody for certain: there is no room its media could go to.
    with pytest.raises(MediaRefused) as refused:
        await plane(rig).publish("HH.HH-01", "offer-1", "v=0\r\n")
    assert (refused.value.code, refused.value.detail, refused.value.status) == (
        "seat-not-in-session",
        "该工位当前不属于任何评标会，暂不接收音视频推送",
        409,
    )
