"""The stored chain on SQLite and PostgreSQL: appending, reading, and tampering with raw SQL."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from evaluation_hub.audit.chain import GENESIS_HASH, VerifyReport, next_event, verify
from evaluation_hub.audit.checkpoint import CheckpointPolicy
from evaluation_hub.audit.errors import AuditStoreError, InvalidAuditEvent
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import (
    append_event,
    chain_head,
    load_chain,
    load_checkpoints,
    maybe_checkpoint,
)

T0 = datetime(2025, 9, 30, 8, 0, 0, 123456, tzinfo=UTC)
# Checkpoints land on events 1 and 11 of a 12-event chain; the time rule never fires.
POLICY = CheckpointPolicy(every_events=10, every=timedelta(days=365))


async def build(engine: AsyncEngine, key: Ed25519PrivateKey, n: int = 12) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    for i in range(1, n + 1):
        async with sessions() as db, db.begin():
            at = T0 + timedelta(minutes=i)
            await append_event(
                db,
                kind="booking.confirmed",
                subject=f"booking:{i}",
                actor="user:admin-hz",
                payload={"seats": i, "fee": Decimal("3.10"), "window": {"starts": at}},
                at=at,
            )
            await maybe_checkpoint(db, key, at, POLICY)


async def check(engine: AsyncEngine, key: Ed25519PrivateKey) -> VerifyReport:
    async with async_sessionmaker(engine)() as db, db.begin():
        events = await load_chain(db)
        checkpoints = await load_checkpoints(db)
    return verify(events, checkpoints, key.public_key())


async def run_sql(engine: AsyncEngine, *statements: str, **params: object) -> None:
    """Tamper as someone with direct database access would, past the foreign key too."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        conn = sqlite3.connect(engine.url.database)  # foreign keys are off on a plain connection
        try:
            with conn:
                for statement in statements:
                    conn.execute(statement, params)
        finally:
            conn.close()
        return
    async with engine.begin() as aconn:
        await aconn.execute(text("SET LOCAL session_replication_role = replica"))  # no FK checks
        for statement in statements:
            await aconn.execute(text(statement), params)


def json_param(engine: AsyncEngine) -> str:
    # A bound JSON text parameter needs a cast on PostgreSQL's json column.
    return "CAST(:payload AS JSON)" if engine.dialect.name == "postgresql" else ":payload"


async def test_appended_events_read_back_exactly_and_verify(
    engine: AsyncEngine, hub_key: Ed25519PrivateKey
) -> None:
    await build(engine, hub_key)
    async with async_sessionmaker(engine)() as db, db.begin():
        events = await load_chain(db)
        checkpoints = await load_checkpoints(db)
        head = await chain_head(db)
        middle = await load_chain(db, from_seq=4, to_seq=6)
    assert [e.seq for e in events] == list(range(1, 13))
    assert [c.seq for c in checkpoints] == [1, 11]
    assert head == events[-1]
    assert [e.seq for e in middle] == [4, 5, 6]
    assert events[0].prev_hash == GENESIS_HASH
    assert events[0].at == T0 + timedelta(minutes=1)  # microseconds survive both back ends
    assert events[4].payload == {
        "seats": 5,
        "fee": "3.10",
        "window": {"starts": "2025-09-30T08:05:00.123456Z"},
    }
    # Every stored event is what next_event computes from the previous stored one.
    for prev, event in zip([None, *events], events, strict=False):
        recomputed = next_event(
            prev,
            at=event.at,
            actor=event.actor,
            kind=event.kind,
            subject=event.subject,
            payload=event.payload,
        )
        assert recomputed == event
    report = await check(engine, hub_key)
    assert report.summary() == f"audit chain OK: 12 events, 2 checkpoints, head {events[-1].hash}"


async def test_the_event_commits_or_rolls_back_with_the_callers_change(
    engine: AsyncEngine,
) -> None:
    sessions = async_sessionmaker(engine)
    with pytest.raises(RuntimeError, match="the state change failed"):
        async with sessions() as db, db.begin():
            await append_event(
                db, kind="seat.published", subject="seat:1", actor="a", payload={}, at=T0
            )
            raise RuntimeError("the state change failed")
    async with sessions() as db, db.begin():
        assert await db.scalar(select(func.count()).select_from(AuditEventRow)) == 0


async def test_appending_outside_a_transaction_is_refused(engine: AsyncEngine) -> None:
    async with async_sessionmaker(engine)() as db:
        with pytest.raises(AuditStoreError) as caught:
            await append_event(
                db, kind="seat.published", subject="seat:1", actor="a", payload={}, at=T0
            )
    assert str(caught.value) == (
        "append_event must run inside the caller's open transaction (async with session.begin(): "
        "...) so the change and its audit record commit together"
    )


async def test_an_invalid_event_is_refused_before_anything_is_written(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine)
    async with sessions() as db, db.begin():
        with pytest.raises(InvalidAuditEvent):
            await append_event(
                db, kind="seat.published", subject="seat:1", actor="a", payload={"x": 0.5}, at=T0
            )
        assert await db.scalar(select(func.count()).select_from(AuditEventRow)) == 0


async def test_the_schema_refuses_a_fork(engine: AsyncEngine) -> None:
    # Two events claiming the same predecessor cannot both be stored, whatever the writers did.
    first = next_event(None, at=T0, actor="a", kind="seat.published", subject="seat:1", payload={})
    fork = next_event(None, at=T0, actor="b", kind="seat.published", subject="seat:2", payload={})
    sessions = async_sessionmaker(engine)
    async with sessions() as db, db.begin():
        db.add(AuditEventRow(**_row(first)))
    with pytest.raises(IntegrityError):
        async with sessions() as db, db.begin():
            db.add(AuditEventRow(**{**_row(fork), "seq": 2}))


def _row(event: object) -> dict[str, object]:
    fields = ("seq", "at", "actor", "kind", "subject", "payload", "prev_hash", "hash")
    return {f: getattr(event, f) for f in fields}


async def test_edited_payload_is_named(engine: AsyncEngine, hub_key: Ed25519PrivateKey) -> None:
    await build(engine, hub_key)
    payload = {"seats": 70, "fee": "3.10", "window": {"starts": "2025-09-30T08:07:00.123456Z"}}
    await run_sql(
        engine,
        f"UPDATE audit_events SET payload = {json_param(engine)} WHERE seq = 7",
        payload=json.dumps(payload),
    )
    assert (await check(engine, hub_key)).summary() == (
        "event 7 (booking.confirmed on booking:7) was edited: its contents do not match its "
        "stored hash"
    )


async def test_edited_actor_is_named(engine: AsyncEngine, hub_key: Ed25519PrivateKey) -> None:
    await build(engine, hub_key)
    await run_sql(engine, "UPDATE audit_events SET actor = 'user:someone-else' WHERE seq = 3")
    assert (await check(engine, hub_key)).summary() == (
        "event 3 (booking.confirmed on booking:3) was edited: its contents do not match its "
        "stored hash"
    )


async def test_a_float_written_into_a_payload_is_named(
    engine: AsyncEngine, hub_key: Ed25519PrivateKey
) -> None:
    await build(engine, hub_key)
    await run_sql(
        engine,
        f"UPDATE audit_events SET payload = {json_param(engine)} WHERE seq = 2",
        payload='{"seats": 2.5}',
    )
    assert (await check(engine, hub_key)).summary() == (
        "event 2 (booking.confirmed on booking:2) was edited: its contents cannot be canonically "
        "encoded ($.payload.seats: float 2.5 is not allowed; use an int, a Decimal or a string)"
    )


async def test_a_deleted_event_is_named(engine: AsyncEngine, hub_key: Ed25519PrivateKey) -> None:
    await build(engine, hub_key)
    await run_sql(engine, "DELETE FROM audit_events WHERE seq = 4")
    assert (await check(engine, hub_key)).summary() == (
        "event 4 was removed: the chain goes from event 3 to event 5"
    )


async def test_a_deleted_tail_is_named_by_its_checkpoint(
    engine: AsyncEngine, hub_key: Ed25519PrivateKey
) -> None:
    await build(engine, hub_key)
    await run_sql(engine, "DELETE FROM audit_events WHERE seq >= 11")
    assert (await check(engine, hub_key)).summary() == (
        "checkpoint at event 11 is beyond the end of the chain at event 10: events after 10 "
        "were removed"
    )


async def test_events_after_the_last_checkpoint_can_be_cut_unnoticed(
    engine: AsyncEngine, hub_key: Ed25519PrivateKey
) -> None:
    # The documented limit (docs/audit-chain.md): the chain alone cannot tell a cut tail from
    # one not yet written; only a checkpoint, or a copy kept elsewhere, covers it.
    await build(engine, hub_key)
    await run_sql(engine, "DELETE FROM audit_events WHERE seq = 12")
    report = await check(engine, hub_key)
    assert report.ok
    assert (report.events, report.covered_seq) == (11, 11)


async def test_swapped_events_are_named(engine: AsyncEngine, hub_key: Ed25519PrivateKey) -> None:
    await build(engine, hub_key)
    await run_sql(
        engine,
        "UPDATE audit_events SET seq = 1000 WHERE seq = 5",
        "UPDATE audit_events SET seq = 5 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = 1000",
    )
    assert (await check(engine, hub_key)).summary() == (
        "event 5 is out of order: it links back to event 6, which comes after it in the chain"
    )


async def test_a_forged_checkpoint_signature_is_named(
    engine: AsyncEngine, hub_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    await build(engine, hub_key)
    async with async_sessionmaker(engine)() as db, db.begin():
        (cp,) = await load_checkpoints(db, from_seq=11)
    forged = other_key.sign(cp.signed_message()).hex()
    await run_sql(
        engine, "UPDATE audit_checkpoints SET signature = :sig WHERE seq = 11", sig=forged
    )
    assert (await check(engine, hub_key)).summary() == (
        "checkpoint at event 11 has an invalid signature: it was forged or altered after signing"
    )


async def test_a_rehashed_rewrite_is_named_by_the_checkpoint(
    engine: AsyncEngine, hub_key: Ed25519PrivateKey
) -> None:
    await build(engine, hub_key)
    async with async_sessionmaker(engine)() as db, db.begin():
        events = await load_chain(db)
    # Rewrite event 7 and re-hash everything after it, as someone with write access could.
    head = events[5]
    rewritten = []
    for event in events[6:]:
        payload = {**event.payload, "seats": 0} if event.seq == 7 else event.payload
        head = next_event(
            head,
            at=event.at,
            actor=event.actor,
            kind=event.kind,
            subject=event.subject,
            payload=payload,
        )
        rewritten.append(head)
    async with engine.begin() as conn:
        for event in rewritten:
            await conn.execute(
                text(
                    "UPDATE audit_events SET payload = "
                    f"{json_param(engine)}, prev_hash = :prev, hash = :hash WHERE seq = :seq"
                ),
                {
                    "payload": json.dumps(event.payload),
                    "prev": event.prev_hash,
                    "hash": event.hash,
                    "seq": event.seq,
                },
            )
    assert (await check(engine, hub_key)).summary() == (
        f"checkpoint at event 11 does not match the chain: it signed hash {events[10].hash[:16]}… "
        f"but event 11 has hash {rewritten[4].hash[:16]}…; event 11 or an event before it was "
        "edited and the chain re-hashed"
    )


async def test_no_checkpoint_without_new_events(
    engine: AsyncEngine, hub_key: Ed25519PrivateKey
) -> None:
    sessions = async_sessionmaker(engine)
    async with sessions() as db, db.begin():
        assert await maybe_checkpoint(db, hub_key, T0, POLICY) is None  # empty chain
        await append_event(
            db, kind="seat.published", subject="seat:1", actor="a", payload={}, at=T0
        )
        first = await maybe_checkpoint(db, hub_key, T0, POLICY)
        assert first is not None and first.seq == 1
        assert await maybe_checkpoint(db, hub_key, T0 + timedelta(days=400), POLICY) is None
