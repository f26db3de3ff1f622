"""The Janus plane closing: the audit records under way (a viewer closed, a seat lost) are
finished, within the grace period, not cancelled (``live.background``), as the built-in hub's
are (real hub, real Janus; the records wait behind a real write transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text

from evaluation_hub.audit.store import AUDIT_CHAIN_LOCK, append_event, load_chain
from tests.conftest import FakeClock
from tests.janus.conftest import JanusViewer, plane
from tests.live.conftest import Rig, eventually

SEAT = "DL.DL-01"


async def _kinds(rig: Rig) -> list[str]:
    async with rig.db.read() as s:
        return [e.kind for e in await load_chain(s) if e.subject == f"seat:{SEAT}"]


async def test_records_under_way_when_the_janus_plane_closes_are_written(
    rig: Rig, clock: FakeClock, janus_viewers: Callable[[], JanusViewer]
) -> None:
    janus = plane(rig)
    session, seat_id = rig.ids["session"], rig.ids["seats"]["DL-01"]
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: janus.status(SEAT).state == "live", "DL-01 is live")
    viewer = janus_viewers()
    opened = await viewer.subscribe(rig, session, seat_id, await rig.login("km_supervisor"))
    for _ in range(200):
        if "live.viewer_opened" in await _kinds(rig):
            break
        await asyncio.sleep(0.05)
    assert "live.viewer_opened" in await _kinds(rig)

    # Another writer holds the audit chain (PostgreSQL: the chain's lock, taken as a commit
    # takes it; SQLite: the write lock this transaction began with): the hub's records wait.
    async with rig.db.write() as s:
        if s.get_bind().dialect.name == "postgresql":
            await s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK})
        await append_event(
            s, kind="venue.listed", subject="venue:98", actor="system", payload={}, at=clock()
        )
        await janus.close_viewer(opened["viewer_id"], "km_supervisor")
        await seat.stop()
        await eventually(lambda: janus.status(SEAT).state == "lost", "DL-01 is lost")
        closing = asyncio.create_task(janus.close())
        await asyncio.sleep(0.5)
        assert not closing.done()  # waiting for the records
    await asyncio.wait_for(closing, 10)
    kinds = await _kinds(rig)
    assert "live.viewer_closed" in kinds
    assert "live.seat_lost" in kinds
