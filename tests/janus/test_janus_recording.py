"""Recording through Janus's recorder: each publication of a seat, recorded by Janus and cut
every ``recording_segment_s``, is converted to WebM segments (janus-pp-rec, FFmpeg), each
hashed into the audit chain for its session as the built-in recorder's segments are; the
chain still verifies."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evaluation_hub.archive.recordings import SEGMENT_EVENT
from evaluation_hub.audit.store import load_chain
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.live import janus_recording
from evaluation_hub.live.recording import seat_directory_name
from tests.conftest import FakeClock
from tests.janus.conftest import plane, verify_audit
from tests.live.conftest import Rig, eventually
from tests.live.test_recording import during_session, ffprobe, segment_events

SEAT = "DL.DL-01"


async def test_a_publication_recorded_by_janus_is_cut_converted_and_audited(
    rig: Rig, clock: FakeClock, tmp_path: Path
) -> None:
    sid = rig.ids["session"]
    async with rig.db.read() as s:
        (seat_id,) = [x.seat_id for x in await seatings(s, session_id=sid) if x.seat_key == SEAT]
    await during_session(rig, clock)
    recordings = plane(rig).recordings
    assert recordings is not None
    recordings.segment_seconds = 1.0  # configuration (recording_segment_s); short here
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status(SEAT).state == "live", "DL-01 is live")
    assert (await rig.seat_row(sid, await rig.login("km_supervisor"), "DL-01"))["recording"][
        "state"
    ] == "recording"

    seat_dir = tmp_path / "recordings" / seat_directory_name(SEAT)

    def segments() -> int:
        return len(list(seat_dir.glob("*.webm"))) if seat_dir.exists() else 0

    await eventually(lambda: segments() >= 2, "two segments cut and converted", limit=60)
    # The seat goes away: Janus hangs up, the hub detaches, converts and audits.
    await seat.stop()
    await eventually(lambda: plane(rig).status(SEAT).state == "lost", "DL-01 is lost")
    # The hub detaches the publisher before it hands the rest of its recording over.
    await eventually(lambda: recordings.state(SEAT) is None, "the publication's recording ended")
    await recordings.drain()
    files = sorted(seat_dir.iterdir(), key=lambda f: int(f.stem.split("-")[1]))
    events = await segment_events(rig.db)
    assert len(files) >= 2  # cut once at least (and the rest, unless it was empty)
    assert [f.name[:6] for f in files] == ["janus-"] * len(files)
    assert {f.suffix for f in files} == {".webm"}
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
    assert list(recordings.janus_dir.glob("*.mjr")) == []  # converted, then removed
    # One event per segment, in the order they were cut.
    assert [e["file"] for e in events] == [f"{seat_dir.name}/{f.name}" for f in files]
    for event, file in zip(events, files, strict=True):
        data = file.read_bytes()
        assert event["subject"] == f"seat:{seat_id}"
        assert (event["session_id"], event["seat_id"]) == (sid, seat_id)
        assert (event["sha256"], event["size"]) == (hashlib.sha256(data).hexdigest(), len(data))
        duration, errors, codecs = ffprobe(file)
        assert errors == ""
        assert sorted(codecs) == ["opus", "vp8"]
        assert abs(duration * 1000 - event["duration_ms"]) <= 70
    verify_audit(rig, tmp_path)


async def test_a_part_that_cannot_be_converted_is_an_audited_outage_until_the_next_part(
    rig: Rig, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await during_session(rig, clock)
    recordings = plane(rig).recordings
    assert recordings is not None
    recordings.segment_seconds = 1.0
    parts: list[str] = []
    third_part_may_go = asyncio.Event()
    settled = janus_recording._settled

    async def corrupting(base: Path, **kwargs: float) -> None:
        # Janus closed the part's files: the second part's video is corrupted before
        # janus-pp-rec reads it, the third waits until the test has looked at the wall.
        await settled(base, **kwargs)
        parts.append(base.name)
        if len(parts) == 2:
            (video,) = base.parent.glob(f"{base.name}-video-*.mjr")
            with video.open("r+b") as f:
                f.write(b"XXXXXXXX")  # not Janus's MJR00002 header
        elif len(parts) == 3:
            await third_part_may_go.wait()

    monkeypatch.setattr(janus_recording, "_settled", corrupting)
    try:
        await _outage_and_resumption(rig, tmp_path, parts, third_part_may_go)
    finally:
        third_part_may_go.set()  # the hub's stop converts every part


async def _outage_and_resumption(
    rig: Rig, tmp_path: Path, parts: list[str], third_part_may_go: asyncio.Event
) -> None:
    sid = rig.ids["session"]
    recordings = plane(rig).recordings
    assert recordings is not None
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status(SEAT).state == "live", "DL-01 is live")
    await eventually(lambda: len(parts) == 3, "three parts cut", limit=60)

    # The lost part stops the seat's recording, as the wall shows (录像已停止).
    supervisor = await rig.login("km_supervisor")
    start = [round(int(p.rpartition("--")[2].split("-")[0]) / 1000, 3) for p in parts]
    stopped_at = datetime.fromtimestamp(start[1], UTC).isoformat()
    await eventually(
        lambda: (state := recordings.state(SEAT)) is not None and state.state == "stopped",
        "the recording is stopped",
    )
    assert (await rig.seat_row(sid, supervisor, "DL-01"))["recording"] == {
        "state": "stopped",
        "reason": "conversion_failed",
        "since": start[1],
        "label": "录像已停止（录像文件转换失败）",
    }
    third_part_may_go.set()
    await eventually(
        lambda: (state := recordings.state(SEAT)) is not None and state.state == "recording",
        "the recording resumed",
    )
    await seat.stop()
    await eventually(lambda: plane(rig).status(SEAT).state == "lost", "DL-01 is lost")
    # The hub detaches the publisher before it hands the rest of its recording over.
    await eventually(lambda: recordings.state(SEAT) is None, "the publication's recording ended")
    await recordings.drain()

    async with rig.db.read() as s:
        chain = await load_chain(s)
    outages = [
        (e.kind, e.subject, e.payload)
        for e in chain
        if e.kind in ("recording.stopped", "recording.resumed")
    ]
    assert [o[:2] for o in outages] == [
        ("recording.stopped", f"seat:{SEAT}"),
        ("recording.resumed", f"seat:{SEAT}"),
    ]
    assert outages[0][2] == {
        "reason": "conversion_failed",
        "detail": f"janus-pp-rec could not convert {parts[1]}",
        "stopped_at": stopped_at,
        "session_ids": [sid],
    }
    resumed = dict(outages[1][2])
    assert isinstance(resumed.pop("free_bytes"), int)
    assert resumed == {
        "stopped_at": stopped_at,
        "resumed_at": datetime.fromtimestamp(start[2], UTC).isoformat(),
        "outage_ms": round((start[2] - start[1]) * 1000),
        "segments_lost": 1,
        "session_ids": [sid],
    }
    # Around the outage: the first part's segment, then (after the resumption) the third's.
    kinds = [e.kind for e in chain if e.kind.startswith("recording.")]
    assert kinds[:4] == [SEGMENT_EVENT, "recording.stopped", "recording.resumed", SEGMENT_EVENT]
    files = [e["file"] for e in await segment_events(rig.db)]
    assert files[:2] == [
        f"{seat_directory_name(SEAT)}/janus-{p.rpartition('--')[2]}.webm" for p in parts[0:3:2]
    ]
    # The lost part's files stay where Janus wrote them.
    assert len(list(recordings.janus_dir.glob(f"{parts[1]}-*.mjr"))) == 2
    verify_audit(rig, tmp_path)
