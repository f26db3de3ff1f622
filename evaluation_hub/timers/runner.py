"""Running the periodic jobs once across hub processes (定时任务): a turn every ``interval``
seconds, the job run only while this process holds its lease (``timers.lease``).

The lease term is :data:`LEASE_TURNS` turns: the holder renews it at each turn, so it keeps the
job while it lives; if it dies, another process takes over at its first turn after the term
ran out (within ``(LEASE_TURNS + 1) × interval``). A job's own failures are its business (the
jobs log them); a lease that cannot be asked for (the database is down) skips the turn.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from evaluation_hub.db.engine import Database, to_completion
from evaluation_hub.timers.lease import hold, let_go

__all__ = ["LEASE_TURNS", "Timers"]

log = structlog.get_logger(__name__)

#: how many turns of a job a lease lasts without renewal
LEASE_TURNS = 3


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Timers:
    """This process's timers: who it is to the leases, and which jobs it ran how often."""

    db: Database
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    wall_clock: Callable[[], datetime] = _wall_clock
    #: job name -> turns this process ran it (the tests and the metrics read it)
    runs: Counter[str] = field(default_factory=Counter)
    #: the jobs whose lease this process held at its latest turn
    held: set[str] = field(default_factory=set)

    async def every(self, name: str, interval: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` every ``interval`` seconds while this process holds its lease; until
        cancelled."""
        term = timedelta(seconds=LEASE_TURNS * interval)
        while True:
            try:
                # A cancelled turn (the hub stopping) lets its transaction end first: it must
                # not hold SQLite's write lock while the hub hands back its leases and writes
                # its closing checkpoint (the demo once missed its exit on 'database is locked').
                mine = await to_completion(
                    hold(self.db, name, self.holder, now=self.wall_clock(), term=term)
                )
            except Exception as exc:
                log.warning(
                    "timer.lease_unavailable", job=name, error=f"{type(exc).__name__}: {exc}"
                )
                mine = False
            if mine and name not in self.held:
                log.info("timer.lease_taken", job=name, holder=self.holder)
            elif not mine and name in self.held:
                log.info("timer.lease_lost", job=name, holder=self.holder)
            if mine:
                self.held.add(name)
                self.runs[name] += 1
                await to_completion(job())
            else:
                self.held.discard(name)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        """Hand back this process's leases (the timers were cancelled first)."""
        self.held.clear()
        try:
            await let_go(self.db, self.holder)
        except Exception as exc:
            log.warning("timer.lease_release_failed", error=f"{type(exc).__name__}: {exc}")
