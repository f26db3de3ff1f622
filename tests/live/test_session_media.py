"""Recordings and alerts follow the session, not the booking (音视频归属评标会): an expert checked
in at a seat keeps that seat's media in the session's record past the booked end (an
evaluation that runs late, a demo run outside its window). Every segment recorded after the
booked end is hashed into the chain for the session and listed in its archive's recordings;
an alert raises the session's incident. A seat whose expert never checked in is, outside the
window, still nobody's (unassigned), as before."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.store import load_chain
from evaluation_hub.booking import answers
from evaluation_hub.checkin.store import check_in, issue_pins
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.live.recording import UNASSIGNED_EVENT
from evaluation_hub.principal import Principal
from media.conduct import ConductRules
from media.testpattern import Scene
from tests.archive.conftest import run_cli
from tests.conftest import FakeClock
from tests.live.conftest import Rig, eventually
from tests.live.test_recording import recording_rig, segment_events


async def _incidents(rig: Rig, headers: dict[str, str]) -> list[dict[str, Any]]:
    url = f"{rig.base}/api/sessions/{rig.ids['session']}/incidents"
    async with rig.http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        found: list[dict[str, Any]] = json.loads(await resp.text())
    return found


@pytest.mark.usefixtures("loopback")
async def test_recordings_and_alerts_past_the_booked_end_stay_with_the_session(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with recording_rig(tmp_path, clock) as rig:
        ids, sid = rig.ids, rig.ids["session"]
        hub = rig.app[SERVICES]
        await answers.confirm_booking(
            hub,
            Principal("dl_admin", "venue_admin", ids["venues"]["DL"]),
            ids["bookings"]["dali"],
            seat_ids=None,
            now=clock(),
        )
        host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
        pins = {p.expert_code: p.pin for p in await issue_pins(hub, host, sid, now=clock())}
        async with rig.db.read() as s:
            session = await s.get(EvaluationSession, sid)
            assert session is not None
            starts_at = session.starts_at.replace(tzinfo=session.starts_at.tzinfo or UTC)
            ends_at = session.ends_at.replace(tzinfo=session.ends_at.tzinfo or UTC)
        # E03 checks in at DL-01 before the start; E04, seated at DL-02, never does.
        clock.now = starts_at - timedelta(minutes=30)
        await check_in(
            hub, seat_id=ids["seats"]["DL-01"], expert_code="E03", pin=pins["E03"], now=clock()
        )
        # The evaluation runs late: an hour past the booked end, the seats are still live.
        clock.now = ends_at + timedelta(hours=1)
        rig.live.conduct_rules = ConductRules(empty_after=1.0, clear_after=1.0)
        await rig.publish("DL-01", "DL", scene=Scene.ABSENT)
        await rig.publish("DL-02", "DL", scene=Scene.ABSENT)
        recordings = rig.live.recordings
        assert recordings is not None

        def closed(key: str) -> int:
            recorder = recordings.recorder(key)
            return 0 if recorder is None else recorder.counters.segments_closed

        await eventually(
            lambda: closed("DL.DL-01") >= 2 and closed("DL.DL-02") >= 1,
            "segments closed past the booked end",
            limit=60,
        )
        await eventually(lambda: bool(rig.live.status("DL.DL-02").alerts), "DL-02's alert raised")
        found: list[dict[str, Any]] = []
        headers = await rig.login("km_supervisor")
        for _ in range(500):
            found = [
                i for i in await _incidents(rig, headers) if i["raised_by"] == "conduct_monitor"
            ]
            if found:
                break
            await asyncio.sleep(0.02)
        await recordings.drain()
        # The empty seat of the checked-in expert is the session's incident; the seat of the
        # expert who never checked in raised an alert but, past the window, no incident.
        assert [(i["kind"], i["expert"]["code"], i["seat"]["label"]) for i in found] == [
            ("离开工位", "E03", "DL-01")
        ]
    try:
        events = await segment_events(rig.db)
        async with rig.db.read() as s:
            unassigned = [e for e in await load_chain(s) if e.kind == UNASSIGNED_EVENT]
        mine = [e for e in events if e["file"].startswith("DL.DL-01/")]
        files = sorted((tmp_path / "recordings" / "DL.DL-01").iterdir())
        assert len(files) >= 2
        assert [e["file"] for e in mine] == [f"DL.DL-01/{f.name}" for f in files]
        assert {(e["session_id"], e["seat_id"]) for e in mine} == {(sid, ids["seats"]["DL-01"])}
        assert [e for e in events if not e["file"].startswith("DL.DL-01/")] == []
        assert unassigned
        assert {str(e.payload["file"]).split("/")[0] for e in unassigned} == {"DL.DL-02"}

        # The session's archive lists every one of them and carries the files, hash-checked.
        bundle = tmp_path / "bundle"
        made = run_cli(
            "archive", str(sid), "--database-url", rig.db.url, "--hub-key",
            str(tmp_path / "hub-key.pem"), "--out", str(bundle), "--with-recordings",
            str(tmp_path / "recordings"),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        listed = json.loads((bundle / "recordings" / "segments.json").read_bytes())
        assert [(g["file"], g["sha256"], g["included"]) for g in listed] == [
            (e["file"], e["sha256"], True) for e in mine
        ]
        for event in mine:
            copied = bundle / "recordings" / "files" / event["file"]
            assert hashlib.sha256(copied.read_bytes()).hexdigest() == event["sha256"]
    finally:
        await rig.db.dispose()
