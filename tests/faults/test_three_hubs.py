"""Three hub processes behind Debian's nginx (round-robin, websockets passed through), on
PostgreSQL and Redis, all on loopback: the scripted evaluation of ``tests.faults.harness``
with every request and every seat link going through the proxy, so they land on any process.
One seat also publishes the test pattern: a supervisor watches it through another process than
the one holding its media (the relay has the holder answer). Mid-evaluation that process is
killed (SIGKILL): its seats reconnect through nginx to the others, the seat's picture is
watched again through the proxy, and the evaluation ends ``report_signed`` with every save
exactly once and the audit chain verified. The publishing seat's recording (2 s segments, one
recordings directory shared by the three) resumes on the process it moved to: its segments from
before and after the kill are hashed into the audit chain (the files' SHA-256 as recorded), and
the gap between them is the segment the killed process had open plus the reconnection.

The rig (``tests.faults.nginx_rig``) starts nginx with the compose stack's configuration.
"""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCSessionDescription
from sqlalchemy import select

from evaluation_hub.archive.recordings import SEGMENT_EVENT
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.live.recording import UNASSIGNED_EVENT, seat_directory_name
from tests.e2e.conftest import api, until
from tests.e2e.test_evaluation_processes import _login
from tests.faults.harness import Evaluation
from tests.faults.nginx_rig import NGINX, PUBLISHER, NamedHub, holder, hubs_behind_nginx
from tests.live.conftest import Viewer
from tests.live.test_publish import decoded_frames
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer

#: recording segments' length here (the default's 10 s would leave few segments to look at)
SEGMENT_S = 2.0

pytestmark = pytest.mark.skipif(
    not NGINX.exists(), reason="Debian's nginx-light (scripts/install-system-deps.sh test)"
)


@pytest.fixture
async def behind_nginx(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path, loopback: None
) -> AsyncIterator[tuple[Evaluation, list[NamedHub]]]:
    env = {"EVALHUB_RECORDING_SEGMENT_SECONDS": str(SEGMENT_S)}
    async with hubs_behind_nginx(pg_server, private_redis, tmp_path, env) as rig:
        yield rig


async def _watch(run: Evaluation, base: str, label: str) -> tuple[int, list[int]]:
    """Open a viewer of the seat ``label`` through ``base`` as the host supervisor once the
    wall there shows it live; its id and the capture times of five decoded frames."""
    assert run.http is not None
    http = run.http
    supervisor = await _login(http, base, "km_supervisor")
    seats = f"{base}/api/sessions/{run.sid}/live/seats"
    row: dict[str, Any] = {}

    async def live() -> bool:
        nonlocal row
        body = await api(http, "GET", seats, supervisor)
        row = next(s for s in body["seats"] if s["label"] == label)
        return bool(row["state"] == "live")

    await until(live, f"{label} live on the wall at {base}")
    viewer = Viewer()
    try:
        url = f"{seats}/{row['seat_id']}/viewers"
        async with http.post(url, json=await viewer.offer(), headers=supervisor) as resp:
            assert resp.status == 201, await resp.text()
            body = await resp.json()
        await viewer.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))

        async def track() -> bool:
            return "video" in viewer.tracks

        await until(track, "the viewer's video track")
        return int(body["viewer_id"]), await decoded_frames(viewer.tracks["video"], 5)
    finally:
        await viewer.close()


@dataclass(frozen=True)
class Segment:
    file: str
    closed_at: datetime  # when the hub hashed it (its wall clock)
    duration: timedelta
    sha256: str

    @property
    def started_at(self) -> datetime:
        return self.closed_at - self.duration


async def _segments(run: Evaluation, seat_key: str) -> list[Segment]:
    """The seat's recording segments hashed into the audit chain, in the order closed (once
    per segment: a segment of several sessions is one file)."""
    prefix = seat_directory_name(seat_key) + "/"
    async with run.db.read() as s:
        rows = (
            await s.execute(
                select(AuditEventRow)
                .where(AuditEventRow.kind.in_((SEGMENT_EVENT, UNASSIGNED_EVENT)))
                .order_by(AuditEventRow.seq)
            )
        ).scalars()
        found: dict[str, Segment] = {}
        for row in rows:
            file = str(row.payload["file"])
            if file.startswith(prefix) and file not in found:
                at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
                found[file] = Segment(
                    file,
                    at,
                    timedelta(milliseconds=int(row.payload["duration_ms"])),
                    str(row.payload["sha256"]),
                )
    return list(found.values())


async def test_three_hubs_behind_nginx_survive_the_loss_of_one(
    behind_nginx: tuple[Evaluation, list[NamedHub]],
) -> None:
    run, hubs = behind_nginx
    await run.start()
    seat_keys = [seat.seat_id for seat in run.seats.values()]
    # Round-robin spread the seven seat links over the processes.
    holders = {key: [hub.name for hub in hubs if hub.connected(key)] for key in seat_keys}
    assert all(len(names) >= 1 for names in holders.values()), holders
    used = {name for names in holders.values() for name in names}
    assert len(used) >= 2, holders

    # The publishing seat watched through a process other than the one holding its media.
    publishing = run.seats[PUBLISHER].seat_id
    label = publishing.split(".", 1)[1]
    media = holder(hubs, publishing)
    elsewhere = next(hub for hub in hubs if hub is not media)
    viewer_id, stamps = await _watch(run, elsewhere.base, label)
    assert stamps == sorted(stamps)
    assert f"viewer_id={viewer_id}" in media.logs() and "live.viewer_relayed" in media.logs()

    # Its recording, by the process holding its media: a segment closed and hashed.
    async def recorded() -> bool:
        return bool(await _segments(run, publishing))

    await until(recorded, "a recording segment of the publishing seat in the audit chain")

    # SIGKILL the process holding the publishing seat, mid-evaluation.
    victim = media
    orphans = [key for key in seat_keys if holder(hubs, key) is victim]
    survivors = [hub for hub in hubs if hub is not victim]
    before = {key: sum(hub.connected(key) for hub in survivors) for key in orphans}
    killed = time.monotonic()
    await victim.kill()
    # Dead from here on: nothing it recorded was hashed later; what the seat records next,
    # on another process, starts later.
    killed_at = datetime.now(UTC)
    back: dict[str, float] = {}

    async def reconnected() -> bool:
        for key in orphans:
            if key not in back and sum(hub.connected(key) for hub in survivors) > before[key]:
                back[key] = time.monotonic() - killed
        return len(back) == len(orphans)

    await until(reconnected, "the killed process's seats reconnecting through nginx")
    # The seat's picture is back, watched through the proxy (whichever process it lands on).
    _, stamps = await _watch(run, run.hub.base, label)
    picture_back = time.monotonic() - killed
    assert stamps == sorted(stamps)
    print(
        f"\nseats of the killed hub back on another after (s): "
        f"{[round(t, 2) for t in sorted(back.values())]}; "
        f"its publishing seat's picture decoded again after {picture_back:.2f} s"
    )

    # Its recording resumed on the process it moved to.
    async def resumed() -> bool:
        return any(seg.started_at > killed_at for seg in await _segments(run, publishing))

    await until(resumed, "a recording segment of the seat begun after the kill")

    # The rest of the evaluation through the two left.
    run.open_gate()
    await run.finish()  # the audit chain, segments included, verifies (``audit verify``)
    assert victim.proc is not None and victim.proc.returncode == -signal.SIGKILL

    segments = await _segments(run, publishing)
    recordings = run.root / "recordings"
    for seg in segments:  # each hashed segment is on disk as hashed
        assert hashlib.sha256((recordings / seg.file).read_bytes()).hexdigest() == seg.sha256
    earlier = [seg for seg in segments if seg.closed_at <= killed_at]
    later = [seg for seg in segments if seg.started_at > killed_at]
    assert earlier and later and len(earlier) + len(later) == len(segments), segments
    # Continuous apart from the gap: what the killed process had open (at most a segment,
    # never hashed) and the seat's way back to another process (within 10 s, issue 14).
    gap = (later[0].started_at - earlier[-1].closed_at).total_seconds()
    assert 0 < gap <= SEGMENT_S + 10.0, (gap, segments)
    # And nothing else is missing: each recorder's segments (``<start>-<n>-<index>``) are all
    # hashed, from its first on, before the kill and after.
    for side in (earlier, later):
        by_recorder: dict[str, list[int]] = {}
        for seg in side:
            recorder, _, index = Path(seg.file).stem.rpartition("-")
            by_recorder.setdefault(recorder, []).append(int(index))
        for recorder, indexes in by_recorder.items():
            assert indexes == list(range(len(indexes))), (recorder, indexes)
    # What the killed process had open stays on disk as it was, unfinished and never hashed.
    file = Path(earlier[-1].file)
    recorder, _, last = file.stem.rpartition("-")
    unfinished = sorted((recordings / file.parent).glob(f"{recorder}-*.webm.part"))
    assert [int(p.name.split(".")[0].rpartition("-")[2]) for p in unfinished] == [int(last) + 1]
    print(f"recording gap across the kill: {gap:.2f} s ({len(earlier)} + {len(later)} segments)")
