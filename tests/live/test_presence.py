"""Check-in confirms presence (签到在场核验) from the seat's live picture, through the real hub:
seats publish the test pattern (the astronaut portrait) over real aiortc peers, the hub's
conduct monitor samples it, and the expert checks in over the seat link. Exactly one face
confirms presence; no face, two faces or no picture at all leave the check-in standing but
unconfirmed, raised to the supervisors as an incident, and the expert is told. A host
supervisor then confirms one by hand, with a reason, and the seat hears it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from aiortc import MediaStreamTrack

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.store import load_chain
from evaluation_hub.checkin.store import issue_pins
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.principal import Principal
from media.testpattern import Scene, TestPatternTrack, ToneTrack
from seat_agent.connection import SeatLink
from seat_agent.publisher import SeatPublisher
from seat_protocol.events import Event, MessageReceived
from seat_protocol.messages import CheckinRequest, CheckinResult, Message, PresenceNotice
from tests.conftest import FakeClock
from tests.live.conftest import Rig, eventually

KM = "云南省公共资源交易中心（昆明）"
REASON = "经视频连线核对本人身份证件，画面中另一人为场地技术人员，已离开"


@dataclass
class CheckingSeat:
    """A seat agent's link (and, when it has a camera, its publisher) with what it heard."""

    key: str
    link: SeatLink
    task: asyncio.Task[None]
    publisher: SeatPublisher | None = None
    video: TestPatternTrack | None = None
    heard: list[Message] = field(default_factory=list)

    def presence(self) -> list[PresenceNotice]:
        return [m for m in self.heard if isinstance(m, PresenceNotice)]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if self.publisher is not None:
            await self.publisher.close()
        if self.video is not None:
            self.video.stop()


@contextlib.asynccontextmanager
async def seat(
    rig: Rig, label: str, venue: str, scene: Scene | None
) -> AsyncIterator[CheckingSeat]:
    """The seat's terminal, enrolled; publishing ``scene`` (None: no camera at all)."""
    identity = await rig.enrol(label, venue)
    publisher: SeatPublisher | None = None
    video = None
    checking: CheckingSeat | None = None

    async def on_event(event: Event) -> None:
        if isinstance(event, MessageReceived) and checking is not None:
            checking.heard.append(event.message)
        if publisher is not None:
            await publisher.on_event(event)

    link = SeatLink(identity, on_event=on_event, random=lambda: 0.0)
    if scene is not None:
        video = TestPatternTrack(scene=scene, fps=10)
        tracks: list[MediaStreamTrack] = [video, ToneTrack()]
        publisher = SeatPublisher(link.send, tracks)
    checking = CheckingSeat(
        identity.seat_id, link, asyncio.create_task(link.run()), publisher, video
    )
    try:
        yield checking
    finally:
        await checking.stop()


async def _check_in(rig: Rig, at: CheckingSeat, sid: int, code: str, pin: str) -> PresenceNotice:
    await at.link.send(CheckinRequest(session_id=str(sid), expert_code=code, pin=pin))
    await eventually(lambda: bool(at.presence()), f"{code}'s presence check")
    (result,) = [m for m in at.heard if isinstance(m, CheckinResult)]
    assert (result.accepted, result.message) == (True, f"专家 {code} 签到成功")
    (notice,) = at.presence()
    assert notice.expert_code == code
    return notice


async def _get(rig: Rig, path: str, user: str) -> Any:
    async with rig.http.get(f"{rig.base}{path}", headers=await rig.login(user)) as resp:
        assert resp.status == 200, await resp.text()
        return json.loads(await resp.text())


async def _post(rig: Rig, path: str, user: str, body: Any) -> tuple[int, Any]:
    async with rig.http.post(f"{rig.base}{path}", json=body, headers=await rig.login(user)) as resp:
        return resp.status, json.loads(await resp.text())


async def test_check_in_confirms_presence_only_with_exactly_one_face(
    rig: Rig, clock: FakeClock
) -> None:
    ids, sid = rig.ids, rig.ids["session"]
    hub = rig.app[SERVICES]  # the rig's session is on: 大理 confirmed, check-in open
    issued = await issue_pins(
        hub, Principal("km_operator", "host_operator", ids["venues"]["KM"]), sid, now=clock()
    )
    pins = {p.expert_code: p.pin for p in issued}
    assert sorted(pins) == ["E03", "E04", "E06", "E07"]
    async with rig.db.read() as s:
        session = await s.get(EvaluationSession, sid)
        assert session is not None
        starts_at = session.starts_at.replace(tzinfo=session.starts_at.tzinfo or UTC)
    clock.now = starts_at - timedelta(minutes=30)  # check-in opens an hour before the start

    # One face in view: confirmed.
    async with seat(rig, "DL-02", "DL", Scene.PRESENT) as present:
        await eventually(
            lambda: (o := rig.live.latest(present.key)) is not None and o.faces == 1,
            "the monitor sees one face",
        )
        notice = await _check_in(rig, present, sid, "E04", pins["E04"])
        assert (notice.state, notice.message) == (
            "confirmed",
            "已确认本人在场（画面中检测到一张人脸）",
        )
    # Nobody in view: unconfirmed.
    async with seat(rig, "QJ-01", "QJ", Scene.ABSENT) as absent:
        await eventually(
            lambda: (o := rig.live.latest(absent.key)) is not None and o.faces == 0 and not o.dark,
            "the monitor sees an empty seat",
        )
        notice = await _check_in(rig, absent, sid, "E06", pins["E06"])
        assert (notice.state, notice.message) == (
            "unconfirmed",
            "签到已记录，但未能确认本人在场：画面中未检测到人脸。已报告监督人员核实，"
            "请面向摄像头并保持画面中只有本人",
        )
    # Two faces in view: unconfirmed, and serious.
    async with seat(rig, "QJ-02", "QJ", Scene.TWO_FACES) as two:
        await eventually(
            lambda: (o := rig.live.latest(two.key)) is not None and o.faces == 2,
            "the monitor sees two faces",
        )
        notice = await _check_in(rig, two, sid, "E07", pins["E07"])
        assert (notice.state, notice.message) == (
            "unconfirmed",
            "签到已记录，但未能确认本人在场：画面中检测到 2 张人脸。已报告监督人员核实，"
            "请面向摄像头并保持画面中只有本人",
        )
        seat_of_e07 = two.key

        # No camera at all: no live picture to look at.
        async with seat(rig, "DL-01", "DL", None) as blind:
            await eventually(lambda: rig.app[SERVICES].seats.connected(blind.key), "connected")
            assert rig.live.latest(blind.key) is None
            notice = await _check_in(rig, blind, sid, "E03", pins["E03"])
            assert (notice.state, notice.message) == (
                "unconfirmed",
                "签到已记录，但未能确认本人在场：未检测到画面。已报告监督人员核实，"
                "请面向摄像头并保持画面中只有本人",
            )

        # Raised to the supervisors: one incident per unconfirmed check-in, of the host site.
        incidents = [
            i
            for i in await _get(rig, f"/api/sessions/{sid}/incidents", "km_supervisor")
            if i["raised_by"] == "checkin_presence"
        ]
        found = {
            i["expert"]["code"]: (i["kind"], i["severity"], i["seat"]["label"], i["evidence"])
            for i in incidents
        }
        assert sorted(found) == ["E03", "E06", "E07"]
        assert found["E06"][:3] == ("签到时未确认本人在场", "minor", "QJ-01")
        assert found["E07"][:3] == ("签到时未确认本人在场", "serious", "QJ-02")
        assert found["E03"][:3] == ("签到时未确认本人在场", "minor", "DL-01")
        assert [(found[c][3]["finding"], found[c][3]["faces"]) for c in ("E03", "E06", "E07")] == [
            ("no-picture", None),
            ("no-face", 0),
            ("several-faces", 2),
        ]
        e07 = next(i for i in incidents if i["expert"]["code"] == "E07")
        assert e07["description"] == (
            "签到时未能确认本人在场：工位 QJ-02，画面中检测到 2 张人脸（2026-12-01 08:30）"
        )
        async with rig.db.read() as s:
            accepted = [e.payload for e in await load_chain(s) if e.kind == "checkin.accepted"]
        assert [(p["presence"], p["presence_finding"], p["faces"]) for p in accepted] == [
            ("confirmed", "one-face", 1),
            ("unconfirmed", "no-face", 0),
            ("unconfirmed", "several-faces", 2),
            ("unconfirmed", "no-picture", None),
        ]

        # The supervisors' list; an away supervisor sees only their venue's experts.
        listed = await _get(rig, f"/api/sessions/{sid}/presence", "km_supervisor")
        assert [
            (p["expert_code"], p["presence"], p["presence_name"], p["note"]) for p in listed
        ] == [
            ("E03", "unconfirmed", "未确认本人在场", "未检测到画面"),
            ("E04", "confirmed", "已确认本人在场", "画面中检测到一张人脸"),
            ("E06", "unconfirmed", "未确认本人在场", "画面中未检测到人脸"),
            ("E07", "unconfirmed", "未确认本人在场", "画面中检测到 2 张人脸"),
        ]
        away = await _get(rig, f"/api/sessions/{sid}/presence", "qj_supervisor")
        assert [p["expert_code"] for p in away] == ["E06", "E07"]

        # Confirmed by hand: only by the host site's supervisor, only with a reason.
        url = f"/api/sessions/{sid}/presence/E07/confirm"
        status, body = await _post(rig, url, "qj_supervisor", {"reason": REASON})
        assert (status, body["detail"]) == (
            403,
            f"只有主场「{KM}」的监督人员可以人工确认专家在场，当前用户 qj_supervisor（监督人员）无此权限",
        )
        status, body = await _post(rig, url, "km_supervisor", {"reason": "  "})
        assert (status, body["detail"]) == (422, "字段 reason 不能为空")
        status, body = await _post(
            rig, f"/api/sessions/{sid}/presence/E04/confirm", "km_supervisor", {"reason": REASON}
        )
        assert (status, body["detail"]) == (409, "专家 E04 签到时已确认本人在场，无需人工确认")
        status, body = await _post(
            rig, f"/api/sessions/{sid}/presence/E05/confirm", "km_supervisor", {"reason": REASON}
        )
        assert (status, body["detail"]) == (404, f"专家 E05 未在评标会 #{sid} 的工位签到")
        status, body = await _post(rig, url, "km_supervisor", {"reason": REASON})
        assert status == 200, body
        assert (body["presence"], body["confirmed_by"], body["reason"], body["note"]) == (
            "confirmed_by_hand",
            "km_supervisor",
            REASON,
            "画面中检测到 2 张人脸",
        )
        # The expert's seat hears it.
        await eventually(lambda: len(two.presence()) == 2, "the seat told")
        assert (two.presence()[-1].state, two.presence()[-1].message) == (
            "confirmed_by_hand",
            f"监督人员已人工确认本人在场：{REASON}",
        )
        assert seat_of_e07 == "QJ.QJ-02"
        status, body = await _post(rig, url, "km_supervisor", {"reason": REASON})
        assert (status, body["detail"]) == (
            409,
            "专家 E07 的在场情况已由 km_supervisor 于 2026-12-01 08:30 人工确认",
        )
    # The incident records the confirmation as its handling; the chain has the confirmation.
    (e07,) = [
        i
        for i in await _get(rig, f"/api/sessions/{sid}/incidents", "km_supervisor")
        if i["raised_by"] == "checkin_presence" and i["expert"]["code"] == "E07"
    ]
    assert e07["state"] == "handling"
    assert [(h["note"], h["by"]) for h in e07["handling"]] == [
        (f"人工确认本人在场：{REASON}", "km_supervisor")
    ]
    async with rig.db.read() as s:
        (confirmed,) = [e for e in await load_chain(s) if e.kind == "checkin.presence_confirmed"]
    assert confirmed.actor == "km_supervisor"
    assert (confirmed.payload["expert"], confirmed.payload["reason"]) == ("E07", REASON)
