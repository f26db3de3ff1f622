"""Text announcements to the seats (工位通知), through the hub's HTTP API and real seat links:
who may send to which seat (an away supervisor only to their venue's seats, with the exact
refusal), what is refused as input, the announcement reaching a connected seat at once and a
seat that connects later on its catch-up, the audit event and the session's archive."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.api.keys import CLOCK
from evaluation_hub.archive.auditslice import AuditSlice
from evaluation_hub.archive.sections import ArchiveContext
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import load_chain
from evaluation_hub.talkback.archive import TALKBACK, archive_section
from seat_agent.connection import SeatLink
from seat_protocol.events import Event, MessageReceived
from seat_protocol.messages import Announcement
from tests.live.conftest import Rig, eventually

PROBLEM = "application/problem+json"


@contextlib.asynccontextmanager
async def listening(rig: Rig, label: str, venue: str) -> AsyncIterator[list[Announcement]]:
    """A seat agent's link for seat ``label``, collecting the announcements it receives."""
    heard: list[Announcement] = []
    connected = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, Announcement):
            heard.append(event.message)
        elif type(event).__name__ == "Connected":
            connected.set()

    link = SeatLink(await rig.enrol(label, venue), on_event=on_event, random=lambda: 0.0)
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(connected.wait(), 30)
        yield heard
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send(rig: Rig, user: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    headers = await rig.login(user)
    url = f"{rig.base}/api/sessions/{rig.ids['session']}/announcements"
    async with rig.http.post(url, json=body, headers=headers) as resp:
        text = await resp.text()
        assert resp.status == status, text
        if status >= 400:
            assert resp.content_type == PROBLEM
    answer: dict[str, Any] = json.loads(text)
    return answer


async def test_announcements_reach_the_seats_their_sender_may_address(rig: Rig) -> None:
    sid, seats = rig.ids["session"], rig.ids["seats"]
    async with listening(rig, "DL-01", "DL") as dl01, listening(rig, "QJ-01", "QJ") as qj01:
        # The host supervisor, to every seat: pushed to both connected seats at once.
        sent = await send(rig, "km_supervisor", {"text": "  请各位专家准备开始评审。 "}, 201)
        assert sent["to"] == "all" and sent["text"] == "请各位专家准备开始评审。"
        assert sent["seats"] == ["DL.DL-01", "DL.DL-02", "QJ.QJ-01", "QJ.QJ-02"]
        assert sent["pushed"] == ["DL.DL-01", "QJ.QJ-01"]
        await eventually(lambda: len(dl01) == 1 and len(qj01) == 1, "both seats heard it")
        (heard,) = dl01
        assert (heard.announcement_id, heard.session_id) == (sent["id"], str(sid))
        assert (heard.role, heard.role_name) == ("host_supervisor", "主场监督人员")
        assert heard.text == "请各位专家准备开始评审。"

        # 曲靖's supervisor to 曲靖's seat: only that seat hears it, as from the away site.
        own = await send(
            rig, "qj_supervisor", {"text": "请调整摄像头", "seat_id": seats["QJ-01"]}, 201
        )
        assert (own["to"], own["role_name"]) == ("QJ.QJ-01", "客场监督人员")
        await eventually(lambda: len(qj01) == 2, "QJ-01 heard its venue's supervisor")
        assert qj01[1].text == "请调整摄像头" and len(dl01) == 1

        # …and nothing to another venue's seat, nor to every seat of the session.
        host = "云南省公共资源交易中心（昆明）"
        refused = (
            f"只有主场「{host}」的业务人员或监督人员，或该工位所在场地的监督人员"
            f"可以向评标会 #{sid} 的工位发送通知或喊话，当前用户 qj_supervisor（监督人员）无此权限"
        )
        for body in ({"text": "越权", "seat_id": seats["DL-01"]}, {"text": "越权"}):
            problem = await send(rig, "qj_supervisor", body, 403)
            assert problem["type"].endswith("/talkback-not-allowed")
            assert problem["detail"] == refused
        problem = await send(rig, "dl_admin", {"text": "越权"}, 403)
        assert problem["detail"] == (
            f"只有主场「{host}」的业务人员或监督人员，或该工位所在场地的监督人员"
            f"可以向评标会 #{sid} 的工位发送通知或喊话，当前用户 dl_admin（场地管理员）无此权限"
        )

        # Input the hub refuses, in its words, changing nothing.
        problem = await send(rig, "km_operator", {"text": " \n "}, 422)
        assert problem["detail"] == "通知内容不能为空，请填写要发送给专家的内容"
        problem = await send(rig, "km_operator", {"text": "长" * 501}, 422)
        assert problem["detail"] == "通知内容不能超过 500 个字（现为 501 个字）"
        problem = await send(rig, "km_operator", {"text": "无此工位", "seat_id": 999_999}, 404)
        assert problem["detail"] == f"评标会 #{sid} 当前没有工位 #999999"
        await asyncio.sleep(0.2)
        assert len(dl01) == 1 and len(qj01) == 2

    # A seat that connects later hears what was sent to every seat, not what went elsewhere.
    async with listening(rig, "QJ-02", "QJ") as qj02:
        await eventually(lambda: len(qj02) == 1, "QJ-02 caught up")
        assert qj02[0].announcement_id == sent["id"]

    # The panel: an away supervisor addresses their venue's seats, sees what concerns them.
    headers = await rig.login("qj_supervisor")
    async with rig.http.get(f"{rig.base}/api/sessions/{sid}/talkback", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        panel = await resp.json()
    assert panel["everyone"] is False
    assert [s["label"] for s in panel["seats"]] == ["QJ-01", "QJ-02"]
    assert [(e["to"], e["text"]) for e in panel["history"]] == [
        ("QJ.QJ-01", "请调整摄像头"),
        ("all", "请各位专家准备开始评审。"),
    ]

    # Audited in the chain (who, to whom, the text), and in the session's archive.
    async with rig.db.read() as s:
        rows = (
            (
                await s.execute(
                    select(AuditEventRow)
                    .where(AuditEventRow.kind == "talkback.announcement")
                    .order_by(AuditEventRow.seq)
                )
            )
            .scalars()
            .all()
        )
        events = await load_chain(s)
    assert [(r.actor, r.subject, r.payload["to"], r.payload["text"]) for r in rows] == [
        ("km_supervisor", f"session:{sid}", "all", "请各位专家准备开始评审。"),
        ("qj_supervisor", f"session:{sid}", "QJ.QJ-01", "请调整摄像头"),
    ]
    assert verify(events, [], Ed25519PrivateKey.generate().public_key()).ok
    # The section reads only the database (the slice it is given is the writer's business).
    context = ArchiveContext(
        rig.db,
        sid,
        rig.app[CLOCK](),
        cast(AuditSlice, None),
        Ed25519PrivateKey.generate().public_key(),
    )
    (bundle_file,) = await archive_section(context)
    assert bundle_file.path == TALKBACK and bundle_file.data is not None
    archived = json.loads(bundle_file.data)
    assert [(a["sender"], a["to"], a["text"]) for a in archived] == [
        ("km_supervisor", "all", "请各位专家准备开始评审。"),
        ("qj_supervisor", "QJ.QJ-01", "请调整摄像头"),
    ]
