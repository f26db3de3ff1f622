"""Recording through Janus's recorder: each publication of a seat, recorded by Janus and cut
every ``recording_segment_s``, is converted to WebM segments (janus-pp-rec, FFmpeg), each
hashed into the audit chain for its session as the built-in recorder's segments are; the
chain still verifies."""

from __future__ import annotations

import hashlib
from pathlib import Path

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.live.recording import seat_directory_name
from tests.archive.conftest import run_cli
from tests.conftest import FakeClock
from tests.janus.conftest import plane
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
    checked = run_cli(
        "audit", "verify", "--database-url", rig.db.url,
        "--public-key", str(tmp_path / "hub-key.pub"),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
