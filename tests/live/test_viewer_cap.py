"""Viewers per seat are capped (``LiveHub.max_viewers_per_seat``, set small here): one more is
refused with a problem the wall shows as it is, the viewers already watching go on receiving
the seat's frames, and a place freed — closed by its supervisor, or by the hub — is taken by
the next viewer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from evaluation_hub.audit.store import load_chain
from tests.live.conftest import Rig, Viewer, eventually
from tests.live.test_publish import decoded_frames

PROBLEM = "application/problem+json"
CAP_REFUSAL = "该工位的观看人数已达上限（2 路），请关闭其他观看窗口后再试"


async def refusal(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == 409, text
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = json.loads(text)
    return body


async def test_one_viewer_over_the_cap_is_refused_and_takes_a_freed_place(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    rig.live.max_viewers_per_seat = 2
    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    session, seat_id = rig.ids["session"], rig.ids["seats"]["DL-01"]
    host = await rig.login("km_supervisor")
    away = await rig.login("dl_supervisor")
    first, second = viewers(), viewers()
    await first.watch(rig, session, seat_id, host)
    await second.watch(rig, session, seat_id, away)
    await eventually(lambda: "video" in first.tracks and "video" in second.tracks, "tracks")
    assert len(await decoded_frames(first.tracks["video"], 3)) == 3
    assert len(await decoded_frames(second.tracks["video"], 3)) == 3
    assert rig.live.status("DL.DL-01").viewers == 2

    # A third viewer — another window of the same supervisor, or anybody's — is refused by name.
    url = f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers"
    third = viewers()
    async with rig.http.post(url, json=await third.offer(), headers=host) as resp:
        body = await refusal(resp)
    assert body == {
        "type": "https://evaluation-hub.invalid/problems/too-many-viewers",
        "title": "与当前状态冲突",
        "status": 409,
        "detail": CAP_REFUSAL,
        "instance": f"/api/sessions/{session}/live/seats/{seat_id}/viewers",
    }
    # The refusal took no place and changed nothing for the two watching: their frames go on.
    assert rig.live.status("DL.DL-01").viewers == 2
    first_stamps = await decoded_frames(first.tracks["video"], 5)
    second_stamps = await decoded_frames(second.tracks["video"], 5)
    assert first_stamps == sorted(first_stamps)
    assert second_stamps == sorted(second_stamps)
    # Asking again while the seat is full is refused the same way, never queued.
    async with rig.http.post(url, json=await viewers().offer(), headers=away) as resp:
        assert (await refusal(resp))["detail"] == CAP_REFUSAL
    assert rig.live.status("DL.DL-01").viewers == 2

    # The host supervisor closes their viewer: the place is free at once, and taken.
    assert first.viewer_id is not None
    async with rig.http.delete(
        f"{rig.base}/api/live/viewers/{first.viewer_id}", headers=host
    ) as resp:
        assert resp.status == 204, await resp.text()
    assert rig.live.status("DL.DL-01").viewers == 1
    await third.watch(rig, session, seat_id, host)
    await eventually(lambda: "video" in third.tracks, "the third viewer's video track")
    assert len(await decoded_frames(third.tracks["video"], 3)) == 3
    assert len(await decoded_frames(second.tracks["video"], 3)) == 3
    assert rig.live.status("DL.DL-01").viewers == 2

    # Full again; the hub closes a viewer (as when its connection fails): its place is freed.
    fourth = viewers()
    async with rig.http.post(url, json=await fourth.offer(), headers=away) as resp:
        assert (await refusal(resp))["detail"] == CAP_REFUSAL
    assert second.viewer_id is not None
    await rig.live.stop_viewer(second.viewer_id)
    assert rig.live.viewer(second.viewer_id) is None
    assert rig.live.status("DL.DL-01").viewers == 1
    fifth = viewers()
    await fifth.watch(rig, session, seat_id, away)
    await eventually(lambda: "video" in fifth.tracks, "the fifth viewer's video track")
    assert len(await decoded_frames(fifth.tracks["video"], 3)) == 3
    assert len(await decoded_frames(third.tracks["video"], 3)) == 3
    assert rig.live.status("DL.DL-01").viewers == 2


async def test_a_viewer_that_goes_away_without_closing_frees_its_place(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    rig.live.max_viewers_per_seat = 1
    await rig.publish("QJ-01", "QJ")
    await eventually(lambda: rig.live.status("QJ.QJ-01").state == "live", "QJ-01 is live")
    session, seat_id = rig.ids["session"], rig.ids["seats"]["QJ-01"]
    headers = await rig.login("qj_supervisor")
    gone = viewers()
    await gone.watch(rig, session, seat_id, headers)
    await eventually(lambda: "video" in gone.tracks, "the viewer's video track")
    assert len(await decoded_frames(gone.tracks["video"], 3)) == 3
    url = f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers"
    async with rig.http.post(url, json=await viewers().offer(), headers=headers) as resp:
        assert (await refusal(resp))["detail"] == (
            "该工位的观看人数已达上限（1 路），请关闭其他观看窗口后再试"
        )

    # The page is closed without a DELETE: its connection ends, and the hub drops the viewer.
    await gone.close()
    assert gone.viewer_id is not None
    viewer_id = gone.viewer_id
    await eventually(lambda: rig.live.viewer(viewer_id) is None, "the hub drops the viewer")
    assert rig.live.status("QJ.QJ-01").viewers == 0
    after = viewers()
    await after.watch(rig, session, seat_id, headers)
    await eventually(lambda: "video" in after.tracks, "the new viewer's video track")
    assert len(await decoded_frames(after.tracks["video"], 3)) == 3
    assert rig.live.status("QJ.QJ-01").viewers == 1


async def test_a_viewer_request_cancelled_mid_answer_frees_its_place(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    # The supervisor's request goes away while the hub is still answering the offer (the
    # handler task is cancelled): the viewer it had begun to add must not hold a place.
    rig.live.max_viewers_per_seat = 1
    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    offer = await viewers().offer()
    answering = asyncio.create_task(rig.live.watch("DL.DL-01", "km_supervisor", offer["sdp"]))
    await asyncio.sleep(0)  # the task runs up to its first wait inside the SDP exchange
    assert rig.live.status("DL.DL-01").viewers == 1
    assert not answering.done()
    answering.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await answering
    await eventually(lambda: rig.live.status("DL.DL-01").viewers == 0, "the place freed")
    # The next supervisor gets the place.
    viewer = viewers()
    await viewer.watch(
        rig, rig.ids["session"], rig.ids["seats"]["DL-01"], await rig.login("km_supervisor")
    )
    assert rig.live.status("DL.DL-01").viewers == 1


async def test_an_offer_that_never_connects_gives_its_place_back(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    """A page posts its offer and goes away before using the answer (or its network never lets
    the media through): after ``viewer_connect_timeout`` the hub closes that viewer, so the
    seat's only place is free for the next supervisor."""
    rig.live.max_viewers_per_seat = 1
    rig.live.viewer_connect_timeout = 0.5
    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    session, seat_id = rig.ids["session"], rig.ids["seats"]["DL-01"]
    headers = await rig.login("km_supervisor")
    url = f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers"
    async with rig.http.post(url, json=await viewers().offer(), headers=headers) as resp:
        assert resp.status == 201, await resp.text()
        abandoned = (await resp.json())["viewer_id"]
    # The answer is never applied: the hub's side of the connection never comes up.
    assert rig.live.status("DL.DL-01").viewers == 1
    async with rig.http.post(url, json=await viewers().offer(), headers=headers) as resp:
        assert (await refusal(resp))["detail"] == CAP_REFUSAL.replace("2 路", "1 路")

    await eventually(lambda: rig.live.viewer(abandoned) is None, "the unconnected viewer closed")
    assert rig.live.status("DL.DL-01").viewers == 0
    # On the audit chain, with why (written beside the closing, so looked for until it is).
    for _ in range(500):
        async with rig.db.read() as s:
            closed = [e.payload for e in await load_chain(s) if e.kind == "live.viewer_closed"]
        if closed:
            break
        await asyncio.sleep(0.02)
    assert {"viewer_id": abandoned, "reason": "not-connected"} in closed
    late = viewers()
    await late.watch(rig, session, seat_id, headers)
    await eventually(lambda: "video" in late.tracks, "the next viewer's video track")
    assert len(await decoded_frames(late.tracks["video"], 3)) == 3
    # A viewer that did connect is not closed by the timer.
    await asyncio.sleep(1.0)
    assert late.viewer_id is not None and rig.live.viewer(late.viewer_id) is not None


async def test_one_supervisor_cannot_take_every_place_of_a_seat(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    await rig.publish("DL-01", "DL")
    await rig.publish("QJ-01", "QJ")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    await eventually(lambda: rig.live.status("QJ.QJ-01").state == "live", "QJ-01 is live")
    session = rig.ids["session"]
    dl, qj = rig.ids["seats"]["DL-01"], rig.ids["seats"]["QJ-01"]
    host = await rig.login("km_supervisor")
    away = await rig.login("dl_supervisor")
    for _ in range(2):
        await viewers().watch(rig, session, dl, host)
    url = f"{rig.base}/api/sessions/{session}/live/seats/{dl}/viewers"
    async with rig.http.post(url, json=await viewers().offer(), headers=host) as resp:
        body = await refusal(resp)
    assert (body["type"], body["detail"]) == (
        "https://evaluation-hub.invalid/problems/too-many-viewers-of-user",
        "您已打开该工位的 2 路观看连接（每人每个工位最多 2 路），请关闭其他观看窗口后再试",
    )
    # The seat still has places for everybody else.
    await viewers().watch(rig, session, dl, away)
    assert rig.live.status("DL.DL-01").viewers == 3
    # And a cap on all of one supervisor's viewers together.
    rig.live.max_viewers_per_user = 2
    url = f"{rig.base}/api/sessions/{session}/live/seats/{qj}/viewers"
    async with rig.http.post(url, json=await viewers().offer(), headers=host) as resp:
        assert (await refusal(resp))["detail"] == (
            "您同时打开的观看连接已达上限（2 路），请关闭其他观看窗口后再试"
        )
