"""The recordings disk fills up during a scripted evaluation whose seats publish video (issue 17,
item 6): the hub records into a small tmpfs of its own, the test fills it with a file while the
seats save ch3 and the commercial part, and frees it before the review.

What must hold: the evaluation goes on (``Evaluation.finish``: ``report_signed``, every save
exactly once, ``audit verify``); each publishing seat's recorder stops without a traceback, as
an audit event (``recording.stopped``) the wall (``recording``: 录像已停止（录像磁盘空间不足）) and
``/metrics`` (``evalhub_recording_stopped``) show; once the file is gone it resumes by itself
(``recording.resumed``, then new segments); and every segment hashed into the audit chain,
before or after the outage, is on disk with that hash. The recovery (from the file's removal to
the next audited segment of every publishing seat) is printed for the lead to quote.

The small disk is a tmpfs mounted by the test (the suite runs as root in its container); where
mounting is not permitted the test says so and skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from evaluation_hub.archive.recordings import SEGMENT_EVENT
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.live.recording import RESUMED_EVENT, STOPPED_EVENT, UNASSIGNED_EVENT
from media.diskspace import sha256_of
from tests.e2e.conftest import api, until
from tests.e2e.test_evaluation_processes import SEATS, _login
from tests.faults.harness import ALL_SAVES, Evaluation, running_evaluation
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PUBLISHING = ("E01", "E03")  # one seat at the host venue, one away
KEYS = {f"{SEATS[e][:2]}.{SEATS[e]}" for e in PUBLISHING}
STOPPED_LABEL = "录像已停止（录像磁盘空间不足）"


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` for the test's lifetime."""
    where.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True, check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left; returns it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, bytes(size)):
                    pass
    finally:
        os.close(fd)
    with pytest.raises(OSError) as full:
        (disk / "probe").write_bytes(bytes(4096))
    assert full.value.errno == errno.ENOSPC
    (disk / "probe").unlink(missing_ok=True)
    return filler


async def recording_events(run: Evaluation) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, subject, payload) of the audit chain's recording events, in order."""
    kinds = (SEGMENT_EVENT, UNASSIGNED_EVENT, STOPPED_EVENT, RESUMED_EVENT)
    query = select(AuditEventRow).where(AuditEventRow.kind.in_(kinds)).order_by(AuditEventRow.seq)
    async with run.db.read() as s:
        return [(r.kind, r.subject, dict(r.payload)) for r in (await s.execute(query)).scalars()]


def hashed_segments(events: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [p for kind, _, p in events if kind in (SEGMENT_EVENT, UNASSIGNED_EVENT)]


def segments(events: list[tuple[str, str, dict[str, Any]]], seat_key: str) -> list[str]:
    """The files of the seat's audited segments (their folder is the seat key)."""
    return [
        p["file"]
        for kind, _, p in events
        if kind in (SEGMENT_EVENT, UNASSIGNED_EVENT) and p["file"].split("/")[0] == seat_key
    ]


async def wall_recording(run: Evaluation) -> dict[str, Any]:
    """What the wall says of each seat's recording, by seat key (host supervisor's view)."""
    assert run.http is not None
    supervisor = await _login(run.http, run.hub.base, "km_supervisor")
    body = await api(
        run.http, "GET", f"{run.hub.base}/api/sessions/{run.sid}/live/seats", supervisor
    )
    return {s["seat_key"]: s["recording"] for s in body["seats"]}


@contextlib.asynccontextmanager
async def wall_events(run: Evaluation) -> AsyncIterator[list[dict[str, Any]]]:
    """The events the wall's stream carries (host supervisor's), gathered while open."""
    assert run.http is not None
    supervisor = await _login(run.http, run.hub.base, "km_supervisor")
    seen: list[dict[str, Any]] = []
    url = f"{run.hub.base}/api/sessions/{run.sid}/live/events"

    async def read() -> None:
        async with run.http.get(url, headers=supervisor) as resp:  # type: ignore[union-attr]
            assert resp.status == 200
            async for line in resp.content:
                if line.startswith(b"data: "):
                    seen.append(json.loads(line[6:]))

    task = asyncio.create_task(read())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def recording_said(seen: list[dict[str, Any]], state: str) -> set[str]:
    """The seats whose live.recording event (not the opening snapshot) said ``state``."""
    return {
        e["seat_key"]
        for e in seen
        if e.get("type") == "live.recording" and e["recording"]["state"] == state
    }


async def metric_lines(run: Evaluation, name: str) -> set[str]:
    async with aiohttp.ClientSession() as http, http.get(f"{run.hub.base}/metrics") as resp:
        assert resp.status == 200
        return {line for line in (await resp.text()).splitlines() if line.startswith(name)}


async def test_the_recording_disk_fills_up_and_the_evaluation_goes_on(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> None:
    url = pg_server.create_database(f"faults_{os.getpid()}_{tmp_path.name}"[:60])
    settings = {"EVALHUB_RECORDING_SEGMENT_SECONDS": "1", "EVALHUB_RECORDING_RESUME_FREE_MB": "2"}
    with small_disk(tmp_path / "recordings", "8m") as disk:
        async with (
            running_evaluation(
                url, tmp_path, redis_url=private_redis.url, publish=PUBLISHING, hub_env=settings
            ) as run,
            contextlib.AsyncExitStack() as stack,
        ):
            await run.start()

            async def recorded(n: int) -> bool:
                events = await recording_events(run)
                return all(len(segments(events, key)) >= n for key in KEYS)

            await until(lambda: recorded(2), "two segments of every publishing seat audited")
            assert await wall_recording(run) == {
                key: ({"state": "recording", "reason": None, "since": None, "label": "录像中"}
                      if key in KEYS else None)
                for key in (f"{label[:2]}.{label}" for label in SEATS.values())
            }  # fmt: skip
            stream = await stack.enter_async_context(wall_events(run))
            filler = fill(disk)
            full = time.monotonic()
            run.mark("disk full")
            run.open_gate()

            async def stopped() -> bool:
                events = await recording_events(run)
                return {s for k, s, _ in events if k == STOPPED_EVENT} >= {
                    f"seat:{key}" for key in KEYS
                }

            await until(stopped, "every publishing seat's recording.stopped")
            stopping = time.monotonic() - full
            run.mark("recording stopped")
            hashed_when_stopped = len(hashed_segments(await recording_events(run)))

            async def wall_told_stopped() -> bool:
                return recording_said(stream, "stopped") >= set(KEYS)

            # The open wall is told at once, without reloading (live.recording on its stream).
            await until(wall_told_stopped, "the wall's stream saying each seat stopped recording")
            wall = await wall_recording(run)
            for key in KEYS:
                shown = wall[key]
                assert (shown["state"], shown["reason"], shown["label"]) == (
                    "stopped", "disk_full", STOPPED_LABEL,
                )  # fmt: skip
                assert isinstance(shown["since"], float)
            assert await metric_lines(run, "evalhub_recording_stopped{") == {
                f'evalhub_recording_stopped{{seat="{key}"}} 1.0' for key in KEYS
            }
            # The saves made while the disk is full are stored, each once.
            await run.saved_at_least(ALL_SAVES, "every save stored while the disk is full")
            # Nothing is recorded, so nothing hashed, while the disk stays full.
            assert len(hashed_segments(await recording_events(run))) == hashed_when_stopped

            filler.unlink()
            freed = time.monotonic()
            run.mark("disk freed")

            async def resumed() -> bool:
                events = await recording_events(run)
                after = {s for k, s, _ in events if k == RESUMED_EVENT}
                if not after >= {f"seat:{key}" for key in KEYS}:
                    return False
                last = max(i for i, (k, _, _) in enumerate(events) if k == RESUMED_EVENT)
                return all(segments(events[last:], key) for key in KEYS)

            await until(resumed, "recording resumed and a new segment of every seat audited")
            recovery = time.monotonic() - freed
            run.mark("recording resumed")
            wall = await wall_recording(run)
            assert {key: wall[key]["state"] for key in KEYS} == dict.fromkeys(KEYS, "recording")

            async def wall_told_resumed() -> bool:
                return recording_said(stream, "recording") >= set(KEYS)

            await until(wall_told_resumed, "the wall's stream saying each seat records again")
            assert await metric_lines(run, "evalhub_recording_stopped{") == {
                f'evalhub_recording_stopped{{seat="{key}"}} 0.0' for key in KEYS
            }
            await run.finish()

            events = await recording_events(run)
            # One outage per seat, in the chain with its cause and its end.
            for key in KEYS:
                mine = [
                    (k, p)
                    for k, s, p in events
                    if s == f"seat:{key}" and k in (STOPPED_EVENT, RESUMED_EVENT)
                ]
                assert [k for k, _ in mine] == [STOPPED_EVENT, RESUMED_EVENT], key
                assert mine[0][1]["reason"] == "disk_full"
                assert mine[1][1]["dropped_frames"] > 0
            # Every audited segment, before and after the outage, is on disk with its hash.
            hashed = hashed_segments(events)
            assert len(hashed) > hashed_when_stopped
            for payload in hashed:
                assert sha256_of(disk / payload["file"]) == payload["sha256"], payload["file"]
            logs = run.hub.logs()
            assert "Traceback" not in logs
            assert "no space left" in logs
    print(
        f"\nFAULT recording disk full: recording stopped {stopping:.2f} s after the disk filled"
        f", resumed and a new segment of each seat audited {recovery:.2f} s after space "
        f"returned; phases: {run.phases()}"
    )
