"""Conduct alerts from a seat's live video reach the supervision record: an empty seat during
the session becomes an incident of the host site (自动告警转监督事件), audited; outside the
session's window it is only an alert."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, timedelta
from typing import Any

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.models import EvaluationSession
from media.conduct import ConductRules
from media.testpattern import Scene
from tests.conftest import FakeClock
from tests.live.conftest import Rig, eventually


async def _incidents(rig: Rig, headers: dict[str, str]) -> list[dict[str, Any]]:
    url = f"{rig.base}/api/sessions/{rig.ids['session']}/incidents"
    async with rig.http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        found: list[dict[str, Any]] = json.loads(await resp.text())
    return found


async def _event_kinds(rig: Rig) -> list[str]:
    async with rig.db.read() as s:
        return [e.kind for e in await load_chain(s)]


async def _alert_kinds(rig: Rig) -> list[str]:
    async with rig.db.read() as s:
        return [e.kind for e in await load_chain(s) if e.kind.startswith("live.alert")]


async def test_an_empty_seat_during_the_session_becomes_a_host_incident(
    rig: Rig, clock: FakeClock
) -> None:
    async with rig.db.read() as s:
        session = await s.get(EvaluationSession, rig.ids["session"])
        assert session is not None
        starts_at = session.starts_at
    clock.now = (starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=UTC)) + timedelta(
        hours=1
    )
    rig.live.conduct_rules = ConductRules(empty_after=1.0, clear_after=1.0)
    seat = await rig.publish("QJ-01", "QJ", scene=Scene.ABSENT)
    headers = await rig.login("km_supervisor")
    found: list[dict[str, Any]] = []
    for _ in range(1500):
        found = [i for i in await _incidents(rig, headers) if i["raised_by"] == "conduct_monitor"]
        if found:
            break
        await asyncio.sleep(0.02)
    (incident,) = found
    assert incident["kind"] == "离开工位"
    assert incident["severity"] == "minor"
    assert incident["seat"] == {"id": rig.ids["seats"]["QJ-01"], "label": "QJ-01"}
    assert incident["expert"]["code"] == "E06"
    assert incident["evidence"]["alert"] == "seat_empty"
    # The evidence points into the seat's recording: the segment being written when the alert
    # started (as the segment's audit event names it) and the offset into it.
    segment = incident["evidence"]["recording_segment_id"]
    assert segment.startswith("QJ.QJ-01/") and segment.endswith(".webm"), segment
    assert isinstance(incident["evidence"]["offset_s"], int)
    assert incident["evidence"]["offset_s"] >= 0
    assert incident["description"].startswith("自动告警：工位 QJ-01 工位无人")
    assert "live.alert_raised" in await _alert_kinds(rig)
    # The away site of the seat sees it too; a venue with nothing to do with it does not.
    qj = [i["id"] for i in await _incidents(rig, await rig.login("qj_supervisor"))]
    dl = [i["id"] for i in await _incidents(rig, await rig.login("dl_supervisor"))]
    assert incident["id"] in qj
    assert incident["id"] not in dl

    # The expert sits down again: the monitor clears the alert and the incident records when
    # the occurrence ended and how long it lasted.
    seat.video.scene = Scene.PRESENT
    occurrence: dict[str, Any] = {}
    for _ in range(1500):
        (current,) = [i for i in await _incidents(rig, headers) if i["id"] == incident["id"]]
        occurrence = current["evidence"]["occurrences"][0]
        if "cleared_at" in occurrence:
            break
        await asyncio.sleep(0.02)
    assert occurrence["started_at"] == incident["evidence"]["occurrences"][0]["started_at"]
    assert occurrence["cleared_at"] > occurrence["started_at"]
    assert isinstance(occurrence["duration_s"], int) and occurrence["duration_s"] >= 0
    assert "supervision.incident_alert_cleared" in [
        k for k in await _event_kinds(rig) if k.startswith("supervision.")
    ]


async def test_outside_the_sessions_window_an_alert_raises_no_incident(rig: Rig) -> None:
    # The fixture's clock stands the day before the session.
    rig.live.conduct_rules = ConductRules(empty_after=1.0, clear_after=1.0)
    await rig.publish("QJ-01", "QJ", scene=Scene.ABSENT)
    await eventually(lambda: bool(rig.live.status("QJ.QJ-01").alerts), "the seat's alert is raised")
    for _ in range(200):
        if "live.alert_raised" in await _alert_kinds(rig):
            break
        await asyncio.sleep(0.02)
    assert "live.alert_raised" in await _alert_kinds(rig)
    assert await _incidents(rig, await rig.login("km_supervisor")) == []


async def test_the_event_stream_opens_with_alerts_already_active(rig: Rig) -> None:
    # A wall that opens after the alert was raised still shows it: the stream starts with the
    # seats' current state and active alerts, read after subscribing, so nothing falls between.
    rig.live.conduct_rules = ConductRules(empty_after=1.0, clear_after=1.0)
    await rig.publish("QJ-01", "QJ", scene=Scene.ABSENT)
    await eventually(lambda: bool(rig.live.status("QJ.QJ-01").alerts), "the seat's alert is raised")
    (active,) = rig.live.status("QJ.QJ-01").alerts
    headers = await rig.login("qj_supervisor")
    url = f"{rig.base}/api/sessions/{rig.ids['session']}/live/events"
    received: list[dict[str, Any]] = []

    async def read() -> None:
        async with rig.http.get(url, headers=headers) as resp:
            assert resp.status == 200
            async for line in resp.content:
                if line.startswith(b"data: "):
                    received.append(json.loads(line[6:]))
                kinds = {e["type"] for e in received}
                if kinds == {"live.seat", "live.alert"} and len(received) >= 3:
                    return

    # Nothing new happens on the seats now, so only the snapshot can bring these events.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), 15)
    seats = [e for e in received if e["type"] == "live.seat"]
    assert {(e["seat_key"], e["snapshot"]) for e in seats} == {
        ("QJ.QJ-01", True),
        ("QJ.QJ-02", True),
    }
    (alert,) = [e for e in received if e["type"] == "live.alert"]
    assert alert["snapshot"] is True
    assert alert["seat_id"] == rig.ids["seats"]["QJ-01"]
    assert (alert["kind"], alert["started_at"], alert["cleared_at"]) == (
        "seat_empty",
        active.started_at,
        None,
    )
