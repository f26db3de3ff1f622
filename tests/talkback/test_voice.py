"""Push to talk (语音喊话) through the hub, with real aiortc peers on loopback: a seat agent's
talk-back receiver connects to the hub; a speaker (an aiortc peer sending a tone, as a browser
sends its microphone) talks to the seat through the HTTP API; the seat decodes audio frames;
releasing ends the turn with its duration audited. An away supervisor cannot talk to another
venue's seat; nobody can talk to a seat that does not listen."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.api.talkback import VOICE
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import load_chain
from evaluation_hub.talkback.models import TalkbackRow
from media.testpattern import ToneTrack
from seat_agent.connection import SeatLink
from seat_agent.talkback import TalkbackReceiver
from tests.live.conftest import Rig, eventually

HOST = "云南省公共资源交易中心（昆明）"


@contextlib.asynccontextmanager
async def listening_seat(rig: Rig, label: str, venue: str) -> AsyncIterator[TalkbackReceiver]:
    link = SeatLink(await rig.enrol(label, venue), random=lambda: 0.0)
    receiver = TalkbackReceiver(link.send)
    link.on_event = receiver.on_event
    task = asyncio.create_task(link.run())
    try:
        await eventually(lambda: receiver.answered == 1, f"{label} listens for talk-back")
        yield receiver
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await receiver.close()


async def offer_to_speak(
    rig: Rig, user: str, body: dict[str, Any], status: int
) -> tuple[RTCPeerConnection, dict[str, Any]]:
    pc = RTCPeerConnection()
    pc.addTrack(ToneTrack())
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    headers = await rig.login(user)
    url = f"{rig.base}/api/sessions/{rig.ids['session']}/talkback/voice"
    offer = {"type": "offer", "sdp": pc.localDescription.sdp, **body}
    async with rig.http.post(url, json=offer, headers=headers) as resp:
        text = await resp.text()
        assert resp.status == status, text
    answer: dict[str, Any] = json.loads(text)
    if status == 201:
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    else:
        await pc.close()
    return pc, answer


async def test_a_supervisor_talks_to_a_seat_and_the_seat_hears_it(rig: Rig) -> None:
    sid, seats = rig.ids["session"], rig.ids["seats"]
    # Nobody listens yet: the hub says so rather than talk into the void.
    _, problem = await offer_to_speak(rig, "km_supervisor", {"seat_id": seats["DL-01"]}, 409)
    assert problem["detail"] == "所选工位的评标终端当前没有连接喊话音频，无法喊话（可改发文字通知）"

    async with listening_seat(rig, "DL-01", "DL") as dl01:
        assert rig.app[VOICE].listening("DL.DL-01")
        # 曲靖's supervisor may not talk to 大理's seat: refused before any media is set up.
        _, problem = await offer_to_speak(rig, "qj_supervisor", {"seat_id": seats["DL-01"]}, 403)
        assert problem["detail"] == (
            f"只有主场「{HOST}」的业务人员或监督人员，或该工位所在场地的监督人员"
            f"可以向评标会 #{sid} 的工位发送通知或喊话，当前用户 qj_supervisor（监督人员）无此权限"
        )
        assert dl01.frames == 0

        speaker, started = await offer_to_speak(
            rig, "dl_supervisor", {"seat_id": seats["DL-01"]}, 201
        )
        try:
            assert (started["seats"], started["listening"]) == (["DL.DL-01"], ["DL.DL-01"])
            await eventually(lambda: dl01.frames >= 25, "the seat decoded half a second of voice")
            # What it decoded is the speaker's tone, not silence.
            await eventually(lambda: dl01.voiced >= 25, "half a second of it not silence")
            headers = await rig.login("km_supervisor")
            url = f"{rig.base}/api/talkback/voice/{started['talk_id']}"
            async with rig.http.delete(url, headers=headers) as resp:
                assert resp.status == 403, await resp.text()  # not theirs to end
            headers = await rig.login("dl_supervisor")
            async with rig.http.delete(url, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                ended = await resp.json()
            assert ended["talk_id"] == started["talk_id"] and ended["frames"] > 0
            async with rig.http.delete(url, headers=headers) as resp:
                assert resp.status == 404, await resp.text()
        finally:
            await speaker.close()

    async with rig.db.read() as s:
        row = await s.get(TalkbackRow, started["talk_id"])
        events = (
            (
                await s.execute(
                    select(AuditEventRow)
                    .where(AuditEventRow.kind.like("talkback.voice%"))
                    .order_by(AuditEventRow.seq)
                )
            )
            .scalars()
            .all()
        )
        chain = await load_chain(s)
    assert verify(chain, [], Ed25519PrivateKey.generate().public_key()).ok
    assert row is not None and (row.kind, row.seat_key, row.sender) == (
        "voice",
        "DL.DL-01",
        "dl_supervisor",
    )
    assert row.sender_role == "venue_supervisor" and row.duration_s is not None
    assert [(e.kind, e.actor, e.subject) for e in events] == [
        ("talkback.voice_started", "dl_supervisor", f"session:{sid}"),
        ("talkback.voice_ended", "dl_supervisor", f"session:{sid}"),
    ]
    assert events[0].payload["to"] == "DL.DL-01"
    assert events[1].payload["reached"] == ["DL.DL-01"]
