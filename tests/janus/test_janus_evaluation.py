"""The scripted evaluation of ``tests.faults.test_three_hubs`` on ``media_backend = janus``:
three hub processes behind Debian's nginx (``tests.faults.nginx_rig``) on PostgreSQL and Redis,
one real Janus (``tests.support.janus_server``) holding every seat's media, seven seat agent
processes (two of them publishing the test pattern), and the host supervisor's wall in Debian's
headless Chromium, loaded from a process other than the one holding the first publishing seat's
control link: it subscribes to both seats through Janus and decodes their video.

Mid-evaluation the process holding that seat's link is killed (SIGKILL): its seats reconnect
through nginx to the others, the publishing seat publishes to Janus again through the process it
lands on, and the wall, never reloaded, decodes both seats again; Janus's room then holds one
feed per publishing seat, nothing of the killed process's. The evaluation ends
``report_signed`` with every save exactly once and the audit chain verified; each publication
of the two seats has its recording hashed into the chain (Janus records, the hub converts), the
files on disk as hashed.
"""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.live.janus_rooms import room_for
from media.janus import videoroom
from media.janus.client import JanusSession
from tests.browser.test_wall_page import _frames_decoded, _sign_in
from tests.e2e.conftest import TOKEN_SECRET, until
from tests.faults.harness import Evaluation
from tests.faults.nginx_rig import NGINX, PUBLISHER, NamedHub, holder, hubs_behind_nginx
from tests.faults.test_three_hubs import _segments
from tests.support.janus_server import JanusServer
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import redis_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not NGINX.exists(), reason="Debian's nginx-light (scripts/install-system-deps.sh test)"
    ),
]

#: the two seats publishing the test pattern: 昆明 KM-01 (its process is killed) and 大理 DL-01
PUBLISHERS = (PUBLISHER, "E03")
SEGMENT_S = 2.0


@pytest.fixture
async def behind_nginx(
    pg_server: PostgresServer, tmp_path: Path, janus: JanusServer
) -> AsyncIterator[tuple[Evaluation, list[NamedHub]]]:
    env = {
        "EVALHUB_MEDIA_BACKEND": "janus",
        "EVALHUB_JANUS_URLS": janus.url,
        "EVALHUB_JANUS_API_SECRET": janus.api_secret,
        "EVALHUB_JANUS_ADMIN_KEY": janus.admin_key,
        "EVALHUB_RECORDING_SEGMENT_SECONDS": str(SEGMENT_S),
    }
    with redis_server() as redis:
        async with hubs_behind_nginx(pg_server, redis, tmp_path, env, publish=PUBLISHERS) as rig:
            yield rig


async def _publications(run: Evaluation, seat_key: str) -> list[datetime]:
    """When each publication of the seat to Janus began (the hub's audit events, in order)."""
    async with run.db.read() as s:
        found = await s.execute(
            select(AuditEventRow.at)
            .where(AuditEventRow.kind == "live.publisher_connected")
            .where(AuditEventRow.subject == f"seat:{seat_key}")
            .order_by(AuditEventRow.seq)
        )
        return [at if at.tzinfo else at.replace(tzinfo=UTC) for at in found.scalars()]


async def _decoding(page: Any, seat_id: int, frames: int = 10) -> str:
    """Wait until the tile of ``seat_id`` has decoded ``frames`` more frames on one viewer
    (counted from now on the viewer it has, or from its first on a new one); that viewer's id."""
    viewer: str | None = None
    start = 0
    for _ in range(600):
        current = await page.locator(f".tile[data-seat-id='{seat_id}']").get_attribute(
            "data-viewer-id"
        )
        decoded = await _frames_decoded(page, seat_id)
        if current != viewer:
            viewer, start = current, (decoded if viewer is None and current else 0)
        if current is not None and decoded >= start + frames:
            return current
        await page.wait_for_timeout(100)
    raise AssertionError(f"the wall did not decode seat #{seat_id} (viewer {viewer})")


async def test_the_evaluation_on_janus_with_the_wall_in_chromium(
    browser: Any, janus: JanusServer, behind_nginx: tuple[Evaluation, list[NamedHub]]
) -> None:
    run, hubs = behind_nginx
    await run.start()
    keys = {expert: run.seats[expert].seat_id for expert in PUBLISHERS}
    seat_ids = {expert: int(run.ids["seats"][key.split(".", 1)[1]]) for expert, key in keys.items()}
    victim = holder(hubs, keys[PUBLISHER])
    # Every request of the page goes to this process: it holds the wall's subscriptions.
    wall_hub = next(hub for hub in hubs if hub is not victim)

    # The wall, from a process the killed seat's link is not on, plays both seats via Janus.
    page = await browser.new_page()
    await _sign_in(page, wall_hub, "km_supervisor")
    assert await page.evaluate("document.querySelector('.tile') !== null")
    before = {expert: await _decoding(page, seat_ids[expert]) for expert in PUBLISHERS}
    run.mark("wall playing")

    # Recording: a segment of the seat hashed into the chain before the kill.
    async def recorded() -> bool:
        return bool(await _segments(run, keys[PUBLISHER]))

    await until(recorded, "a recording segment of the publishing seat in the audit chain")

    orphans = [seat.seat_id for seat in run.seats.values() if holder(hubs, seat.seat_id) is victim]
    survivors = [hub for hub in hubs if hub is not victim]
    links = {key: sum(hub.connected(key) for hub in survivors) for key in orphans}
    killed = time.monotonic()
    await victim.kill()
    killed_at = datetime.now(UTC)

    async def reconnected() -> bool:
        return all(sum(hub.connected(key) for hub in survivors) > links[key] for key in orphans)

    await until(reconnected, "the killed process's seats reconnecting through nginx")
    # The wall, never reloaded, decodes both seats again (the moved one on a new subscription).
    after = {expert: await _decoding(page, seat_ids[expert]) for expert in PUBLISHERS}
    assert after[PUBLISHER] != before[PUBLISHER], (before, after)
    # Renewed because the seat published anew (Janus's connection itself never failed).
    assert await page.evaluate("window.wall.resubscribed") >= 1
    picture_back = time.monotonic() - killed
    run.mark("wall playing again")
    run.open_gate()  # the rest of the evaluation through the two left, meanwhile
    # Janus's room holds one feed per publishing seat: nothing of the killed process's is left.
    watcher = await JanusSession.create(janus.url, api_secret=janus.api_secret)
    try:
        handle = await watcher.attach()
        present = await videoroom.participants(handle, room_for(run.sid, TOKEN_SECRET.encode()))
        assert sorted(p.display for p in present if p.publishing) == sorted(keys.values())
    finally:
        await watcher.close()

    async def resumed() -> bool:
        return any(seg.started_at > killed_at for seg in await _segments(run, keys[PUBLISHER]))

    await until(resumed, "a recording segment of the seat begun after the kill")
    await run.finish()  # report_signed, each save exactly once, ``audit verify``
    assert victim.proc is not None and victim.proc.returncode == -signal.SIGKILL

    recordings = run.root / "recordings"
    for expert in PUBLISHERS:
        segments = await _segments(run, keys[expert])
        for seg in segments:  # each hashed segment is on disk as hashed
            assert hashlib.sha256((recordings / seg.file).read_bytes()).hexdigest() == seg.sha256
        # Each publication of the seat (through whichever process) recorded: a segment of it.
        began = await _publications(run, keys[expert])
        for start, end in zip(began, [*began[1:], datetime.max.replace(tzinfo=UTC)], strict=True):
            assert any(start <= seg.started_at < end for seg in segments), (began, segments)
    assert len(await _publications(run, keys[PUBLISHER])) >= 2
    print(
        f"\nthe killed seat's picture decoded again {picture_back:.2f} s after the kill "
        f"(wall on {wall_hub.name}, seat on {victim.name}); phases: {run.phases()}"
    )
