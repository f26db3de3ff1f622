"""Append to and read the stored audit chain, inside the caller's database transaction.

A state change and its audit event commit together: the caller opens the transaction, makes
its change and calls :func:`append_event` wherever it likes; the event is written when the
caller commits. Several hub processes appending at once still produce one chain, and every
audited write serialises on the chain, so the chain is taken as late as it can be: at commit.

* :func:`append_event` checks the event and queues it in the unit of work (``info``); it
  touches neither the database nor the chain's lock.
* Committing the unit writes the queue (a ``before_commit`` listener on every ORM session):
  it flushes the unit's own changes first, then takes the chain if it is free (PostgreSQL:
  ``pg_try_advisory_xact_lock(AUDIT_CHAIN_LOCK)``), reads the head, inserts the queued events,
  and the commit follows at once. The lock is therefore held for those statements and the
  COMMIT only: nothing the caller awaits (a bus publish, a websocket send, Janus, a file read,
  another task) and no CPU work of the use case can sit between taking the lock and releasing
  it, whatever order the use case's code is written in. A unit of work that is cancelled or
  fails before its commit has never taken the lock; a rollback drops its queue. (Before this,
  the lock was taken by ``append_event`` itself: one stalled unit of work that had appended
  held every audited writer of every hub process, their pool connections with them.) At READ
  COMMITTED the head read after the lock sees every earlier commit.
* **Deferred** (PostgreSQL): if another writer holds the chain, the unit does not wait for it.
  Its events are inserted into ``audit_deferred`` instead, committed with its change all the
  same, and the unit's ``info`` says so (``DEFERRED_EVENTS``); ``Database.write`` then waits,
  after the commit and holding nothing, until they are chained: one transaction per hub process
  at a time takes the chain (waiting for it), deletes every deferred row with ``RETURNING`` and
  chains them in the order they were written (:func:`chain_deferred`), for every writer that
  deferred meanwhile at once. Why: every audited write of every process serialised on the
  chain, each holding its pooled connection and its row locks while it waited; a province's
  day on one hub (``bench/day.py``) chained about 4 events a second with 12-17 writers queued
  on the lock and the pool running dry. A deferred event is durable from its unit's commit; it
  joins the chain within that unit's ``Database.write`` (or, if its process died first, at the
  next deferral anywhere, the next hub start, ``audit verify`` or an archive). Among writers
  that committed at about the same moment the chain's order is the order they were chained in,
  as it always was; one writer's events stay in its order.
* SQLite: the caller's transaction must begin with ``BEGIN IMMEDIATE`` (as the hub's engine
  does), which takes the database write lock up front; the queue is written the same way.

Either way the primary key on ``seq`` and the unique ``prev_hash`` make a fork impossible: a
writer that somehow read a stale head fails on insert instead of branching the chain.

The chain's cryptographic suite is recorded once in ``audit_settings`` (:func:`fix_suite`, at
the hub's start) and read by every append and every verification (:func:`chain_suite`), so the
data, not a process's configuration, says how its chain is hashed and signed.

This module never updates or deletes an audit row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from evaluation_hub.audit.chain import AuditEvent, next_event
from evaluation_hub.audit.checkpoint import (
    Checkpoint,
    CheckpointPolicy,
    checkpoint_due,
    sign_checkpoint,
)
from evaluation_hub.audit.errors import AuditStoreError
from evaluation_hub.audit.models import (
    AuditCheckpointRow,
    AuditDeferredRow,
    AuditEventRow,
    AuditSettingRow,
)
from evaluation_hub.db.engine import DEFERRED_EVENTS, set_deferred_chainer
from evaluation_hub.errors import ConfigError
from seat_protocol.suites import DEFAULT, SigningKey, Suite, UnknownSuite, suite_named

__all__ = [
    "APPENDED_EVENTS",
    "AUDIT_CHAIN_LOCK",
    "DEFERRED_EVENTS",
    "SuiteMismatch",
    "append_event",
    "chain_deferred",
    "chain_head",
    "chain_suite",
    "fix_suite",
    "last_checkpoint",
    "load_chain",
    "load_checkpoints",
    "maybe_checkpoint",
    "pending_events",
]

# The PostgreSQL advisory lock key that serialises appends ("EVHAUDIT" in ASCII). No other
# part of the hub may use this key.
AUDIT_CHAIN_LOCK = 0x4556_4841_5544_4954

# Key in a unit of work's ``info``: (subject, kind) of each event it appended, in order.
APPENDED_EVENTS = "audit_appended_events"
# Key in a unit of work's ``info``: the events queued by ``append_event``, written at commit.
PENDING_EVENTS = "audit_pending_events"
SUITE_SETTING = "suite"


class SuiteMismatch(ConfigError):
    """The hub is configured for another cryptographic suite than its database's chain."""


async def chain_suite(db: AsyncSession) -> Suite:
    """The suite the stored chain is hashed and signed with (``default`` if none is recorded)."""
    name = await db.scalar(
        select(AuditSettingRow.value).where(AuditSettingRow.name == SUITE_SETTING)
    )
    return _suite(name)


def _suite(name: str | None) -> Suite:
    if name is None:
        return DEFAULT
    try:
        return suite_named(name)
    except UnknownSuite as exc:
        raise AuditStoreError(f"the audit chain records {exc}") from None


async def fix_suite(db: AsyncSession, suite: Suite) -> None:
    """Record ``suite`` as the chain's, or refuse if the database already holds a chain of
    another suite. Runs in the caller's open transaction, under the chain lock."""
    await _lock_chain(db, "fix_suite")
    recorded = await db.scalar(
        select(AuditSettingRow.value).where(AuditSettingRow.name == SUITE_SETTING)
    )
    if recorded is None:
        events = await db.scalar(select(func.count()).select_from(AuditEventRow))
        # A chain written before suites could be chosen is a default one.
        recorded = suite.name if not events else DEFAULT.name
        await db.execute(insert(AuditSettingRow).values(name=SUITE_SETTING, value=recorded))
    if recorded != suite.name:
        held = suite_named(recorded)
        raise SuiteMismatch(
            f"this database's audit chain uses the {held.name} cryptographic suite "
            f"({held.label}), but the hub is configured for the {suite.name} suite "
            f"({suite.label}); the suite is fixed for a database once chosen: set "
            f"EVALHUB_CRYPTO_SUITE={held.name}, or give this hub a new database"
        )


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        kind=row.kind,
        subject=row.subject,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _checkpoint(row: AuditCheckpointRow) -> Checkpoint:
    return Checkpoint(
        seq=row.seq,
        head_hash=row.head_hash,
        at=row.at,
        key_id=row.key_id,
        signature=row.signature,
    )


def _in_transaction(db: AsyncSession, what: str) -> None:
    if not db.in_transaction():
        raise AuditStoreError(
            f"{what} must run inside the caller's open transaction "
            "(async with session.begin(): ...) so the change and its audit record commit together"
        )


def _lock_statement(session: Session) -> str | None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return "SELECT pg_advisory_xact_lock(:key)"
    if dialect != "sqlite":
        raise AuditStoreError(f"the audit chain supports PostgreSQL and SQLite, not {dialect}")
    # SQLite: the caller's BEGIN IMMEDIATE already holds the database write lock.
    return None


async def _lock_chain(db: AsyncSession, what: str) -> None:
    _in_transaction(db, what)
    statement = _lock_statement(db.sync_session)
    if statement is not None:
        await db.execute(text(statement), {"key": AUDIT_CHAIN_LOCK})


async def chain_head(db: AsyncSession) -> AuditEvent | None:
    """The last stored event, or ``None`` for an empty chain."""
    row = await db.scalar(select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(1))
    return None if row is None else _event(row)


def _head_and_suite(session: Session) -> tuple[AuditEvent | None, Suite]:
    """The head and the chain's suite in one statement (every append needs both, under the
    lock; a round trip fewer than :func:`chain_head` and :func:`chain_suite`)."""
    suite_name = (
        select(AuditSettingRow.value).where(AuditSettingRow.name == SUITE_SETTING).scalar_subquery()
    )
    # Columns, not the mapped row: nothing here needs the ORM's identity map.
    t = AuditEventRow.__table__.c
    row = session.execute(
        select(t.seq, t.at, t.actor, t.kind, t.subject, t.payload, t.prev_hash, t.hash, suite_name)
        .order_by(t.seq.desc())
        .limit(1)
    ).first()
    if row is None:  # an empty chain: no row to carry the suite
        name = session.scalar(
            select(AuditSettingRow.value).where(AuditSettingRow.name == SUITE_SETTING)
        )
        return None, _suite(name)
    head = AuditEvent(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        kind=row.kind,
        subject=row.subject,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
    return head, _suite(row[-1])


async def last_checkpoint(db: AsyncSession) -> Checkpoint | None:
    row = await db.scalar(
        select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)
    )
    return None if row is None else _checkpoint(row)


async def append_event(
    db: AsyncSession,
    *,
    kind: str,
    subject: str,
    actor: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> None:
    """Queue one event in the caller's open transaction; it is written, chained after the
    head, when the caller commits (and never if the transaction rolls back).

    Raises ``InvalidAuditEvent`` (before anything is queued) if the event cannot be encoded,
    and ``AuditStoreError`` outside a transaction. The caller commits.
    """
    _in_transaction(db, "append_event")
    # Checked now, so a bad event fails where it is made, not in the commit; the payload is
    # kept normalised (a copy: the caller may go on changing its dict until the commit).
    fields: dict[str, Any] = {
        "at": at,
        "actor": actor,
        "kind": kind,
        "subject": subject,
        "payload": payload,
    }
    probe = next_event(None, **fields)
    db.info.setdefault(PENDING_EVENTS, []).append({**fields, "payload": probe.payload})
    # Noted for the commit listeners (``db.engine``): once this unit of work is durable, those
    # who watch the subject hear that it changed (``sessions.changes``). Never before.
    db.info.setdefault(APPENDED_EVENTS, []).append((subject, kind))


def pending_events(db: AsyncSession | Session) -> int:
    """How many events the open transaction will write when it commits."""
    return len(db.info.get(PENDING_EVENTS, ()))


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    """Write the unit of work's queued events, last before its COMMIT (module docstring)."""
    queued: list[dict[str, Any]] = session.info.pop(PENDING_EVENTS, [])
    if not queued:
        return
    # The unit's own rows first: an INSERT that waits on another transaction (a row lock, an
    # exclusion constraint) waits without the chain.
    session.flush()
    if _lock_statement(session) is not None:
        taken = session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK}
        )
        if not taken:  # another writer holds the chain: deferred (module docstring)
            session.execute(insert(AuditDeferredRow), queued)
            session.info[DEFERRED_EVENTS] = len(queued)
            return
    _chain(session, queued)


def _chain(session: Session, events: list[dict[str, Any]]) -> None:
    """Insert ``events`` (the fields of each) after the head; the caller holds the chain."""
    head, suite = _head_and_suite(session)
    rows = []
    for fields in events:
        head = next_event(head, suite=suite, **fields)
        rows.append(dataclasses.asdict(head))
    session.execute(insert(AuditEventRow), rows)


async def chain_deferred(db: AsyncSession) -> int:
    """Chain every deferred event, in the order they were written, in the caller's open
    transaction: takes the chain (waiting for it), then deletes the deferred rows and inserts
    them as chained events in one commit. Returns how many it chained."""
    await _lock_chain(db, "chain_deferred")
    t = AuditDeferredRow.__table__.c
    taken = (
        await db.execute(
            delete(AuditDeferredRow).returning(t.id, t.at, t.actor, t.kind, t.subject, t.payload)
        )
    ).all()
    if not taken:
        return 0
    events = [
        {"at": r.at, "actor": r.actor, "kind": r.kind, "subject": r.subject, "payload": r.payload}
        for r in sorted(taken, key=lambda r: r.id)
    ]
    await db.run_sync(_chain, events)
    return len(events)


set_deferred_chainer(chain_deferred)  # what ``Database.write`` runs after a deferring commit


@event.listens_for(Session, "after_soft_rollback")
def _drop_queued(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING_EVENTS, None)


async def load_chain(
    db: AsyncSession, from_seq: int | None = None, to_seq: int | None = None
) -> list[AuditEvent]:
    """Stored events with ``from_seq <= seq <= to_seq`` (either bound optional), by ``seq``."""
    query = select(AuditEventRow).order_by(AuditEventRow.seq)
    if from_seq is not None:
        query = query.where(AuditEventRow.seq >= from_seq)
    if to_seq is not None:
        query = query.where(AuditEventRow.seq <= to_seq)
    return [_event(row) for row in await db.scalars(query)]


async def load_checkpoints(
    db: AsyncSession, from_seq: int | None = None, to_seq: int | None = None
) -> list[Checkpoint]:
    """Stored checkpoints with ``from_seq <= seq <= to_seq`` (either bound optional), by ``seq``."""
    query = select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)
    if from_seq is not None:
        query = query.where(AuditCheckpointRow.seq >= from_seq)
    if to_seq is not None:
        query = query.where(AuditCheckpointRow.seq <= to_seq)
    return [_checkpoint(row) for row in await db.scalars(query)]


async def maybe_checkpoint(
    db: AsyncSession, key: SigningKey, now: datetime, policy: CheckpointPolicy
) -> Checkpoint | None:
    """Sign and store a checkpoint of the head if ``policy`` says one is due at ``now``.

    Runs in the caller's open transaction under the same lock as appends (call it right after
    ``append_event`` or from a timer); returns the new checkpoint or ``None``. Deferred events,
    then those the transaction queued, are chained first, so the checkpoint covers them.
    """
    _in_transaction(db, "maybe_checkpoint")
    await chain_deferred(db)  # takes the chain; what others deferred comes first
    await db.run_sync(_write_queued)  # the chain is held: this unit's events go in now
    head = await chain_head(db)
    last = await last_checkpoint(db)
    if head is None or not checkpoint_due(last, head, now, policy):
        return None
    suite = await chain_suite(db)
    if not suite.owns(key):
        raise AuditStoreError(
            f"the audit chain uses the {suite.name} suite: its checkpoints are signed with an "
            f"{suite.signature_name} key, not a {type(key).__name__}"
        )
    checkpoint = sign_checkpoint(head, now, key)
    await db.execute(
        insert(AuditCheckpointRow).values(
            seq=checkpoint.seq,
            head_hash=checkpoint.head_hash,
            at=checkpoint.at,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
        )
    )
    return checkpoint
