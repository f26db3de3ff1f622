"""Several hub processes appending at once produce one valid chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import queue
from collections import Counter

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from tests.audit.workers import append_many

PROCESSES = 4
EACH = 50

pytestmark = pytest.mark.slow


async def test_concurrent_processes_build_one_valid_chain(
    engine: AsyncEngine, database_url: str, hub_key: Ed25519PrivateKey
) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    key_bytes = bytes(range(32))  # the hub_key fixture's key
    procs = [
        ctx.Process(target=append_many, args=(database_url, w, EACH, key_bytes, barrier, results))
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    outcomes = []
    try:
        for _ in procs:
            outcomes.append(results.get(timeout=240))
    except queue.Empty:
        pytest.fail(f"workers did not finish; got {outcomes}")
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    errors = [o for o in outcomes if o[0] == "error"]
    assert not errors, errors[0][2]
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    async with async_sessionmaker(engine)() as db, db.begin():
        events = await load_chain(db)
        checkpoints = await load_checkpoints(db)
    report = verify(events, checkpoints, hub_key.public_key())
    assert report.ok, report.summary()
    assert report.events == PROCESSES * EACH
    assert [e.seq for e in events] == list(range(1, PROCESSES * EACH + 1))
    # Every transaction checkpoints when 10 events have passed since the last checkpoint, so a
    # serialised chain has them at exactly these events, whoever wrote them.
    assert [c.seq for c in checkpoints] == list(range(1, PROCESSES * EACH + 1, 10))
    # Each worker got back the sequence numbers of exactly its own events, in its own order.
    returned = {o[1]: o[2] for o in outcomes}
    for worker, seqs in returned.items():
        mine = [e for e in events if e.actor == f"worker:{worker}"]
        assert [e.seq for e in mine] == seqs
        assert [e.payload["n"] for e in mine] == list(range(EACH))
    assert Counter(e.actor for e in events) == {f"worker:{w}": EACH for w in range(PROCESSES)}
