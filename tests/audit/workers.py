"""Worker processes for the concurrency tests: each appends events as a separate hub would."""

from __future__ import annotations

import asyncio
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from evaluation_hub.audit.checkpoint import CheckpointPolicy
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import append_event, maybe_checkpoint
from tests.audit.dbsupport import make_engine

T0 = datetime(2025, 10, 9, 1, 0, tzinfo=UTC)
POLICY = CheckpointPolicy(every_events=10, every=timedelta(days=365))


async def _append(url: str, worker: int, count: int, key_bytes: bytes, barrier: Any) -> list[int]:
    key = Ed25519PrivateKey.from_private_bytes(key_bytes)
    engine = make_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    seqs: list[int] = []
    try:
        async with engine.connect():  # connect before the start line, so all start together
            pass
        await asyncio.to_thread(barrier.wait, 120)
        for n in range(count):
            at = T0 + timedelta(seconds=n)
            subject = f"sheet:{worker}-{n}"
            async with sessions() as db, db.begin():
                await append_event(
                    db,
                    kind="score.submitted",
                    subject=subject,
                    actor=f"worker:{worker}",
                    payload={"worker": worker, "n": n},
                    at=at,
                )
                await maybe_checkpoint(db, key, at, POLICY)
            # The event is chained at commit: its place is known once committed.
            async with sessions() as db:
                seq = await db.scalar(
                    select(AuditEventRow.seq).where(AuditEventRow.subject == subject)
                )
            assert seq is not None
            seqs.append(seq)
    finally:
        await engine.dispose()
    return seqs


def append_many(
    url: str, worker: int, count: int, key_bytes: bytes, barrier: Any, results: Any
) -> None:
    """Process entry point: report ("ok", worker, seqs) or ("error", worker, traceback)."""
    try:
        seqs = asyncio.run(_append(url, worker, count, key_bytes, barrier))
    except BaseException:
        results.put(("error", worker, traceback.format_exc()))
        raise
    results.put(("ok", worker, seqs))
