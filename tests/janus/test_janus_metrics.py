"""``/metrics`` on ``media_backend = janus``: the live families are the Janus plane's (seats by
state, viewers per seat, stopped recordings), and the plane adds segments converted, recording
outages by reason and each Janus instance's reachability (real hub, real Janus, scraped)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from evaluation_hub.booking.seatings import seatings
from tests.conftest import FakeClock
from tests.janus.conftest import JanusViewer, plane
from tests.live.conftest import Rig, eventually
from tests.live.test_recording import during_session
from tests.ops.test_metrics import samples
from tests.support.janus_server import JanusServer, free_port

SEAT = "DL.DL-01"


async def _scrape(rig: Rig) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with rig.http.get(f"{rig.base}/metrics") as resp:  # from 127.0.0.1: an operator
        assert resp.status == 200, await resp.text()
        return samples(await resp.text())


async def test_metrics_show_the_janus_planes_publishers_viewers_recordings_and_instances(
    rig: Rig,
    clock: FakeClock,
    tmp_path: Path,
    janus: JanusServer,
    janus_viewers: Callable[[], JanusViewer],
) -> None:
    sid = rig.ids["session"]
    async with rig.db.read() as s:
        (seat_id,) = [x.seat_id for x in await seatings(s, session_id=sid) if x.seat_key == SEAT]
    await during_session(rig, clock)
    janus_plane = plane(rig)
    recordings = janus_plane.recordings
    assert recordings is not None
    recordings.segment_seconds = 1.0
    await rig.publish("DL-01", "DL")
    await eventually(lambda: janus_plane.status(SEAT).state == "live", "DL-01 is live")
    await janus_viewers().watch(rig, sid, seat_id, await rig.login("km_supervisor"))
    await eventually(lambda: recordings.segments >= 1, "a segment converted", limit=60)

    found = await _scrape(rig)
    assert found["evalhub_live_seats", (("state", "live"),)] == 1
    assert found["evalhub_live_viewers", (("seat", SEAT),)] == 1
    assert found["evalhub_live_running", ()] == 1
    assert found["evalhub_recording_stopped", (("seat", SEAT),)] == 0
    assert found["evalhub_janus_recording_segments_total", ()] == recordings.segments >= 1
    assert found["evalhub_janus_up", (("instance", janus.url),)] == 1
    assert not [key for key in found if key[0] == "evalhub_janus_recording_outages_total"]

    # The hub no longer sees Janus's files grow (it looks in the wrong place): an outage;
    # and a second instance that does not answer.
    recordings.silent_after, recordings.check_interval = 0.5, 0.1
    recordings.janus_dir = tmp_path / "elsewhere"
    dead = f"http://127.0.0.1:{free_port()}/janus"
    janus_plane.settings = dataclasses.replace(
        janus_plane.settings, urls=(*janus_plane.settings.urls, dead)
    )
    await eventually(
        lambda: (state := recordings.state(SEAT)) is not None and state.state == "stopped",
        "the recording is stopped",
    )
    found = await _scrape(rig)
    assert found["evalhub_recording_stopped", (("seat", SEAT),)] == 1
    assert found["evalhub_janus_recording_outages_total", (("reason", "recorder_silent"),)] == 1
    assert found["evalhub_janus_up", (("instance", janus.url),)] == 1
    assert found["evalhub_janus_up", (("instance", dead),)] == 0
