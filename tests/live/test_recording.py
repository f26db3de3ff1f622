"""Recording in the hub: a seat publishes through the real hub (real seat websocket, real aiortc
peers on 127.0.0.1), its media is cut into WebM segments without transcoding, every segment is
read back by ffprobe, hashed into the audit chain for the session seating an expert there, and
carried into the session's archive. Retention and the recording settings are checked too."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.archive.recordings import SEGMENT_EVENT
from evaluation_hub.audit.store import load_chain
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.errors import ConfigError
from evaluation_hub.live.recording import RecordingPolicy, SeatRecordings, seat_directory_name
from tests.archive.conftest import run_cli
from tests.conftest import FakeClock
from tests.live.conftest import Rig, eventually
from tests.supervision_api.conftest import hub_config, seed_seated

SEAT = "DL.DL-01"  # E03 is seated there in the demo session


@contextlib.asynccontextmanager
async def recording_rig(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Rig]:
    """The hub app recording into ``tmp_path/recordings`` in one-second segments."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.upgrade()
    ids = await seed_seated(db, clock)
    config = dataclasses.replace(
        hub_config(db, tmp_path), recordings_dir=tmp_path / "recordings", recording_segment_s=1.0
    )
    app = create_app(config, db=db, clock=clock, sweep=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            rig = Rig(app, server, ids, tmp_path, db, http)
            try:
                yield rig
            finally:
                for seat in rig.seats:
                    await seat.stop()
    finally:
        await server.close()  # closes the hub: the open segment is written and audited


def ffprobe(path: Path) -> tuple[float, str, list[str]]:
    """(container duration, stderr, codec names) as ffprobe reads ``path``, errors reported."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name",
         "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Decoding every packet surfaces corrupt frames that the header read alone would miss.
    decoded = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
         "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr
    info = json.loads(done.stdout)
    # A segment of a single frame (a cut just before the recorder stops) spans no time: its
    # container states no duration, and its event 0 ms.
    return (
        float(info["format"].get("duration", 0.0)),
        done.stderr + decoded.stderr,
        [s["codec_name"] for s in info["streams"]],
    )


async def during_session(rig: Rig, clock: FakeClock) -> None:
    """Move the clock into the session, when its experts are seated."""
    async with rig.db.read() as s:
        session = await s.get(EvaluationSession, rig.ids["session"])
        assert session is not None
        starts_at = session.starts_at
    clock.now = starts_at.replace(tzinfo=starts_at.tzinfo or UTC) + timedelta(hours=1)


async def segment_events(db: Database) -> list[dict[str, Any]]:
    async with db.read() as s:
        chain = await load_chain(s)
    return [{"subject": e.subject, **e.payload} for e in chain if e.kind == SEGMENT_EVENT]


async def test_a_publishing_seat_is_recorded_audited_and_archived(
    tmp_path: Path, clock: FakeClock, loopback: None
) -> None:
    async with recording_rig(tmp_path, clock) as rig:
        sid = rig.ids["session"]
        async with rig.db.read() as s:
            (seat_id,) = [
                x.seat_id for x in await seatings(s, session_id=sid) if x.seat_key == SEAT
            ]
        await during_session(rig, clock)
        await rig.publish("DL-01", "DL")
        recordings = rig.live.recordings
        assert recordings is not None

        def closed() -> int:
            recorder = recordings.recorder(SEAT)
            return 0 if recorder is None else recorder.counters.segments_closed

        await eventually(lambda: closed() >= 3, "three segments closed", limit=60)
        # The recorder takes the seat's stream like a viewer but is not counted as one.
        assert rig.live.status(SEAT).viewers == 0
        await recordings.drain()
        recorder = recordings.recorder(SEAT)
        assert recorder is not None
        counters = recorder.counters
    # The hub has closed: its last, partial segment is written and audited as well.
    db = rig.db
    try:
        events = await segment_events(db)
        seat_dir = tmp_path / "recordings" / seat_directory_name(SEAT)
        files = sorted(seat_dir.iterdir())
        assert [f for f in files if f.suffix != ".webm"] == []  # no .part left behind
        assert counters.segments_failed == 0
        # The hub's user alone may read them: folders 0700, segments 0600.
        for folder in (tmp_path / "recordings", seat_dir):
            assert folder.stat().st_mode & 0o777 == 0o700, folder
        assert {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
        assert len(files) >= 4
        # One event per segment file, for the session seating E03 at DL-01, in order.
        assert [e["file"] for e in events] == [f"{seat_dir.name}/{f.name}" for f in files]
        for event, file in zip(events, files, strict=True):
            assert event["subject"] == f"seat:{seat_id}"
            assert event["session_id"] == sid
            assert event["seat_id"] == seat_id
            data = file.read_bytes()
            assert event["sha256"] == hashlib.sha256(data).hexdigest()
            assert event["size"] == len(data)
            duration, errors, codecs = ffprobe(file)
            assert errors == ""
            assert sorted(codecs) == ["opus", "vp8"]
            # The container's duration is the one the event states, to within one video frame.
            assert abs(duration * 1000 - event["duration_ms"]) <= 70, (file.name, duration, event)
        # A segment is cut at the first keyframe a second or more after its own start, and
        # its media runs to the end of its last packet: about a second, less at most one
        # video frame (67 ms), more by the wait for the keyframe. The last one is cut short.
        for event in events[:-1]:
            assert 900 <= event["duration_ms"] <= 2500, event

        # The session's archive lists every segment and carries the files, hash-checked.
        bundle = tmp_path / "bundle"
        made = run_cli(
            "archive", str(sid), "--database-url", db.url, "--hub-key",
            str(tmp_path / "hub-key.pem"), "--out", str(bundle), "--with-recordings",
            str(tmp_path / "recordings"),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        listed = json.loads((bundle / "recordings" / "segments.json").read_bytes())
        assert [(g["file"], g["sha256"], g["included"]) for g in listed] == [
            (e["file"], e["sha256"], True) for e in events
        ]
        for event in events:
            copied = bundle / "recordings" / "files" / event["file"]
            assert hashlib.sha256(copied.read_bytes()).hexdigest() == event["sha256"]
        checked = run_cli(
            "archive", "verify", str(bundle), "--public-key", str(tmp_path / "hub-key.pub")
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        await db.dispose()


async def test_a_reconnecting_seat_gets_a_new_recorder_and_both_recordings_are_audited(
    tmp_path: Path, clock: FakeClock, loopback: None
) -> None:
    async with recording_rig(tmp_path, clock) as rig:
        await during_session(rig, clock)
        seat = await rig.publish("DL-02", "DL", retry_delay=0.2)
        recordings = rig.live.recordings
        assert recordings is not None
        await eventually(
            lambda: (
                (r := recordings.recorder("DL.DL-02")) is not None
                and r.counters.segments_closed >= 1
            ),
            "the first connection's recorder closed a segment",
            limit=60,
        )
        first = recordings.recorder("DL.DL-02")

        await rig.live.drop_publisher("DL.DL-02")
        await eventually(lambda: seat.publisher.answered == 2, "the hub answers the new offer")
        await eventually(
            lambda: (
                (r := recordings.recorder("DL.DL-02")) is not first
                and r is not None
                and r.counters.segments_closed >= 1
            ),
            "the second connection's recorder closed a segment",
            limit=60,
        )
    try:
        events = await segment_events(rig.db)
        files = sorted((tmp_path / "recordings" / "DL.DL-02").iterdir())
        assert [f"DL.DL-02/{f.name}" for f in files] == sorted(e["file"] for e in events)
        prefixes = {f.name.rsplit("-", 1)[0] for f in files}
        assert len(prefixes) == 2  # one series of segments per connection
        for event in events:
            path = tmp_path / "recordings" / event["file"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == event["sha256"]
            duration, errors, _ = ffprobe(path)
            assert errors == ""
            assert abs(duration * 1000 - event["duration_ms"]) <= 70, (path.name, duration, event)
    finally:
        await rig.db.dispose()


async def test_when_the_seat_goes_away_its_open_segment_is_closed_and_audited_at_once(
    tmp_path: Path, clock: FakeClock, loopback: None
) -> None:
    async with recording_rig(tmp_path, clock) as rig:
        await during_session(rig, clock)
        seat = await rig.publish("QJ-01", "QJ")
        recordings = rig.live.recordings
        assert recordings is not None
        await eventually(
            lambda: (
                (r := recordings.recorder("QJ.QJ-01")) is not None
                and r.counters.segments_closed >= 1
            ),
            "a segment closed",
            limit=60,
        )
        # The seat agent stops and its connection ends (the hub closes it, as after a drop).
        await seat.stop()
        await rig.live.drop_publisher("QJ.QJ-01")
        await eventually(lambda: recordings.recorder("QJ.QJ-01") is None, "recording stopped")
        await recordings.drain()
        # While the hub still runs, every segment file, the last included, has its event.
        files = sorted((tmp_path / "recordings" / "QJ.QJ-01").iterdir())
        events = await segment_events(rig.db)
        assert [f"QJ.QJ-01/{f.name}" for f in files] == [e["file"] for e in events]
        assert len(files) >= 2
        assert rig.live.status("QJ.QJ-01").state == "lost"
    await rig.db.dispose()


async def test_a_seat_with_no_expert_seated_is_recorded_as_unassigned(
    tmp_path: Path, clock: FakeClock, loopback: None
) -> None:
    async with recording_rig(tmp_path, clock) as rig:
        await during_session(rig, clock)
        await rig.publish("DL-06", "DL")  # no expert is seated there
        recordings = rig.live.recordings
        assert recordings is not None

        def closed() -> int:
            recorder = recordings.recorder("DL.DL-06")
            return 0 if recorder is None else recorder.counters.segments_closed

        await eventually(lambda: closed() >= 1, "a segment closed", limit=60)
        await recordings.drain()
        async with rig.db.read() as s:
            chain = await load_chain(s)
    try:
        assert [e for e in chain if e.kind == SEGMENT_EVENT] == []
        unassigned = [e for e in chain if e.kind == "recording.segment_unassigned"]
        assert unassigned
        first = unassigned[0]
        assert first.subject == "seat:DL.DL-06"
        name = first.payload["file"]
        assert isinstance(name, str)
        file = tmp_path / "recordings" / name
        assert hashlib.sha256(file.read_bytes()).hexdigest() == first.payload["sha256"]
    finally:
        await rig.db.dispose()


def _touch(path: Path, mtime: float) -> Path:
    path.write_bytes(b"segment")
    os.utime(path, (mtime, mtime))
    return path


async def test_retention_deletes_only_closed_segments_older_than_the_policy(
    tmp_path: Path,
) -> None:
    root = tmp_path / "recordings"
    (root / "KM.A01").mkdir(parents=True)
    (root / "DL.DL-01").mkdir()
    now = 1_800_000_000.0
    old = _touch(root / "KM.A01" / "20260101T000000Z-0-00000.webm", now - 3 * 86400)
    fresh = _touch(root / "KM.A01" / "20260101T000000Z-0-00001.webm", now - 3600)
    other_old = _touch(root / "DL.DL-01" / "20260101T000000Z-0-00000.webm", now - 2.5 * 86400)
    writing = _touch(root / "DL.DL-01" / "20260101T000000Z-0-00001.webm.part", now - 9 * 86400)
    policy = RecordingPolicy(root, keep_seconds=2 * 86400, prune_interval=3600)
    recordings = SeatRecordings(policy, wall_clock=lambda: now)

    # The timer prunes at once when the hub starts, then every prune_interval.
    recordings.start()
    await eventually(lambda: not old.exists(), "the timer pruned")
    await recordings.close()
    assert not other_old.exists()
    assert fresh.exists() and writing.exists()
    assert recordings.prune_once() == []

    # Without retention nothing is ever deleted, and no timer runs.
    keep_all = SeatRecordings(RecordingPolicy(root), wall_clock=lambda: now + 1e9)
    keep_all.start()
    assert keep_all.prune_once() == []
    await keep_all.close()
    assert fresh.exists()


def test_recording_settings_from_the_environment(tmp_path: Path) -> None:
    secret = {"EVALHUB_TOKEN_SECRET": "s" * 40}
    default = HubConfig.from_env(secret)
    assert default.recordings_enabled is True
    assert default.recordings_dir == Path("var/recordings")
    assert default.recording_segment_s == 10.0
    assert default.recording_retention is None
    config = HubConfig.from_env(
        {
            **secret,
            "EVALHUB_RECORDINGS": "off",
            "EVALHUB_RECORDINGS_DIR": str(tmp_path),
            "EVALHUB_RECORDING_SEGMENT_SECONDS": "30",
            "EVALHUB_RECORDING_RETENTION_DAYS": "180",
            "EVALHUB_RECORDING_PRUNE_SECONDS": "600",
        }
    )
    assert config.recordings_enabled is False
    assert config.recordings_dir == tmp_path
    assert config.recording_segment_s == 30.0
    assert config.recording_retention == timedelta(days=180)
    assert config.recording_prune_interval_s == 600.0
    refused = {
        "EVALHUB_RECORDINGS": ("maybe", "EVALHUB_RECORDINGS must be on or off, got 'maybe'"),
        "EVALHUB_RECORDING_SEGMENT_SECONDS": (
            "0",
            "EVALHUB_RECORDING_SEGMENT_SECONDS must be above 0 and at most 3600, got '0'",
        ),
        "EVALHUB_RECORDING_RETENTION_DAYS": (
            "forever",
            "EVALHUB_RECORDING_RETENTION_DAYS must be a number, got 'forever'",
        ),
    }
    for key, (value, message) in refused.items():
        with pytest.raises(ConfigError) as caught:
            HubConfig.from_env({**secret, key: value})
        assert str(caught.value) == message
