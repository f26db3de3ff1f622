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

The proxy's configuration is the compose stack's (``docker/nginx/nginx.conf``) with the
addresses, files and TLS of this loopback run substituted, so what is tested is what deploys.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import subprocess
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
from evaluation_hub.audit.keys import load_or_create_private_key
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.live.recording import UNASSIGNED_EVENT, seat_directory_name
from tests.e2e.conftest import api, until
from tests.e2e.test_evaluation_processes import _login
from tests.faults.harness import Evaluation, HubServe, prepared_database
from tests.live.conftest import Viewer
from tests.live.test_publish import decoded_frames
from tests.support.postgres_server import PostgresServer, free_port
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")
HUBS = 3
#: the expert whose seat also publishes the test pattern (watched from other processes)
PUBLISHER = "E01"
#: recording segments' length here (the default's 10 s would leave few segments to look at)
SEGMENT_S = 2.0

pytestmark = pytest.mark.skipif(
    not NGINX.exists(), reason="Debian's nginx-light (scripts/install-system-deps.sh test)"
)


def loopback_conf(root: Path, listen: int, ports: list[int]) -> str:
    """The compose stack's nginx configuration for this run: plain HTTP on ``listen``, the
    hubs on ``ports``, every file under ``root``."""
    text = (ROOT / "docker" / "nginx" / "nginx.conf").read_text()
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {root}/nginx.pid;")
    text = text.replace("error_log /dev/stderr warn;", f"error_log {root}/nginx-error.log warn;")
    text = text.replace("access_log /dev/stdout;", f"access_log {root}/nginx-access.log;")
    text = re.sub(r"/tmp/(\w+_temp)", lambda m: f"{root}/{m.group(1)}", text)
    text = re.sub(
        r"server hub(\d):8440", lambda m: f"server 127.0.0.1:{ports[int(m.group(1)) - 1]}", text
    )
    # The redirecting HTTP server goes; the HTTPS one listens in plain HTTP on loopback.
    start = text.index("    server {\n        listen 8080;")
    end = text.index("\n    }\n", start) + len("\n    }\n")
    text = text[:start] + text[end:]
    text = text.replace("listen 8443 ssl;", f"listen 127.0.0.1:{listen};")
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("ssl_"))
    for hub in range(1, HUBS + 1):
        assert f"hub{hub}:" not in text
    return text


@dataclass
class NamedHub(HubServe):
    """One of several hub processes sharing a state directory (and so the hub key)."""

    name: str = "hub"

    def out(self, n: int | None = None) -> Path:
        return self.state / f"{self.name}-{n or self.starts}.out"

    def err(self, n: int | None = None) -> Path:
        return self.state / f"{self.name}-{n or self.starts}.err"

    def last_connected(self, seat_key: str) -> str:
        """When ``seat_key`` last authenticated here (the log line's ISO time; "" if never)."""
        lines = [
            line
            for line in self.logs().splitlines()
            if "seat.connected" in line and seat_key in line
        ]
        return lines[-1].split(" ", 1)[0] if lines else ""

    def connected(self, seat_key: str) -> int:
        """How often ``seat_key`` authenticated to this process (from its log)."""
        return sum(
            1 for line in self.logs().splitlines() if "seat.connected" in line and seat_key in line
        )


class Nginx:
    def __init__(self, root: Path, ports: list[int]) -> None:
        self.root = root
        self.port = free_port()
        self.conf = root / "nginx.conf"
        self.conf.write_text(loopback_conf(root, self.port, ports))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [str(NGINX), "-p", str(self.root), "-c", str(self.conf)]
        checked = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        self.proc = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
async def behind_nginx(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path, loopback: None
) -> AsyncIterator[tuple[Evaluation, list[NamedHub]]]:
    url = pg_server.create_database(f"three_{os.getpid()}_{tmp_path.name}"[:60])
    ids = await prepared_database(url)
    hubs = [
        NamedHub(
            url,
            tmp_path,
            redis_url=private_redis.url,
            name=f"hub{n}",
            env={"EVALHUB_RECORDING_SEGMENT_SECONDS": str(SEGMENT_S)},
        )
        for n in range(1, HUBS + 1)
    ]
    nginx = Nginx(tmp_path, [hub.port for hub in hubs])
    # The address every client uses: the proxy (never started as a hub itself).
    front = HubServe(url, tmp_path, port=nginx.port)
    run = Evaluation(front, ids, tmp_path, publish=(PUBLISHER,))
    try:
        # The hub key they share, made first; then the three start side by side.
        load_or_create_private_key(tmp_path / "hub-key.pem")
        await asyncio.gather(*(hub.start() for hub in hubs))
        nginx.start()
        await run.prepare()
        yield run, hubs
    finally:
        await run.close()
        for hub in hubs:
            await hub.kill()
        nginx.stop()


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


def _holder(hubs: list[NamedHub], seat_key: str) -> NamedHub:
    """The process the seat's latest link went to (each process counts its own)."""
    latest = {hub.name: hub.last_connected(seat_key) for hub in hubs}
    return next(hub for hub in hubs if latest[hub.name] == max(latest.values()))


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
    media = _holder(hubs, publishing)
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
    orphans = [key for key in seat_keys if _holder(hubs, key) is victim]
    survivors = [hub for hub in hubs if hub is not victim]
    before = {key: sum(hub.connected(key) for hub in survivors) for key in orphans}
    killed = time.monotonic()
    killed_at = datetime.now(UTC)
    await victim.kill()
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
    print(f"recording gap across the kill: {gap:.2f} s ({len(earlier)} + {len(later)} segments)")
