"""SIGTERM ends a hub process cleanly in the middle of an evaluation: it stops accepting, tells
its seats to reconnect (4012), finishes the saves in flight, signs a closing audit checkpoint
and exits 0 within its configured time, with no traceback; a seat agent stopped the same way
keeps its outbox. Restarted, the hub takes the seats back and the evaluation ends signed, every
save stored once. Real processes: the hub, seven seat agents, PostgreSQL and Redis."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from evaluation_hub.audit.models import AuditCheckpointRow, AuditEventRow
from tests.faults.harness import FIRST_SAVES, Evaluation

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def _chain_and_checkpoint(run: Evaluation) -> tuple[int, int | None]:
    async with run.db.read() as s:
        head = (
            await s.execute(select(AuditEventRow.seq).order_by(AuditEventRow.seq.desc()).limit(1))
        ).scalar_one()
        last = (
            await s.execute(
                select(AuditCheckpointRow.seq).order_by(AuditCheckpointRow.seq.desc()).limit(1)
            )
        ).scalar_one_or_none()
    return int(head), None if last is None else int(last)


async def test_sigterm_during_saves_then_restart_loses_and_doubles_nothing(
    evaluation: Evaluation,
) -> None:
    run, hub = evaluation, evaluation.hub
    await run.start()
    run.open_gate()  # the seats now save ch3 and the commercial part
    await run.saved_at_least(FIRST_SAVES + 1, "the first save after the gate")
    # Within its shutdown budget as aiohttp bounds it (``shutdown_timeout``); the limit here
    # only turns a hang into a failure (no assertion on wall-clock time).
    assert await hub.terminate(limit=hub.shutdown_s + 30) == 0
    run.mark("hub stopped")
    first = hub.out(1).read_text() + hub.err(1).read_text()
    assert "Traceback" not in first, first
    assert "hub.stopping" in first and "hub.stopped" in first
    assert "audit.closing_checkpoint" in first and "written=True" in first
    # The closing checkpoint vouches for the chain as the process left it.
    head, checkpoint = await _chain_and_checkpoint(run)
    assert checkpoint == head

    # A seat agent stopped while the hub is away keeps what it has not delivered.
    e05 = run.seats["E05"]
    assert await e05.signal(signal.SIGTERM) == 0
    e05_log = e05.log.read_text()
    assert "seat.agent_stopped" in e05_log and "Traceback" not in e05_log, e05_log
    assert (e05.state_dir / "outbox.db").exists()
    for seat in run.seats.values():
        if seat is not e05:
            assert "code=4012" in seat.log.read_text(), seat.log.read_text()

    await hub.start()
    run.mark("hub restarted")
    await e05.run()
    await run.finish()
    for seat in run.seats.values():
        text = seat.log.read_text()
        assert "Traceback" not in text, text
