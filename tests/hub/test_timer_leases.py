"""Periodic jobs run once across hub processes: two hub apps on one database, each with the
expiry sweep, the session rules and the audit checkpoints on a fast timer. One process holds
each job's lease and runs it at every turn, the other none; when the holder stops renewing
(its database connection is gone, as for a dead process) the other takes the lease once it has
run out, and a holder that stops cleanly hands its leases over at once. The leases' clock is a
fake one, so nothing depends on how fast the machine is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.api.keys import TIMERS
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.timers.lease import hold
from evaluation_hub.timers.runner import LEASE_TURNS, Timers
from tests.conftest import FakeClock

Client = TestClient[Any, Any]
JOBS = ("booking-expiry", "audit-checkpoint", "session-rules")
TURN = 0.05


class _Unreachable:
    """A database that no longer answers (the holder's connection died with its process)."""

    def write(self) -> Any:
        raise ConnectionError("the database is unreachable")


async def _eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def two_hubs(
    database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[tuple[Client, Client, FakeClock]]:
    lease_clock = FakeClock(clock.now)
    clients: list[Client] = []
    for name in ("one", "two"):
        config = HubConfig(
            database_url=database.url,
            token_secret="t" * 40,
            sealing_key_file=tmp_path / "sealing.key",
            hub_key_file=tmp_path / "hub-key.pem",
            recordings_dir=tmp_path / f"recordings-{name}",
            state_dir=tmp_path / f"state-{name}",
            expiry_sweep_interval_s=TURN,
            checkpoint_poll_s=TURN,
        )
        app = create_app(config, db=database, clock=clock)
        app[TIMERS].wall_clock = lease_clock
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
    try:
        yield clients[0], clients[1], lease_clock
    finally:
        for client in clients:
            await client.close()


def _timers(client: Client) -> Timers:
    assert client.app is not None
    return client.app[TIMERS]


async def test_each_job_runs_in_one_process_and_moves_when_its_holder_dies(
    two_hubs: tuple[Client, Client, FakeClock],
) -> None:
    one, two, lease_clock = two_hubs
    a, b = _timers(one), _timers(two)
    await _eventually(lambda: all(a.runs[j] + b.runs[j] >= 10 for j in JOBS), "ten turns each")
    for job in JOBS:
        # One holder per job, running it at each of its turns; the other skipped every turn.
        assert (a.runs[job] == 0) != (b.runs[job] == 0), (job, a.runs, b.runs)
    # The process holding the expiry sweep dies: its database connection is gone.
    dying, survivor = (a, b) if a.runs["booking-expiry"] else (b, a)
    orphaned = {job for job in JOBS if dying.runs[job]}
    setattr(dying, "db", _Unreachable())  # noqa: B010 (the holder's database is gone)
    await _eventually(lambda: not dying.held, "the holder failing its turns")
    frozen = dict(dying.runs)
    before = {job: survivor.runs[job] for job in JOBS}
    # Within the lease's term its jobs stay the dead holder's: nobody runs them.
    await asyncio.sleep(5 * TURN)
    assert {job: survivor.runs[job] for job in orphaned} == dict.fromkeys(orphaned, 0)
    assert not orphaned & survivor.held
    # Once the term ran out, the survivor takes them over at its next turn.
    lease_clock.advance(seconds=LEASE_TURNS * TURN + 0.001)
    await _eventually(lambda: set(JOBS) <= survivor.held, "the survivor taking over")
    await _eventually(
        lambda: all(survivor.runs[job] >= before[job] + 3 for job in JOBS), "the jobs running"
    )
    assert dying.runs == frozen


async def test_a_holder_that_stops_hands_its_leases_over_at_once(
    database: Database, clock: FakeClock
) -> None:
    lease_clock = FakeClock(clock.now)
    term = timedelta(seconds=60)
    first, second = Timers(database, wall_clock=lease_clock), Timers(database)
    assert await hold(database, "job", first.holder, now=lease_clock(), term=term) is True
    assert await hold(database, "job", second.holder, now=lease_clock(), term=term) is False
    # The holder renews; the other only takes it once the term ran out.
    lease_clock.advance(seconds=59)
    assert await hold(database, "job", first.holder, now=lease_clock(), term=term) is True
    lease_clock.advance(seconds=59)
    assert await hold(database, "job", second.holder, now=lease_clock(), term=term) is False
    lease_clock.advance(seconds=2)
    assert await hold(database, "job", second.holder, now=lease_clock(), term=term) is True
    assert await hold(database, "job", first.holder, now=lease_clock(), term=term) is False
    # A clean stop hands the lease back: taken at once, before its term.
    await second.stop()
    assert await hold(database, "job", first.holder, now=lease_clock(), term=term) is True
