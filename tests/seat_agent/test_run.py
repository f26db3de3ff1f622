"""``seat-agent run`` as a real process against a real hub on loopback: it replays what an
earlier process left in the outbox, delivers each score exactly once, logs its link's state,
stops cleanly on SIGTERM, and exits non-zero when the hub refuses the terminal for good."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from seat_agent.keys import SeatIdentity
from seat_agent.outbox import ScoreOutbox
from seat_agent.runner import OUTBOX_FILE
from tests.seats.conftest import HubUnderTest, enrol_approved

MakeIdentity = Callable[..., SeatIdentity]
SHEETS = [{"chapter": "A", "items": {"t1": 8}}, {"chapter": "B", "items": {"t1": 6.5}}]


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for ``condition``; the bound only turns a hang into a failure message."""
    for _ in range(3000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def _start(state_dir: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "seat_agent.cli",
            "run",
            "--state-dir",
            str(state_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


async def test_run_replays_the_outbox_and_stops_on_sigterm(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    identity = make_identity("DL.DL-01")
    await enrol_approved(hub.db, identity)
    # Saves an earlier process made and never got acknowledged.
    outbox = await ScoreOutbox.open(identity.state_dir / OUTBOX_FILE)
    keys = [await outbox.save("S-2026-0412", sheet) for sheet in SHEETS]
    await outbox.close()

    log = tmp_path / "agent.log"
    proc = await _start(identity.state_dir, log)
    try:

        async def delivered() -> bool:
            return len(await hub.scores()) == len(keys)

        await until(delivered, "the replayed scores in the hub's database")

        async def emptied() -> bool:
            return log.read_text().count("seat.score_acknowledged") == len(keys)

        # The hub's verdicts (a refusal each: no session "S-2026-0412" exists) came back.
        await until(emptied, "both acknowledgements in the agent's log")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = log.read_text()
    assert "seat.agent_started" in text
    assert "seat.link_up" in text and "pending_scores=2" in text
    assert "seat.agent_stopped" in text
    rows = await hub.scores()
    assert sorted(r.idempotency_key for r in rows) == sorted(keys)
    assert {r.idempotency_key: r.sheet for r in rows} == dict(zip(keys, SHEETS, strict=True))
    assert hub.committed == keys  # each committed once, in the order saved
    outbox = await ScoreOutbox.open(identity.state_dir / OUTBOX_FILE)
    try:
        assert await outbox.pending() == []
    finally:
        await outbox.close()


async def test_run_exits_non_zero_when_the_hub_refuses_the_terminal(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    identity = make_identity("DL.DL-02")  # never enrolled: the hub does not know its key
    log = tmp_path / "agent.log"
    proc = await _start(identity.state_dir, log)
    try:
        assert await asyncio.wait_for(proc.wait(), 60) == 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = log.read_text()
    assert (
        "seat-agent: 评标系统拒绝了本终端的连接，请联系场地管理员：hub closed the connection with 4004"
        in text
    )
