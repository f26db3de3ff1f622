"""Recording through Janus's recorder: each publication of a seat, recorded by Janus, is
converted to WebM (janus-pp-rec, FFmpeg) and hashed into the audit chain for its session as
the built-in recorder's segments are; the chain still verifies."""

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


async def test_a_publication_recorded_by_janus_is_converted_and_audited(
    rig: Rig, clock: FakeClock, tmp_path: Path
) -> None:
    sid = rig.ids["session"]
    async with rig.db.read() as s:
        (seat_id,) = [x.seat_id for x in await seatings(s, session_id=sid) if x.seat_key == SEAT]
    await during_session(rig, clock)
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status(SEAT).state == "live", "DL-01 is live")
    recordings = plane(rig).recordings
    assert recordings is not None
    assert (await rig.seat_row(sid, await rig.login("km_supervisor"), "DL-01"))["recording"][
        "state"
    ] == "recording"

    def recorded() -> int:
        return sum(f.stat().st_size for f in recordings.janus_dir.glob("*-video-*.mjr"))

    await eventually(lambda: recorded() > 20_000, "Janus records the seat's video")
    # The seat goes away: Janus hangs up, the hub detaches, converts and audits.
    await seat.stop()
    await eventually(lambda: plane(rig).status(SEAT).state == "lost", "DL-01 is lost")
    await recordings.drain()
    for _ in range(100):
        events = await segment_events(rig.db)
        if events:
            break
        await recordings.drain()
    seat_dir = tmp_path / "recordings" / seat_directory_name(SEAT)
    files = sorted(seat_dir.iterdir())
    assert len(files) == 1 and files[0].name.startswith("janus-")
    assert files[0].suffix == ".webm"
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert list(recordings.janus_dir.glob("*.mjr")) == []  # converted, then removed
    (event,) = events
    data = files[0].read_bytes()
    assert event["subject"] == f"seat:{seat_id}"
    assert (event["session_id"], event["seat_id"]) == (sid, seat_id)
    assert event["file"] == f"{seat_dir.name}/{files[0].name}"
    assert (event["sha256"], event["size"]) == (hashlib.sha256(data).hexdigest(), len(data))
    duration, errors, codecs = ffprobe(files[0])
    assert errors == ""
    assert sorted(codecs) == ["opus", "vp8"]
    assert abs(duration * 1000 - event["duration_ms"]) <= 70
    checked = run_cli(
        "audit", "verify", "--database-url", rig.db.url,
        "--public-key", str(tmp_path / "hub-key.pub"),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
