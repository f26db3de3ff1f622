"""Janus not recording: refusing to record the next part (``recorder_refused``), or accepting
and writing nothing (``recorder_silent``, its ``rec_dir`` cannot be made): each is an audited
outage the wall shows, as the other recording outages are (real hub, real Janus)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation_hub.audit.store import load_chain
from evaluation_hub.live.janus_rooms import room_for
from tests.conftest import FakeClock
from tests.janus.conftest import plane, verify_audit
from tests.live.conftest import Rig, eventually
from tests.live.test_recording import during_session

SEAT = "DL.DL-01"
OUTAGES = ("recording.stopped", "recording.resumed")


async def _outages(rig: Rig) -> list[tuple[str, str, dict[str, Any]]]:
    async with rig.db.read() as s:
        chain = await load_chain(s)
    return [(e.kind, e.subject, dict(e.payload)) for e in chain if e.kind in OUTAGES]


async def test_janus_writing_no_files_is_a_silent_recorder_until_its_files_grow_again(
    rig: Rig, clock: FakeClock, tmp_path: Path
) -> None:
    sid = rig.ids["session"]
    await during_session(rig, clock)
    recordings = plane(rig).recordings
    assert recordings is not None
    recordings.segment_seconds = 1.0  # each cut makes Janus open new files
    recordings.silent_after, recordings.check_interval = 1.0, 0.1
    # The room's rec_dir lies under a plain file: nobody, not even root, can make it.
    blocker = tmp_path / "blocked"
    blocker.write_text("not a folder")
    recordings.janus_dir = blocker / "janus"
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status(SEAT).state == "live", "DL-01 is live")
    await eventually(
        lambda: (state := recordings.state(SEAT)) is not None and state.state == "stopped",
        "the silent recorder is noticed",
    )
    supervisor = await rig.login("km_supervisor")
    row = (await rig.seat_row(sid, supervisor, "DL-01"))["recording"]
    assert (row["state"], row["reason"], row["label"]) == (
        "stopped",
        "recorder_silent",
        "录像已停止（Janus 未写入录像文件）",
    )
    # The folder can be made again: Janus writes the next part, the recording resumes.
    blocker.unlink()
    blocker.mkdir()
    await eventually(
        lambda: (state := recordings.state(SEAT)) is not None and state.state == "recording",
        "the recording resumed",
    )
    assert (await rig.seat_row(sid, supervisor, "DL-01"))["recording"]["state"] == "recording"
    await seat.stop()
    await eventually(lambda: recordings.state(SEAT) is None, "the publication's recording ended")
    await recordings.drain()

    outages = await _outages(rig)
    assert [o[:2] for o in outages] == [(k, f"seat:{SEAT}") for k in OUTAGES]
    stopped, resumed = outages[0][2], outages[1][2]
    assert stopped == {
        "reason": "recorder_silent",
        "detail": f"janus wrote nothing under {blocker / 'janus'} for 1 s",
        "stopped_at": stopped["stopped_at"],
        "session_ids": [sid],
    }
    assert isinstance(resumed.pop("free_bytes"), int)
    began = datetime.fromisoformat(stopped["stopped_at"])
    back = datetime.fromisoformat(resumed["resumed_at"])
    assert began < back <= datetime.now(UTC)
    assert abs(resumed.pop("outage_ms") - (back - began).total_seconds() * 1000) <= 1
    assert resumed == {
        "stopped_at": stopped["stopped_at"],
        "resumed_at": resumed["resumed_at"],
        "segments_lost": 1,
        "session_ids": [sid],
    }
    verify_audit(rig, tmp_path)


async def test_janus_refusing_to_record_the_next_part_is_an_audited_outage(
    rig: Rig, clock: FakeClock, tmp_path: Path
) -> None:
    sid = rig.ids["session"]
    await during_session(rig, clock)
    janus = plane(rig)
    recordings = janus.recordings
    assert recordings is not None
    recordings.segment_seconds = 1.0
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: janus.status(SEAT).state == "live", "DL-01 is live")
    # At the next cut, once Janus has closed the part, the room's owner kicks the publisher
    # out (Janus's ``kick``, with the room's secret): Janus refuses to record the next part.
    # (Janus 1.1 refuses no well-formed ``configure`` of a publisher still in its room: with
    # ``lock_record`` it ignores the request, which the hub sees as ``recorder_silent``.)
    pub = janus._publishers[SEAT]
    room = room_for(sid, janus.settings.room_key)
    handle = pub.handle
    sent = handle.message
    asked: list[dict[str, Any]] = []

    async def message(body: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        asked.append(dict(body))
        try:
            return await sent(body, *args, **kwargs)
        finally:
            if body.get("record") is False and len(asked) == 1:
                session = await janus.session(janus.settings.urls[0])
                owner = await session.attach()
                try:
                    await owner.request(
                        {"request": "kick", "room": room.id, "secret": room.secret, "id": pub.feed}
                    )
                finally:
                    await owner.detach()

    handle.message = message  # type: ignore[method-assign]
    await eventually(lambda: len(asked) == 2, "the next part asked for")
    following = asked[1]["filename"]
    started = int(following.rpartition("--")[2].split("-")[0]) / 1000
    await eventually(lambda: janus.status(SEAT).state == "lost", "the kicked seat is lost")
    await seat.stop()
    await eventually(lambda: recordings.state(SEAT) is None, "the publication's recording ended")
    await recordings.drain()
    # Stopped, and not resumed by the conversion of the part Janus closed before refusing.
    outages = await _outages(rig)
    assert [o[:2] for o in outages] == [("recording.stopped", f"seat:{SEAT}")]
    assert outages[0][2] == {
        "reason": "recorder_refused",
        "detail": "Janus refused configure: 426 No such room",  # the kicked one is in none
        "stopped_at": datetime.fromtimestamp(started, UTC).isoformat(),
        "session_ids": [sid],
    }
    verify_audit(rig, tmp_path)
