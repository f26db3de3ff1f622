"""Offers the hub cannot answer become answers, not crashes: a viewer for a seat that is not
publishing (409), a viewer's unusable SDP (422), a seat's unusable SDP (an ``error`` naming the
offer, after which the seat tries again with a new connection)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from seat_agent.publisher import SeatPublisher
from seat_protocol.events import Event, MessageReceived
from seat_protocol.messages import ErrorNotice, MediaOffer
from tests.live.conftest import Rig, Viewer, eventually


async def test_viewer_of_a_seat_that_is_not_publishing_is_refused(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    session, seat_id = rig.ids["session"], rig.ids["seats"]["DL-02"]
    headers = await rig.login("km_supervisor")
    url = f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers"
    async with rig.http.post(url, json=await viewers().offer(), headers=headers) as resp:
        assert resp.status == 409
        body = json.loads(await resp.text())
    assert body["detail"] == "该工位尚未推送音视频，请稍后再试"


async def test_viewer_with_an_unusable_offer_is_refused(rig: Rig) -> None:
    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    session, seat_id = rig.ids["session"], rig.ids["seats"]["DL-01"]
    headers = await rig.login("km_supervisor")
    url = f"{rig.base}/api/sessions/{session}/live/seats/{seat_id}/viewers"
    for body in ({"type": "offer", "sdp": "v=0\r\nnot an sdp\r\n"}, {"type": "offer", "sdp": "x"}):
        async with rig.http.post(url, json=body, headers=headers) as resp:
            assert resp.status == 422, await resp.text()
            problem = json.loads(await resp.text())
        assert problem["detail"] == (
            "观看请求的 SDP 无效，或浏览器不支持该工位视频的编码，无法建立观看连接"
        )
    async with rig.http.post(url, json={"type": "answer", "sdp": "x"}, headers=headers) as resp:
        assert resp.status == 422
    assert rig.live.status("DL.DL-01").viewers == 0


async def test_a_seats_unusable_offer_is_refused_by_name_and_the_seat_tries_again(
    rig: Rig,
) -> None:
    seat = await rig.publish("QJ-02", "QJ", retry_delay=0.1)
    await eventually(lambda: rig.live.status("QJ.QJ-02").state == "live", "QJ-02 is live")
    refusals: list[ErrorNotice] = []
    on_event = seat.link.on_event

    async def spy(event: Event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, ErrorNotice):
            refusals.append(event.message)
        await on_event(event)

    seat.link.on_event = spy
    await seat.link.send(MediaOffer(offer_id="mo-broken", sdp="v=0\r\nbroken\r\n"))
    await eventually(lambda: bool(refusals), "the hub refuses the offer")
    assert refusals[0].ref == "mo-broken"
    assert refusals[0].code == "media-offer-invalid"
    assert refusals[0].message == "工位的音视频推送请求无法处理（SDP 无效或不含可用编码）"
    # The broken offer replaced nothing: the seat's stream stays live on its first connection.
    await asyncio.sleep(0.5)
    assert rig.live.status("QJ.QJ-02").state == "live"
    assert rig.live.status("QJ.QJ-02").publications == 1
    assert seat.publisher.offers == 1


async def test_publisher_needs_a_track() -> None:
    async def send(msg: object) -> None:
        return None

    try:
        SeatPublisher(send, [])
    except ValueError as exc:
        assert str(exc) == "a seat publishes at least one track"
    else:
        raise AssertionError("a publisher without tracks was accepted")
