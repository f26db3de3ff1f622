"""The fault campaign (issue 17, item 6): a scripted evaluation with real processes (one hub,
seven seat agents, PostgreSQL, Redis) meets one fault each, injected once ch1 and ch2 of every
seat are in and while the seats save ch3 and the commercial part: Redis restarted, PostgreSQL
stopped for 5 s, the hub SIGKILLed and restarted, a seat agent SIGKILLed and restarted, a
seat's network cut for 5 s (a loopback proxy); marked slow (over a minute by nature), PostgreSQL
stopped for 60 s and a seat's network cut for 60 s. In each the evaluation ends ``report_signed``,
every (seat, part) is stored exactly once, ``audit verify`` passes (``Evaluation.finish``), and
the recovery time (from the fault's end to the next stored save, or the stream back) is
printed for the lead to quote.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import until
from tests.faults.harness import Evaluation, running_evaluation
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

OUTAGE_S = 5.0


def _report(fault: str, run: Evaluation, **figures: float) -> None:
    shown = ", ".join(f"{name} {value:.2f} s" for name, value in figures.items())
    print(f"\nFAULT {fault}: {shown}; phases: {run.phases()}")


async def test_redis_restarted_during_saves(
    evaluation: Evaluation, private_redis: RedisServer
) -> None:
    run = evaluation
    await run.start()
    private_redis.stop()
    run.open_gate()
    await asyncio.sleep(OUTAGE_S)
    private_redis.start()
    back = time.monotonic()
    run.mark("redis back")
    recovery = await run.recovery(back)
    await run.finish()
    _report("redis stopped 5 s", run, recovery=recovery)


@pytest.mark.parametrize(
    "outage_s",
    # 60 s cannot fit in a minute's test: marked slow (it still runs in the normal suite).
    [OUTAGE_S, pytest.param(60.0, marks=pytest.mark.slow)],
    ids=["5s", "60s"],
)
async def test_postgres_stopped_during_saves(
    private_pg: PostgresServer, private_redis: RedisServer, tmp_path: Path, outage_s: float
) -> None:
    url = private_pg.create_database("hub")
    async with running_evaluation(url, tmp_path, redis_url=private_redis.url) as run:
        await run.start()
        before = await run.stored()
        private_pg.stop("fast")
        run.open_gate()
        await asyncio.sleep(outage_s)
        restarting = datetime.now(UTC)
        private_pg.start()
        back = time.monotonic()
        run.mark("postgres back")
        # Nothing received during the outage was stored then; a seat's resend may already have
        # landed once PostgreSQL answered again, so the count is taken by the hub's clock.
        assert await run.received_before(restarting) == before
        recovery = await run.recovery(back)
        await run.finish()
        retried = sum(s.log.read_text().count("seat.score_resent") for s in run.seats.values())
        assert retried > 0  # the seats resent on the same link: no reconnection needed
        # The hub saw an outage, not a bug: a warning per deferred save, no traceback for it.
        assert "seat.score_commit_deferred" in run.hub.logs()
        _report(f"postgres stopped {outage_s:g} s", run, recovery=recovery)


async def test_hub_sigkilled_and_restarted(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> None:
    url = pg_server.create_database(f"faults_kill_{tmp_path.name}"[:60])
    async with running_evaluation(
        url, tmp_path, redis_url=private_redis.url, publish={"E01"}
    ) as run:
        await run.start()

        async def e01_live() -> bool:
            return await run.live_state("E01") == "live"

        await until(e01_live, "E01's picture live before the fault")
        await run.hub.kill()
        run.open_gate()
        await run.hub.start()
        back = time.monotonic()
        run.mark("hub back")
        recovery = await run.recovery(back)
        await until(e01_live, "E01's picture live again")
        stream = time.monotonic() - back
        await run.finish()
        _report("hub SIGKILL", run, recovery=recovery, stream_back=stream)


async def test_seat_agent_sigkilled_and_restarted(evaluation: Evaluation) -> None:
    run = evaluation
    await run.start()
    victim = run.seats["E03"]
    assert victim.proc is not None
    run.open_gate()
    assert await victim.signal(signal.SIGKILL) == -signal.SIGKILL
    await victim.run()
    back = time.monotonic()
    run.mark("seat restarted")
    recovery = await run.recovery(back, "E03")
    await run.finish()
    assert victim.log.read_text().count("seat.agent_started") == 2
    _report("seat agent SIGKILL", run, recovery=recovery)


async def test_seat_network_cut_for_5_s(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> None:
    url = pg_server.create_database(f"faults_cut_{tmp_path.name}"[:60])
    async with running_evaluation(url, tmp_path, redis_url=private_redis.url, cut={"E04"}) as run:
        await run.start()
        proxy = run.proxies["E04"]
        before = await run.stored("E04")
        proxy.cut()
        run.open_gate()
        await asyncio.sleep(OUTAGE_S)
        assert await run.stored("E04") == before  # its saves waited in its outbox
        proxy.restore()
        back = time.monotonic()
        run.mark("network back")
        recovery = await run.recovery(back, "E04")
        await run.finish()
        _report("seat network cut 5 s", run, recovery=recovery)


@pytest.mark.slow
async def test_seat_network_cut_for_60_s_the_wall_says_control_lost(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> None:
    """Longer than a minute by nature (the cut alone is 60 s): both ends drop the link on their
    heartbeat timeout, the seat's picture (UDP, not through the proxy) keeps coming, and the
    wall says 控制连接中断 until the link is back."""
    url = pg_server.create_database(f"faults_cut60_{tmp_path.name}"[:60])
    async with running_evaluation(
        url, tmp_path, redis_url=private_redis.url, cut={"E04"}, publish={"E04"}
    ) as run:
        await run.start()

        async def state_is(state: str) -> bool:
            return await run.live_state("E04") == state

        await until(lambda: state_is("live"), "E04's picture live before the cut")
        proxy = run.proxies["E04"]
        proxy.cut()
        run.open_gate()
        cut_at = time.monotonic()
        await until(lambda: state_is("control_lost"), "the wall to say the control link is down")
        noticed = time.monotonic() - cut_at
        await asyncio.sleep(max(0.0, 60.0 - (time.monotonic() - cut_at)))
        proxy.restore()
        back = time.monotonic()
        run.mark("network back")
        recovery = await run.recovery(back, "E04")
        await until(lambda: state_is("live"), "E04 live again")
        await run.finish()
        _report("seat network cut 60 s", run, control_lost_shown=noticed, recovery=recovery)
